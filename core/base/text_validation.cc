#include "core/base/text_validation.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

// Decodes one code point starting at s[*pos]; advances *pos. Returns -1 for
// an ill-formed sequence.
int32_t DecodeOne(absl::string_view s, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(*pos);
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  }
  size_t len;
  int32_t cp;
  int32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return -1;
  }
  if (s.size() - *pos < len) return -1;
  for (size_t i = 1; i < len; ++i) {
    const uint8_t b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *pos += len;
  return cp;
}

bool IsControl(int32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    if (DecodeOne(s, &pos) < 0) return false;
  }
  return true;
}

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
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t at = pos;
    const int32_t cp = DecodeOne(text, &pos);
    if (cp < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is not valid UTF-8 (at byte ", at, ")"));
    }
    if (IsControl(cp)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " contains a control character (at byte ", at, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
