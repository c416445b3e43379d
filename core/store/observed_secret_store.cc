#include "core/store/observed_secret_store.h"

#include <utility>

namespace zlayer::secrets {

void ObservedSecretStore::Notify(ChangeKind kind, absl::string_view scope,
                                 absl::string_view name, uint32_t version,
                                 uint32_t previous_version) {
  StoreChange change;
  change.kind = kind;
  change.scope = std::string(scope);
  change.name = std::string(name);
  change.version = version;
  change.previous_version = previous_version;
  if (observer_ != nullptr) observer_->OnStoreChange(change);
}

absl::StatusOr<SecretBytes> ObservedSecretStore::GetSecret(
    absl::string_view scope, absl::string_view name) {
  return inner_->GetSecret(scope, name);
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
ObservedSecretStore::GetSecrets(absl::string_view scope,
                                const std::vector<std::string>& names) {
  return inner_->GetSecrets(scope, names);
}

absl::StatusOr<std::vector<SecretMetadata>> ObservedSecretStore::ListSecrets(
    absl::string_view scope) {
  return inner_->ListSecrets(scope);
}

absl::StatusOr<bool> ObservedSecretStore::Exists(absl::string_view scope,
                                                 absl::string_view name) {
  return inner_->Exists(scope, name);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
ObservedSecretStore::ReadBatch(const std::vector<SecretKey>& keys) {
  return inner_->ReadBatch(keys);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
ObservedSecretStore::ReadVersions(const std::vector<VersionedKey>& keys) {
  return inner_->ReadVersions(keys);
}

absl::StatusOr<VersionedValue> ObservedSecretStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  return inner_->GetVersioned(scope, name, version);
}

absl::StatusOr<SecretMetadata> ObservedSecretStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  return inner_->GetMetadata(scope, name);
}

absl::StatusOr<ValueWithMetadata> ObservedSecretStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  return inner_->GetWithMetadata(scope, name, version);
}

absl::StatusOr<SecretMetadata> ObservedSecretStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  absl::StatusOr<SecretMetadata> written =
      inner_->SetSecret(scope, name, value, options);
  if (written.ok()) {
    // The store does not say which version was current before; every
    // version but the first had a predecessor one below it.
    Notify(ChangeKind::kSet, scope, name, written->version,
           written->version > 1 ? written->version - 1 : 0);
  }
  return written;
}

absl::Status ObservedSecretStore::DeleteSecret(absl::string_view scope,
                                               absl::string_view name) {
  absl::Status status = inner_->DeleteSecret(scope, name);
  if (status.ok()) Notify(ChangeKind::kDelete, scope, name, 0, 0);
  return status;
}

absl::Status ObservedSecretStore::UndeleteSecret(absl::string_view scope,
                                                 absl::string_view name) {
  absl::Status status = inner_->UndeleteSecret(scope, name);
  if (status.ok()) {
    // The revived version, for the event; a failed read only loses that.
    absl::StatusOr<SecretMetadata> now = inner_->GetMetadata(scope, name);
    Notify(ChangeKind::kUndelete, scope, name, now.ok() ? now->version : 0, 0);
  }
  return status;
}

absl::Status ObservedSecretStore::DestroySecret(absl::string_view scope,
                                                absl::string_view name) {
  absl::Status status = inner_->DestroySecret(scope, name);
  if (status.ok()) Notify(ChangeKind::kDestroy, scope, name, 0, 0);
  return status;
}

absl::StatusOr<RotationResult> ObservedSecretStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  absl::StatusOr<RotationResult> rotated =
      inner_->RotateSecret(scope, name, value);
  if (rotated.ok()) {
    Notify(ChangeKind::kRotate, scope, name, rotated->new_version,
           rotated->previous_version);
  }
  return rotated;
}

absl::StatusOr<std::vector<VersionInfo>> ObservedSecretStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  return inner_->ListVersions(scope, name);
}

absl::StatusOr<SecretMetadata> ObservedSecretStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  absl::StatusOr<SecretMetadata> rolled =
      inner_->RollbackSecret(scope, name, version);
  if (rolled.ok()) {
    Notify(ChangeKind::kRollback, scope, name, rolled->version,
           rolled->version > 1 ? rolled->version - 1 : 0);
  }
  return rolled;
}

absl::StatusOr<ListPage> ObservedSecretStore::List(absl::string_view scope,
                                                   const ListOptions& options) {
  return inner_->List(scope, options);
}

}  // namespace zlayer::secrets
