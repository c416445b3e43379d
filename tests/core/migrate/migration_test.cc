// Migration from an upstream ZLayer store: the test builds the upstream
// SQLite file itself (upstream's table, "{scope}:{name}" keys, values sealed
// as upstream seals them, its key file and Argon2id PHC hashes), migrates
// it, and reads everything back through this store, the resolver and the API
// key store.
#include "core/migrate/migration.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/crypto/key_manager.h"
#include "core/env/sqlite_environment_registry.h"
#include "core/identity/api_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/identity/registry_credential_store.h"
#include "core/migrate/upstream_crypto.h"
#include "core/resolve/resolver.h"
#include "core/store/sqlite/sqlite.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets {
namespace {

constexpr char kStagingEnv[] = "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c";
constexpr char kProjectEnv[] = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d";
constexpr char kRegistryId[] = "11111111-2222-4333-8444-555555555555";
constexpr char kGitId[] = "66666666-7777-4888-9999-aaaaaaaaaaaa";
constexpr char kAdminPassword[] = "0123456789abcdef0123456789abcdef";

void WriteFile(const std::string& path, absl::string_view bytes, int mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

// An upstream store as upstream's PersistentSecretsStore writes it.
class UpstreamFixture {
 public:
  explicit UpstreamFixture(std::string dir)
      : dir_(std::move(dir)), key_(SecretBytes::Random(32)) {}

  void Create() {
    ASSERT_EQ(mkdir(absl::StrCat(dir_, "/secrets").c_str(), 0700), 0);
    WriteFile(absl::StrCat(dir_, "/secrets_zlayer.key"), key_.InsecureView(),
              0600);
    absl::StatusOr<std::unique_ptr<Database>> db =
        Database::Open(absl::StrCat(dir_, "/secrets/secrets.sqlite"), {});
    ASSERT_OK(db);
    db_ = *std::move(db);
    ASSERT_OK(
        db_->Execute("PRAGMA journal_mode=WAL;"
                     "CREATE TABLE IF NOT EXISTS secrets ("
                     " storage_key TEXT PRIMARY KEY NOT NULL,"
                     " encrypted_value BLOB NOT NULL, name TEXT NOT NULL,"
                     " version INTEGER NOT NULL DEFAULT 1,"
                     " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                     "CREATE INDEX IF NOT EXISTS idx_secrets_prefix ON "
                     "secrets(storage_key);"));
  }

  void Put(absl::string_view scope, absl::string_view name,
           absl::string_view value) {
    absl::StatusOr<ScopedStatement> st = db_->Prepare(
        "INSERT INTO secrets (storage_key, encrypted_value, name, version, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, 3, "
        "'2026-01-02T03:04:05Z', '2026-02-03T04:05:06Z')");
    ASSERT_OK(st);
    ASSERT_OK((*st)->BindText(1, absl::StrCat(scope, ":", name)));
    ASSERT_OK((*st)->BindBlob(
        2, SealUpstreamBlob(key_, SecretBytes::FromString(value))));
    ASSERT_OK((*st)->BindText(3, name));
    ASSERT_OK((*st)->Run());
  }

  void Close() { db_.reset(); }
  const std::string& dir() const { return dir_; }
  const SecretBytes& key() const { return key_; }

 private:
  std::string dir_;
  SecretBytes key_;
  std::unique_ptr<Database> db_;
};

std::string UpstreamPhc(absl::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  // Upstream's argon2 0.5 defaults: m=19456 KiB, t=2, p=1.
  EXPECT_EQ(
      crypto_pwhash_str_alg(out, password.data(), password.size(), 2,
                            size_t{19456} * 1024, crypto_pwhash_ALG_ARGON2ID13),
      0);
  return out;
}

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<UpstreamFixture>(testing::MakeTempDir());
    data_dir_ = testing::MakeTempDir();
    key_dir_ = testing::MakeTempDir();
    upstream_->Create();
    u().Put("prod", "db_password", "pg-secret");
    u().Put("prod/api", "token", "api-token");
    u().Put("prod", "config", R"({"user":"app","port":5432})");
    u().Put(absl::StrCat("env:", kStagingEnv), "STRIPE_KEY", "sk_staging");
    u().Put(absl::StrCat("project:shop:env:", kProjectEnv), "DB", "shop-db");
    u().Put("credentials", "admin",
            absl::StrCat(R"({"hash":")", UpstreamPhc(kAdminPassword),
                         R"(","roles":["admin"]})"));
    u().Put("registry_credentials_meta", kRegistryId,
            absl::StrCat(R"({"id":")", kRegistryId,
                         R"(","registry":"ghcr.io","username":"bot",)"
                         R"("auth_type":"basic"})"));
    u().Put("registry_credentials", kRegistryId, "ghcr-password");
    u().Put("git_credentials_meta", kGitId,
            absl::StrCat(R"({"id":")", kGitId,
                         R"(","name":"acme bot","kind":"pat"})"));
    u().Put("git_credentials", kGitId, "ghp_token");
    // §6.4: scope "prod", name "a:b" and scope "prod:a", name "b" share
    // this row.
    u().Put("prod", "a:b", "ambiguous");
    u().Close();
    WriteFile(absl::StrCat(data_dir_, "/env-names"),
              absl::StrCat("# id=name\n", kStagingEnv, "=staging\n"), 0600);
  }

  UpstreamFixture& u() { return *upstream_; }

  MigrationOptions Options(bool dry_run) {
    MigrationOptions options;
    options.upstream_path = upstream_->dir();
    options.env_names_file = absl::StrCat(data_dir_, "/env-names");
    options.data_dir = data_dir_;
    options.target_key.key_dir = key_dir_;
    options.dry_run = dry_run;
    return options;
  }

  // The daemon's store in data_dir_, opened as the daemon opens it.
  std::unique_ptr<SqliteSecretStore> OpenTarget() {
    KeyManagerOptions key_options;
    key_options.key_dir = key_dir_;
    auto keys = KeyManager::Create(key_options);
    EXPECT_OK(keys);
    auto master = (*keys)->GetOrCreateKey();
    EXPECT_OK(master);
    SqliteStoreOptions options;
    options.path = absl::StrCat(data_dir_, "/secrets.db");
    auto key_id = SqliteSecretStore::RecordedKeyId(options.path);
    EXPECT_OK(key_id);
    auto ring = Keyring::Create(*key_id, std::move(master->key));
    EXPECT_OK(ring);
    auto store = SqliteSecretStore::Open(options, *std::move(ring), &clock_);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }

  bool TargetExists() {
    return access(absl::StrCat(data_dir_, "/secrets.db").c_str(), F_OK) == 0;
  }

  FakeClock clock_;
  std::unique_ptr<UpstreamFixture> upstream_;
  std::string data_dir_;
  std::string key_dir_;
};

TEST_F(MigrationTest, DryRunReportsPlanAndAmbiguityAndWritesNothing) {
  absl::StatusOr<MigrationReport> report = Migrate(Options(true), &clock_);
  ASSERT_OK(report);
  EXPECT_FALSE(report->applied);
  EXPECT_EQ(report->rows, 11u);
  EXPECT_EQ(report->secrets, 5u);
  EXPECT_EQ(report->environments, 2u);
  EXPECT_EQ(report->api_keys, 1u);
  EXPECT_EQ(report->registry_credentials, 1u);
  EXPECT_EQ(report->git_credentials, 1u);
  ASSERT_EQ(report->unmapped.size(), 1u);
  EXPECT_EQ(report->unmapped[0].storage_key, "prod:a:b");
  EXPECT_NE(report->unmapped[0].reason.find("ambiguous"), std::string::npos);
  const std::string text = FormatMigrationReport(*report);
  EXPECT_NE(text.find("secret prod db_password"), std::string::npos) << text;
  EXPECT_NE(
      text.find(absl::StrCat("environment ", kStagingEnv, " name=staging")),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("pg-secret"), std::string::npos);
  EXPECT_FALSE(TargetExists());
}

TEST_F(MigrationTest, DryRunAgainstExistingStoreFindsConflictsWithoutWriting) {
  {
    std::unique_ptr<SqliteSecretStore> target = OpenTarget();
    ASSERT_NE(target, nullptr);
    ASSERT_OK(target->SetSecret("prod", "db_password",
                                SecretBytes::FromString("already"), {}));
  }
  EXPECT_STATUS(Migrate(Options(true), &clock_), kAlreadyExists);
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  EXPECT_STATUS(Migrate(real, &clock_), kAlreadyExists);
  // All-or-nothing: none of the other rows landed.
  std::unique_ptr<SqliteSecretStore> target = OpenTarget();
  ASSERT_NE(target, nullptr);
  EXPECT_STATUS(target->GetSecret("prod/api", "token"), kNotFound);
  absl::StatusOr<SecretBytes> kept = target->GetSecret("prod", "db_password");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->InsecureView(), "already");
}

// The store exists but its key is not where the options point: the dry run
// (and a real run) refuses clearly and creates no key file.
TEST_F(MigrationTest, MissingTargetKeyIsRefusedWithoutCreatingOne) {
  {
    std::unique_ptr<SqliteSecretStore> target = OpenTarget();
    ASSERT_NE(target, nullptr);
  }
  MigrationOptions options = Options(true);
  options.target_key.key_dir = testing::MakeTempDir();  // empty
  const std::string would_be =
      absl::StrCat(options.target_key.key_dir, "/secrets_zlayer.key");
  absl::StatusOr<MigrationReport> report = Migrate(options, &clock_);
  EXPECT_STATUS(report, kNotFound);
  EXPECT_NE(report.status().message().find("no master key"), std::string::npos)
      << report.status();
  EXPECT_NE(access(would_be.c_str(), F_OK), 0);
  options.dry_run = false;
  options.skip_unmapped = true;
  EXPECT_STATUS(Migrate(options, &clock_), kNotFound);
  EXPECT_NE(access(would_be.c_str(), F_OK), 0);
  EXPECT_NE(
      access(absl::StrCat(data_dir_, "/.migrate-staging.db").c_str(), F_OK), 0);
}

TEST_F(MigrationTest, RealRunRefusesUnmappedRowsUnlessSkipped) {
  EXPECT_STATUS(Migrate(Options(false), &clock_), kFailedPrecondition);
  EXPECT_FALSE(TargetExists());
}

TEST_F(MigrationTest, RefusedWhileTheStoreIsInUse) {
  std::unique_ptr<SqliteSecretStore> daemon = OpenTarget();
  ASSERT_NE(daemon, nullptr);
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  EXPECT_STATUS(Migrate(real, &clock_), kFailedPrecondition);
  EXPECT_STATUS(daemon->GetSecret("prod", "db_password"), kNotFound);
}

TEST_F(MigrationTest, WrongUpstreamKeyIsRefused) {
  const std::string other = absl::StrCat(key_dir_, "/other.key");
  WriteFile(other, SecretBytes::Random(32).InsecureView(), 0600);
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  real.upstream_key.key_file = other;
  EXPECT_STATUS(Migrate(real, &clock_), kFailedPrecondition);
  EXPECT_FALSE(TargetExists());
}

TEST_F(MigrationTest, MigratedStoreResolvesEveryReferenceFormAndKeys) {
  {
    // An existing store with other content: kept.
    std::unique_ptr<SqliteSecretStore> target = OpenTarget();
    ASSERT_NE(target, nullptr);
    ASSERT_OK(
        target->SetSecret("other", "x", SecretBytes::FromString("y"), {}));
  }
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  absl::StatusOr<MigrationReport> report = Migrate(real, &clock_);
  ASSERT_OK(report);
  EXPECT_TRUE(report->applied);
  EXPECT_EQ(report->secrets, 5u);

  std::unique_ptr<SqliteSecretStore> store = OpenTarget();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<SecretBytes> kept = store->GetSecret("other", "x");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->InsecureView(), "y");

  auto environments = SqliteEnvironmentRegistry::Create(store.get(), &clock_);
  ASSERT_OK(environments);
  Resolver resolver(store.get(), environments->get());
  ResolveContext context;
  context.deployment = "prod";
  std::map<std::string, std::string> env = {
      {"DB", "$S:db_password"},
      {"TOKEN", "$S:@api/token"},
      {"PORT", "$S:config/port"},
      {"STRIPE", "$S::staging/STRIPE_KEY"},
      {"STRIPE_BY_ID", absl::StrCat("$S::", kStagingEnv, "/STRIPE_KEY")},
      {"STRIPE_URL", "$secret://staging/STRIPE_KEY"},
      {"SHOP", absl::StrCat("$S:shop:", kProjectEnv, "/DB")},
  };
  absl::StatusOr<ResolvedEnv> resolved = resolver.Resolve(env, context);
  ASSERT_OK(resolved);
  auto value = [&](const std::string& k) {
    return std::string(resolved->values.at(k).InsecureView());
  };
  EXPECT_EQ(value("DB"), "pg-secret");
  EXPECT_EQ(value("TOKEN"), "api-token");
  EXPECT_EQ(value("PORT"), "5432");
  EXPECT_EQ(value("STRIPE"), "sk_staging");
  EXPECT_EQ(value("STRIPE_BY_ID"), "sk_staging");
  EXPECT_EQ(value("STRIPE_URL"), "sk_staging");
  EXPECT_EQ(value("SHOP"), "shop-db");

  // The upstream admin password still authenticates, as zs_admin.<password>.
  ApiKeyStoreOptions key_options;
  auto hash_key = store->DeriveSubkey(SubkeyPurpose::kApiKeyHash);
  ASSERT_OK(hash_key);
  key_options.hash_key = *std::move(hash_key);
  auto keys = ApiKeyStore::Create(store.get(), &clock_, std::move(key_options));
  ASSERT_OK(keys);
  absl::StatusOr<ApiKeyInfo> who =
      (*keys)->Verify(absl::StrCat("zs_admin.", kAdminPassword));
  ASSERT_OK(who);
  EXPECT_EQ(who->roles, std::vector<std::string>{"admin"});
  EXPECT_STATUS((*keys)->Verify("zs_admin.wrong-password"), kUnauthenticated);

  RegistryCredentialStore registry(store.get(), &clock_);
  absl::StatusOr<RegistryCredential> reg = registry.Get(kRegistryId);
  ASSERT_OK(reg);
  EXPECT_EQ(reg->registry, "ghcr.io");
  EXPECT_EQ(reg->username, "bot");
  absl::StatusOr<SecretBytes> reg_pw = registry.GetPassword(kRegistryId);
  ASSERT_OK(reg_pw);
  EXPECT_EQ(reg_pw->InsecureView(), "ghcr-password");

  GitCredentialStore git(store.get(), &clock_);
  absl::StatusOr<GitCredential> g = git.Get(kGitId);
  ASSERT_OK(g);
  EXPECT_EQ(g->name, "acme bot");
  absl::StatusOr<SecretBytes> token = git.GetValue(kGitId);
  ASSERT_OK(token);
  EXPECT_EQ(token->InsecureView(), "ghp_token");

  // The ambiguous row was not guessed into either scope.
  EXPECT_STATUS(store->GetSecret("prod", "a:b"), kNotFound);
  EXPECT_STATUS(store->GetSecret("prod:a", "b"), kNotFound);
}

// Upstream's grants come along with --permissions: imported into the same
// staged store (so all or nothing with the rest), judged like upstream.
TEST_F(MigrationTest, ImportsUpstreamPermissionsWithTheStore) {
  const std::string path = absl::StrCat(data_dir_, "/permissions.json");
  WriteFile(path,
            absl::StrCat(
                R"([{"id":"0b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b",)",
                R"("subject_kind":"group","subject_id":"ops",)",
                R"("resource_kind":"environment","resource_id":")", kStagingEnv,
                R"(","level":"read","created_at":"2026-11-01T10:00:00Z"},)",
                R"({"id":"1b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b",)",
                R"("subject_kind":"user","subject_id":"alice",)",
                R"("resource_kind":"secret","resource_id":"prod:db_password",)",
                R"("level":"write","created_at":"2026-11-01T10:00:00Z"},)",
                R"({"id":"2b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b",)",
                R"("subject_kind":"user","subject_id":"alice",)",
                R"("resource_kind":"node","resource_id":null,)",
                R"("level":"write","created_at":"2026-11-01T10:00:00Z"}])"),
            0600);
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  real.permissions_file = path;
  absl::StatusOr<MigrationReport> report = Migrate(real, &clock_);
  ASSERT_OK(report);
  EXPECT_EQ(report->grants, 2u);
  ASSERT_EQ(report->permissions_skipped.size(), 1u);
  const std::string text = FormatMigrationReport(*report);
  EXPECT_NE(text.find("grant user:alice write on secret:prod/db_password"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("node grants are not supported"), std::string::npos)
      << text;

  std::unique_ptr<SqliteSecretStore> store = OpenTarget();
  ASSERT_NE(store, nullptr);
  auto grants = GrantStore::Open(store.get(), &clock_);
  ASSERT_OK(grants);
  EXPECT_EQ((*grants)->ListAll().size(), 2u);
  GrantAuthorizerOptions options;
  options.environment_scope =
      [](absl::string_view id) -> absl::optional<std::string> {
    if (id == kStagingEnv) return absl::StrCat("env:", kStagingEnv);
    return absl::nullopt;
  };
  GrantAuthorizer authz(grants->get(), options);
  Principal proxy;
  proxy.transport = Transport::kTls;
  proxy.api_key_id = "api-server";
  const Resource staging_db{absl::StrCat("env:", kStagingEnv), "db"};
  // The group's environment grant counts (upstream's QUIRK fixed).
  EXPECT_OK(authz.Check(ActingAs(proxy, "bob", {"ops"}), staging_db,
                        AccessLevel::kRead));
  EXPECT_STATUS(
      authz.Check(ActingAs(proxy, "bob", {}), staging_db, AccessLevel::kRead),
      kPermissionDenied);
  EXPECT_OK(authz.Check(ActingAs(proxy, "alice", {}), {"prod", "db_password"},
                        AccessLevel::kWrite));
}

TEST_F(MigrationTest, MalformedPermissionsStopTheMigrationBeforeWriting) {
  const std::string path = absl::StrCat(data_dir_, "/permissions.json");
  WriteFile(path,
            R"([{"id":"0b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b",)"
            R"("subject_kind":"user","subject_id":"alice",)"
            R"("resource_kind":"secret","resource_id":"no-colon",)"
            R"("level":"read","created_at":"2026-11-01T10:00:00Z"}])",
            0600);
  MigrationOptions real = Options(false);
  real.skip_unmapped = true;
  real.permissions_file = path;
  EXPECT_STATUS(Migrate(real, &clock_), kInvalidArgument);
  EXPECT_FALSE(TargetExists());
}

}  // namespace
}  // namespace zlayer::secrets
