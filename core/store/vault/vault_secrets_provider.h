// VaultSecretsProvider: secrets in a HashiCorp Vault KV v2 mount, as
// upstream's `vault` feature keeps them (reference §11): secret
// (scope, name) is the KV path "{scope}/{name}" inside the mount, its data
// the object {"value": "<secret>"}. Versions and timestamps are KV v2's own
// (`metadata.version`, `created_time`), so a rotation reports 3 -> 4, not
// upstream's 1 -> 1.
//
//   ASSIGN_OR_RETURN(auto vault, VaultClient::Create(options, clock));
//   VaultSecretsProvider provider(vault.get(), "secret");
//   ASSIGN_OR_RETURN(SecretBytes v, provider.GetSecret("shop", "db"));
//
// `scope` here is a KV path (it may hold '/'); an empty scope puts the
// secret at the top of the mount.
//
// Error codes: those of VaultClient (PermissionDenied for a refused token,
// DeadlineExceeded, Unavailable, ResourceExhausted), plus
//   NotFound  no such secret, or its current version is deleted/destroyed
//   DataLoss  Vault's answer lacks the expected shape, or the data at the
//             path has no string "value"
// Messages name the path, never a value or the token.
//
// One snapshot: Vault has no multi-key snapshot. ReadBatch reads each key at
// its current KV version, then asks each key's metadata once more; if any
// current version moved in between, it reads everything once more, and if
// they move again it answers Aborted. See docs/vault.md.
//
// Thread-safe (VaultClient is).
#ifndef ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_SECRETS_PROVIDER_H_
#define ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_SECRETS_PROVIDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"
#include "core/store/vault/vault_client.h"

namespace zlayer::secrets {

class VaultSecretsProvider : public SecretsProvider {
 public:
  // `client` is not owned and must outlive the provider; `mount` is the KV
  // v2 engine's mount path (VAULT_MOUNT, default "secret").
  VaultSecretsProvider(VaultClient* client, std::string mount = "secret");

  // SecretsProvider.
  absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                        absl::string_view name) override;
  // Missing names are omitted; any other error fails the call.
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> GetSecrets(
      absl::string_view scope, const std::vector<std::string>& names) override;
  // Live secrets directly under `scope` (sub-folders are left out), with
  // KV v2's versions and timestamps; an absent folder is an empty list.
  absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) override;
  absl::StatusOr<bool> Exists(absl::string_view scope,
                              absl::string_view name) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) override;
  // Reads `?version=N` of each key (KV v2 keeps old versions).
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadVersions(
      const std::vector<VersionedKey>& keys) override;

  // The value at `version` (0 = current) with KV v2's version number.
  absl::StatusOr<VersionedValue> GetVersioned(absl::string_view scope,
                                              absl::string_view name,
                                              uint32_t version = 0);
  // KV v2 metadata: current_version, created_time (first version),
  // updated_time. NotFound when absent or the current version is deleted.
  absl::StatusOr<SecretMetadata> GetMetadata(absl::string_view scope,
                                             absl::string_view name);
  // A KV v2 write of {"value": value} (check-and-set when
  // options.expected_version is set: FailedPrecondition on a mismatch).
  // Returns the metadata after the write.
  absl::StatusOr<SecretMetadata> SetSecret(absl::string_view scope,
                                           absl::string_view name,
                                           const SecretBytes& value,
                                           const WriteOptions& options = {});
  // A new version of a live secret, check-and-set against the version read:
  // previous and new are KV v2's version numbers. NotFound if not live.
  absl::StatusOr<RotationResult> RotateSecret(absl::string_view scope,
                                              absl::string_view name,
                                              const SecretBytes& value);
  // "Delete latest version" (soft; `vault kv undelete` brings it back).
  // NotFound if there is no live secret.
  absl::Status DeleteSecret(absl::string_view scope, absl::string_view name);

 private:
  // "{mount}/{kind}/{scope}/{name}", escaped; InvalidArgument for a scope
  // with an empty, "." or ".." segment, or a name "." or "..".
  absl::StatusOr<std::string> PathOf(absl::string_view kind,
                                     absl::string_view scope,
                                     absl::string_view name) const;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadOnce(
      const std::vector<SecretKey>& keys);

  VaultClient* client_;
  const std::string mount_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_SECRETS_PROVIDER_H_
