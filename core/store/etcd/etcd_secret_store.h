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
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
  // Time-to-live of the etcd lease behind the key-rotation lock: how long
  // a rotation whose daemon died blocks the next one (whole seconds).
  absl::Duration key_lock_ttl = absl::Seconds(10);
  // Secrets re-encrypted per Txn by a rekey (fewer when their versions
  // would exceed kMaxOpsPerTxn operations or kMaxRekeyTxnBytes).
  int rekey_batch_secrets = 16;
};

// How far this daemon's data-key rotation (rekey) has come.
struct EtcdRekeyProgress {
  bool running = false;
  uint32_t generation = 0;  // the DEK generation values move to
  uint64_t done = 0;        // versions moved by this run
  uint64_t total = 0;       // versions found on older generations so far
  absl::Status status;      // of the last finished run
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

  // --- Key rotation in cluster mode (docs/cluster.md, "Key handling").
  //
  // Both rotations run under one cluster-wide lock: the key P/lock/keys,
  // created with Txn (create_revision == 0) and attached to an etcd lease
  // this daemon keeps alive; it goes away with the lease when the daemon
  // dies. Every Txn of a rotation also compares the lock's create_revision,
  // so a rotation that lost its lock changes nothing more.

  // Data-key rotation: adds DEK generation N+1 (sealed by the master key,
  // in one Txn with the progress record P/rekey/progress and a re-put of
  // every older generation, which makes every daemon's next write with an
  // older generation lose its compare and re-read the keyring), then
  // re-encrypts every version on an older generation in a background
  // thread, a batch of secrets per Txn, each guarded by its record's
  // mod_revision (a secret written meanwhile is re-read in the next pass).
  // When a pass finds none left, the older generations, the progress
  // record and the lock are deleted in one Txn. A progress record left by
  // a run that died is resumed (same generation). Returns the generation.
  // FailedPrecondition "key rotation already running on <holder>" when the
  // lock is held (by this daemon or another); `holder` names this daemon in
  // the lock (host, pid; never a key).
  absl::StatusOr<uint32_t> StartRekey(absl::string_view holder);
  EtcdRekeyProgress rekey_progress() const;
  // For a daemon's start when RekeyPending(): resumes the unfinished rekey
  // in the background, waiting (1 s between tries, or until the store
  // closes) while another holder's lock is alive, e.g. the lease of the
  // daemon that died in it. Does nothing if another daemon finishes it
  // first. rekey_progress() shows it as running meanwhile.
  void ResumeRekeyWhenFree(std::string holder);
  // True when a rekey progress record exists (a run died or is running).
  absl::StatusOr<bool> RekeyPending();
  // Blocks until this daemon's rekey thread (if any) has ended.
  void WaitForRekey();

  // Master-key rotation: under the lock, re-seals every DEK, the subkey
  // seed and the key check value with `new_key` (id `new_key_id`, see
  // MasterKeyId) in one Txn; then this store uses the new key. Daemons
  // still holding the old key keep serving with the DEKs they hold
  // (unchanged) but cannot open a DEK made later, and are refused at
  // their next start until given the new key. `keys_rewrapped` counts the
  // DEKs re-sealed. FailedPrecondition when the lock is held or this
  // daemon's own key no longer matches the store.
  absl::Status RotateKey(uint32_t new_key_id, SecretBytes new_key,
                         absl::string_view holder, uint64_t* keys_rewrapped);
  // The id of the master key the store's key check value names now.
  absl::StatusOr<uint32_t> MasterKeyId();
  static constexpr size_t kMaxRekeyTxnBytes = size_t{1} << 20;

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
  // The data keys as this daemon knows them: a ring to seal and open with,
  // the generation new values use, and the mod_revision of that
  // generation's key in etcd (every write compares it).
  struct Deks {
    std::shared_ptr<const Keyring> ring;
    uint32_t active = 0;
    int64_t active_mod_revision = 0;
  };
  struct KeyLock {
    int64_t lease = 0;
    int64_t create_revision = 0;
  };

  EtcdSecretStore(std::unique_ptr<EtcdClient> client,
                  const EtcdStoreOptions& options, Clock* clock);

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
      const RowState& state, const Deks& deks, const std::string& op_id,
      std::vector<etcdserverpb::RequestOp>* ops)>;
  absl::Status Mutate(absl::string_view scope, absl::string_view name,
                      uint32_t read_version, bool destroys, Plan plan);
  // The operations of a new version: the record, the version, the pruning.
  absl::StatusOr<SecretMetadata> PlanWrite(
      absl::string_view scope, absl::string_view name, const SecretBytes& value,
      const WriteOptions& options, const RowState& state, const Deks& deks,
      const std::string& op_id, std::vector<etcdserverpb::RequestOp>* ops);
  absl::StatusOr<std::vector<SecretMetadata>> ListRange(
      absl::string_view scope, absl::string_view prefix,
      absl::string_view after, bool include_deleted, size_t limit);
  absl::Mutex& StripeFor(absl::string_view scope, absl::string_view name);

  // Key handling.
  Deks CurrentDeks() const;
  // Reads P/keyring/ again: learns generations made by another daemon
  // (opened with the master key), the active one and its mod_revision.
  // DEKs already held are kept (never dropped while the process runs, so
  // a read racing a rekey's end still opens). FailedPrecondition when a
  // generation cannot be opened because the master key was rotated away.
  absl::Status ReloadKeyring();
  // FailedPrecondition when the store's key check value no longer opens
  // with this daemon's master key (rotated through another daemon).
  absl::Status CheckMasterKeyCurrent();
  // `busy` (optional) is set when another holder has the lock.
  absl::StatusOr<KeyLock> TakeKeyLock(absl::string_view holder, bool* busy);
  // Takes the lock and makes the next generation (or, with a progress
  // record, takes its generation; `resume_only`: NotFound without one).
  absl::StatusOr<std::pair<uint32_t, KeyLock>> BeginRekey(
      absl::string_view holder, bool resume_only, bool* lock_busy);
  void ReleaseKeyLock(const KeyLock& lock);
  etcdserverpb::Compare LockHeld(const KeyLock& lock) const;
  // Renews the lock's lease when a third of its TTL has passed since
  // `*renewed`; false (and lock_lost_) when the lease has expired.
  bool RenewLock(const KeyLock& lock, absl::Time* renewed);
  void RunRekey(uint32_t generation, KeyLock lock);
  // One pass over every secret (or only the record keys in `only`); counts
  // versions moved and lists the record keys of secrets left on an older
  // generation (changed meanwhile: their Txn lost).
  absl::Status RekeyPass(uint32_t generation, const KeyLock& lock,
                         const std::vector<std::string>* only, uint64_t* moved,
                         std::vector<std::string>* left);
  absl::Status FinishRekey(uint32_t generation, const KeyLock& lock);
  std::string LockKey() const { return prefix_ + "/lock/keys"; }
  std::string ProgressKey() const { return prefix_ + "/rekey/progress"; }
  std::string KeyringPrefix() const { return prefix_ + "/keyring/"; }

  const std::unique_ptr<EtcdClient> client_;
  const std::string prefix_;
  Clock* const clock_;
  // Set by Open, then constant.
  std::string store_id_;
  SecretBytes seed_;
  SecretBytes mac_key_;
  const absl::Duration key_lock_ttl_;
  const int rekey_batch_secrets_;
  // The master key and the data keys; replaced by rotations and reloads.
  mutable absl::Mutex keys_mu_;
  std::unique_ptr<Keyring> kek_ ABSL_GUARDED_BY(keys_mu_);
  absl::flat_hash_map<uint32_t, SecretBytes> dek_bytes_
      ABSL_GUARDED_BY(keys_mu_);
  Deks deks_ ABSL_GUARDED_BY(keys_mu_);
  // One ReloadKeyring at a time.
  absl::Mutex reload_mu_;
  // This daemon's rekey run.
  mutable absl::Mutex rekey_mu_;
  EtcdRekeyProgress rekey_ ABSL_GUARDED_BY(rekey_mu_);
  bool stopping_ ABSL_GUARDED_BY(rekey_mu_) = false;
  bool lock_lost_ ABSL_GUARDED_BY(rekey_mu_) = false;
  std::thread rekey_thread_;
  // Writes to one secret from this process go one at a time.
  std::array<absl::Mutex, 64> write_stripes_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_SECRET_STORE_H_
