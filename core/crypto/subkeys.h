// Purpose-bound subkeys derived from one store-wide root key.
//
// Several mechanisms need a key of their own that is not the key sealing the
// values: the MAC over metadata rows, the keyed hash of API-key secrets, and
// the keyed hash of names in audit records. Each is derived from one 32-byte
// root with libsodium's crypto_kdf_derive_from_key (BLAKE2b), under a fixed
// 8-byte context and a subkey id per purpose, so a subkey for one purpose
// tells nothing about another or about the root.
//
// The root is the store's subkey seed (see docs/crypto.md, "Key hierarchy"):
// random, kept sealed by the master key, so master-key rotation does not
// change any subkey and nothing derived from one has to be recomputed.
//
//   ASSIGN_OR_RETURN(SecretBytes mac_key,
//                    DeriveSubkey(seed, SubkeyPurpose::kMetadataMac));
//
// Thread-safe: pure functions.
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_SUBKEYS_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_SUBKEYS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

// Subkey ids. Never renumber: stored MACs and hashes depend on them.
enum class SubkeyPurpose : uint64_t {
  kMetadataMac = 1,    // MAC over the metadata that decides what a ref reads
  kApiKeyHash = 2,     // keyed hash of API-key secrets
  kAuditNameHash = 3,  // keyed hash of scope/name in audit records
  kBackupMac = 4,      // MAC over a whole backup file (core/backup)
};

// Length of every root and subkey (crypto_kdf_KEYBYTES).
inline constexpr size_t kSubkeyBytes = 32;

// "metadata-mac", "api-key-hash", "audit-name-hash", "backup-mac".
absl::string_view SubkeyPurposeName(SubkeyPurpose purpose);

// Derives the 32-byte subkey for `purpose` from `root`. Returns
// InvalidArgument if `root` is not kSubkeyBytes long, Internal if libsodium
// fails.
absl::StatusOr<SecretBytes> DeriveSubkey(const SecretBytes& root,
                                         SubkeyPurpose purpose);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_SUBKEYS_H_
