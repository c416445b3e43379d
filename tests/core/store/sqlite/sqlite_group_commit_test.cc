// Group commit in SqliteSecretStore: concurrent writes share one transaction
// (and one fsync), every caller gets its own result, a failing write rolls
// back alone, and everything acknowledged is in the file after a reopen.
#include <sqlite3.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }

std::unique_ptr<SqliteSecretStore> OpenStore(const std::string& path,
                                             Clock* clock) {
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, SecretBytes::FromString(std::string(32, 'K')));
  EXPECT_TRUE(ring.ok()) << ring.status();
  if (!ring.ok()) return nullptr;
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous = SqliteStoreOptions::Synchronous::kFull;
  absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
      SqliteSecretStore::Open(options, *std::move(ring), clock);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Holds the writer: a write transaction whose body blocks until Release(),
// so that the writes started meanwhile queue up and form one known group.
class WriterBlocker {
 public:
  explicit WriterBlocker(SqliteSecretStore* store) {
    thread_ = std::thread([this, store] {
      status_ = store->RunInWriteTransaction([this](Database&) {
        entered_.Notify();
        release_.WaitForNotification();
        return absl::OkStatus();
      });
    });
    entered_.WaitForNotification();
  }
  absl::Status Release() {
    release_.Notify();
    thread_.join();
    return status_;
  }

 private:
  absl::Notification entered_;
  absl::Notification release_;
  absl::Status status_;
  std::thread thread_;
};

TEST(SqliteGroupCommitTest, ConcurrentWritersShareOneCommitWithDenseVersions) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const std::string path = MakeTempDir() + "/secrets.sqlite";
  constexpr int kWriters = 16;
  {
    std::unique_ptr<SqliteSecretStore> store = OpenStore(path, &clock);
    ASSERT_NE(store, nullptr);
    const SqliteSecretStore::WriteStats before = store->write_stats();

    WriterBlocker blocker(store.get());
    std::vector<absl::StatusOr<SecretMetadata>> shared(kWriters);
    std::vector<absl::StatusOr<SecretMetadata>> own(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        WriteOptions keep_all;
        keep_all.max_versions = 1000;
        // Every writer writes one shared secret (the versions must come out
        // dense, 1..kWriters) and one secret of its own.
        shared[i] = store->SetSecret("prod", "shared",
                                     V(absl::StrCat("value-", i)), keep_all);
        own[i] = store->SetSecret("prod", absl::StrCat("own-", i),
                                  V(absl::StrCat("own-value-", i)), {});
      });
    }
    // Each thread's first write is queued behind the blocked writer.
    store->WaitForQueuedWritesForTesting(kWriters);
    ASSERT_OK(blocker.Release());
    for (std::thread& t : threads) t.join();

    std::vector<bool> seen(kWriters + 1, false);
    for (int i = 0; i < kWriters; ++i) {
      ASSERT_OK(shared[i]);
      ASSERT_OK(own[i]);
      EXPECT_EQ(own[i]->version, 1u);
      const uint32_t v = shared[i]->version;
      ASSERT_GE(v, 1u);
      ASSERT_LE(v, static_cast<uint32_t>(kWriters));
      EXPECT_FALSE(seen[v]) << "version " << v << " given twice";
      seen[v] = true;
    }
    const SqliteSecretStore::WriteStats after = store->write_stats();
    EXPECT_EQ(after.writes - before.writes, 1u + 2u * kWriters);
    // The blocker's commit, one for the queued group of kWriters, and at
    // most one per writer for the second writes: fewer commits than writes.
    EXPECT_LE(after.commits - before.commits, 2u + kWriters);
    // By group size: the queued group of kWriters (16) is in the (8, 16]
    // bucket, and every commit is in exactly one bucket.
    uint64_t by_size = 0;
    for (uint64_t n : after.commits_by_size) by_size += n;
    EXPECT_EQ(by_size, after.commits);
    ASSERT_EQ(SqliteSecretStore::kGroupSizeBounds[4], 16u);
    EXPECT_GE(after.commits_by_size[4] - before.commits_by_size[4], 1u);

    // Each version holds the value its writer wrote.
    for (int i = 0; i < kWriters; ++i) {
      absl::StatusOr<VersionedValue> got =
          store->GetVersioned("prod", "shared", shared[i]->version);
      ASSERT_OK(got);
      EXPECT_EQ(Str(got->value), absl::StrCat("value-", i));
    }
  }
  // Durable: a fresh open of the file sees every acknowledged write.
  std::unique_ptr<SqliteSecretStore> reopened = OpenStore(path, &clock);
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<std::vector<VersionInfo>> versions =
      reopened->ListVersions("prod", "shared");
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), static_cast<size_t>(kWriters));
  for (int i = 0; i < kWriters; ++i) {
    EXPECT_EQ((*versions)[i].version, static_cast<uint32_t>(kWriters - i));
    absl::StatusOr<SecretBytes> own =
        reopened->GetSecret("prod", absl::StrCat("own-", i));
    ASSERT_OK(own);
    EXPECT_EQ(Str(*own), absl::StrCat("own-value-", i));
  }
}

TEST(SqliteGroupCommitTest, QueuedWritesFormOneGroup) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  std::unique_ptr<SqliteSecretStore> store =
      OpenStore(MakeTempDir() + "/secrets.sqlite", &clock);
  ASSERT_NE(store, nullptr);
  constexpr int kWriters = 8;
  WriterBlocker blocker(store.get());
  const SqliteSecretStore::WriteStats before = store->write_stats();
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          store->SetSecret("prod", absl::StrCat("s", i), V("value"), {})
              .status();
    });
  }
  store->WaitForQueuedWritesForTesting(kWriters);
  ASSERT_OK(blocker.Release());
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_OK(s);
  const SqliteSecretStore::WriteStats after = store->write_stats();
  // The blocker's transaction, then all eight writers in one.
  EXPECT_EQ(after.commits - before.commits, 2u);
  EXPECT_EQ(after.writes - before.writes, 1u + kWriters);
}

TEST(SqliteGroupCommitTest, FailingWriteInGroupRollsBackAloneOthersCommit) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const std::string path = MakeTempDir() + "/secrets.sqlite";
  {
    std::unique_ptr<SqliteSecretStore> store = OpenStore(path, &clock);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->SetSecret("prod", "cas", V("v1"), {}));

    WriterBlocker blocker(store.get());
    const SqliteSecretStore::WriteStats before = store->write_stats();
    absl::Status good_before, cas_mismatch, partial, good_after;
    absl::StatusOr<SecretMetadata> good_before_meta, good_after_meta;
    std::vector<std::thread> threads;
    // Queued in this order (each waits until the previous one is queued).
    threads.emplace_back([&] {
      good_before_meta = store->SetSecret("prod", "a", V("a-value"), {});
    });
    store->WaitForQueuedWritesForTesting(1);
    threads.emplace_back([&] {
      WriteOptions cas;
      cas.expected_version = 7;  // the secret is at version 1
      cas_mismatch = store->SetSecret("prod", "cas", V("lost"), cas).status();
    });
    store->WaitForQueuedWritesForTesting(2);
    threads.emplace_back([&] {
      // Changes the file, then fails: its change must not survive.
      partial = store->RunInWriteTransaction([](Database& db) -> absl::Status {
        absl::StatusOr<ScopedStatement> st = db.Prepare(
            "INSERT INTO meta (key, value) VALUES ('partial', x'00')");
        if (!st.ok()) return st.status();
        absl::Status run = (*st)->Run();
        if (!run.ok()) return run;
        return absl::InternalError("injected failure after a change");
      });
    });
    store->WaitForQueuedWritesForTesting(3);
    threads.emplace_back([&] {
      good_after_meta = store->SetSecret("prod", "cas", V("v2"), {});
    });
    store->WaitForQueuedWritesForTesting(4);
    ASSERT_OK(blocker.Release());
    for (std::thread& t : threads) t.join();

    ASSERT_OK(good_before_meta);
    EXPECT_EQ(good_before_meta->version, 1u);
    EXPECT_STATUS(cas_mismatch, kFailedPrecondition);
    EXPECT_STATUS(partial, kInternal);
    ASSERT_OK(good_after_meta);
    // The failed CAS took no version number.
    EXPECT_EQ(good_after_meta->version, 2u);
    const SqliteSecretStore::WriteStats after = store->write_stats();
    EXPECT_EQ(after.commits - before.commits, 2u);  // blocker, then the group
  }
  std::unique_ptr<SqliteSecretStore> reopened = OpenStore(path, &clock);
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<SecretBytes> a = reopened->GetSecret("prod", "a");
  ASSERT_OK(a);
  EXPECT_EQ(Str(*a), "a-value");
  absl::StatusOr<VersionedValue> cas = reopened->GetVersioned("prod", "cas", 0);
  ASSERT_OK(cas);
  EXPECT_EQ(cas->version, 2u);
  EXPECT_EQ(Str(cas->value), "v2");
  bool partial_row = true;
  ASSERT_OK(reopened->RunInReadTransaction([&](Database& db) -> absl::Status {
    absl::StatusOr<int64_t> n =
        db.QueryInt64("SELECT COUNT(*) FROM meta WHERE key = 'partial'");
    if (!n.ok()) return n.status();
    partial_row = *n != 0;
    return absl::OkStatus();
  }));
  EXPECT_FALSE(partial_row);
}

TEST(SqliteGroupCommitTest, WriteThatEndsTheTransactionIsRetriedAlone) {
  // A write that loses the shared transaction (as SQLITE_FULL or an I/O
  // error would) must not take the group's other writes with it: the group
  // is retried write by write, and each caller gets its own outcome.
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  std::unique_ptr<SqliteSecretStore> store =
      OpenStore(MakeTempDir() + "/secrets.sqlite", &clock);
  ASSERT_NE(store, nullptr);
  WriterBlocker blocker(store.get());
  const SqliteSecretStore::WriteStats before = store->write_stats();
  absl::StatusOr<SecretMetadata> first, last;
  absl::Status breaker;
  int breaker_runs = 0;
  std::vector<std::thread> threads;
  threads.emplace_back(
      [&] { first = store->SetSecret("prod", "first", V("1"), {}); });
  store->WaitForQueuedWritesForTesting(1);
  threads.emplace_back([&] {
    breaker = store->RunInWriteTransaction([&](Database& db) -> absl::Status {
      // Breaks the transaction on its first run only.
      if (++breaker_runs > 1) return absl::OkStatus();
      absl::Status rolled_back = db.Execute("ROLLBACK");
      if (!rolled_back.ok()) return rolled_back;
      return absl::UnavailableError("transaction lost");
    });
  });
  store->WaitForQueuedWritesForTesting(2);
  threads.emplace_back(
      [&] { last = store->SetSecret("prod", "last", V("2"), {}); });
  store->WaitForQueuedWritesForTesting(3);
  ASSERT_OK(blocker.Release());
  for (std::thread& t : threads) t.join();
  ASSERT_OK(first);
  EXPECT_EQ(first->version, 1u);
  ASSERT_OK(last);
  EXPECT_EQ(last->version, 1u);
  EXPECT_OK(breaker);
  EXPECT_EQ(breaker_runs, 2);
  // The blocker's commit, then the three writes one by one.
  EXPECT_EQ(store->write_stats().commits - before.commits, 4u);
  absl::StatusOr<SecretBytes> got = store->GetSecret("prod", "first");
  ASSERT_OK(got);
  EXPECT_EQ(Str(*got), "1");
  got = store->GetSecret("prod", "last");
  ASSERT_OK(got);
  EXPECT_EQ(Str(*got), "2");
}

}  // namespace
}  // namespace zlayer::secrets::testing
