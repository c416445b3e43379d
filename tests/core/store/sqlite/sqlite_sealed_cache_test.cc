// The SQLite store's sealed-row cache (core/store/sealed_row_cache.h): it
// serves repeated reads, never hides a write that was acknowledged, never
// hides a row edited or planted in the file, and keeps to its byte budget.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

#define ZS_CONCAT_INNER(a, b) a##b
#define ZS_CONCAT(a, b) ZS_CONCAT_INNER(a, b)
// Asserts `expr` (a StatusOr) is OK and moves its value into `decl`.
#define ASSERT_OK_AND_ASSIGN(decl, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(ZS_CONCAT(status_or_, __LINE__), decl, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status();           \
  decl = *std::move(tmp)

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }

std::unique_ptr<SqliteSecretStore> Open(
    const std::string& path, size_t cache_bytes = size_t{8} << 20,
    SqliteStoreOptions::Synchronous sync =
        SqliteStoreOptions::Synchronous::kFull) {
  static RealClock clock;
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, SecretBytes::FromString(std::string(32, 'A')));
  EXPECT_TRUE(ring.ok());
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous = sync;
  options.sealed_cache_bytes = cache_bytes;
  absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
      SqliteSecretStore::Open(options, *std::move(ring), &clock);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Another connection to the file: what another process (or an attacker with
// write access) would do.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr),
            SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  EXPECT_GT(sqlite3_changes(db), 0) << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

// Sets a/b, reads a twice and checks the second read was a cache hit (so the
// tamper tests below really go through the cache path).
void FillAndHit(SqliteSecretStore& store) {
  ASSERT_OK(store.SetSecret("prod", "a", V("value-a"), {}).status());
  ASSERT_OK(store.SetSecret("prod", "b", V("value-b"), {}).status());
  ASSERT_OK(store.GetSecret("prod", "a").status());
  const uint64_t hits = store.sealed_cache_stats().hits;
  ASSERT_OK_AND_ASSIGN(SecretBytes a, store.GetSecret("prod", "a"));
  EXPECT_EQ(Str(a), "value-a");
  ASSERT_EQ(store.sealed_cache_stats().hits, hits + 1);
}

TEST(SqliteSealedCacheTest, RepeatedReadsAreServedSealedAndMetadataMatches) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path);
  ASSERT_NE(store, nullptr);
  FillAndHit(*store);
  ASSERT_OK_AND_ASSIGN(ValueWithMetadata first,
                       store->GetWithMetadata("prod", "b", 0));
  ASSERT_OK_AND_ASSIGN(ValueWithMetadata second,
                       store->GetWithMetadata("prod", "b", 0));
  EXPECT_EQ(Str(second.read.value), "value-b");
  EXPECT_EQ(second.read.version, first.read.version);
  EXPECT_EQ(second.metadata.version, first.metadata.version);
  EXPECT_EQ(second.metadata.updated_at, first.metadata.updated_at);
  EXPECT_EQ(second.metadata.key_id, first.metadata.key_id);
  // Only ciphertext is kept: no cached byte string contains the value.
  EXPECT_GE(store->sealed_cache_stats().entries, 2u);
}

TEST(SqliteSealedCacheTest, WriteInvalidatesBeforeItIsAcknowledged) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path);
  ASSERT_NE(store, nullptr);
  FillAndHit(*store);
  ASSERT_OK(store->SetSecret("prod", "a", V("value-a2"), {}).status());
  ASSERT_OK_AND_ASSIGN(VersionedValue v, store->GetVersioned("prod", "a", 0));
  EXPECT_EQ(Str(v.value), "value-a2");
  EXPECT_EQ(v.version, 2u);
  ASSERT_OK(store->DeleteSecret("prod", "a"));
  EXPECT_EQ(store->GetSecret("prod", "a").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SqliteSealedCacheTest, CiphertextEditedInTheFileAfterCachingIsDataLoss) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path);
  ASSERT_NE(store, nullptr);
  FillAndHit(*store);
  // b's ciphertext moved onto a (a valid ciphertext, wrong row).
  RawExec(path,
          "UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM "
          "secret_versions WHERE scope = 'prod' AND name = 'b') WHERE scope = "
          "'prod' AND name = 'a'");
  EXPECT_EQ(store->GetSecret("prod", "a").status().code(),
            absl::StatusCode::kDataLoss);
  auto many = store->GetSecrets("prod", {"a", "b"});
  EXPECT_EQ(many.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SqliteSealedCacheTest, RowsPlantedOrRolledBackAfterCachingAreDataLoss) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path);
  ASSERT_NE(store, nullptr);
  FillAndHit(*store);
  // A planted version newer than the current one.
  RawExec(path,
          "INSERT INTO secret_versions (scope, name, version, key_id, "
          "ciphertext, created_at) SELECT scope, name, version + 1, key_id, "
          "ciphertext, created_at FROM secret_versions WHERE scope = 'prod' "
          "AND name = 'a'");
  EXPECT_EQ(store->GetSecret("prod", "a").status().code(),
            absl::StatusCode::kDataLoss);
  // The secrets row edited (its MAC no longer matches).
  ASSERT_OK(store->GetSecret("prod", "b").status());
  ASSERT_OK(store->GetSecret("prod", "b").status());
  RawExec(path,
          "UPDATE secrets SET max_versions = 3 WHERE scope = 'prod' AND name = "
          "'b'");
  EXPECT_EQ(store->GetSecret("prod", "b").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SqliteSealedCacheTest, ReadersNeverSeeAnOlderVersionAfterAnAck) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store =
      Open(path, size_t{8} << 20, SqliteStoreOptions::Synchronous::kNormal);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SetSecret("prod", "k", V("0"), {}).status());
  std::atomic<uint32_t> acked{1};  // newest acknowledged version
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0}, errors{0}, reads{0};
  std::vector<std::thread> writers, readers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 150; ++i) {
        auto m = store->SetSecret("prod", "k", V(absl::StrCat(w, "-", i)), {});
        if (!m.ok()) {
          ++errors;
          continue;
        }
        uint32_t seen = acked.load();
        while (m->version > seen &&
               !acked.compare_exchange_weak(seen, m->version)) {
        }
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      while (!stop.load()) {
        const uint32_t floor = acked.load();
        uint32_t got = 0;
        if (r == 0) {
          auto v = store->GetVersioned("prod", "k", 0);
          if (!v.ok()) {
            ++errors;
            continue;
          }
          got = v->version;
        } else if (r == 1) {
          auto v = store->GetWithMetadata("prod", "k", 0);
          if (!v.ok()) {
            ++errors;
            continue;
          }
          got = std::min(v->read.version, v->metadata.version);
        } else {
          auto v = store->ReadBatch({{"prod", "k"}});
          if (!v.ok() || !(*v)[0].ok()) {
            ++errors;
            continue;
          }
          got = (*v)[0]->version;
        }
        ++reads;
        if (got < floor) ++stale;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  ASSERT_OK_AND_ASSIGN(VersionedValue last,
                       store->GetVersioned("prod", "k", 0));
  EXPECT_EQ(last.version, 451u);
}

TEST(SqliteSealedCacheTest, ByteBudgetIsHonoured) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  constexpr size_t kBudget = 4096;
  std::unique_ptr<SqliteSecretStore> store = Open(path, kBudget);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 60; ++i) {
    ASSERT_OK(store
                  ->SetSecret("prod", absl::StrCat("n", i),
                              V(std::string(100, 'a' + i % 26)), {})
                  .status());
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 60; ++i) {
      ASSERT_OK_AND_ASSIGN(SecretBytes v,
                           store->GetSecret("prod", absl::StrCat("n", i)));
      EXPECT_EQ(Str(v), std::string(100, 'a' + i % 26));
      EXPECT_LE(store->sealed_cache_stats().bytes, kBudget);
    }
  }
  SealedRowCache::Stats stats = store->sealed_cache_stats();
  EXPECT_GT(stats.clears_for_space, 0u);
  EXPECT_GT(stats.entries, 0u);
  EXPECT_LE(stats.bytes, kBudget);
}

TEST(SqliteSealedCacheTest, BulkReadsDoNotFillTheCache) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path);
  ASSERT_NE(store, nullptr);
  std::vector<SecretKey> keys;
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(
        store->SetSecret("prod", absl::StrCat("n", i), V("x"), {}).status());
    keys.push_back({"prod", absl::StrCat("n", i)});
  }
  ASSERT_OK_AND_ASSIGN(auto all, store->ReadBatch(keys));
  for (const auto& v : all) EXPECT_TRUE(v.ok());
  EXPECT_EQ(store->sealed_cache_stats().entries, 0u);
  keys.resize(20);  // ResolveEnv-sized: cached
  ASSERT_OK(store->ReadBatch(keys).status());
  EXPECT_EQ(store->sealed_cache_stats().entries, 20u);
}

TEST(SqliteSealedCacheTest, DisabledCacheNeverHits) {
  const std::string path = MakeTempDir() + "/s.sqlite";
  std::unique_ptr<SqliteSecretStore> store = Open(path, 0);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SetSecret("prod", "a", V("x"), {}).status());
  for (int i = 0; i < 3; ++i) ASSERT_OK(store->GetSecret("prod", "a").status());
  EXPECT_EQ(store->sealed_cache_stats().hits, 0u);
  EXPECT_EQ(store->sealed_cache_stats().entries, 0u);
}

}  // namespace
}  // namespace zlayer::secrets::testing
