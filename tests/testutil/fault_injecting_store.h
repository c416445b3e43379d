// A SecretStore wrapper for error-path tests, after LevelDB's fault
// injection: forwards every call to the wrapped store, except that the next
// read (or write) can be made to fail with a chosen status, and it counts
// the reads and writes that reached the wrapped store.
//
//   MemorySecretStore memory(&clock);
//   FaultInjectingStore store(&memory);
//   store.FailNextWrite(absl::UnavailableError("disk full"));
//   EXPECT_STATUS(SetWithRetry(&store, ...), kUnavailable);
//   EXPECT_EQ(store.reads(), 0);
//
// Reads: GetSecret, GetSecrets, ListSecrets, Exists, ReadBatch,
// GetVersioned, GetMetadata, GetWithMetadata, ListVersions, List. Writes:
// SetSecret, DeleteSecret, UndeleteSecret, DestroySecret, RotateSecret,
// RollbackSecret. A failed call does not reach the wrapped store and is not
// counted. Not thread-safe (tests drive it from one thread).
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_FAULT_INJECTING_STORE_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_FAULT_INJECTING_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets::testing {

class FaultInjectingStore final : public SecretStore {
 public:
  // `base` is not owned and must outlive this wrapper.
  explicit FaultInjectingStore(SecretStore* base) : base_(base) {}

  // The next read (write) fails with `status` instead of reaching the
  // wrapped store; `after` calls of that kind succeed first, and `times`
  // calls in a row fail.
  void FailNextRead(absl::Status status, int after = 0, int times = 1);
  void FailNextWrite(absl::Status status, int after = 0, int times = 1);

  int reads() const { return reads_; }
  int writes() const { return writes_; }
  // Every key ReadBatch passed on to the wrapped store, in order.
  const std::vector<SecretKey>& batch_keys() const { return batch_keys_; }

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
  struct Fault {
    absl::Status status;
    int after = 0;
    int times = 0;
  };
  // OK (and counted) when the call may go through.
  absl::Status Read();
  absl::Status Write();
  static absl::Status Take(Fault* fault);

  SecretStore* base_;
  Fault read_fault_;
  Fault write_fault_;
  int reads_ = 0;
  int writes_ = 0;
  std::vector<SecretKey> batch_keys_;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_FAULT_INJECTING_STORE_H_
