#include "core/crypto/subkeys.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

// crypto_kdf contexts are exactly 8 bytes; one for the whole project.
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "zlsubkey";
static_assert(kSubkeyBytes == crypto_kdf_KEYBYTES, "root is a kdf key");

}  // namespace

absl::string_view SubkeyPurposeName(SubkeyPurpose purpose) {
  switch (purpose) {
    case SubkeyPurpose::kMetadataMac:
      return "metadata-mac";
    case SubkeyPurpose::kApiKeyHash:
      return "api-key-hash";
    case SubkeyPurpose::kAuditNameHash:
      return "audit-name-hash";
    case SubkeyPurpose::kBackupMac:
      return "backup-mac";
  }
  return "unknown";
}

absl::StatusOr<SecretBytes> DeriveSubkey(const SecretBytes& root,
                                         SubkeyPurpose purpose) {
  if (root.size() != kSubkeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("subkey root must be ", kSubkeyBytes, " bytes"));
  }
  SecretBytes subkey(kSubkeyBytes);
  if (crypto_kdf_derive_from_key(subkey.MutableData(), subkey.size(),
                                 static_cast<uint64_t>(purpose), kKdfContext,
                                 root.data()) != 0) {
    return absl::InternalError(absl::StrCat(
        "deriving the ", SubkeyPurposeName(purpose), " subkey failed"));
  }
  return subkey;
}

}  // namespace zlayer::secrets
