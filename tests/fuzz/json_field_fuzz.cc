// Fuzzes ExtractJsonField and the JSON parser/writers.
// Input: the field name, a newline, then the secret (the whole input is the
// secret, with an empty field name, when there is no newline).
// Properties:
//  * ExtractJsonField returns OK, NotFound or FailedPrecondition, and
//    FailedPrecondition exactly when ParseJson rejects the secret;
//  * parse errors are "invalid JSON at byte N: ..." in printable ASCII;
//  * for valid input, compact output is valid UTF-8 and a fixed point
//    (parse -> serialise again gives the same bytes), and the pretty output
//    parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"
#include "core/resolve/json_field.h"

namespace zlayer::secrets {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool IsPrintableAscii(absl::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

void FuzzOne(absl::string_view input) {
  absl::string_view field;
  absl::string_view doc = input;
  if (size_t nl = input.find('\n'); nl != absl::string_view::npos) {
    field = input.substr(0, nl);
    doc = input.substr(nl + 1);
  }
  const SecretBytes secret = SecretBytes::FromString(doc);
  absl::StatusOr<SecretBytes> extracted = ExtractJsonField(secret, field);
  absl::StatusOr<JsonValue> parsed = ParseJson(doc);

  if (!extracted.ok()) {
    const absl::StatusCode code = extracted.status().code();
    Check(code == absl::StatusCode::kNotFound ||
          code == absl::StatusCode::kFailedPrecondition);
    Check((code == absl::StatusCode::kFailedPrecondition) == !parsed.ok());
  } else {
    Check(parsed.ok());
  }

  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    Check(absl::StartsWith(parsed.status().message(), "invalid JSON at byte "));
    Check(IsPrintableAscii(parsed.status().message()));
    return;
  }
  const WipingString compact = SerializeJson(*parsed);
  Check(IsValidUtf8(compact));
  absl::StatusOr<JsonValue> reparsed = ParseJson(compact);
  Check(reparsed.ok());
  Check(SerializeJson(*reparsed) == compact);
  absl::StatusOr<JsonValue> from_pretty =
      ParseJson(SerializeJsonPretty(*parsed));
  Check(from_pretty.ok());
  Check(SerializeJson(*from_pretty) == compact);
}

}  // namespace
}  // namespace zlayer::secrets

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlayer::secrets::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
