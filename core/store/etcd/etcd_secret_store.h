// EtcdSecretStore: the SecretStore of cluster mode. Several daemons share one
// etcd v3 cluster (Raft) through it; etcd never sees a plaintext.
//
// Same key hierarchy and the same sealing as SqliteSecretStore
// (docs/crypto.md, "Key hierarchy"; core/crypto/store_crypto.h): a store id,
// a subkey seed and numbered data keys (DEKs) sealed by the master key, a key
// check value, values sealed by a DEK under ValueAssociatedData (store id,
// scope, name, version, incarnation, generation), and a MAC over each
// secret's metadata record (SecretRowMac). A copied, swapped or rolled-back
// value or record fails to open: DataLoss, never a wrong value.
//
// Layout under the prefix P (docs/cluster.md, "Keys in etcd"):
//   P/meta/store_id, P/meta/subkey_seed, P/meta/key_check
//   P/keyring/<generation, 8 hex>                 a DEK, sealed
//   P/s/<hex(scope)>/<name>                       the secret's record
//   P/v/<hex(scope)>/<name>/<version, 8 hex>      one sealed version
// Names never hold '/', so the records of one scope are one key range in
// name order, and the versions of one secret are one key range.
//
// Semantics (the conformance suite proves them, as for SQLite):
//   - every read of one call is one etcd Txn of Ranges, so it sees one
//     revision (GetSecrets/ReadBatch with more than 64 keys: the first
//     Txn's revision pins the Ranges of the rest); reads are linearizable;
//   - every write (set, rotate, rollback, delete, undelete, destroy) is one
//     Txn that compares the record's mod_revision with the one it read and
//     puts the record, the new version and the pruning DeleteRange together:
//     check-and-set, max_versions pruning, soft delete, destroy and rollback
//     are atomic; nothing partial is ever visible;
//   - a write that loses the compare to another daemon re-reads and decides
//     again (expected_version still applies); writes to one secret inside
//     one process are serialised first, so they do not fight each other;
//   - each record carries the random op id of the write that made it, so a
//     Txn retried after a lost response is recognised as already applied.
//
//   EtcdStoreOptions options;
//   options.client.endpoints = {"127.0.0.1:2379"};
//   options.prefix = "/zlayer-secrets";
//   ASSIGN_OR_RETURN(uint32_t id, EtcdSecretStore::RecordedKeyId(options));
//   ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
//                    Keyring::Create(id, std::move(master_key)));
//   ASSIGN_OR_RETURN(std::unique_ptr<EtcdSecretStore> store,
//                    EtcdSecretStore::Open(options, std::move(ring), clock));
//
// Error codes: as SecretStore; Unavailable when etcd does not answer within
// the client's total timeout (no quorum, every member down). Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_SECRET_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/crypto/subkeys.h"
#include "core/store/etcd/etcd_client.h"
#include "core/store/etcd/etcd_watcher.h"
#include "core/store/secret_store.h"
#include "core/store/store_change.h"

namespace zlayer::secrets {

struct EtcdStoreOptions {
  EtcdClientOptions client;
  // Every key lives under it. Starts with '/', does not end with '/'.
  // Daemons that share a prefix share one store.
  std::string prefix = "/zlayer-secrets";
};

class EtcdSecretStore final : public SecretStore {
 public:
  // Connects, and on first use of the prefix creates the store id, subkey
  // seed, DEK generation 1 and the key check value in one Txn (two daemons
  // starting at once: one creates, the other reads what it made). Then
  // checks the keyring against the key check value. Errors:
  //   InvalidArgument     bad options, null keyring/clock
  //   FailedPrecondition  "the master key does not match this store (key
  //                       check failed)"; nothing is written
  //   DataLoss            the store's keys under the prefix are damaged
  //   Unavailable         etcd does not answer
  // `clock` is not owned and must outlive the store.
  static absl::StatusOr<std::unique_ptr<EtcdSecretStore>> Open(
      const EtcdStoreOptions& options, std::unique_ptr<Keyring> keyring,
      Clock* clock);

  // The id of the master key that seals the store under options.prefix, or
  // kFirstKeyId if there is none yet (see SqliteSecretStore::RecordedKeyId).
  static absl::StatusOr<uint32_t> RecordedKeyId(
      const EtcdStoreOptions& options);
  static constexpr uint32_t kFirstKeyId = 1;

  // The subkey for `purpose` of the store whose meta records are
  // `store_id`, `sealed_seed` (P/meta/subkey_seed) and `key_check`, opened
  // with `master_key`; no etcd involved (core/backup checks a cluster
  // backup's MAC with it). FailedPrecondition when the key does not open
  // them; DataLoss for damaged records.
  static absl::StatusOr<SecretBytes> DeriveSubkeyFromMeta(
      absl::string_view store_id, absl::string_view sealed_seed,
      absl::string_view key_check, SecretBytes master_key,
      SubkeyPurpose purpose);

  // P/meta/<kRestoreMarker> exists while a restore writes into the prefix
  // (core/backup/cluster_backup.h); Open refuses a prefix that holds it.
  static constexpr absl::string_view kRestoreMarker = "restore_in_progress";

  ~EtcdSecretStore() override;

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

  // The subkey for `purpose` (same derivation as SqliteSecretStore, from this
  // store's seed: every daemon on the prefix derives the same ones).
  absl::StatusOr<SecretBytes> DeriveSubkey(SubkeyPurpose purpose) const;
  const std::string& store_id() const { return store_id_; }
  // The DEK generation new values are sealed with.
  uint32_t ActiveDataKeyGeneration() const;
  // The client, for other records kept under the same prefix
  // (EtcdEnvironmentRegistry).
  EtcdClient& client() { return *client_; }
  const std::string& prefix() const { return prefix_; }

  // Change stream of the cluster: follows every secret record under the
  // prefix from `start_revision` (EtcdWatcher::CurrentRevision + 1, taken
  // before the caller read the state it keeps) and tells `observer` about
  // each committed change, whichever daemon made it, in etcd's order.
  // `on_resync` runs when the history was compacted past the resume point
  // (the caller re-reads its state and tells its own watchers to resync);
  // `on_interrupted` (optional) hears why the watch was interrupted. The
  // events are hints: their records are not MAC-checked here (a reader
  // re-reads through the store, which checks). A change's kind is kSet for
  // any new version (etcd's record does not say rotate or rollback),
  // kDelete / kUndelete for the soft-delete flag, kDestroy for a removed
  // record. Stop by destroying the watcher (before this store).
  std::unique_ptr<EtcdWatcher> WatchChanges(
      int64_t start_revision, StoreChangeObserver* observer,
      std::function<absl::Status()> on_resync,
      std::function<void(const absl::Status&)> on_interrupted);
  // What one watch event under the prefix was, or nullopt for a key that is
  // not a secret record (versions, keyring, other records) or a record that
  // does not parse.
  absl::optional<StoreChange> ChangeOfEvent(const mvccpb::Event& event) const;

  // Most operations one Txn carries (etcd's --max-txn-ops default).
  static constexpr int kMaxOpsPerTxn = 128;

 private:
  struct Row;
  struct RowState;
  class Snapshot;

  EtcdSecretStore(std::unique_ptr<EtcdClient> client, std::string prefix,
                  Clock* clock);

  // Key builders.
  std::string RowKey(absl::string_view scope, absl::string_view name) const;
  std::string VersionsPrefix(absl::string_view scope,
                             absl::string_view name) const;
  std::string VersionKey(absl::string_view scope, absl::string_view name,
                         uint32_t version) const;

  // Reads a secret's record, its newest version key and (if `read_version`
  // > 0) that version, at one revision.
  absl::StatusOr<RowState> ReadRowState(absl::string_view scope,
                                        absl::string_view name,
                                        uint32_t read_version);
  // Opens `version` (0 = current) from what ReadRowState read.
  absl::StatusOr<VersionedValue> OpenValue(absl::string_view scope,
                                           absl::string_view name,
                                           uint32_t version,
                                           const RowState& state,
                                           SecretMetadata* metadata);
  // The write loop: reads the record (and `read_version`), lets `plan` add
  // the Txn's operations (or fail), commits under a compare on the record's
  // mod_revision, and starts over when another writer got there first.
  using Plan = absl::FunctionRef<absl::Status(
      const RowState& state, const std::string& op_id,
      std::vector<etcdserverpb::RequestOp>* ops)>;
  absl::Status Mutate(absl::string_view scope, absl::string_view name,
                      uint32_t read_version, bool destroys, Plan plan);
  // The operations of a new version: the record, the version, the pruning.
  absl::StatusOr<SecretMetadata> PlanWrite(
      absl::string_view scope, absl::string_view name, const SecretBytes& value,
      const WriteOptions& options, const RowState& state,
      const std::string& op_id, std::vector<etcdserverpb::RequestOp>* ops);
  absl::StatusOr<std::vector<SecretMetadata>> ListRange(
      absl::string_view scope, absl::string_view prefix,
      absl::string_view after, bool include_deleted, size_t limit);
  absl::Mutex& StripeFor(absl::string_view scope, absl::string_view name);

  const std::unique_ptr<EtcdClient> client_;
  const std::string prefix_;
  Clock* const clock_;
  // Set by Open, then constant.
  std::string store_id_;
  SecretBytes seed_;
  SecretBytes mac_key_;
  std::unique_ptr<Keyring> kek_;
  std::unique_ptr<Keyring> deks_;
  // Writes to one secret from this process go one at a time.
  std::array<absl::Mutex, 64> write_stripes_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_SECRET_STORE_H_
