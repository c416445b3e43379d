// End to end for watching (issue 12, docs/watch.md): WatchEnv, WatchSecrets
// and ListConsumers through the client library against the real
// zlayer-secretsd, over the Unix socket and over TLS TCP. A second client
// makes the changes; the watcher must see them, resume without missing one,
// hear when its access is revoked, and have its stream ended with OK by the
// daemon's drain. The stream limits are checked on a daemon of their own.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/e2e/e2e_daemon.h"
#include "tests/testutil/daemon_launch.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using testing::Transport;

constexpr absl::Duration kStreamLimit = absl::Seconds(60);

v1::Target Scope(const std::string& scope) {
  v1::Target t;
  t.set_scope(scope);
  return t;
}

// One open WatchEnv stream with its context.
struct EnvWatch {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEnvResponse>> reader;

  // The next message; fails the test if the stream ends instead.
  v1::WatchEnvResponse Next() {
    v1::WatchEnvResponse message;
    EXPECT_TRUE(reader->Read(&message)) << "the stream ended early";
    return message;
  }
  grpc::Status End() { return reader->Finish(); }
};

uint32_t VersionOf(const v1::WatchEnvResponse& message,
                   const std::string& key) {
  for (const auto& r : message.receipt()) {
    if (r.key() == key) return r.version();
  }
  return 0;
}

class WatchE2eTest : public testing::TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    if (HasFatalFailure()) return;
    client_ = Connect();
    scope_ = absl::StrCat(
        "watch-", testing::TransportName(GetParam()), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::unique_ptr<SecretsClient> Connect(ClientOptions options) {
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<SecretsClient> Connect() {
    return Connect(daemon_->client_options());
  }

  uint32_t Set(const std::string& name, const std::string& value) {
    v1::SetSecretRequest req;
    *req.mutable_target() = Scope(scope_);
    req.set_name(name);
    req.set_value(value);
    absl::StatusOr<v1::SetSecretResponse> r = client_->SetSecret(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->metadata().version() : 0;
  }

  uint32_t Rotate(SecretsClient* client, const std::string& name) {
    v1::RotateSecretRequest req;
    *req.mutable_target() = Scope(scope_);
    req.set_name(name);
    req.set_value("rotated");
    absl::StatusOr<v1::RotateSecretResponse> r = client->RotateSecret(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->new_version() : 0;
  }

  v1::WatchEnvRequest EnvRequest(const std::string& consumer = "") {
    v1::WatchEnvRequest req;
    (*req.mutable_env())["DB"] = "$S:db";
    (*req.mutable_env())["API"] = "$S:api";
    (*req.mutable_env())["MODE"] = "plain";
    req.mutable_context()->set_deployment(scope_);
    req.set_consumer(consumer);
    return req;
  }

  EnvWatch Watch(SecretsClient* client, const v1::WatchEnvRequest& req) {
    EnvWatch w;
    w.context = std::make_unique<grpc::ClientContext>();
    w.context->set_deadline(absl::ToChronoTime(absl::Now() + kStreamLimit));
    w.reader = client->WatchEnv(w.context.get(), req);
    return w;
  }

  std::unique_ptr<SecretsClient> client_;
  std::string scope_;
};

TEST_P(WatchE2eTest, WatcherSeesARotationMadeByAnotherClient) {
  Set("db", "canary-db-value");
  Set("api", "key");
  std::unique_ptr<SecretsClient> watcher = Connect();
  EnvWatch w = Watch(watcher.get(), EnvRequest());
  v1::WatchEnvResponse first = w.Next();
  // The receipt: every reference with its version, no value anywhere.
  ASSERT_EQ(first.receipt_size(), 2);
  EXPECT_EQ(VersionOf(first, "DB"), 1u);
  EXPECT_EQ(first.receipt(1).scope(), scope_);
  EXPECT_TRUE(first.errors().empty());
  EXPECT_FALSE(first.position().empty());
  EXPECT_EQ(first.SerializeAsString().find("canary-db-value"),
            std::string::npos);

  EXPECT_EQ(Rotate(client_.get(), "db"), 2u);
  v1::WatchEnvResponse next = w.Next();
  EXPECT_EQ(VersionOf(next, "DB"), 2u);
  ASSERT_EQ(next.changes_size(), 1);
  EXPECT_EQ(next.changes(0).kind(), v1::CHANGE_KIND_ROTATE);
  EXPECT_EQ(next.changes(0).name(), "db");
  EXPECT_EQ(next.changes(0).previous_version(), 1u);
  EXPECT_NE(next.position(), first.position());

  // Delete: the entry moves to the errors.
  v1::DeleteSecretRequest del;
  *del.mutable_target() = Scope(scope_);
  del.set_name("api");
  ASSERT_TRUE(client_->DeleteSecret(del).ok());
  v1::WatchEnvResponse deleted = w.Next();
  ASSERT_EQ(deleted.errors_size(), 1);
  EXPECT_EQ(deleted.errors(0).key(), "API");
  EXPECT_EQ(deleted.errors(0).code(), static_cast<int>(grpc::NOT_FOUND));
  EXPECT_EQ(deleted.changes(0).kind(), v1::CHANGE_KIND_DELETE);
  w.context->TryCancel();
  EXPECT_EQ(w.End().error_code(), grpc::CANCELLED);
}

// Issue 12, "an environment renamed or deleted": `$S::staging/db` names its
// environment; renaming it away breaks the reference (an event and an error
// entry), renaming it back restores the receipt, deleting it breaks it again.
TEST_P(WatchE2eTest, EnvironmentRenamedOrDeletedReachesTheWatcher) {
  v1::CreateEnvironmentRequest create;
  create.set_name("staging");
  absl::StatusOr<v1::Environment> env = client_->CreateEnvironment(create);
  ASSERT_TRUE(env.ok()) << env.status();
  v1::Target staging;
  staging.mutable_environment()->set_name_or_id("staging");
  v1::SetSecretRequest set;
  *set.mutable_target() = staging;
  set.set_name("db");
  set.set_value("canary-env-value");
  ASSERT_TRUE(client_->SetSecret(set).ok());

  std::unique_ptr<SecretsClient> watcher = Connect();
  v1::WatchEnvRequest req;
  (*req.mutable_env())["DB"] = "$S::staging/db";
  EnvWatch w = Watch(watcher.get(), req);
  v1::WatchEnvResponse first = w.Next();
  // WatchSecrets: the environment's own scope hears of the rename, another
  // scope does not.
  v1::WatchSecretsRequest on_env;
  *on_env.mutable_target() = staging;
  grpc::ClientContext env_context;
  env_context.set_deadline(absl::ToChronoTime(absl::Now() + kStreamLimit));
  auto env_reader = client_->WatchSecrets(&env_context, on_env);
  v1::WatchSecretsRequest on_other;
  *on_other.mutable_target() = Scope(scope_);
  grpc::ClientContext other_context;
  other_context.set_deadline(absl::ToChronoTime(absl::Now() + kStreamLimit));
  auto other_reader = client_->WatchSecrets(&other_context, on_other);
  v1::WatchSecretsResponse opened;
  ASSERT_TRUE(env_reader->Read(&opened));
  ASSERT_TRUE(other_reader->Read(&opened));
  ASSERT_EQ(first.receipt_size(), 1);
  EXPECT_EQ(first.receipt(0).scope(), env->scope());
  EXPECT_TRUE(first.errors().empty());

  v1::UpdateEnvironmentRequest rename;
  rename.set_id(env->id());
  rename.set_name("stage2");
  ASSERT_TRUE(client_->UpdateEnvironment(rename).ok());
  v1::WatchEnvResponse away = w.Next();
  ASSERT_EQ(away.changes_size(), 1);
  const v1::WatchEvent& renamed = away.changes(0);
  EXPECT_EQ(renamed.kind(), v1::CHANGE_KIND_ENVIRONMENT);
  EXPECT_EQ(renamed.scope(), env->scope());
  EXPECT_EQ(renamed.environment_id(), env->id());
  EXPECT_EQ(renamed.environment_name(), "stage2");
  EXPECT_EQ(renamed.previous_environment_name(), "staging");
  EXPECT_TRUE(away.receipt().empty());
  ASSERT_EQ(away.errors_size(), 1);
  EXPECT_EQ(away.errors(0).key(), "DB");
  EXPECT_EQ(away.errors(0).code(), static_cast<int>(grpc::NOT_FOUND));
  EXPECT_THAT(away.errors(0).message(), HasSubstr("staging"));
  v1::WatchSecretsResponse env_event;
  ASSERT_TRUE(env_reader->Read(&env_event));
  ASSERT_EQ(env_event.events_size(), 1);
  EXPECT_EQ(env_event.events(0).kind(), v1::CHANGE_KIND_ENVIRONMENT);
  EXPECT_EQ(env_event.events(0).environment_name(), "stage2");
  Set("marker", "x");  // the other scope's next event is this, not the rename
  v1::WatchSecretsResponse other_event;
  ASSERT_TRUE(other_reader->Read(&other_event));
  ASSERT_EQ(other_event.events_size(), 1);
  EXPECT_EQ(other_event.events(0).name(), "marker");
  env_context.TryCancel();
  env_reader->Finish();
  other_context.TryCancel();
  other_reader->Finish();

  rename.set_name("staging");
  ASSERT_TRUE(client_->UpdateEnvironment(rename).ok());
  v1::WatchEnvResponse back = w.Next();
  ASSERT_EQ(back.changes_size(), 1);
  EXPECT_EQ(back.changes(0).environment_name(), "staging");
  EXPECT_TRUE(back.errors().empty());
  ASSERT_EQ(back.receipt_size(), 1);
  EXPECT_EQ(back.receipt(0).scope(), env->scope());
  EXPECT_EQ(back.receipt(0).version(), 1u);

  // A new description resolves nothing differently: no message for it (the
  // destroy below is the next one).
  rename.set_name("");
  rename.set_description("new words");
  ASSERT_TRUE(client_->UpdateEnvironment(rename).ok());

  // Only an empty environment can be deleted: destroy its secret first.
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = staging;
  destroy.set_name("db");
  ASSERT_TRUE(client_->DestroySecret(destroy).ok());
  v1::WatchEnvResponse destroyed = w.Next();
  ASSERT_EQ(destroyed.changes_size(), 1);
  EXPECT_EQ(destroyed.changes(0).kind(), v1::CHANGE_KIND_DESTROY);
  ASSERT_EQ(destroyed.errors_size(), 1);

  v1::DeleteEnvironmentRequest del;
  del.set_id(env->id());
  ASSERT_TRUE(client_->DeleteEnvironment(del).ok());
  v1::WatchEnvResponse deleted = w.Next();
  ASSERT_EQ(deleted.changes_size(), 1);
  EXPECT_EQ(deleted.changes(0).kind(), v1::CHANGE_KIND_ENVIRONMENT);
  EXPECT_EQ(deleted.changes(0).environment_name(), "");
  EXPECT_EQ(deleted.changes(0).previous_environment_name(), "staging");
  ASSERT_EQ(deleted.errors_size(), 1);
  EXPECT_EQ(deleted.errors(0).code(), static_cast<int>(grpc::NOT_FOUND));
  EXPECT_NE(deleted.errors(0).message(), destroyed.errors(0).message());
  EXPECT_EQ(deleted.SerializeAsString().find("canary-env-value"),
            std::string::npos);
  w.context->TryCancel();
  EXPECT_EQ(w.End().error_code(), grpc::CANCELLED);
}

TEST_P(WatchE2eTest, ResumeAfterReconnectMissesNothing) {
  Set("db", "one");
  Set("api", "key");
  std::string position;
  {
    EnvWatch w = Watch(client_.get(), EnvRequest());
    position = w.Next().position();
    w.context->TryCancel();
    w.End();
  }
  // Changes while nobody watches.
  Rotate(client_.get(), "db");
  Rotate(client_.get(), "api");
  Rotate(client_.get(), "db");
  v1::WatchEnvRequest req = EnvRequest();
  req.set_resume_position(position);
  EnvWatch w = Watch(client_.get(), req);
  v1::WatchEnvResponse resumed = w.Next();
  EXPECT_FALSE(resumed.resync());
  ASSERT_EQ(resumed.changes_size(), 2);  // coalesced per secret, in order
  EXPECT_EQ(resumed.changes(0).name(), "api");
  EXPECT_EQ(resumed.changes(0).version(), 2u);
  EXPECT_EQ(resumed.changes(1).name(), "db");
  EXPECT_EQ(resumed.changes(1).version(), 3u);
  EXPECT_EQ(VersionOf(resumed, "DB"), 3u);
  w.context->TryCancel();
  w.End();
}

TEST_P(WatchE2eTest, ThousandRapidRotationsEndAtTheFinalVersion) {
  Set("db", "one");
  Set("api", "key");
  EnvWatch w = Watch(client_.get(), EnvRequest());
  ASSERT_EQ(VersionOf(w.Next(), "DB"), 1u);
  std::unique_ptr<SecretsClient> writer = Connect();
  uint32_t last = 0;
  for (int i = 0; i < 1000; ++i) last = Rotate(writer.get(), "db");
  ASSERT_EQ(last, 1001u);
  int messages = 0;
  uint32_t seen = 0;
  while (seen != last) {
    v1::WatchEnvResponse m = w.Next();
    if (HasFailure()) break;
    ++messages;
    seen = VersionOf(m, "DB");
  }
  EXPECT_EQ(seen, 1001u);
  EXPECT_LE(messages, 1000);
  w.context->TryCancel();
  w.End();
}

TEST_P(WatchE2eTest, RevokedGrantSaysAccessLost) {
  if (GetParam() != Transport::kTls) {
    GTEST_SKIP() << "a second identity is an API key (TLS)";
  }
  Set("db", "one");
  Set("api", "key");
  const std::string id = "watch-revoke";
  v1::CreateApiKeyRequest create;
  create.set_id(id);
  absl::StatusOr<v1::CreateApiKeyResponse> key = client_->CreateApiKey(create);
  ASSERT_TRUE(key.ok()) << key.status();
  v1::GrantRequest grant;
  grant.set_subject("apikey:" + id);
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id(scope_);
  grant.set_level(v1::ACCESS_LEVEL_EXECUTE);
  absl::StatusOr<v1::AccessGrant> granted = client_->Grant(grant);
  ASSERT_TRUE(granted.ok()) << granted.status();

  ClientOptions options = daemon_->client_options();
  options.api_key = SecretBytes::FromString(key->presentable_key());
  std::unique_ptr<SecretsClient> watcher = Connect(std::move(options));
  EnvWatch w = Watch(watcher.get(), EnvRequest());
  v1::WatchEnvResponse first = w.Next();
  EXPECT_EQ(first.receipt_size(), 2);
  EXPECT_TRUE(first.errors().empty());

  v1::RevokeRequest revoke;
  revoke.set_id(granted->id());
  ASSERT_TRUE(client_->Revoke(revoke).ok());
  v1::WatchEnvResponse lost = w.Next();
  EXPECT_EQ(lost.receipt_size(), 0);
  ASSERT_EQ(lost.errors_size(), 2);
  EXPECT_EQ(lost.errors(0).code(), static_cast<int>(grpc::PERMISSION_DENIED));
  // Grant records are never shown as changes.
  EXPECT_EQ(lost.changes_size(), 0);
  w.context->TryCancel();
  w.End();
}

TEST_P(WatchE2eTest, ConsumersShowWhoHoldsWhichVersion) {
  Set("db", "one");
  Set("api", "key");
  EnvWatch w = Watch(client_.get(), EnvRequest("prod/api/7"));
  ASSERT_EQ(VersionOf(w.Next(), "DB"), 1u);
  Rotate(client_.get(), "db");
  v1::ListConsumersRequest list;
  *list.mutable_target() = Scope(scope_);
  list.set_name("db");
  absl::StatusOr<v1::ListConsumersResponse> consumers =
      client_->ListConsumers(list);
  ASSERT_TRUE(consumers.ok()) << consumers.status();
  ASSERT_EQ(consumers->consumers_size(), 1);
  EXPECT_EQ(consumers->consumers(0).consumer(), "prod/api/7");
  EXPECT_EQ(consumers->consumers(0).version(), 1u);
  EXPECT_TRUE(consumers->consumers(0).watching());
  EXPECT_FALSE(consumers->consumers(0).current());
  w.context->TryCancel();
  w.End();
}

TEST_P(WatchE2eTest, WatchSecretsStreamsMetadataOfAScopePrefix) {
  v1::WatchSecretsRequest req;
  *req.mutable_target() = Scope(scope_);
  req.set_name_prefix("app_");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kStreamLimit));
  auto reader = client_->WatchSecrets(&context, req);
  v1::WatchSecretsResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_TRUE(first.events().empty());
  Set("other", "x");  // not under the prefix
  Set("app_one", "x");
  v1::WatchSecretsResponse next;
  ASSERT_TRUE(reader->Read(&next));
  ASSERT_EQ(next.events_size(), 1);
  EXPECT_EQ(next.events(0).name(), "app_one");
  EXPECT_EQ(next.events(0).kind(), v1::CHANGE_KIND_SET);
  context.TryCancel();
  reader->Finish();
}

TEST_P(WatchE2eTest, DrainEndsStreamsWithOkAndARestartIsResumed) {
  Set("db", "one");
  Set("api", "key");
  EnvWatch w = Watch(client_.get(), EnvRequest());
  v1::WatchEnvResponse first = w.Next();
  ASSERT_TRUE(daemon_->Restart().ok());
  // The drain ended the stream on purpose: OK, not UNAVAILABLE.
  v1::WatchEnvResponse extra;
  EXPECT_FALSE(w.reader->Read(&extra));
  grpc::Status ended = w.End();
  EXPECT_TRUE(ended.ok()) << ended.error_message();

  client_ = Connect();
  Rotate(client_.get(), "db");
  v1::WatchEnvRequest req = EnvRequest();
  req.set_resume_position(first.position());
  EnvWatch again = Watch(client_.get(), req);
  v1::WatchEnvResponse resumed = again.Next();
  // Another run's position: the daemon says resync, and the receipt it
  // sends already holds what changed.
  EXPECT_TRUE(resumed.resync());
  EXPECT_EQ(VersionOf(resumed, "DB"), 2u);
  again.context->TryCancel();
  again.End();
}

ZS_INSTANTIATE_FOR_TRANSPORTS(WatchE2eTest);

// The stream limits, on a daemon of their own (Unix socket, one caller).
TEST(WatchLimitsE2eTest, StreamsPastTheLimitsAreResourceExhausted) {
  for (const bool per_caller : {true, false}) {
    testing::TempDir dir;
    std::vector<std::string> args = {"--data-dir", dir.Sub("data"),
                                     "--key-dir",  dir.Sub("data"),
                                     "--socket",   dir.Sub("d.sock")};
    if (per_caller) {
      args.insert(args.end(), {"--max-watch-streams-per-caller", "2"});
    } else {
      args.insert(args.end(), {"--max-watch-streams", "2"});
    }
    std::unique_ptr<testing::DaemonProcess> daemon =
        testing::StartReadyDaemon(dir, args, absl::Seconds(20));
    ASSERT_NE(daemon, nullptr);
    ClientOptions options;
    options.address = "unix:" + dir.Sub("d.sock");
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    v1::WatchSecretsRequest req;
    *req.mutable_target() = Scope("limits");
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<
        std::unique_ptr<grpc::ClientReaderInterface<v1::WatchSecretsResponse>>>
        readers;
    for (int i = 0; i < 3; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(
          absl::ToChronoTime(absl::Now() + kStreamLimit));
      readers.push_back((*client)->WatchSecrets(contexts.back().get(), req));
      v1::WatchSecretsResponse first;
      const bool read = readers.back()->Read(&first);
      if (i < 2) {
        EXPECT_TRUE(read) << "stream " << i << " refused";
      } else {
        EXPECT_FALSE(read);
        grpc::Status refused = readers.back()->Finish();
        EXPECT_EQ(refused.error_code(), grpc::RESOURCE_EXHAUSTED);
        EXPECT_THAT(refused.error_message(),
                    HasSubstr(per_caller ? "--max-watch-streams-per-caller"
                                         : "--max-watch-streams)"));
      }
    }
    // The open streams end with OK at the drain; the daemon exits 0.
    daemon->Signal(SIGTERM);
    for (int i = 0; i < 2; ++i) {
      v1::WatchSecretsResponse extra;
      EXPECT_FALSE(readers[i]->Read(&extra));
      grpc::Status ended = readers[i]->Finish();
      EXPECT_TRUE(ended.ok()) << ended.error_message();
    }
    absl::StatusOr<int> exit = daemon->WaitForExit(absl::Seconds(30));
    ASSERT_TRUE(exit.ok());
    EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
  }
}

}  // namespace
}  // namespace zlayer::secrets
