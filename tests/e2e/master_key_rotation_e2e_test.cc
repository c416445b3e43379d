// Master-key rotation through the real daemon over TLS (issue 19): API-key
// hashes use a subkey of the store's subkey seed, which rotation re-wraps
// but never changes, so an API key issued before Admin.RotateMasterKey keeps
// working right after it and after the daemon restarts with the new key;
// every secret (every version) still reads back, and the store is sealed by
// the new key id.
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using testing::E2eDaemon;
using testing::Transport;

constexpr char kScope[] = "mk-rotation";
constexpr int kSecrets = 25;

v1::Target Scope() {
  v1::Target t;
  t.set_scope(kScope);
  return t;
}

std::unique_ptr<SecretsClient> Connect(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// The value of `name` at `version` (0 = current), or the error's code.
std::string Read(SecretsClient* client, const std::string& name,
                 uint32_t version = 0) {
  v1::GetSecretRequest req;
  *req.mutable_target() = Scope();
  req.set_name(name);
  req.set_version(version);
  absl::StatusOr<v1::GetSecretResponse> resp = client->GetSecret(req);
  if (!resp.ok()) return absl::StatusCodeToString(resp.status().code());
  return resp->value();
}

class MasterKeyRotationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<E2eDaemon>> started =
        E2eDaemon::Start(Transport::kTls);
    ASSERT_TRUE(started.ok()) << started.status();
    daemon_ = *std::move(started);
    admin_ = Connect(daemon_->client_options());
    ASSERT_NE(admin_, nullptr);
  }

  // The admin client and one for the "ci" key, against the daemon's
  // current address.
  void Reconnect() {
    admin_ = Connect(daemon_->client_options());
    ClientOptions options = daemon_->client_options();
    options.api_key = SecretBytes::FromString(ci_key_);
    ci_ = Connect(std::move(options));
    ASSERT_NE(admin_, nullptr);
    ASSERT_NE(ci_, nullptr);
  }

  // Every secret written, at every version, reads back through `client`.
  void ExpectEverySecretReads(SecretsClient* client) {
    for (const auto& [name, values] : written_) {
      EXPECT_EQ(Read(client, name), values.back()) << name;
      for (size_t v = 0; v < values.size(); ++v) {
        EXPECT_EQ(Read(client, name, static_cast<uint32_t>(v + 1)), values[v])
            << name << " v" << v + 1;
      }
    }
  }

  std::unique_ptr<E2eDaemon> daemon_;
  std::unique_ptr<SecretsClient> admin_;
  std::unique_ptr<SecretsClient> ci_;
  std::string ci_key_;
  std::map<std::string, std::vector<std::string>> written_;
};

TEST_F(MasterKeyRotationE2eTest, ApiKeyAndSecretsSurviveRotationAndRestart) {
  for (int i = 0; i < kSecrets; ++i) {
    const std::string name = absl::StrCat("S", i);
    // Some secrets with several versions, so old versions are checked too.
    for (int v = 0; v <= i % 3; ++v) {
      const std::string value = absl::StrCat("value-", i, "-", v);
      v1::SetSecretRequest req;
      *req.mutable_target() = Scope();
      req.set_name(name);
      req.set_value(value);
      ASSERT_TRUE(admin_->SetSecret(req).ok());
      written_[name].push_back(value);
    }
  }

  // A non-admin API key that may read the scope.
  v1::CreateApiKeyRequest create;
  create.set_id("ci");
  absl::StatusOr<v1::CreateApiKeyResponse> created =
      admin_->CreateApiKey(create);
  ASSERT_TRUE(created.ok()) << created.status();
  ci_key_ = created->presentable_key();
  v1::GrantRequest grant;
  grant.set_subject("apikey:ci");
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id(kScope);
  grant.set_level(v1::ACCESS_LEVEL_READ);
  ASSERT_TRUE(admin_->Grant(grant).ok());
  Reconnect();
  ASSERT_EQ(Read(ci_.get(), "S0"), "value-0-0");
  absl::StatusOr<v1::WhoAmIResponse> who = ci_->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:ci");

  absl::StatusOr<v1::RotateMasterKeyResponse> rotated =
      admin_->RotateMasterKey({});
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->new_key_id(), 2u);
  EXPECT_EQ(rotated->versions_reencrypted(), 0u);  // DEKs re-wrapped only

  // At once, on the running daemon (same connections).
  who = ci_->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:ci");
  ExpectEverySecretReads(ci_.get());
  ASSERT_TRUE(admin_->WhoAmI({}).ok());

  // After a restart, which must open the store with the new key.
  ci_.reset();
  admin_.reset();
  absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Reconnect();
  who = ci_->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:ci");
  ExpectEverySecretReads(ci_.get());
  ExpectEverySecretReads(admin_.get());

  // The key still means something: a wrong secret for the same id fails.
  ClientOptions wrong = daemon_->client_options();
  wrong.api_key =
      SecretBytes::FromString(ci_key_.substr(0, ci_key_.size() - 1) +
                              (ci_key_.back() == 'A' ? "B" : "A"));
  std::unique_ptr<SecretsClient> impostor = Connect(std::move(wrong));
  ASSERT_NE(impostor, nullptr);
  EXPECT_EQ(impostor->WhoAmI({}).status().code(),
            absl::StatusCode::kUnauthenticated);

  // A second rotation, then a restart again: still the same key works.
  rotated = admin_->RotateMasterKey({});
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->new_key_id(), 3u);
  ci_.reset();
  admin_.reset();
  impostor.reset();
  restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Reconnect();
  ExpectEverySecretReads(ci_.get());
}

}  // namespace
}  // namespace zlayer::secrets
