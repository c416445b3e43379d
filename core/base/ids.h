// Identifiers and their text forms: random UUID v4 ids (environments, grants,
// credentials) and hexadecimal. Hex goes through libsodium and Abseil, never a
// hand loop: encode with absl::BytesToHexString (lowercase), decode with
// HexDecode below (sodium_hex2bin plus the checks it leaves to its caller).
//
//   std::string id = NewUuidV4();  // "0b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b"
//   std::string hex = absl::BytesToHexString(bytes);
//   ASSIGN_OR_RETURN(std::string bytes, HexDecode(hex));
//
// Thread-safe (libsodium's CSPRNG is; sodium_init is idempotent).
#ifndef ZLAYER_SECRETS_CORE_BASE_IDS_H_
#define ZLAYER_SECRETS_CORE_BASE_IDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets {

// A fresh random UUID v4 (RFC 4122 variant, libsodium's CSPRNG), lowercase
// 8-4-4-4-12 hex.
std::string NewUuidV4();

// True for a 36-char UUID shape (8-4-4-4-12 hex, either case, any version),
// as the CLI's --env rule (docs/compatibility.md, "Environments").
bool LooksLikeUuid(absl::string_view s);

// Decodes hexadecimal text (either case). Returns InvalidArgument, with no
// input bytes in the message, for an odd length or any non-hex character.
// "" decodes to "".
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BASE_IDS_H_
