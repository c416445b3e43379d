// Offline attacks on a store's SQLite file (issue 19: bindings and rotation
// hygiene; issue 18 item 6: authenticated metadata). Each test writes
// through the store, closes it, edits the real file with the sqlite3 C API
// as an attacker with access to the data directory would, reopens, and
// checks that the edit reads as DATA_LOSS rather than as a wrong answer.
#include <memory>
#include <string>
#include <utility>

#include "core/base/clock.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/env/sqlite_environment_registry.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/security/crypto/raw_db.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }
SecretBytes Key(char fill) {
  return SecretBytes::FromString(std::string(kKeyBytes, fill));
}

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStore(
    const std::string& path, SecretBytes key, Clock* clock) {
  ASSIGN_OR_RETURN(uint32_t key_id, SqliteSecretStore::RecordedKeyId(path));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(key_id, std::move(key)));
  SqliteStoreOptions options;
  options.path = path;
  return SqliteSecretStore::Open(options, std::move(ring), clock);
}

class CryptoAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    path_ = dir_ + "/secrets.db";
    Reopen();
  }

  void Reopen(char key = 'A') {
    envs_.reset();
    store_.reset();
    auto store = OpenStore(path_, Key(key), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
    auto envs = SqliteEnvironmentRegistry::Create(store_.get(), &clock_);
    ASSERT_OK(envs);
    envs_ = *std::move(envs);
  }

  void Close() {
    envs_.reset();
    store_.reset();
  }

  FakeClock clock_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteSecretStore> store_;
  std::unique_ptr<SqliteEnvironmentRegistry> envs_;
};

// Two stores under the same master key: rows of one copied into the other
// (the whole secret, or only a ciphertext under a name both have).
TEST_F(CryptoAttackTest, CrossStoreCopyIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "db", V("value-in-A"), {}));
  ASSERT_OK(store_->SetSecret("prod", "only-a", V("only-in-A"), {}));
  const std::string other = dir_ + "/other.db";
  {
    auto b = OpenStore(other, Key('A'), &clock_);
    ASSERT_OK(b);
    ASSERT_OK((*b)->SetSecret("prod", "db", V("value-in-B"), {}));
  }
  Close();
  {
    RawDb raw(other);
    raw.Exec("ATTACH DATABASE ?1 AS a", {path_});
    // A ciphertext of A under a (scope, name, version) B also has.
    EXPECT_EQ(raw.Exec("UPDATE secret_versions SET ciphertext = (SELECT "
                       "ciphertext FROM a.secret_versions WHERE name = 'db') "
                       "WHERE name = 'db'"),
              1);
    // A whole secret of A, with its row MAC and incarnation.
    raw.Exec(
        "INSERT INTO secrets SELECT * FROM a.secrets "
        "WHERE name = 'only-a'");
    raw.Exec(
        "INSERT INTO secret_versions SELECT * FROM a.secret_versions "
        "WHERE name = 'only-a'");
    raw.Exec("DETACH DATABASE a");
  }
  auto b = OpenStore(other, Key('A'), &clock_);
  ASSERT_OK(b);
  EXPECT_STATUS((*b)->GetSecret("prod", "db"), kDataLoss);
  EXPECT_STATUS((*b)->GetSecret("prod", "only-a"), kDataLoss);
  EXPECT_STATUS((*b)->ListSecrets("prod"), kDataLoss);
  // A itself is untouched.
  Reopen();
  EXPECT_EQ(Str(*store_->GetSecret("prod", "db")), "value-in-A");
}

// Versions restart at 1 after a destroy; the old version 1 put back under
// the re-created secret must not return the destroyed value.
TEST_F(CryptoAttackTest, DestroyReplayIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "db", V("destroyed-value"), {}));
  Close();
  const std::string old_v1 =
      RawDb(path_).Bytes("SELECT ciphertext FROM secret_versions");
  ASSERT_FALSE(old_v1.empty());
  Reopen();
  ASSERT_OK(store_->DestroySecret("prod", "db"));
  ASSERT_OK(store_->SetSecret("prod", "db", V("new-value"), {}));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "db")), "new-value");
  Close();
  EXPECT_EQ(RawDb(path_).Exec("UPDATE secret_versions SET ciphertext = ?1 "
                              "WHERE name = 'db' AND version = 1",
                              {Blob(old_v1)}),
            1);
  Reopen();
  EXPECT_STATUS(store_->GetSecret("prod", "db"), kDataLoss);
  EXPECT_STATUS(store_->GetVersioned("prod", "db", 1), kDataLoss);
}

// Issue 18 item 6, first edit: two environments' names swapped, so that
// "prodenv" would resolve to the dev environment's id.
TEST_F(CryptoAttackTest, SwappedEnvironmentNamesAreDataLoss) {
  auto prod = envs_->Create("prodenv", "", "production");
  auto dev = envs_->Create("devenv", "", "development");
  ASSERT_OK(prod);
  ASSERT_OK(dev);
  ASSERT_OK(store_->SetSecret("env:" + prod->id, "DBPW", V("prod-pw"), {}));
  ASSERT_OK(store_->SetSecret("env:" + dev->id, "DBPW", V("dev-pw"), {}));
  Close();
  {
    RawDb raw(path_);
    raw.Exec("UPDATE environments SET name = 'swap' WHERE name = 'prodenv'");
    raw.Exec("UPDATE environments SET name = 'prodenv' WHERE name = 'devenv'");
    raw.Exec("UPDATE environments SET name = 'devenv' WHERE name = 'swap'");
  }
  Reopen();
  EXPECT_STATUS(envs_->Find("prodenv", ""), kDataLoss);
  EXPECT_STATUS(envs_->Find("devenv", ""), kDataLoss);
  EXPECT_STATUS(envs_->Get(prod->id), kDataLoss);
  EXPECT_STATUS(envs_->List(""), kDataLoss);
  // Names put back, the project column changed: covered too.
  Close();
  {
    RawDb raw(path_);
    raw.Exec("UPDATE environments SET name = 'tmp' WHERE id = ?1", {dev->id});
    raw.Exec("UPDATE environments SET name = 'prodenv' WHERE id = ?1",
             {prod->id});
    raw.Exec(
        "UPDATE environments SET name = 'devenv', project = 'p' "
        "WHERE id = ?1",
        {dev->id});
  }
  Reopen();
  auto restored = envs_->Find("prodenv", "");
  ASSERT_OK(restored);
  EXPECT_EQ(restored->id, prod->id);
  EXPECT_STATUS(envs_->Find("devenv", "p"), kDataLoss);
}

// Second edit: deleted_at = NULL revives a soft-deleted secret.
TEST_F(CryptoAttackTest, RevivedDeletedSecretIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "old", V("deleted-value"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "old"));
  EXPECT_STATUS(store_->GetSecret("prod", "old"), kNotFound);
  Close();
  EXPECT_EQ(RawDb(path_).Exec("UPDATE secrets SET deleted_at = NULL "
                              "WHERE name = 'old'"),
            1);
  Reopen();
  EXPECT_STATUS(store_->GetSecret("prod", "old"), kDataLoss);
  EXPECT_STATUS(store_->Exists("prod", "old"), kDataLoss);
  // Nor can a write launder the edit by re-MACing the row.
  EXPECT_STATUS(store_->SetSecret("prod", "old", V("x"), {}), kDataLoss);
  EXPECT_STATUS(store_->UndeleteSecret("prod", "old"), kDataLoss);
}

// Third edit: the newest version row deleted and current_version lowered,
// so the previous value would be served.
TEST_F(CryptoAttackTest, DroppedNewestVersionIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "db", V("old-password"), {}));
  ASSERT_OK(store_->SetSecret("prod", "db", V("new-password"), {}));
  Close();
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Exec("DELETE FROM secret_versions WHERE name = 'db' "
                       "AND version = 2"),
              1);
    EXPECT_EQ(raw.Exec("UPDATE secrets SET current_version = 1 "
                       "WHERE name = 'db'"),
              1);
  }
  Reopen();
  EXPECT_STATUS(store_->GetSecret("prod", "db"), kDataLoss);
  EXPECT_STATUS(store_->GetMetadata("prod", "db"), kDataLoss);
  EXPECT_STATUS(store_->ListVersions("prod", "db"), kDataLoss);
}

// Other metadata fields a reader acts on: retention and the incarnation.
TEST_F(CryptoAttackTest, EditedRetentionOrIncarnationIsDataLoss) {
  WriteOptions keep2;
  keep2.max_versions = 2;
  ASSERT_OK(store_->SetSecret("prod", "a", V("a1"), keep2));
  ASSERT_OK(store_->SetSecret("prod", "b", V("b1"), {}));
  Close();
  {
    RawDb raw(path_);
    raw.Exec("UPDATE secrets SET max_versions = 50 WHERE name = 'a'");
    raw.Exec(
        "UPDATE secrets SET incarnation = (SELECT incarnation FROM "
        "secrets WHERE name = 'a') WHERE name = 'b'");
  }
  Reopen();
  EXPECT_STATUS(store_->GetSecret("prod", "a"), kDataLoss);
  EXPECT_STATUS(store_->GetSecret("prod", "b"), kDataLoss);
}

// Issue 19: a rotation whose commit fails leaves nothing behind; the next
// one (same id, another key) works without reopening the store.
TEST_F(CryptoAttackTest, FailedRotationThenSuccessfulOneWithoutRestart) {
  ASSERT_OK(store_->SetSecret("prod", "db", V("value"), {}));
  store_->FailCommitForTesting();
  EXPECT_FALSE(store_->RotateKey(2, Key('B')).ok());
  EXPECT_EQ(*store_->ActiveKeyId(), 1u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "db")), "value");
  ASSERT_OK(store_->SetSecret("prod", "db", V("value-2"), {}));

  ASSERT_OK(store_->RotateKey(2, Key('C')));
  EXPECT_EQ(*store_->ActiveKeyId(), 2u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "db")), "value-2");
  Close();
  // Only the key of the successful rotation opens the store.
  EXPECT_STATUS(OpenStore(path_, Key('A'), &clock_), kFailedPrecondition);
  EXPECT_STATUS(OpenStore(path_, Key('B'), &clock_), kFailedPrecondition);
  Reopen('C');
  EXPECT_EQ(Str(*store_->GetSecret("prod", "db")), "value-2");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "db", 1)->value), "value");
}

// The key check value names the store: one store's key check value (and
// keyring) copied into another store does not let the other's key in.
TEST_F(CryptoAttackTest, KeyCheckValueIsBoundToTheStore) {
  const std::string other = dir_ + "/other.db";
  {
    auto b = OpenStore(other, Key('B'), &clock_);
    ASSERT_OK(b);
  }
  Close();
  {
    RawDb raw(path_);
    raw.Exec("ATTACH DATABASE ?1 AS b", {other});
    raw.Exec(
        "UPDATE meta SET value = (SELECT value FROM b.meta WHERE key = "
        "'key_check') WHERE key = 'key_check'");
    raw.Exec("DETACH DATABASE b");
  }
  EXPECT_STATUS(OpenStore(path_, Key('B'), &clock_), kFailedPrecondition);
  EXPECT_STATUS(OpenStore(path_, Key('A'), &clock_), kFailedPrecondition);
}

}  // namespace
}  // namespace zlayer::secrets::testing
