// MeteredSecretStore: a SecretStore that forwards every call to another one
// and times it, for the store-latency histograms of --metrics-listen
// (zlayer_secrets_store_operation_seconds{backend,op}). With name labels on
// (--metrics-name-labels) it also counts successful value reads per secret,
// for zlayer_secrets_secret_reads_total{scope,name}: at most
// kMaxNameLabels secrets get their own series, reads of any further secret
// are counted in one series with empty scope and name (no secret has an
// empty name); reads of the daemon's internal records (scopes "system:...")
// are not counted. With name labels off no scope or name is kept at all.
//
// It lives in daemon/ so that core/ keeps no notion of metrics: the daemon
// puts it between the opened backend (SQLite or etcd) and the
// ObservedSecretStore the services use.
//
//   MeteredSecretStore metered(sqlite, "sqlite", /*name_labels=*/false);
//   ObservedSecretStore store(&metered, &feed);
//   metrics.AddCollector([&](std::string* out) { metered.Collect(out); });
//
// Error codes are the wrapped store's. Thread-safe when the wrapped store is.
// Does not own `inner`, which must outlive it.
#ifndef ZLAYER_SECRETS_DAEMON_METERED_SECRET_STORE_H_
#define ZLAYER_SECRETS_DAEMON_METERED_SECRET_STORE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/store/secret_store.h"
#include "daemon/metrics.h"

namespace zlayer::secrets {

// The `op` label values, one per SecretStore method: a fixed set.
enum class StoreOp {
  kGet,
  kGetMany,
  kListSecrets,
  kExists,
  kReadBatch,
  kReadVersions,
  kGetVersioned,
  kGetMetadata,
  kGetWithMetadata,
  kSet,
  kDelete,
  kUndelete,
  kDestroy,
  kRotate,
  kListVersions,
  kRollback,
  kList,
};
inline constexpr size_t kStoreOpCount = 17;
const char* StoreOpName(StoreOp op);

// Upper bounds (seconds) of the store-latency histograms.
std::vector<double> StoreLatencyBounds();

class MeteredSecretStore final : public SecretStore {
 public:
  // Most secrets with their own zlayer_secrets_secret_reads_total series.
  static constexpr size_t kMaxNameLabels = 100;

  // `backend` is the `backend` label ("sqlite", "etcd"). `inner` is not
  // owned and must outlive this object.
  MeteredSecretStore(SecretStore* inner, std::string backend, bool name_labels);

  // Appends zlayer_secrets_store_operation_seconds and, with name labels
  // on, zlayer_secrets_secret_reads_total. Thread-safe.
  void Collect(std::string* out) const;

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
  class Timer;
  // One successful value read of (scope, name); a no-op without name
  // labels.
  void CountRead(absl::string_view scope, absl::string_view name);

  SecretStore* const inner_;
  const std::string backend_;
  const bool name_labels_;
  std::array<std::unique_ptr<Histogram>, kStoreOpCount> latency_;
  mutable absl::Mutex reads_mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> reads_
      ABSL_GUARDED_BY(reads_mu_);
  uint64_t other_reads_ ABSL_GUARDED_BY(reads_mu_) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_METERED_SECRET_STORE_H_
