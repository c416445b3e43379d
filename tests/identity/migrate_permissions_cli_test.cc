// `zlayer-secret migrate --permissions FILE` end to end (docs/identity.md,
// "Upstream permissions"; docs/operations.md): the real CLI migrates an
// upstream store (SQLite file and key as upstream writes them) together with
// upstream's StoredPermission JSON into a stopped daemon's data directory;
// the report lists the grants; then the real daemon, started again on that
// directory, answers real calls made by a proxy acting as the imported users
// (x-zlayer-act-as-user/-groups) with the imported grants' allow and deny.
// A malformed permissions file stops the migration with nothing imported.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "core/migrate/upstream_crypto.h"
#include "core/store/sqlite/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using testing::Runfile;
using testing::TempDir;

constexpr char kEnvId[] = "0f1e2d3c-4b5a-4697-8877-665544332211";

// One upstream permission as upstream's GET /api/v1/permissions lists it.
std::string Permission(int n, const std::string& subject_kind,
                       const std::string& subject_id,
                       const std::string& resource_kind,
                       const std::string& resource_id,
                       const std::string& level) {
  return absl::StrCat(
      R"({"id":"00000000-0000-4000-8000-00000000000)", n,
      R"(","subject_kind":")", subject_kind, R"(","subject_id":")", subject_id,
      R"(","resource_kind":")", resource_kind, R"(","resource_id":)",
      resource_id.empty() ? "null" : absl::StrCat("\"", resource_id, "\""),
      R"(,"level":")", level, R"(","created_at":"2026-11-01T10:00:00Z"})");
}

class MigratePermissionsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Upstream's files: PATH/secrets/secrets.sqlite and
    // PATH/secrets_zlayer.key, one secret in environment kEnvId and two in
    // the deployment scope "prod".
    const std::string up = dir_.Sub("upstream");
    ASSERT_EQ(mkdir(up.c_str(), 0700), 0);
    ASSERT_EQ(mkdir((up + "/secrets").c_str(), 0700), 0);
    const SecretBytes key = SecretBytes::Random(32);
    ASSERT_TRUE(testing::WriteFile(up + "/secrets_zlayer.key",
                                   std::string(key.InsecureView()))
                    .ok());
    absl::StatusOr<std::unique_ptr<Database>> db =
        Database::Open(up + "/secrets/secrets.sqlite", {});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(
        (*db)
            ->Execute("CREATE TABLE secrets (storage_key TEXT PRIMARY KEY "
                      "NOT NULL, encrypted_value BLOB NOT NULL, name TEXT "
                      "NOT NULL, version INTEGER NOT NULL DEFAULT 1, "
                      "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)")
            .ok());
    for (const auto& [scope, name, value] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {absl::StrCat("env:", kEnvId), "DB", "env-db-value"},
             {"prod", "token", "prod-token"},
             {"prod", "other", "prod-other"}}) {
      absl::StatusOr<ScopedStatement> st = (*db)->Prepare(
          "INSERT INTO secrets (storage_key, encrypted_value, name, version, "
          "created_at, updated_at) VALUES (?1, ?2, ?3, 1, "
          "'2026-01-02T03:04:05Z', '2026-01-02T03:04:05Z')");
      ASSERT_TRUE(st.ok()) << st.status();
      ASSERT_TRUE((*st)->BindText(1, absl::StrCat(scope, ":", name)).ok());
      ASSERT_TRUE((*st)
                      ->BindBlob(2, SealUpstreamBlob(
                                        key, SecretBytes::FromString(value)))
                      .ok());
      ASSERT_TRUE((*st)->BindText(3, name).ok());
      ASSERT_TRUE((*st)->Run().ok());
    }
    db->reset();
    ASSERT_TRUE(testing::WriteFile(dir_.Sub("env-names"),
                                   absl::StrCat(kEnvId, "=staging\n"))
                    .ok());

    // The daemon's data directory exists (store and key), as when an
    // operator stops a running daemon to migrate into it.
    StartDaemon();
    daemon_->Signal(SIGTERM);
    ASSERT_TRUE(daemon_->WaitForExit(absl::Seconds(30)).ok());
    daemon_.reset();
  }

  std::string data() const { return dir_.Sub("data"); }

  void StartDaemon() {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", data(), "--key-dir", data(), "--bootstrap-admin-key",
         "none", "--socket", dir_.Sub("d.sock"), "--log-level", "info"},
        dir_.path());
    ASSERT_TRUE(proc.ok()) << proc.status();
    daemon_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        daemon_->WaitForLog("event=ready", absl::Seconds(30));
    ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << daemon_->Stderr();
  }

  // Runs `zlayer-secret migrate` with `permissions` as the file's text.
  testing::ProcessResult Migrate(const std::string& permissions) {
    EXPECT_TRUE(
        testing::WriteFile(dir_.Sub("permissions.json"), permissions).ok());
    return testing::RunProcess(
        {Runfile("client/zlayer-secret"), "migrate", "--from-upstream",
         dir_.Sub("upstream"), "--data-dir", data(), "--env-names",
         dir_.Sub("env-names"), "--permissions", dir_.Sub("permissions.json")},
        "", {"HOME=" + dir_.path()});
  }

  // The local administrator on the Unix socket (this uid), with the right
  // to act as every user and group (administrators have none implicitly).
  std::unique_ptr<SecretsClient> Proxy() {
    ClientOptions options;
    options.address = "unix:" + dir_.Sub("d.sock");
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(MigratePermissionsCliTest, ImportedGrantsDecideRealCalls) {
  const std::string json = absl::StrCat(
      "[", Permission(1, "user", "alice", "environment", kEnvId, "read"), ",",
      Permission(2, "group", "ops", "environment", kEnvId, "read"), ",",
      Permission(3, "user", "carol", "secret", "prod:token", "write"), ",",
      Permission(4, "user", "alice", "node", "", "write"), "]");
  testing::ProcessResult migrated = Migrate(json);
  ASSERT_EQ(migrated.exit_code, 0) << migrated.out << migrated.err;
  // The report: three grants, the node grant skipped with its reason.
  EXPECT_THAT(migrated.out, HasSubstr("3 grants"));
  EXPECT_THAT(migrated.out,
              HasSubstr("grant user:carol write on secret:prod/token"));
  EXPECT_THAT(migrated.out, HasSubstr("grant user:alice read on environment"));
  EXPECT_THAT(migrated.out, HasSubstr("grant group:ops read on environment"));
  EXPECT_THAT(migrated.out, HasSubstr("upstream permissions skipped: 1"));
  EXPECT_THAT(migrated.out, HasSubstr("node grants are not supported"));

  StartDaemon();
  std::unique_ptr<SecretsClient> proxy = Proxy();
  ASSERT_NE(proxy, nullptr);
  absl::StatusOr<v1::ListGrantsResponse> listed = proxy->ListGrants({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->grants_size(), 3);
  v1::GrantRequest impersonate;
  impersonate.set_subject(absl::StrCat("uid:", getuid()));
  impersonate.mutable_resource()->set_kind(v1::RESOURCE_KIND_IMPERSONATE);
  impersonate.mutable_resource()->set_id("user:*");
  impersonate.set_level(v1::ACCESS_LEVEL_READ);  // not consulted
  ASSERT_TRUE(proxy->Grant(impersonate).ok());
  impersonate.mutable_resource()->set_id("group:*");
  ASSERT_TRUE(proxy->Grant(impersonate).ok());

  auto as = [](const std::string& user, std::vector<std::string> groups) {
    CallOptions call;
    call.act_as_user = user;
    call.act_as_groups = std::move(groups);
    return call;
  };
  auto get = [&](const std::string& scope, const std::string& name,
                 const CallOptions& call) {
    v1::GetSecretRequest req;
    req.mutable_target()->set_scope(scope);
    req.set_name(name);
    return proxy->GetSecret(req, call);
  };
  const std::string env_scope = absl::StrCat("env:", kEnvId);
  // alice: read on the environment, nothing else.
  absl::StatusOr<v1::GetSecretResponse> got =
      get(env_scope, "DB", as("alice", {}));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), "env-db-value");
  EXPECT_EQ(get("prod", "token", as("alice", {})).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::SetSecretRequest set;
  set.mutable_target()->set_scope(env_scope);
  set.set_name("DB");
  set.set_value("changed");
  EXPECT_EQ(proxy->SetSecret(set, as("alice", {})).status().code(),
            absl::StatusCode::kPermissionDenied);
  // bob reads the environment only through the group (upstream's QUIRK,
  // which ignored group grants on environments, fixed).
  EXPECT_TRUE(get(env_scope, "DB", as("bob", {"ops"})).ok());
  EXPECT_EQ(get(env_scope, "DB", as("bob", {})).status().code(),
            absl::StatusCode::kPermissionDenied);
  // carol: write on exactly prod/token.
  EXPECT_TRUE(get("prod", "token", as("carol", {})).ok());
  set.mutable_target()->set_scope("prod");
  set.set_name("token");
  EXPECT_TRUE(proxy->SetSecret(set, as("carol", {})).ok());
  EXPECT_EQ(get("prod", "other", as("carol", {})).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(get(env_scope, "DB", as("carol", {})).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(MigratePermissionsCliTest, MalformedFileImportsNothing) {
  // The second element is malformed (a secret id without "scope:name");
  // the first, valid one must not be imported either, nor any secret.
  const std::string json = absl::StrCat(
      "[", Permission(1, "user", "alice", "environment", kEnvId, "read"), ",",
      Permission(2, "user", "alice", "secret", "no-colon", "read"), "]");
  testing::ProcessResult migrated = Migrate(json);
  EXPECT_NE(migrated.exit_code, 0) << migrated.out;
  EXPECT_THAT(migrated.err, HasSubstr("upstream permission #1 (id "
                                      "00000000-0000-4000-8000-000000000002)"));
  EXPECT_THAT(migrated.err, HasSubstr("nothing imported"));
  // Not JSON at all: refused too.
  testing::ProcessResult garbage = Migrate("{not json");
  EXPECT_NE(garbage.exit_code, 0) << garbage.out;

  StartDaemon();
  std::unique_ptr<SecretsClient> admin = Proxy();
  ASSERT_NE(admin, nullptr);
  absl::StatusOr<v1::ListGrantsResponse> listed = admin->ListGrants({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->grants_size(), 0);
  v1::ListSecretsRequest list;
  list.mutable_target()->set_scope("prod");
  absl::StatusOr<v1::ListSecretsResponse> secrets = admin->ListSecrets(list);
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_EQ(secrets->secrets_size(), 0);
}

}  // namespace
}  // namespace zlayer::secrets
