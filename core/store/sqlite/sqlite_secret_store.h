// SqliteSecretStore: the durable SecretStore. One SQLite file in WAL mode.
//
// Keys (docs/crypto.md, "Key hierarchy"): the Keyring given to Open holds
// the master key (KEK). It seals only the store's own keys, kept in the
// file: data keys (DEKs, one per numbered generation, table `keyring`) and a
// subkey seed from which purpose subkeys derive (DeriveSubkey). Each value is
// sealed by a DEK (XChaCha20-Poly1305) under associated data that names the
// store, its row (scope, name, version), the secret's incarnation and the
// DEK generation, so a ciphertext copied from another store, swapped, rolled
// back, or replayed after a destroy fails to open and is reported as
// DataLoss, never as a wrong value. Each `secrets` row carries a MAC over the
// fields that decide what a read returns (current version, deleted state,
// incarnation, retention), checked on every read. Rotating the master key
// re-wraps the DEKs and the seed (milliseconds, any store size); Rekey moves
// values to a new DEK generation in the background. The schema, pragmas and
// guarantees are documented in docs/storage.md.
//
//   SqliteStoreOptions options;
//   options.path = "/var/lib/zlayer/secrets.sqlite";
//   ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
//                    Keyring::Create(1, std::move(key)));
//   ASSIGN_OR_RETURN(std::unique_ptr<SqliteSecretStore> store,
//                    SqliteSecretStore::Open(options, std::move(ring), clock));
//   ASSIGN_OR_RETURN(SecretMetadata m,
//                    store->SetSecret("prod", "db", value, {}));
//
// Thread-safe. Writes go through one writer connection; reads use a small
// pool of reader connections that run alongside the writer (WAL), each
// multi-row read in one snapshot.
//
// Group commit: concurrent writes share commits. Every write joins a queue;
// the writer at its head becomes the leader, takes the queued writes (up to
// kMaxWritesPerCommit) and runs them in one BEGIN IMMEDIATE ... COMMIT, each
// inside its own SAVEPOINT, so a write that fails is rolled back alone and the
// others go on. Each caller is woken with its own result only after COMMIT
// has returned (with synchronous=FULL: after the fsync), so no write is ever
// acknowledged before it is durable. While a leader commits, new writes queue
// up for the next group: one fsync then covers many writers. If a group
// cannot commit as a whole (the transaction was lost or COMMIT failed), its
// writes are retried one transaction each, so every caller still gets the
// outcome of its own write.
//
// Sealed-row cache: a read of a current version that finds its row in the
// cache skips the `secrets` row, its MAC check and the version query; it
// still opens the ciphertext (AEAD, associated data as always). Every write
// group invalidates the cache after its commit and before any of its callers
// is answered. Every read first asks SQLite for the file's data version
// (PRAGMA data_version on that reader connection); if any other connection
// (this store's writer, or another process editing the file) has committed
// since that connection last asked, the cache is invalidated before the
// read uses it. The read then takes the cache epoch and only then starts its
// snapshot, so a row it caches is never older than a write acknowledged
// before it. So a row edited, planted or rolled back in the
// file is read from the file (and reported as DataLoss) as before.
#ifndef ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_SECRET_STORE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
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
#include "core/store/sealed_row_cache.h"
#include "core/store/secret_store.h"
#include "core/store/sqlite/sqlite.h"

namespace zlayer::secrets {

struct SqliteStoreOptions {
  // The database file; created (mode 0600) if missing. Its directory must
  // exist. SQLite adds "-wal" and "-shm" files next to it.
  std::string path;
  enum class Synchronous { kFull, kNormal };
  // kFull (default): an acknowledged write survives power loss.
  // kNormal: faster commits; the last writes may roll back on power loss
  // (never corruption, in WAL mode).
  Synchronous synchronous = Synchronous::kFull;
  // How long a connection waits for a lock held by another process before
  // the call fails with Unavailable.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Reader connections kept open (at least 1). Reads beyond this wait.
  int max_readers = 4;
  // Bytes of recently read rows kept sealed in memory (ciphertext and
  // metadata, never a plaintext value; see core/store/sealed_row_cache.h and
  // "Sealed-row cache" below). 0 disables it.
  size_t sealed_cache_bytes = size_t{8} << 20;
};

// The schema version this build writes (PRAGMA user_version).
// 1: values sealed by the master key. 2: key hierarchy, incarnations and
// metadata MACs; a schema-1 store is upgraded on its first Open, in the same
// transaction that checks the key (a crash leaves it at 1 or 2).
inline constexpr int kSqliteSchemaVersion = 3;

// How far a Rekey has come (SqliteSecretStore::rekey_progress()).
struct RekeyProgress {
  bool running = false;
  uint32_t generation = 0;  // the DEK generation values move to
  uint64_t done = 0;        // versions moved by this run
  uint64_t total = 0;       // versions to move when this run started
  absl::Status status;      // of the last finished run
};

class SqliteSecretStore final : public SecretStore {
 public:
  // Opens or creates the store at options.path. On first open, creates the
  // store id, subkey seed, DEK generation 1 and a key check value, sealed
  // with the ring's active key; on later opens decrypts the key check value
  // and makes that key active. A schema-1 store is upgraded to 2 here (every
  // version re-sealed, every row MACed) in the same transaction. Errors:
  //   InvalidArgument     empty path, null keyring/clock, bad options
  //   FailedPrecondition  the keyring cannot open this store ("the master key
  //                       does not match this store (key check failed)"), or
  //                       the file has a newer schema; nothing is written
  //   DataLoss            not an SQLite database, or its metadata or keyring
  //                       is damaged (a schema-1 store with a value that
  //                       fails to open is left at schema 1)
  //   Unavailable         the file cannot be opened or written
  // `clock` is not owned and must outlive the store.
  static absl::StatusOr<std::unique_ptr<SqliteSecretStore>> Open(
      const SqliteStoreOptions& options, std::unique_ptr<Keyring> keyring,
      Clock* clock);

  // The id of the key that seals the store at `path` (read from its key
  // check value without decrypting anything), or kFirstKeyId when there is
  // no store there yet. A master key carries no id of its own, so callers
  // build the Keyring for Open() under this id (after RotateKey it is > 1).
  // DataLoss if the file is not a store or its key check value is damaged.
  static absl::StatusOr<uint32_t> RecordedKeyId(const std::string& path);
  static constexpr uint32_t kFirstKeyId = 1;

  ~SqliteSecretStore() override;
  SqliteSecretStore(const SqliteSecretStore&) = delete;
  SqliteSecretStore& operator=(const SqliteSecretStore&) = delete;

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

  // Master-key rotation: re-wraps every DEK generation, the subkey seed and
  // the key check value with `new_key` (id `new_key_id`) in one small
  // transaction; no value is re-encrypted, so it takes milliseconds at any
  // store size and never blocks reads. After the commit the ring holds only
  // the new key (the retired one is wiped) and the WAL is checkpointed
  // (TRUNCATE). The previous key no longer opens the store.
  //   InvalidArgument     bad key size, or new_key_id is already active
  //   DataLoss            a wrapped key fails authentication (nothing changed)
  //   Unavailable         storage failure (nothing changed)
  // A failed rotation leaves nothing behind: the next one (any id, any key)
  // works without reopening. If `keys_rewrapped` is given it receives the
  // number of DEK generations re-wrapped.
  absl::Status RotateKey(uint32_t new_key_id, SecretBytes new_key,
                         uint64_t* keys_rewrapped = nullptr);
  // The id of the master key (the one the key check value names).
  absl::StatusOr<uint32_t> ActiveKeyId();
  // The DEK generation new values are sealed with. Thread-safe.
  uint32_t ActiveDataKeyGeneration();

  // The subkey for `purpose`, derived from the store's subkey seed (which
  // master-key rotation does not change, so neither do the subkeys).
  // kMetadataMac is the store's own; kApiKeyHash and kAuditNameHash are for
  // the daemon. Thread-safe.
  absl::StatusOr<SecretBytes> DeriveSubkey(SubkeyPurpose purpose) const;
  // The store's random 16-byte id (bound into every associated data and MAC).
  const std::string& store_id() const { return store_id_; }

  // Rekey (DEK rotation): adds DEK generation N+1 (sealed by the master key)
  // and makes it the one new values use, then moves every version sealed by
  // an older generation to it in a background thread, kRekeyBatchSize rows
  // per write transaction; reads go on throughout (each row opens with
  // whichever generation it names). When all rows have moved, the older
  // generations are deleted from the keyring and wiped from memory.
  // If versions under an older generation remain (a rekey interrupted by a
  // crash or by closing the store), this resumes that rekey instead of
  // adding a generation. Returns the generation values move to.
  //   FailedPrecondition  a rekey is already running
  //   Unavailable         storage failure (nothing changed)
  absl::StatusOr<uint32_t> StartRekey();
  RekeyProgress rekey_progress();
  // How many versions are still sealed by a DEK generation older than the
  // active one: non-zero when a rekey was interrupted (a crash, a close)
  // and StartRekey would resume it. Unavailable on storage failure.
  absl::StatusOr<uint64_t> VersionsAwaitingRekey();
  // Blocks until no rekey runs; returns the last run's status.
  absl::Status WaitForRekey();
  static constexpr int kRekeyBatchSize = 500;

  // Test seam: after `commits_to_skip` successful commits, the next COMMIT
  // on the writer connection fails (SQLite's commit hook turns it into a
  // rollback), as a full disk or an I/O error would. Once.
  void FailCommitForTesting(int commits_to_skip = 0);

  // Most writes one group commit carries.
  static constexpr size_t kMaxWritesPerCommit = 64;

  // Upper bounds of the group-size buckets in WriteStats (the last is
  // kMaxWritesPerCommit, so no group falls past it).
  static constexpr std::array<size_t, 7> kGroupSizeBounds = {1,  2,  4, 8,
                                                             16, 32, 64};

  // Write transactions committed so far and the writes they carried
  // (writes / commits = average group size), with the commits counted by
  // group size: commits_by_size[i] counts those of more than
  // kGroupSizeBounds[i-1] and at most kGroupSizeBounds[i] writes (not
  // cumulative). Thread-safe.
  struct WriteStats {
    uint64_t commits = 0;
    uint64_t writes = 0;
    std::array<uint64_t, kGroupSizeBounds.size()> commits_by_size{};
  };
  WriteStats write_stats() const;

  // The sealed-row cache's counters (hits, entries, bytes). Thread-safe.
  SealedRowCache::Stats sealed_cache_stats() const { return cache_.stats(); }

  // Blocks until at least `n` writes are waiting in the commit queue (not
  // counting a group being committed). For tests that need a known group.
  void WaitForQueuedWritesForTesting(size_t n);

  // For tables that live in the same file (SqliteEnvironmentRegistry):
  // runs `fn` on the writer connection inside a BEGIN IMMEDIATE transaction
  // (possibly shared with other writers: see "Group commit"; `fn`'s changes
  // are kept iff it returns OK, and the call returns only once they are
  // committed); or on a reader connection inside one read snapshot. `fn` must
  // not call back into the store, must not begin or end transactions itself,
  // and may run more than once (on a retry after a failed group commit).
  absl::Status RunInWriteTransaction(
      absl::FunctionRef<absl::Status(Database&)> fn);
  absl::Status RunInReadTransaction(
      absl::FunctionRef<absl::Status(Database&)> fn);

 private:
  class ReaderPool;
  struct PendingWrite;

  SqliteSecretStore(SqliteStoreOptions options,
                    std::unique_ptr<Database> writer,
                    std::unique_ptr<ReaderPool> readers,
                    std::unique_ptr<Keyring> keyring, Clock* clock);

  // The helpers below run inside a transaction the caller opened on `db`
  // (RunIn*Transaction) and need key_mu_ held by the caller, at least shared.
  // (Not annotated: the lock is taken outside the lambdas that call them.)

  // Opens the value of `version` (0 = current) of a live secret; fills
  // `metadata` (when not null) from the same reads. With `cache_epoch` (the
  // epoch RunInSnapshot gave), a current-version read may be answered from
  // the sealed-row cache and fills it on a miss.
  absl::StatusOr<VersionedValue> ReadValue(
      Database& db, absl::string_view scope, absl::string_view name,
      uint32_t version, SecretMetadata* metadata = nullptr,
      absl::optional<uint64_t> cache_epoch = absl::nullopt);
  // RunInReadTransaction that also checks the file's data version (see
  // "Sealed-row cache") and passes `fn` the cache epoch to insert with.
  absl::Status RunInSnapshot(
      absl::FunctionRef<absl::Status(Database&, uint64_t)> fn);
  // Seals and stores a new version (write transaction).
  absl::StatusOr<SecretMetadata> Write(Database& db, absl::string_view scope,
                                       absl::string_view name,
                                       const SecretBytes& value,
                                       const WriteOptions& options);
  // Re-wraps every DEK, the subkey seed and the key check value with
  // `new_kek` (write transaction; kek_mu_ held).
  absl::Status RewrapKeys(Database& db, const Aead& new_kek, uint64_t* count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(kek_mu_);
  // PRAGMA wal_checkpoint(TRUNCATE) on the writer.
  absl::Status CheckpointWal();
  // The rekey thread's body, and one batch of it (write transaction,
  // key_mu_ held shared).
  void RunRekey(uint32_t generation);
  absl::Status MoveBatch(Database& db, uint32_t generation, uint64_t* moved);
  absl::Status RetireOldGenerations(uint32_t generation);
  void StopRekey();

  // Runs `group` (taken off the queue by its leader) on the writer and sets
  // each write's status. Takes write_mu_.
  void CommitGroup(const std::vector<PendingWrite*>& group);
  // One transaction for the whole group, a SAVEPOINT per write. An error
  // means nothing of the group was committed.
  absl::Status TryCommitGroup(const std::vector<PendingWrite*>& group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // `write` alone in its own transaction.
  absl::Status CommitOne(PendingWrite& write)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Counts one committed transaction of `writes` writes in write_stats().
  void CountCommit(size_t writes);

  const SqliteStoreOptions options_;
  Clock* const clock_;
  // Set by Open, then constant.
  std::string store_id_;
  SecretBytes seed_;
  SecretBytes mac_key_;  // DeriveSubkey(seed_, kMetadataMac)
  // The master key. Only Open, RotateKey and StartRekey use it.
  absl::Mutex kek_mu_ ABSL_ACQUIRED_BEFORE(key_mu_);
  std::unique_ptr<Keyring> kek_ ABSL_GUARDED_BY(kek_mu_);
  // Held shared by every call that seals or opens values, exclusively only
  // for the moments a rekey adds or drops a generation in memory.
  absl::Mutex key_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  std::unique_ptr<Keyring> deks_;  // see key_mu_
  // Rekey state.
  absl::Mutex rekey_mu_;
  RekeyProgress rekey_ ABSL_GUARDED_BY(rekey_mu_);
  bool rekey_stop_ ABSL_GUARDED_BY(rekey_mu_) = false;
  std::thread rekey_thread_;  // started by StartRekey (kek_mu_ held)
  std::atomic<int> fail_commit_countdown_{-1};
  // The commit queue: writes waiting for a leader, and whether one is
  // committing a group right now.
  absl::Mutex queue_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leader_active_ ABSL_GUARDED_BY(queue_mu_) = false;
  absl::Mutex write_mu_;
  std::unique_ptr<Database> writer_ ABSL_PT_GUARDED_BY(write_mu_);
  std::unique_ptr<ReaderPool> readers_;
  SealedRowCache cache_;
  // PRAGMA data_version each reader connection saw last.
  absl::Mutex data_version_mu_;
  absl::flat_hash_map<const Database*, int64_t> data_versions_
      ABSL_GUARDED_BY(data_version_mu_);
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_writes_{0};
  std::array<std::atomic<uint64_t>, kGroupSizeBounds.size()> commits_by_size_{};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_SECRET_STORE_H_
