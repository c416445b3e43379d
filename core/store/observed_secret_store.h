// ObservedSecretStore: a SecretStore that forwards every call to another one
// and tells a StoreChangeObserver (core/store/store_change.h) about each
// write that committed. Reads pass straight through. This is how a store
// without a change stream of its own (SQLite, memory) feeds watchers.
//
//   SqliteSecretStore* sqlite = ...;
//   ChangeFeed feed(...);                      // core/watch/change_feed.h
//   ObservedSecretStore store(sqlite, &feed);  // hand `store` to the services
//
// Error codes are the wrapped store's; a failed write notifies nobody.
// Thread-safe when the wrapped store and the observer are. Owns neither.
#ifndef ZLAYER_SECRETS_CORE_STORE_OBSERVED_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_STORE_OBSERVED_SECRET_STORE_H_

#include <string>
#include <vector>

#include "core/store/secret_store.h"
#include "core/store/store_change.h"

namespace zlayer::secrets {

class ObservedSecretStore final : public SecretStore {
 public:
  // Neither is owned; both must outlive this object.
  ObservedSecretStore(SecretStore* inner, StoreChangeObserver* observer)
      : inner_(inner), observer_(observer) {}

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
  void Notify(ChangeKind kind, absl::string_view scope, absl::string_view name,
              uint32_t version, uint32_t previous_version);

  SecretStore* const inner_;
  StoreChangeObserver* const observer_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_OBSERVED_SECRET_STORE_H_
