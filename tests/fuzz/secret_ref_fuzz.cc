// Fuzzes SecretRef::Parse and SecretUrlRef::Parse. For every input that
// parses, rendering and re-parsing must give an equal value, and the rendering
// must equal the input (except upstream's `$S:@svc/name/`, which renders
// without the trailing '/'). Rejections must be InvalidArgument with an offset.
// Any violation aborts, which libFuzzer and the corpus replay test report.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/resolve/secret_ref.h"

namespace zlayer::secrets {
namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "secret_ref_fuzz: %s\n", what);
  std::abort();
}

void CheckRejection(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    Fail("rejection is not InvalidArgument");
  }
  if (!absl::StrContains(status.message(), "(offset ")) {
    Fail("rejection message has no offset");
  }
}

void CheckSecretRef(absl::string_view input) {
  absl::StatusOr<SecretRef> ref = SecretRef::Parse(input);
  if (!ref.ok()) {
    CheckRejection(ref.status());
    return;
  }
  if (!IsSecretRef(input)) Fail("parsed without the $S: prefix");
  if (ref->name.empty()) Fail("parsed with an empty name");
  std::string rendered = ref->ToString();
  absl::StatusOr<SecretRef> reparsed = SecretRef::Parse(rendered);
  if (!reparsed.ok()) Fail("rendering of a parsed $S: ref does not parse");
  if (*reparsed != *ref) Fail("re-parsed $S: ref differs");
  if (rendered == input) return;
  // The one documented exception: an empty service-form field is dropped.
  bool dropped_empty_field = ref->is_service_level() && !ref->has_field() &&
                             input.size() == rendered.size() + 1 &&
                             absl::StartsWith(input, rendered) &&
                             input.back() == '/';
  if (!dropped_empty_field) Fail("rendering of a $S: ref differs from input");
}

void CheckSecretUrl(absl::string_view input) {
  absl::StatusOr<SecretUrlRef> ref = SecretUrlRef::Parse(input);
  if (!ref.ok()) {
    CheckRejection(ref.status());
    return;
  }
  if (ref->environment.empty() || ref->key.empty()) {
    Fail("URL parsed with an empty environment or key");
  }
  std::string rendered = ref->ToString();
  absl::StatusOr<SecretUrlRef> reparsed = SecretUrlRef::Parse(rendered);
  if (!reparsed.ok()) Fail("rendering of a parsed URL does not parse");
  if (!(*reparsed == *ref)) Fail("re-parsed URL differs");
  if (rendered != input) Fail("rendering of a URL differs from input");
}

}  // namespace
}  // namespace zlayer::secrets

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  zlayer::secrets::CheckSecretRef(input);
  zlayer::secrets::CheckSecretUrl(input);
  return 0;
}
