// SqliteSecretStore: the durable SecretStore. One SQLite file in WAL mode;
// every value is sealed with the store's Keyring (XChaCha20-Poly1305) under
// associated data that names its row (scope, name, version, key id), so a
// ciphertext copied, swapped or rolled back inside the file fails to open and
// is reported as DataLoss, never as a wrong value. The schema, pragmas and
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
#ifndef ZLAYER_SECRETS_CORE_SQLITE_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_SQLITE_SECRET_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/aead.h"
#include "core/clock.h"
#include "core/secret_store.h"
#include "core/sqlite.h"

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
};

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSqliteSchemaVersion = 1;

class SqliteSecretStore final : public SecretStore {
 public:
  // Opens or creates the store at options.path. On first open, records a key
  // check value sealed with the ring's active key; on later opens decrypts it
  // and makes that key active. Errors:
  //   InvalidArgument     empty path, null keyring/clock, bad options
  //   FailedPrecondition  the keyring cannot open this store ("the master key
  //                       does not match this store (key check failed)"), or
  //                       the file has a newer schema; nothing is written
  //   DataLoss            not an SQLite database, or its metadata is damaged
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

  // Key rotation: adds `new_key` to the ring as `new_key_id`, re-encrypts
  // every stored version (live and soft-deleted) with it in one transaction,
  // re-seals the key check value, and makes it the active key. Afterwards
  // the previous key is no longer needed to open the store.
  //   InvalidArgument     bad key size, or new_key_id is already active
  //   AlreadyExists       the ring holds a different key under new_key_id
  //   DataLoss            a stored value fails authentication (nothing changed)
  //   Unavailable         storage failure (nothing changed)
  // Blocks every other call on this store while it runs.
  // If `versions_reencrypted` is given it receives the number of stored
  // versions sealed anew.
  absl::Status RotateKey(uint32_t new_key_id, SecretBytes new_key,
                         uint64_t* versions_reencrypted = nullptr);
  // The id of the key new values are sealed with.
  absl::StatusOr<uint32_t> ActiveKeyId();

  // Most writes one group commit carries.
  static constexpr size_t kMaxWritesPerCommit = 64;

  // Write transactions committed so far and the writes they carried
  // (writes / commits = average group size). Thread-safe.
  struct WriteStats {
    uint64_t commits = 0;
    uint64_t writes = 0;
  };
  WriteStats write_stats() const;

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
  // `metadata` (when not null) from the same reads.
  absl::StatusOr<VersionedValue> ReadValue(Database& db,
                                           absl::string_view scope,
                                           absl::string_view name,
                                           uint32_t version,
                                           SecretMetadata* metadata = nullptr);
  // Seals and stores a new version (write transaction).
  absl::StatusOr<SecretMetadata> Write(Database& db, absl::string_view scope,
                                       absl::string_view name,
                                       const SecretBytes& value,
                                       const WriteOptions& options);
  // Re-seals every stored version and the key check value with `new_aead`
  // (write transaction; key_mu_ held exclusively).
  absl::Status ReencryptAll(Database& db, const Aead& new_aead,
                            uint64_t* count);

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

  const SqliteStoreOptions options_;
  Clock* const clock_;
  // Held shared by every call that seals or opens values, exclusively by
  // RotateKey (the Keyring must not change under a concurrent Decrypt).
  absl::Mutex key_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  std::unique_ptr<Keyring> keyring_;  // see key_mu_
  // The commit queue: writes waiting for a leader, and whether one is
  // committing a group right now.
  absl::Mutex queue_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leader_active_ ABSL_GUARDED_BY(queue_mu_) = false;
  absl::Mutex write_mu_;
  std::unique_ptr<Database> writer_ ABSL_PT_GUARDED_BY(write_mu_);
  std::unique_ptr<ReaderPool> readers_;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_writes_{0};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_SQLITE_SECRET_STORE_H_
