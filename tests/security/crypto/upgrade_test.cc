// The v1 -> v2 upgrade (issue 19, "Upgrade"): a schema-1 store, written
// here byte for byte as the schema-1 code wrote it (values sealed by the
// master key under SecretAssociatedData), opens as schema 2 with every
// secret readable; a value that fails to open stops the upgrade and leaves
// the store at schema 1; and a process killed at any point of the upgrade
// (or of a master-key rotation) leaves a store that opens as v1 or v2.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

SecretBytes Key(char fill) {
  return SecretBytes::FromString(std::string(kKeyBytes, fill));
}

// Schema 1 as shipped (core/store/sqlite/sqlite_secret_store.cc, migration 1).
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE schema_migrations (
  version     INTEGER PRIMARY KEY NOT NULL,
  description TEXT NOT NULL,
  applied_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) STRICT;
CREATE TABLE secrets (
  scope           TEXT NOT NULL,
  name            TEXT NOT NULL,
  current_version INTEGER NOT NULL CHECK (current_version BETWEEN 1 AND 4294967295),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  max_versions    INTEGER NOT NULL CHECK (max_versions BETWEEN 1 AND 1000),
  deleted_at      INTEGER,
  PRIMARY KEY (scope, name)
) STRICT, WITHOUT ROWID;
CREATE TABLE secret_versions (
  scope      TEXT NOT NULL,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  key_id     INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  created_at INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (scope, name, version),
  FOREIGN KEY (scope, name) REFERENCES secrets (scope, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE TABLE environments (
  id          TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL,
  project     TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (project, name)
) STRICT;
INSERT INTO schema_migrations VALUES (1, 'initial schema', 1700000000);
PRAGMA user_version = 1;
)sql";

constexpr char kEnvId[] = "2f1c6c38-7d1e-4e2b-9a59-3c1f0d7b8e11";

std::string ValueOf(int secret, int version) {
  return absl::StrCat("value-", secret, "-v", version);
}

// A schema-1 store at `path` whose master key is `key` under id `kek_id`
// (2 = a store whose key was rotated once under schema 1): `secrets`
// secrets in scope "prod" with `versions` versions each, one soft-deleted
// secret, one secret in an environment's scope, one environment.
void WriteV1Store(const std::string& path, char key, uint32_t kek_id,
                  int secrets, int versions) {
  auto aead = SodiumAead::Create(kek_id, Key(key));
  ASSERT_OK(aead);
  RawDb raw(path);  // sqlite3_open_v2 without CREATE: make the file first
  ASSERT_EQ(raw.Exec("PRAGMA journal_mode = WAL"), 0);
  raw.Exec("BEGIN");
  for (absl::string_view stmt : absl::StrSplit(kSchemaV1, ';')) {
    if (absl::StripAsciiWhitespace(stmt).empty()) continue;
    raw.Exec(std::string(stmt));
  }
  auto check = (*aead)->Encrypt(
      SecretBytes::FromString("zlayer-secrets key check v1"),
      SecretAssociatedData("", "zlayer-secrets/key-check", 0, kek_id));
  ASSERT_OK(check);
  raw.Exec("INSERT INTO meta VALUES ('key_check', ?1)", {Blob(*check)});
  auto add = [&](const std::string& scope, const std::string& name, int secret,
                 int n, bool deleted) {
    raw.Exec(absl::StrCat("INSERT INTO secrets VALUES (?1, ?2, ", n,
                          ", 1700000000, 1700000000, 10, ",
                          deleted ? "1700000500" : "NULL", ")"),
             {scope, name});
    for (int v = 1; v <= n; ++v) {
      auto blob =
          (*aead)->Encrypt(SecretBytes::FromString(ValueOf(secret, v)),
                           SecretAssociatedData(scope, name, v, kek_id));
      ASSERT_OK(blob);
      raw.Exec(absl::StrCat("INSERT INTO secret_versions VALUES (?1, ?2, ", v,
                            ", ", kek_id, ", 1700000000, ?3)"),
               {scope, name, Blob(*blob)});
    }
  };
  for (int i = 0; i < secrets; ++i) {
    add("prod", absl::StrCat("s", i), i, versions, false);
  }
  add("prod", "gone", 1000, 2, true);
  add(absl::StrCat("env:", kEnvId), "DBPW", 2000, 1, false);
  raw.Exec(absl::StrCat("INSERT INTO environments VALUES ('", kEnvId,
                        "', 'prodenv', '', 'production', 1700000000, "
                        "1700000000)"));
  raw.Exec("COMMIT");
}

void Touch(const std::string& path) {
  std::ofstream(path).close();
  ::chmod(path.c_str(), 0600);
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

// Every value WriteV1Store wrote reads back from `store`.
void ExpectEverySecret(SqliteSecretStore& store, int secrets, int versions) {
  for (int i = 0; i < secrets; ++i) {
    const std::string name = absl::StrCat("s", i);
    for (int v = 1; v <= versions; ++v) {
      auto got = store.GetVersioned("prod", name, v);
      ASSERT_OK(got);
      ASSERT_EQ(got->value.InsecureView(), ValueOf(i, v));
    }
  }
  auto env = store.GetSecret(absl::StrCat("env:", kEnvId), "DBPW");
  ASSERT_OK(env);
  EXPECT_EQ(env->InsecureView(), ValueOf(2000, 1));
  EXPECT_STATUS(store.GetSecret("prod", "gone"), kNotFound);
}

TEST(V1UpgradeTest, EverySecretReadsBackAfterTheUpgrade) {
  FakeClock clock;
  const std::string path = MakeTempDir() + "/secrets.db";
  Touch(path);
  WriteV1Store(path, 'A', /*kek_id=*/2, /*secrets=*/20, /*versions=*/3);
  EXPECT_EQ(RawDb(path).Int("PRAGMA user_version"), 1);

  EXPECT_STATUS(OpenStore(path, Key('B'), &clock), kFailedPrecondition);
  EXPECT_EQ(RawDb(path).Int("PRAGMA user_version"), 1);

  {
    auto store = OpenStore(path, Key('A'), &clock);
    ASSERT_OK(store);
    ExpectEverySecret(**store, 20, 3);
    EXPECT_EQ(*(*store)->ActiveKeyId(), 2u);
    EXPECT_EQ((*store)->ActiveDataKeyGeneration(), 1u);
    ASSERT_OK((*store)->UndeleteSecret("prod", "gone"));
    EXPECT_EQ((*store)->GetSecret("prod", "gone")->InsecureView(),
              ValueOf(1000, 2));
    ASSERT_OK((*store)->DeleteSecret("prod", "gone"));
    auto envs = SqliteEnvironmentRegistry::Create(store->get(), &clock);
    ASSERT_OK(envs);
    auto env = (*envs)->Find("prodenv", "");
    ASSERT_OK(env);
    EXPECT_EQ(env->id, kEnvId);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), kSqliteSchemaVersion);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id <> 1"),
            0);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secrets WHERE length(mac) <> 32 "
                    "OR length(incarnation) <> 16"),
            0);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM environments "
                    "WHERE length(mac) <> 32"),
            0);
  // Reopens as v2 with the same key.
  auto again = OpenStore(path, Key('A'), &clock);
  ASSERT_OK(again);
  ExpectEverySecret(**again, 20, 3);
}

TEST(V1UpgradeTest, ValueThatFailsToOpenLeavesTheStoreAtV1) {
  FakeClock clock;
  const std::string path = MakeTempDir() + "/secrets.db";
  Touch(path);
  WriteV1Store(path, 'A', 1, 5, 2);
  std::string good;
  {
    RawDb raw(path);
    good = raw.Bytes(
        "SELECT ciphertext FROM secret_versions "
        "WHERE name = 's3' AND version = 2");
    std::string bad = good;
    bad[bad.size() - 1] ^= 1;
    raw.Exec(
        "UPDATE secret_versions SET ciphertext = ?1 "
        "WHERE name = 's3' AND version = 2",
        {Blob(bad)});
  }
  EXPECT_STATUS(OpenStore(path, Key('A'), &clock), kDataLoss);
  {
    RawDb raw(path);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), 1);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM sqlite_schema "
                      "WHERE name = 'keyring'"),
              0);
    raw.Exec(
        "UPDATE secret_versions SET ciphertext = ?1 "
        "WHERE name = 's3' AND version = 2",
        {Blob(good)});
  }
  auto store = OpenStore(path, Key('A'), &clock);
  ASSERT_OK(store);
  ExpectEverySecret(**store, 5, 2);
}

// Runs `fn` in a child process whose file-size limit is `limit` bytes: the
// first write past it kills the child (SIGXFSZ, no core, no cleanup), at a
// point that depends only on `limit`. Returns whether the child was killed.
template <typename Fn>
bool RunKilledAtFileSize(rlim_t limit, Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct rlimit core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &core);
    struct rlimit fsize = {limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    ::_exit(fn() ? 0 : 3);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
    return true;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return false;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void CopyFile(const std::string& from, const std::string& to) {
  std::ofstream(to, std::ios::binary) << ReadAll(from);
  ::chmod(to.c_str(), 0600);
}

// The process dies at many points of the upgrade's writes (WAL growth from
// one page to past the whole transaction); every time the store opens
// afterwards, as v1 (the upgrade then runs) or as v2, with every secret.
TEST(V1UpgradeTest, KilledAtAnyPointOfTheUpgradeLeavesV1OrV2) {
  const std::string dir = MakeTempDir();
  const std::string fixture = dir + "/fixture.db";
  Touch(fixture);
  WriteV1Store(fixture, 'A', 1, /*secrets=*/200, /*versions=*/3);
  {
    RawDb raw(fixture);
    raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const off_t size = static_cast<off_t>(ReadAll(fixture).size());
  int left_v1 = 0, left_v2 = 0;
  for (rlim_t pages = 1; pages <= 4096; pages *= 2) {
    const std::string path = absl::StrCat(dir, "/kill-", pages, ".db");
    CopyFile(fixture, path);
    // Limit above the main file, so the WAL (and later the checkpoint) is
    // what crosses it.
    const rlim_t limit = static_cast<rlim_t>(size) + pages * 4096;
    const bool killed = RunKilledAtFileSize(limit, [&] {
      FakeClock clock;
      return OpenStore(path, Key('A'), &clock).ok();
    });
    const int64_t schema = RawDb(path).Int("PRAGMA user_version");
    EXPECT_TRUE(schema == 1 || schema == kSqliteSchemaVersion) << schema;
    if (killed && schema == 1) ++left_v1;
    if (schema == kSqliteSchemaVersion) ++left_v2;
    FakeClock clock;
    auto store = OpenStore(path, Key('A'), &clock);
    ASSERT_OK(store);
    ExpectEverySecret(**store, 200, 3);
  }
  // The range covered both sides of the commit.
  EXPECT_GT(left_v1, 0);
  EXPECT_GT(left_v2, 0);
}

// Same for a master-key rotation: afterwards exactly one of the two keys
// opens the store, and every secret reads with it.
TEST(V1UpgradeTest, KilledAtAnyPointOfAMasterKeyRotationLeavesOneKey) {
  const std::string dir = MakeTempDir();
  const std::string fixture = dir + "/fixture.db";
  Touch(fixture);
  WriteV1Store(fixture, 'A', 1, 50, 2);
  {
    FakeClock clock;
    auto store = OpenStore(fixture, Key('A'), &clock);  // upgrade to v2
    ASSERT_OK(store);
  }
  const rlim_t size = ReadAll(fixture).size();
  int old_key = 0, new_key = 0;
  // Small limits stop the process before the rotation commits (the -shm and
  // WAL writes), larger ones after it (the checkpoint's writes into the file).
  for (rlim_t bytes = 512; bytes < 2 * size; bytes *= 2) {
    const std::string path = absl::StrCat(dir, "/rotate-", bytes, ".db");
    CopyFile(fixture, path);
    RunKilledAtFileSize(bytes, [&] {
      FakeClock clock;
      auto store = OpenStore(path, Key('A'), &clock);
      return store.ok() && (*store)->RotateKey(2, Key('B')).ok();
    });
    FakeClock clock;
    auto with_a = OpenStore(path, Key('A'), &clock);
    if (with_a.ok()) {
      ++old_key;
      ExpectEverySecret(**with_a, 50, 2);
      continue;
    }
    auto with_b = OpenStore(path, Key('B'), &clock);
    ASSERT_OK(with_b);
    ++new_key;
    ExpectEverySecret(**with_b, 50, 2);
  }
  EXPECT_GT(old_key, 0);
  EXPECT_GT(new_key, 0);
}

}  // namespace
}  // namespace zlayer::secrets::testing
