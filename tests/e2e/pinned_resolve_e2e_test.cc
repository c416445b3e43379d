// End to end for ResolveEnv's consumer identity and pinned resolution
// (docs/watch.md, "Consumers" and "Pinned resolution") and for the consumer
// counts of RotateSecret and RollbackSecret, through the client library
// against the real zlayer-secretsd over the Unix socket and TLS TCP.
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
    // A deployment name holds no '/' (the CLI refuses one).
    scope_ = absl::StrReplaceAll(
        absl::StrCat(
            "pin-", testing::TransportName(GetParam()), "-",
            ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        {{"/", "-"}});
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

// Destroyed, then created again under the same name: its v1 is another
// secret, and a receipt's pin to the old v1 must not resolve it.
TEST_P(PinnedResolveE2eTest, SecretCreatedAgainAfterDestroyDoesNotMatchOldPin) {
  Set("db", "first-life");
  Set("api", "api-one");
  absl::StatusOr<RemoteResolvedEnv> first =
      provider_->ResolveEnv(env_, context_);
  ASSERT_TRUE(first.ok()) << first.status();
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = Target();
  destroy.set_name("db");
  ASSERT_TRUE(client_->DestroySecret(destroy).ok());
  Set("db", "second-life");

  v1::ResolveEnvRequest req;
  req.mutable_env()->insert(env_.begin(), env_.end());
  req.mutable_context()->set_deployment(scope_);
  req.mutable_pin()->Assign(first->receipt.begin(), first->receipt.end());
  ASSERT_EQ(req.pin(1).key(), "DB");
  ASSERT_EQ(req.pin(1).version(), 1u);
  ASSERT_FALSE(req.pin(1).incarnation().empty());
  absl::StatusOr<v1::ResolveEnvResponse> r = client_->ResolveEnv(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("destroyed and created again"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("second-life")));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("first-life")));
}

// The CLI: `run --consumer C` records the consumer, `rotate` says who is
// left on the previous version, `run --pin FILE` starts the child with the
// pinned (old) value.
TEST_P(PinnedResolveE2eTest, CliRunWithConsumerAndPin) {
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::Runfile("client/zlayer-secret")};
    argv.insert(argv.end(), daemon_->cli_args().begin(),
                daemon_->cli_args().end());
    argv.push_back("--deployment");
    argv.push_back(scope_);
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunWithEnvironment(argv, "", {});
  };
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  };
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  };
  const std::string tag = testing::TransportName(GetParam());
  const std::string env_file = daemon_->Path("pin-" + tag + ".env");
  const std::string pin_file = daemon_->Path("pin-" + tag + ".receipt");
  const std::string out = daemon_->Path("pin-" + tag + ".out");
  write(env_file, "DB=$S:db\n");
  Set("db", "pw-1");
  const std::vector<std::string> child = {
      "--", "/bin/sh", "-c", absl::StrCat("printf '%s' \"$DB\" > '", out, "'")};
  auto run = [&](std::vector<std::string> options) {
    std::vector<std::string> args = {"run", "--env-file", env_file};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), child.begin(), child.end());
    return cli(args);
  };

  testing::ProcessResult first = run({"--consumer", "shop/web/1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(read(out), "pw-1");

  testing::ProcessResult rotated = cli({"rotate", "db", "--value", "pw-2"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_THAT(rotated.out,
              HasSubstr("1 live consumer still holds v1 (zlayer-secret "
                        "consumers db)"));

  write(pin_file, absl::StrCat("receipt DB ", scope_, "/db 1\nposition 1-1\n"));
  testing::ProcessResult pinned = run({"--pin", pin_file});
  ASSERT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_EQ(read(out), "pw-1");

  testing::ProcessResult current = run({});
  ASSERT_EQ(current.exit_code, 0) << current.err;
  EXPECT_EQ(read(out), "pw-2");

  write(pin_file, absl::StrCat("receipt DB ", scope_, "/db 9\n"));
  write(out, "not started");
  testing::ProcessResult gone = run({"--pin", pin_file});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("pinned version 9"));
  EXPECT_EQ(read(out), "not started");
}

ZS_INSTANTIATE_FOR_TRANSPORTS(PinnedResolveE2eTest);

}  // namespace
}  // namespace zlayer::secrets
