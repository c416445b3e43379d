#include "daemon/metered_secret_store.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {

// Seconds; a SQLite read from the page cache takes tens of microseconds, an
// fsync'd group commit or an etcd round trip milliseconds.
std::vector<double> StoreLatencyBounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5};
}

const char* StoreOpName(StoreOp op) {
  switch (op) {
    case StoreOp::kGet:
      return "get";
    case StoreOp::kGetMany:
      return "get_many";
    case StoreOp::kListSecrets:
      return "list_secrets";
    case StoreOp::kExists:
      return "exists";
    case StoreOp::kReadBatch:
      return "read_batch";
    case StoreOp::kReadVersions:
      return "read_versions";
    case StoreOp::kGetVersioned:
      return "get_versioned";
    case StoreOp::kGetMetadata:
      return "get_metadata";
    case StoreOp::kGetWithMetadata:
      return "get_with_metadata";
    case StoreOp::kSet:
      return "set";
    case StoreOp::kDelete:
      return "delete";
    case StoreOp::kUndelete:
      return "undelete";
    case StoreOp::kDestroy:
      return "destroy";
    case StoreOp::kRotate:
      return "rotate";
    case StoreOp::kListVersions:
      return "list_versions";
    case StoreOp::kRollback:
      return "rollback";
    case StoreOp::kList:
      return "list";
  }
  return "unknown";
}

// Observes the time from its construction to its destruction.
class MeteredSecretStore::Timer {
 public:
  Timer(const MeteredSecretStore* store, StoreOp op)
      : histogram_(store->latency_[static_cast<size_t>(op)].get()),
        start_(std::chrono::steady_clock::now()) {}
  ~Timer() {
    histogram_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count());
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Histogram* const histogram_;
  const std::chrono::steady_clock::time_point start_;
};

MeteredSecretStore::MeteredSecretStore(SecretStore* inner, std::string backend,
                                       bool name_labels)
    : inner_(inner), backend_(std::move(backend)), name_labels_(name_labels) {
  for (auto& histogram : latency_) {
    histogram = std::make_unique<Histogram>(StoreLatencyBounds());
  }
}

void MeteredSecretStore::CountRead(absl::string_view scope,
                                   absl::string_view name) {
  if (!name_labels_) return;
  // The daemon's own records (API keys, credentials) are not secrets a
  // client reads; their ids stay out of the labels.
  if (absl::StartsWith(scope, kSystemScopePrefix)) return;
  absl::MutexLock lock(&reads_mu_);
  auto it = reads_.find(std::make_pair(std::string(scope), std::string(name)));
  if (it != reads_.end()) {
    ++it->second;
  } else if (reads_.size() < kMaxNameLabels) {
    reads_.emplace(std::make_pair(std::string(scope), std::string(name)), 1);
  } else {
    ++other_reads_;
  }
}

void MeteredSecretStore::Collect(std::string* out) const {
  AppendHeader(out, "zlayer_secrets_store_operation_seconds", "histogram",
               "Time a store operation took, by backend and operation "
               "(including the group-commit wait of a write).");
  for (size_t i = 0; i < kStoreOpCount; ++i) {
    AppendHistogram(out, "zlayer_secrets_store_operation_seconds",
                    absl::StrCat("backend=\"", LabelValue(backend_), "\",op=\"",
                                 StoreOpName(static_cast<StoreOp>(i)), "\""),
                    latency_[i]->Read());
  }
  if (!name_labels_) return;
  // Sorted, so that scrapes list the series in a stable order.
  std::map<std::pair<std::string, std::string>, uint64_t> reads;
  uint64_t other = 0;
  {
    absl::MutexLock lock(&reads_mu_);
    reads.insert(reads_.begin(), reads_.end());
    other = other_reads_;
  }
  AppendHeader(out, "zlayer_secrets_secret_reads_total", "counter",
               absl::StrCat("Values read per secret (--metrics-name-labels); "
                            "past ",
                            kMaxNameLabels,
                            " secrets, reads count under empty scope and "
                            "name."));
  for (const auto& [key, count] : reads) {
    absl::StrAppend(out, "zlayer_secrets_secret_reads_total{scope=\"",
                    LabelValue(key.first), "\",name=\"", LabelValue(key.second),
                    "\"} ", count, "\n");
  }
  absl::StrAppend(out,
                  "zlayer_secrets_secret_reads_total{scope=\"\",name=\"\"} ",
                  other, "\n");
}

absl::StatusOr<SecretBytes> MeteredSecretStore::GetSecret(
    absl::string_view scope, absl::string_view name) {
  absl::StatusOr<SecretBytes> result;
  {
    Timer timer(this, StoreOp::kGet);
    result = inner_->GetSecret(scope, name);
  }
  if (result.ok()) CountRead(scope, name);
  return result;
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
MeteredSecretStore::GetSecrets(absl::string_view scope,
                               const std::vector<std::string>& names) {
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> result;
  {
    Timer timer(this, StoreOp::kGetMany);
    result = inner_->GetSecrets(scope, names);
  }
  if (result.ok()) {
    for (const auto& entry : *result) CountRead(scope, entry.first);
  }
  return result;
}

absl::StatusOr<std::vector<SecretMetadata>> MeteredSecretStore::ListSecrets(
    absl::string_view scope) {
  Timer timer(this, StoreOp::kListSecrets);
  return inner_->ListSecrets(scope);
}

absl::StatusOr<bool> MeteredSecretStore::Exists(absl::string_view scope,
                                                absl::string_view name) {
  Timer timer(this, StoreOp::kExists);
  return inner_->Exists(scope, name);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
MeteredSecretStore::ReadBatch(const std::vector<SecretKey>& keys) {
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> result;
  {
    Timer timer(this, StoreOp::kReadBatch);
    result = inner_->ReadBatch(keys);
  }
  if (result.ok()) {
    for (size_t i = 0; i < result->size() && i < keys.size(); ++i) {
      if ((*result)[i].ok()) CountRead(keys[i].scope, keys[i].name);
    }
  }
  return result;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
MeteredSecretStore::ReadVersions(const std::vector<VersionedKey>& keys) {
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> result;
  {
    Timer timer(this, StoreOp::kReadVersions);
    result = inner_->ReadVersions(keys);
  }
  if (result.ok()) {
    for (size_t i = 0; i < result->size() && i < keys.size(); ++i) {
      if ((*result)[i].ok()) CountRead(keys[i].key.scope, keys[i].key.name);
    }
  }
  return result;
}

absl::StatusOr<VersionedValue> MeteredSecretStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  absl::StatusOr<VersionedValue> result;
  {
    Timer timer(this, StoreOp::kGetVersioned);
    result = inner_->GetVersioned(scope, name, version);
  }
  if (result.ok()) CountRead(scope, name);
  return result;
}

absl::StatusOr<SecretMetadata> MeteredSecretStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  Timer timer(this, StoreOp::kGetMetadata);
  return inner_->GetMetadata(scope, name);
}

absl::StatusOr<ValueWithMetadata> MeteredSecretStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  absl::StatusOr<ValueWithMetadata> result;
  {
    Timer timer(this, StoreOp::kGetWithMetadata);
    result = inner_->GetWithMetadata(scope, name, version);
  }
  if (result.ok()) CountRead(scope, name);
  return result;
}

absl::StatusOr<SecretMetadata> MeteredSecretStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  Timer timer(this, StoreOp::kSet);
  return inner_->SetSecret(scope, name, value, options);
}

absl::Status MeteredSecretStore::DeleteSecret(absl::string_view scope,
                                              absl::string_view name) {
  Timer timer(this, StoreOp::kDelete);
  return inner_->DeleteSecret(scope, name);
}

absl::Status MeteredSecretStore::UndeleteSecret(absl::string_view scope,
                                                absl::string_view name) {
  Timer timer(this, StoreOp::kUndelete);
  return inner_->UndeleteSecret(scope, name);
}

absl::Status MeteredSecretStore::DestroySecret(absl::string_view scope,
                                               absl::string_view name) {
  Timer timer(this, StoreOp::kDestroy);
  return inner_->DestroySecret(scope, name);
}

absl::StatusOr<RotationResult> MeteredSecretStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  Timer timer(this, StoreOp::kRotate);
  return inner_->RotateSecret(scope, name, value);
}

absl::StatusOr<std::vector<VersionInfo>> MeteredSecretStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  Timer timer(this, StoreOp::kListVersions);
  return inner_->ListVersions(scope, name);
}

absl::StatusOr<SecretMetadata> MeteredSecretStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  Timer timer(this, StoreOp::kRollback);
  return inner_->RollbackSecret(scope, name, version);
}

absl::StatusOr<ListPage> MeteredSecretStore::List(absl::string_view scope,
                                                  const ListOptions& options) {
  Timer timer(this, StoreOp::kList);
  return inner_->List(scope, options);
}

}  // namespace zlayer::secrets
