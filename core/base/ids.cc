#include "core/base/ids.h"

#include <sodium.h>

#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

std::string NewUuidV4() {
  // sodium_init is idempotent and thread-safe.
  if (sodium_init() < 0) std::abort();
  uint8_t b[16];
  randombytes_buf(b, sizeof(b));
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

bool LooksLikeUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex text has an odd length (", hex.size(), ")"));
  }
  std::string out(hex.size() / 2, '\0');
  size_t written = 0;
  const char* end = nullptr;
  // With no `ignore` set, sodium_hex2bin stops at the first non-hex
  // character and reports where through `end`; it does not fail for that.
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     hex.data(), hex.size(), /*ignore=*/nullptr, &written,
                     &end) != 0 ||
      end != hex.data() + hex.size() || written != out.size()) {
    return absl::InvalidArgumentError("hex text has a non-hex character");
  }
  return out;
}

}  // namespace zlayer::secrets
