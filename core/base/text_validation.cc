#include "core/base/text_validation.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/base/utf8.h"

namespace zlayer::secrets {
namespace {

bool IsControl(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

}  // namespace

absl::Status ValidateText(absl::string_view text, absl::string_view what,
                          size_t min_bytes, size_t max_bytes) {
  if (text.size() < min_bytes) {
    return absl::InvalidArgumentError(
        min_bytes == 1
            ? absl::StrCat(what, " is empty")
            : absl::StrCat(what, " is shorter than ", min_bytes, " bytes"));
  }
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", max_bytes, " bytes"));
  }
  size_t at = 0;
  while (at < text.size()) {
    uint32_t cp;
    const size_t n = DecodeUtf8(text.substr(at), &cp);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is not valid UTF-8 (at byte ", at, ")"));
    }
    if (IsControl(cp)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " contains a control character (at byte ", at, ")"));
    }
    at += n;
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
