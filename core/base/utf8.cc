#include "core/base/utf8.h"

namespace zlayer::secrets {

size_t DecodeUtf8(absl::string_view s, uint32_t* code_point) {
  if (s.empty()) return 0;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    *code_point = c;
    return 1;
  }
  // RFC 3629, section 4: the lead byte fixes the length and the range of the
  // second byte; that range is what excludes overlongs (E0, F0), surrogates
  // (ED) and code points above U+10FFFF (F4).
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    len = 3;
  } else if (c == 0xED) {
    len = 3, hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    return 0;  // a continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (s.size() < len || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  uint32_t cp = c & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) cp = (cp << 6) | (b(i) & 0x3F);
  *code_point = cp;
  return len;
}

bool IsValidUtf8(absl::string_view s) {
  while (!s.empty()) {
    uint32_t cp;
    const size_t n = DecodeUtf8(s, &cp);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

}  // namespace zlayer::secrets
