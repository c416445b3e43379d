// MemorySecretStore: a SecretStore held entirely in process memory. Values
// stay in SecretBytes (sodium_malloc'd, wiped on free); nothing is encrypted
// and nothing survives the process. It behaves exactly like
// SqliteSecretStore (the conformance suite in tests/core checks both), which
// makes it the store for tests and for ephemeral daemons.
//
//   FakeClock clock;
//   MemorySecretStore store(&clock);
//   ASSIGN_OR_RETURN(SecretMetadata m, store.SetSecret("prod", "db", v, {}));
//
// Thread-safe: reads share a lock, writes take it exclusively, so every call
// (including ReadBatch and GetSecrets) sees one consistent state.
// SecretMetadata::key_id and VersionInfo::key_id are always 0 (no keys).
#ifndef ZLAYER_SECRETS_CORE_STORE_MEMORY_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_STORE_MEMORY_SECRET_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/base/clock.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

class MemorySecretStore final : public SecretStore {
 public:
  // `clock` is not owned and must outlive the store.
  explicit MemorySecretStore(Clock* clock);

  MemorySecretStore(const MemorySecretStore&) = delete;
  MemorySecretStore& operator=(const MemorySecretStore&) = delete;

  // SecretsProvider.
  absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                        absl::string_view name) override;
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> GetSecrets(
      absl::string_view scope, const std::vector<std::string>& names) override;
  absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) override;
  absl::StatusOr<bool> Exists(absl::string_view scope,
                              absl::string_view name) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadVersions(
      const std::vector<VersionedKey>& keys) override;

  // SecretStore.
  absl::StatusOr<VersionedValue> GetVersioned(absl::string_view scope,
                                              absl::string_view name,
                                              uint32_t version) override;
  absl::StatusOr<SecretMetadata> GetMetadata(absl::string_view scope,
                                             absl::string_view name) override;
  absl::StatusOr<ValueWithMetadata> GetWithMetadata(absl::string_view scope,
                                                    absl::string_view name,
                                                    uint32_t version) override;
  absl::StatusOr<SecretMetadata> SetSecret(
      absl::string_view scope, absl::string_view name, const SecretBytes& value,
      const WriteOptions& options) override;
  absl::Status DeleteSecret(absl::string_view scope,
                            absl::string_view name) override;
  absl::Status UndeleteSecret(absl::string_view scope,
                              absl::string_view name) override;
  absl::Status DestroySecret(absl::string_view scope,
                             absl::string_view name) override;
  absl::StatusOr<RotationResult> RotateSecret(
      absl::string_view scope, absl::string_view name,
      const SecretBytes& value) override;
  absl::StatusOr<std::vector<VersionInfo>> ListVersions(
      absl::string_view scope, absl::string_view name) override;
  absl::StatusOr<SecretMetadata> RollbackSecret(absl::string_view scope,
                                                absl::string_view name,
                                                uint32_t version) override;
  absl::StatusOr<ListPage> List(absl::string_view scope,
                                const ListOptions& options) override;

 private:
  struct Version {
    SecretBytes value;
    int64_t created_at = 0;
  };
  struct Entry {
    uint32_t current_version = 0;
    std::string incarnation;  // random, new at each creation
    int64_t created_at = 0;
    int64_t updated_at = 0;
    uint32_t max_versions = kDefaultMaxVersions;
    bool deleted = false;
    int64_t deleted_at = 0;
    std::vector<std::string> node_affinity;  // canonical
    std::map<uint32_t, Version> versions;    // kept versions only
  };
  // Ordered by (scope, name), byte-wise, so a scope is one contiguous range.
  using Map = std::map<std::pair<std::string, std::string>, Entry>;

  const Entry* FindLive(absl::string_view scope, absl::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<VersionedValue> ReadLocked(absl::string_view scope,
                                            absl::string_view name,
                                            uint32_t version) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SecretMetadata> WriteLocked(absl::string_view scope,
                                             absl::string_view name,
                                             const SecretBytes& value,
                                             const WriteOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static SecretMetadata MetadataOf(const Map::value_type& kv);

  Clock* const clock_;
  mutable absl::Mutex mu_;
  Map secrets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_MEMORY_SECRET_STORE_H_
