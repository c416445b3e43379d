#include "core/store/sqlite/sqlite_secret_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/aead.h"
#include "tests/core/store/secret_store_conformance.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }

SecretBytes KeyA() { return SecretBytes::FromString(std::string(32, 'A')); }
SecretBytes KeyB() { return SecretBytes::FromString(std::string(32, 'B')); }

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStore(
    const std::string& path, uint32_t key_id, SecretBytes key, Clock* clock,
    SqliteStoreOptions::Synchronous sync =
        SqliteStoreOptions::Synchronous::kFull) {
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(key_id, std::move(key));
  if (!ring.ok()) return ring.status();
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous = sync;
  return SqliteSecretStore::Open(options, *std::move(ring), clock);
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, SecretStoreConformanceTest,
    ::testing::Values(SecretStoreFactory{
        "Sqlite",
        [](Clock* clock) -> absl::StatusOr<std::unique_ptr<SecretStore>> {
          absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
              OpenStore(MakeTempDir() + "/secrets.sqlite", 1, KeyA(), clock);
          if (!store.ok()) return store.status();
          return std::unique_ptr<SecretStore>(*std::move(store));
        }}),
    SecretStoreFactoryName);

// Direct access to the file, as an attacker with write access would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr),
        SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }

  // Runs `sql` with text/integer/blob parameters given as strings (blobs for
  // any parameter whose index is in `blob_params`).
  void Exec(const std::string& sql, const std::vector<std::string>& params = {},
            std::vector<int> blob_params = {}) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    for (size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      bool blob = false;
      for (int b : blob_params) blob |= (b == idx);
      if (blob) {
        sqlite3_bind_blob(st, idx, params[i].data(),
                          static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_text(st, idx, params[i].data(),
                          static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
      }
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_finalize(st);
  }

  std::string Blob(const std::string& sql,
                   const std::vector<std::string>& params) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr),
              SQLITE_OK);
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].data(),
                        static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
    }
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const void* p = sqlite3_column_blob(st, 0);
      out.assign(static_cast<const char*>(p), sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  }

  std::string Text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr),
              SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(st, 0);
      if (p != nullptr) out = reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(st);
    return out;
  }

  int64_t Int(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr),
              SQLITE_OK);
    int64_t out = -1;
    if (sqlite3_step(st) == SQLITE_ROW) out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool FileExists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

class SqliteSecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = MakeTempDir() + "/secrets.sqlite";
    auto store = OpenStore(path_, 1, KeyA(), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  void Reopen(uint32_t key_id, SecretBytes key) {
    store_.reset();
    auto store = OpenStore(path_, key_id, std::move(key), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  std::string Ciphertext(const std::string& scope, const std::string& name,
                         int version) {
    return RawDb(path_).Blob(
        absl::StrCat("SELECT ciphertext FROM secret_versions WHERE scope = ?1 "
                     "AND name = ?2 AND version = ",
                     version),
        {scope, name});
  }

  void SetCiphertext(const std::string& scope, const std::string& name,
                     int version, const std::string& blob) {
    RawDb(path_).Exec(
        absl::StrCat("UPDATE secret_versions SET ciphertext = ?3 WHERE "
                     "scope = ?1 AND name = ?2 AND version = ",
                     version),
        {scope, name, blob}, {3});
  }

  FakeClock clock_;
  std::string path_;
  std::unique_ptr<SqliteSecretStore> store_;
};

// --- Tampering
// ------------------------------------------------------------------

TEST_F(SqliteSecretStoreTest, FlippedCiphertextBitIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "b", V("value-b"), {}));
  std::string blob = Ciphertext("prod", "a", 1);
  ASSERT_GT(blob.size(), kBlobOverheadBytes);
  blob[blob.size() - 20] ^= 0x01;
  SetCiphertext("prod", "a", 1, blob);

  EXPECT_STATUS(store_->GetSecret("prod", "a"), kDataLoss);
  EXPECT_STATUS(store_->GetVersioned("prod", "a", 1), kDataLoss);
  EXPECT_STATUS(store_->GetSecrets("prod", {"a", "b"}), kDataLoss);
  EXPECT_STATUS(store_->RollbackSecret("prod", "a", 1), kDataLoss);
  auto batch = store_->ReadBatch({{"prod", "a"}, {"prod", "b"}});
  ASSERT_OK(batch);
  EXPECT_STATUS((*batch)[0], kDataLoss);
  ASSERT_OK((*batch)[1]);
  EXPECT_EQ(Str((*batch)[1]->value), "value-b");
  EXPECT_EQ(Str(*store_->GetSecret("prod", "b")), "value-b");
  // Metadata stays readable; the message never shows the value.
  EXPECT_OK(store_->GetMetadata("prod", "a"));
  EXPECT_EQ(store_->GetSecret("prod", "a").status().message().find("value-a"),
            absl::string_view::npos);
}

TEST_F(SqliteSecretStoreTest, SwappedCiphertextsAreDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "b", V("value-b"), {}));
  ASSERT_OK(store_->SetSecret("prod", "c", V("value-c"), {}));
  const std::string a = Ciphertext("prod", "a", 1);
  const std::string b = Ciphertext("prod", "b", 1);
  SetCiphertext("prod", "a", 1, b);
  SetCiphertext("prod", "b", 1, a);
  EXPECT_STATUS(store_->GetSecret("prod", "a"), kDataLoss);
  EXPECT_STATUS(store_->GetSecret("prod", "b"), kDataLoss);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "c")), "value-c");
}

TEST_F(SqliteSecretStoreTest, RowCopiedToAnotherNameOrScopeIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  {
    RawDb raw(path_);
    for (const auto& [scope, name] :
         std::vector<std::pair<std::string, std::string>>{{"prod", "copy"},
                                                          {"staging", "a"}}) {
      raw.Exec(
          "INSERT INTO secrets SELECT ?1, ?2, current_version, "
          "created_at, updated_at, max_versions, deleted_at, incarnation, "
          "mac, node_affinity FROM secrets WHERE scope = 'prod' AND name = 'a'",
          {scope, name});
      raw.Exec(
          "INSERT INTO secret_versions SELECT ?1, ?2, version, key_id, "
          "created_at, ciphertext FROM secret_versions "
          "WHERE scope = 'prod' AND name = 'a'",
          {scope, name});
    }
  }
  EXPECT_STATUS(store_->GetSecret("prod", "copy"), kDataLoss);
  EXPECT_STATUS(store_->GetSecret("staging", "a"), kDataLoss);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "value-a");
}

TEST_F(SqliteSecretStoreTest, OlderCiphertextCopiedIntoNewerVersionIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("v2"), {}));
  SetCiphertext("prod", "k", 2, Ciphertext("prod", "k", 1));
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kDataLoss);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 2), kDataLoss);
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 1)->value), "v1");
}

TEST_F(SqliteSecretStoreTest, CurrentVersionRolledBackIsDataLoss) {
  WriteOptions keep2;
  keep2.max_versions = 2;
  for (const char* v : {"v1", "v2", "v3"}) {
    ASSERT_OK(store_->SetSecret("prod", "k", V(v), keep2));
  }
  ASSERT_OK(store_->SetSecret("prod", "other", V("fine"), {}));
  // To a pruned version (its row is gone)...
  RawDb(path_).Exec("UPDATE secrets SET current_version = 1 WHERE name = 'k'");
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kDataLoss);
  // ...and to a kept older version: newer rows betray it.
  RawDb(path_).Exec("UPDATE secrets SET current_version = 2 WHERE name = 'k'");
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kDataLoss);
  EXPECT_STATUS(store_->GetWithMetadata("prod", "k", 0), kDataLoss);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 2), kDataLoss);
  EXPECT_STATUS(store_->SetSecret("prod", "k", V("v4"), {}), kDataLoss);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "other")), "fine");
}

TEST_F(SqliteSecretStoreTest, MissingVersionRowIsDataLossNotNotFound) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("v2"), {}));
  RawDb(path_).Exec(
      "DELETE FROM secret_versions WHERE name = 'k' AND version = 2");
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kDataLoss);
  EXPECT_STATUS(store_->GetMetadata("prod", "k"), kDataLoss);
  EXPECT_STATUS(store_->GetWithMetadata("prod", "k", 0), kDataLoss);
  // An older version still reads, but not with the secret's metadata.
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 1)->value), "v1");
  EXPECT_STATUS(store_->GetWithMetadata("prod", "k", 1), kDataLoss);
  RawDb(path_).Exec(
      "DELETE FROM secret_versions WHERE name = 'k' AND version = 1");
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 1), kDataLoss);
}

TEST_F(SqliteSecretStoreTest, EditedKeyIdIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), {}));
  RawDb(path_).Exec("UPDATE secret_versions SET key_id = 7 WHERE name = 'k'");
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kDataLoss);
}

// --- Keys
// -----------------------------------------------------------------------

TEST_F(SqliteSecretStoreTest, WrongKeyIsRefusedAndFileUnchanged) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a2"), {}));
  store_.reset();
  const std::string before = ReadFile(path_);
  ASSERT_FALSE(before.empty());

  for (uint32_t id : {1u, 2u}) {
    auto wrong = OpenStore(path_, id, KeyB(), &clock_);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(wrong.status().message(),
              "the master key does not match this store (key check failed)");
  }
  EXPECT_EQ(ReadFile(path_), before);
  EXPECT_FALSE(FileExists(path_ + "-wal") && !ReadFile(path_ + "-wal").empty());
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions"), 2);
    // key check value, store id, subkey seed
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM meta"), 3);
  }
  Reopen(1, KeyA());
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "value-a2");
}

TEST_F(SqliteSecretStoreTest, ReopenKeepsEverything) {
  WriteOptions keep3;
  keep3.max_versions = 3;
  for (const char* v : {"v1", "v2", "v3", "v4"}) {
    ASSERT_OK(store_->SetSecret("prod", "k", V(v), keep3));
  }
  ASSERT_OK(store_->SetSecret("prod", "gone", V("x"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "gone"));
  ASSERT_OK(store_->SetSecret("env:1", "k", V("other scope"), {}));
  Reopen(1, KeyA());
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "v4");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 2)->value), "v2");
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 1), kNotFound);
  auto m = store_->GetMetadata("prod", "k");
  EXPECT_EQ(m->version, 4u);
  EXPECT_EQ(m->max_versions, 3u);
  EXPECT_EQ(m->key_id, 1u);
  EXPECT_FALSE(*store_->Exists("prod", "gone"));
  ASSERT_OK(store_->UndeleteSecret("prod", "gone"));
  EXPECT_EQ(Str(*store_->GetSecret("env:1", "k")), "other scope");
}

TEST_F(SqliteSecretStoreTest, RotateKeyRewrapsDataKeysOnly) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("a1"), {}));
  ASSERT_OK(store_->SetSecret("prod", "a", V("a2"), {}));
  ASSERT_OK(store_->SetSecret("env:x", "b", V("b1"), {}));
  ASSERT_OK(store_->SetSecret("prod", "gone", V("g1"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "gone"));
  EXPECT_EQ(*store_->ActiveKeyId(), 1u);
  const std::string a1_before = Ciphertext("prod", "a", 1);
  std::string wrapped_before;
  {
    RawDb raw(path_);
    wrapped_before =
        raw.Blob("SELECT wrapped FROM keyring WHERE generation = 1", {});
  }

  uint64_t rewrapped = 0;
  ASSERT_OK(store_->RotateKey(2, KeyB(), &rewrapped));
  EXPECT_EQ(rewrapped, 1u);
  EXPECT_EQ(*store_->ActiveKeyId(), 2u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "a2");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "a", 1)->value), "a1");
  EXPECT_EQ(Str(*store_->GetSecret("env:x", "b")), "b1");
  // Values are untouched (still DEK generation 1); only the wrap changed.
  EXPECT_EQ(store_->GetMetadata("prod", "a")->key_id, 1u);
  EXPECT_EQ(Ciphertext("prod", "a", 1), a1_before);
  {
    RawDb raw(path_);
    EXPECT_NE(raw.Blob("SELECT wrapped FROM keyring WHERE generation = 1", {}),
              wrapped_before);
  }
  // The WAL was checkpointed and truncated after the rotation: the old
  // wrapped key is in no WAL frame.
  EXPECT_TRUE(!FileExists(path_ + "-wal") || ReadFile(path_ + "-wal").empty());

  // The old key is no longer needed, and no longer enough.
  Reopen(2, KeyB());
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "a2");
  ASSERT_OK(store_->UndeleteSecret("prod", "gone"));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "gone")), "g1");
  store_.reset();
  EXPECT_STATUS(OpenStore(path_, 1, KeyA(), &clock_), kFailedPrecondition);
}

TEST_F(SqliteSecretStoreTest, RotateKeyRejectsBadInput) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("a1"), {}));
  EXPECT_STATUS(store_->RotateKey(1, KeyB()), kInvalidArgument);
  EXPECT_STATUS(store_->RotateKey(2, V("short")), kInvalidArgument);
  EXPECT_EQ(*store_->ActiveKeyId(), 1u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "a1");
}

TEST_F(SqliteSecretStoreTest, RotateKeyStopsAtTamperedKeyAndChangesNothing) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("a1"), {}));
  std::string good;
  {
    RawDb raw(path_);
    good = raw.Blob("SELECT wrapped FROM keyring WHERE generation = 1", {});
    std::string bad = good;
    bad[bad.size() - 1] ^= 0x80;
    raw.Exec("UPDATE keyring SET wrapped = ?1 WHERE generation = 1", {bad},
             {1});
  }
  EXPECT_STATUS(store_->RotateKey(2, KeyB()), kDataLoss);
  EXPECT_EQ(*store_->ActiveKeyId(), 1u);
  // Repaired, a rotation to the same id with another key works: the failed
  // attempt left nothing behind.
  RawDb(path_).Exec("UPDATE keyring SET wrapped = ?1 WHERE generation = 1",
                    {good}, {1});
  ASSERT_OK(
      store_->RotateKey(2, SecretBytes::FromString(std::string(32, 'C'))));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "a1");
  Reopen(2, SecretBytes::FromString(std::string(32, 'C')));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "a")), "a1");
}

// --- File and pragmas
// -----------------------------------------------------------

TEST_F(SqliteSecretStoreTest, WalAndSynchronousFullByDefault) {
  EXPECT_EQ(RawDb(path_).Text("PRAGMA journal_mode"), "wal");
  int64_t sync = -1, fk = -1, secure = -1;
  ASSERT_OK(store_->RunInWriteTransaction([&](Database& db) -> absl::Status {
    auto s = db.QueryInt64("PRAGMA synchronous");
    auto f = db.QueryInt64("PRAGMA foreign_keys");
    auto d = db.QueryInt64("PRAGMA secure_delete");
    if (!s.ok()) return s.status();
    if (!f.ok()) return f.status();
    if (!d.ok()) return d.status();
    sync = *s;
    fk = *f;
    secure = *d;
    return absl::OkStatus();
  }));
  EXPECT_EQ(sync, 2);  // FULL
  EXPECT_EQ(fk, 1);
  EXPECT_EQ(secure, 1);
}

TEST_F(SqliteSecretStoreTest, SynchronousNormalIsSelectable) {
  store_.reset();
  auto store = OpenStore(path_, 1, KeyA(), &clock_,
                         SqliteStoreOptions::Synchronous::kNormal);
  ASSERT_OK(store);
  int64_t sync = -1;
  ASSERT_OK((*store)->RunInWriteTransaction([&](Database& db) -> absl::Status {
    auto s = db.QueryInt64("PRAGMA synchronous");
    if (!s.ok()) return s.status();
    sync = *s;
    return absl::OkStatus();
  }));
  EXPECT_EQ(sync, 1);  // NORMAL
}

TEST_F(SqliteSecretStoreTest, SchemaVersionIsRecorded) {
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), kSqliteSchemaVersion);
  EXPECT_EQ(raw.Int("SELECT MAX(version) FROM schema_migrations"),
            kSqliteSchemaVersion);
  EXPECT_EQ(
      raw.Int("SELECT applied_at FROM schema_migrations WHERE version = 1"),
      1700000000);
}

TEST_F(SqliteSecretStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  RawDb(path_).Exec("PRAGMA user_version = 99");
  EXPECT_STATUS(OpenStore(path_, 1, KeyA(), &clock_), kFailedPrecondition);
}

TEST_F(SqliteSecretStoreTest, FileIsPrivateToItsOwner) {
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SqliteSecretStoreOpenTest, NotADatabaseIsDataLossAndUntouched) {
  FakeClock clock;
  const std::string path = MakeTempDir() + "/notes.txt";
  const std::string content(4096, 'z');
  std::ofstream(path, std::ios::binary) << content;
  EXPECT_STATUS(OpenStore(path, 1, KeyA(), &clock), kDataLoss);
  EXPECT_EQ(ReadFile(path), content);
}

TEST(SqliteSecretStoreOpenTest, BadArgumentsAreInvalidArgument) {
  FakeClock clock;
  SqliteStoreOptions options;
  EXPECT_STATUS(
      SqliteSecretStore::Open(options, *Keyring::Create(1, KeyA()), &clock),
      kInvalidArgument);
  options.path = MakeTempDir() + "/s.sqlite";
  EXPECT_STATUS(SqliteSecretStore::Open(options, nullptr, &clock),
                kInvalidArgument);
}

TEST(SqliteSecretStoreOpenTest, MissingDirectoryIsUnavailable) {
  FakeClock clock;
  EXPECT_STATUS(
      OpenStore(MakeTempDir() + "/no/such/dir/s.sqlite", 1, KeyA(), &clock),
      kUnavailable);
}

}  // namespace
}  // namespace zlayer::secrets::testing
