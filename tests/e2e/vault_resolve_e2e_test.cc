// End to end: zlayer-secretsd started with --vault-scope resolves an env map
// that mixes secrets in its own SQLite store and secrets in Vault through
// ResolveEnv. "Vault" is tests/testutil/fake_vault_server, a KV v2 server
// written for the tests from Vault's documented API (docs/vault.md).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/fake_vault_server.h"

namespace zlayer::secrets {
namespace {

using testing::FakeVaultServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "hvs.e2e-token-61c0";

class VaultResolveE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeVaultServer::Options o;
    o.token = kToken;
    absl::StatusOr<std::unique_ptr<FakeVaultServer>> vault =
        FakeVaultServer::Start(std::move(o));
    ASSERT_TRUE(vault.ok()) << vault.status();
    vault_ = *std::move(vault);
    ASSERT_TRUE(
        testing::WriteFile(dir_.Sub("vault-token"), absl::StrCat(kToken, "\n"))
            .ok());
    std::vector<std::string> args = {
        "--data-dir",
        dir_.Sub("data"),
        "--key-dir",
        dir_.Sub("data"),
        "--socket",
        dir_.Sub("d.sock"),
        "--vault-addr",
        vault_->address(),
        "--vault-token-file",
        dir_.Sub("vault-token"),
        "--vault-timeout",
        "5s",
        // Service "api" of deployment "shop", and all of deployment
        // "legacy", live in Vault; deployment "shop" itself in SQLite.
        "--vault-scope",
        "shop/api=secret/apps/shop-api",
        "--vault-scope",
        "legacy=secret/legacy",
    };
    daemon_ = testing::StartReadyDaemon(dir_, args, absl::Seconds(20));
    ASSERT_NE(daemon_, nullptr);
    ClientOptions options;
    options.address = "unix:" + dir_.Sub("d.sock");
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  void TearDown() override {
    if (daemon_ != nullptr) {
      testing::StopDaemonCleanly(daemon_, absl::Seconds(20));
    }
  }

  void SetInSqlite(const std::string& scope, const std::string& name,
                   const std::string& value) {
    v1::SetSecretRequest req;
    req.mutable_target()->set_scope(scope);
    req.set_name(name);
    req.set_value(value);
    absl::StatusOr<v1::SetSecretResponse> r = client_->SetSecret(req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  absl::StatusOr<v1::ResolveEnvResponse> Resolve(
      const std::string& deployment,
      const std::map<std::string, std::string>& env) {
    v1::ResolveEnvRequest req;
    req.mutable_context()->set_deployment(deployment);
    for (const auto& [k, v] : env) (*req.mutable_env())[k] = v;
    return client_->ResolveEnv(req);
  }

  testing::TempDir dir_;
  std::unique_ptr<FakeVaultServer> vault_;
  std::unique_ptr<testing::DaemonProcess> daemon_;
  std::unique_ptr<SecretsClient> client_;
};

const v1::ResolvedEntry* Receipt(const v1::ResolveEnvResponse& r,
                                 const std::string& key) {
  for (const v1::ResolvedEntry& e : r.receipt()) {
    if (e.key() == key) return &e;
  }
  return nullptr;
}

TEST_F(VaultResolveE2eTest, ResolvesSqliteAndVaultReferencesInOneCall) {
  SetInSqlite("shop", "db_password", "sqlite-pw");
  vault_->PutRaw("apps/shop-api/api_key", R"({"value":"vault-key-1"})");
  vault_->PutRaw("apps/shop-api/api_key", R"({"value":"vault-key-2"})");
  vault_->PutRaw("apps/shop-api/config",
                 R"({"value":"{\"user\":\"svc\",\"port\":5432}"})");
  vault_->PutRaw("legacy/token", R"({"value":"legacy-token"})");

  absl::StatusOr<v1::ResolveEnvResponse> r =
      Resolve("shop", {{"DB", "$S:db_password"},
                       {"API_KEY", "$S:@api/api_key"},
                       {"API_USER", "$S:@api/config/user"},
                       {"PLAIN", "not-a-reference"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->env().at("DB"), "sqlite-pw");
  EXPECT_EQ(r->env().at("API_KEY"), "vault-key-2");
  EXPECT_EQ(r->env().at("API_USER"), "svc");
  EXPECT_EQ(r->env().at("PLAIN"), "not-a-reference");
  // The receipt names the daemon's scope and KV v2's own version.
  ASSERT_NE(Receipt(*r, "API_KEY"), nullptr);
  const v1::ResolvedEntry key = *Receipt(*r, "API_KEY");
  EXPECT_EQ(key.scope(), "shop/api");
  EXPECT_EQ(key.version(), 2u);
  EXPECT_GT(vault_->RequestCount("secret/data/apps/shop-api/api_key"), 0);
  // Nothing of deployment "shop" itself was asked of Vault.
  EXPECT_EQ(vault_->RequestCount("secret/data/shop"), 0);

  // A whole deployment mapped to a prefix named after it: upstream's layout,
  // {scope}/{name} inside the mount.
  r = Resolve("legacy", {{"T", "$S:token"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->env().at("T"), "legacy-token");

  // Pinned resolution reads KV v2's old version.
  v1::ResolveEnvRequest pinned;
  pinned.mutable_context()->set_deployment("shop");
  (*pinned.mutable_env())["API_KEY"] = "$S:@api/api_key";
  v1::ResolvedEntry* pin = pinned.add_pin();
  *pin = key;
  pin->set_version(1);
  r = client_->ResolveEnv(pinned);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->env().at("API_KEY"), "vault-key-1");
}

TEST_F(VaultResolveE2eTest, MissingVaultSecretFailsTheCallAndNamesTheEntry) {
  SetInSqlite("shop", "db_password", "sqlite-pw");
  absl::StatusOr<v1::ResolveEnvResponse> r = Resolve(
      "shop", {{"DB", "$S:db_password"}, {"API_KEY", "$S:@api/absent"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("API_KEY"));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("sqlite-pw")));
}

TEST_F(VaultResolveE2eTest, VaultRefusingTheTokenIsPermissionDenied) {
  vault_->PutRaw("apps/shop-api/api_key", R"({"value":"vault-key"})");
  vault_->RevokeToken(kToken);
  absl::StatusOr<v1::ResolveEnvResponse> r =
      Resolve("shop", {{"API_KEY", "$S:@api/api_key"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
      << r.status();
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(kToken)));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("vault-key")));
}

}  // namespace
}  // namespace zlayer::secrets
