// End to end for ResolveEnv's consumer identity and pinned resolution
// (docs/watch.md, "Consumers" and "Pinned resolution") and for the consumer
// counts of RotateSecret and RollbackSecret, through the client library
// against the real zlayer-secretsd over the Unix socket and TLS TCP.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/remote_secrets_provider.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PinnedResolveE2eTest : public testing::TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(daemon_->client_options());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    provider_ = std::make_unique<RemoteSecretsProvider>(client_.get());
    scope_ = absl::StrCat(
        "pin-", testing::TransportName(GetParam()), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    context_.deployment = scope_;
  }

  v1::Target Target() {
    v1::Target t;
    t.set_scope(scope_);
    return t;
  }

  void Set(const std::string& name, const std::string& value) {
    v1::SetSecretRequest req;
    *req.mutable_target() = Target();
    req.set_name(name);
    req.set_value(value);
    ASSERT_TRUE(client_->SetSecret(req).ok());
  }

  absl::StatusOr<v1::RotateSecretResponse> Rotate(const std::string& name,
                                                  const std::string& value) {
    v1::RotateSecretRequest req;
    *req.mutable_target() = Target();
    req.set_name(name);
    req.set_value(value);
    return client_->RotateSecret(req);
  }

  std::vector<v1::ConsumerUse> Consumers(const std::string& name) {
    v1::ListConsumersRequest req;
    *req.mutable_target() = Target();
    req.set_name(name);
    absl::StatusOr<v1::ListConsumersResponse> r = client_->ListConsumers(req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->consumers().begin(), r->consumers().end()};
  }

  static std::string Value(const RemoteResolvedEnv& env,
                           const std::string& key) {
    auto it = env.values.find(key);
    return it == env.values.end() ? "<missing>"
                                  : std::string(it->second.InsecureView());
  }

  std::unique_ptr<SecretsClient> client_;
  std::unique_ptr<RemoteSecretsProvider> provider_;
  std::string scope_;
  RemoteResolveContext context_;
  const std::map<std::string, std::string> env_ = {{"DB", "$S:db"},
                                                   {"API", "$S:api"}};
};

TEST_P(PinnedResolveE2eTest, ResolvingConsumerIsListedAndCountedOnRotation) {
  Set("db", "db-one");
  Set("api", "api-one");
  absl::StatusOr<RemoteResolvedEnv> first =
      provider_->ResolveEnv(env_, context_, "prod/api/7", {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Value(*first, "DB"), "db-one");

  std::vector<v1::ConsumerUse> users = Consumers("db");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].consumer(), "prod/api/7");
  EXPECT_EQ(users[0].version(), 1u);
  EXPECT_TRUE(users[0].current());
  EXPECT_FALSE(users[0].watching());

  absl::StatusOr<v1::RotateSecretResponse> rotated = Rotate("db", "db-two");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->previous_version(), 1u);
  EXPECT_EQ(rotated->consumers_on_previous(), 1u);
  users = Consumers("db");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_FALSE(users[0].current());

  // The consumer moves to v2; a rollback to v1 leaves it on the replaced v2.
  ASSERT_TRUE(provider_->ResolveEnv(env_, context_, "prod/api/7", {}).ok());
  v1::RollbackSecretRequest rollback;
  *rollback.mutable_target() = Target();
  rollback.set_name("db");
  rollback.set_version(1);
  absl::StatusOr<v1::RollbackSecretResponse> rolled =
      client_->RollbackSecret(rollback);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->metadata().version(), 3u);
  EXPECT_EQ(rolled->consumers_on_previous(), 1u);

  // prod/api/7 still holds api v1; an anonymous resolve records nobody.
  ASSERT_TRUE(provider_->ResolveEnv(env_, context_).ok());
  absl::StatusOr<v1::RotateSecretResponse> api = Rotate("api", "api-two");
  ASSERT_TRUE(api.ok());
  EXPECT_EQ(api->consumers_on_previous(), 1u);  // prod/api/7 holds api v1
  EXPECT_EQ(Consumers("api").size(), 1u);
}

TEST_P(PinnedResolveE2eTest, PinnedResolveReturnsTheOldVersionAfterRotation) {
  Set("db", "db-one");
  Set("api", "api-one");
  absl::StatusOr<RemoteResolvedEnv> first =
      provider_->ResolveEnv(env_, context_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Rotate("db", "db-two").ok());
  ASSERT_TRUE(Rotate("api", "api-two").ok());

  absl::StatusOr<RemoteResolvedEnv> pinned =
      provider_->ResolveEnv(env_, context_, "prod/api/7", first->receipt);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(Value(*pinned, "DB"), "db-one");
  EXPECT_EQ(Value(*pinned, "API"), "api-one");
  for (const v1::ResolvedEntry& r : pinned->receipt) {
    EXPECT_EQ(r.version(), 1u) << r.key();
  }
  // The pinned consumer is recorded on the versions it got.
  std::vector<v1::ConsumerUse> users = Consumers("db");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].version(), 1u);

  absl::StatusOr<RemoteResolvedEnv> current =
      provider_->ResolveEnv(env_, context_);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(Value(*current, "DB"), "db-two");
}

TEST_P(PinnedResolveE2eTest, DestroyedPinnedVersionFailsTheWholeCall) {
  Set("db", "db-one");
  Set("api", "api-one");
  absl::StatusOr<RemoteResolvedEnv> first =
      provider_->ResolveEnv(env_, context_);
  ASSERT_TRUE(first.ok()) << first.status();
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = Target();
  destroy.set_name("db");
  ASSERT_TRUE(client_->DestroySecret(destroy).ok());

  v1::ResolveEnvRequest req;
  req.mutable_env()->insert(env_.begin(), env_.end());
  req.mutable_context()->set_deployment(scope_);
  req.mutable_pin()->Assign(first->receipt.begin(), first->receipt.end());
  ASSERT_EQ(req.pin(0).key(), "API");  // receipts are ordered by key
  req.mutable_pin(0)->set_version(7);  // never existed
  absl::StatusOr<v1::ResolveEnvResponse> r = client_->ResolveEnv(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("API"));
  EXPECT_THAT(r.status().message(), HasSubstr("pinned version 7"));
  EXPECT_THAT(r.status().message(), HasSubstr("DB"));
  EXPECT_THAT(r.status().message(), HasSubstr("pinned version 1"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("api-one")));
}

ZS_INSTANTIATE_FOR_TRANSPORTS(PinnedResolveE2eTest);

}  // namespace
}  // namespace zlayer::secrets
