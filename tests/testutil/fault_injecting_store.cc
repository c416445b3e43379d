#include "tests/testutil/fault_injecting_store.h"

#include <utility>

#include "core/base/status_macros.h"

namespace zlayer::secrets::testing {

void FaultInjectingStore::FailNextRead(absl::Status status, int after,
                                       int times) {
  read_fault_ = {std::move(status), after, times};
}

void FaultInjectingStore::FailNextWrite(absl::Status status, int after,
                                        int times) {
  write_fault_ = {std::move(status), after, times};
}

absl::Status FaultInjectingStore::Take(Fault* fault) {
  if (fault->times <= 0) return absl::OkStatus();
  if (fault->after > 0) {
    --fault->after;
    return absl::OkStatus();
  }
  --fault->times;
  return fault->status;
}

absl::Status FaultInjectingStore::Read() {
  RETURN_IF_ERROR(Take(&read_fault_));
  ++reads_;
  return absl::OkStatus();
}

absl::Status FaultInjectingStore::Write() {
  RETURN_IF_ERROR(Take(&write_fault_));
  ++writes_;
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> FaultInjectingStore::GetSecret(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(Read());
  return base_->GetSecret(scope, name);
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
FaultInjectingStore::GetSecrets(absl::string_view scope,
                                const std::vector<std::string>& names) {
  RETURN_IF_ERROR(Read());
  return base_->GetSecrets(scope, names);
}

absl::StatusOr<std::vector<SecretMetadata>> FaultInjectingStore::ListSecrets(
    absl::string_view scope) {
  RETURN_IF_ERROR(Read());
  return base_->ListSecrets(scope);
}

absl::StatusOr<bool> FaultInjectingStore::Exists(absl::string_view scope,
                                                 absl::string_view name) {
  RETURN_IF_ERROR(Read());
  return base_->Exists(scope, name);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
FaultInjectingStore::ReadBatch(const std::vector<SecretKey>& keys) {
  RETURN_IF_ERROR(Read());
  batch_keys_.insert(batch_keys_.end(), keys.begin(), keys.end());
  return base_->ReadBatch(keys);
}

absl::StatusOr<VersionedValue> FaultInjectingStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(Read());
  return base_->GetVersioned(scope, name, version);
}

absl::StatusOr<SecretMetadata> FaultInjectingStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(Read());
  return base_->GetMetadata(scope, name);
}

absl::StatusOr<ValueWithMetadata> FaultInjectingStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(Read());
  return base_->GetWithMetadata(scope, name, version);
}

absl::StatusOr<SecretMetadata> FaultInjectingStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  RETURN_IF_ERROR(Write());
  return base_->SetSecret(scope, name, value, options);
}

absl::Status FaultInjectingStore::DeleteSecret(absl::string_view scope,
                                               absl::string_view name) {
  RETURN_IF_ERROR(Write());
  return base_->DeleteSecret(scope, name);
}

absl::Status FaultInjectingStore::UndeleteSecret(absl::string_view scope,
                                                 absl::string_view name) {
  RETURN_IF_ERROR(Write());
  return base_->UndeleteSecret(scope, name);
}

absl::Status FaultInjectingStore::DestroySecret(absl::string_view scope,
                                                absl::string_view name) {
  RETURN_IF_ERROR(Write());
  return base_->DestroySecret(scope, name);
}

absl::StatusOr<RotationResult> FaultInjectingStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  RETURN_IF_ERROR(Write());
  return base_->RotateSecret(scope, name, value);
}

absl::StatusOr<std::vector<VersionInfo>> FaultInjectingStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(Read());
  return base_->ListVersions(scope, name);
}

absl::StatusOr<SecretMetadata> FaultInjectingStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(Write());
  return base_->RollbackSecret(scope, name, version);
}

absl::StatusOr<ListPage> FaultInjectingStore::List(absl::string_view scope,
                                                   const ListOptions& options) {
  RETURN_IF_ERROR(Read());
  return base_->List(scope, options);
}

}  // namespace zlayer::secrets::testing
