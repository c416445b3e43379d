// SecretsClient against a local scripted gRPC server (a generic callback
// service on a Unix socket): deadlines on every call, retries of reads only,
// the Authorization header, status conversion, addressing rules.
#include "client/secrets_client.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::Each;
using ::testing::Field;
using ::testing::SizeIs;

// Answers every method: the first `failures` attempts of each method with
// `failure_code`, later ones with OK and an empty message (which parses as
// any response type). Records what each attempt carried.
class ScriptedService : public grpc::CallbackGenericService {
 public:
  struct Attempt {
    std::string method;
    bool has_deadline = false;
    std::chrono::system_clock::time_point deadline;
    std::string authorization;
  };

  void Script(int failures, grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    failures_ = failures;
    failure_code_ = code;
  }
  std::vector<Attempt> attempts() {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  int AttemptsOf(const std::string& method) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const Attempt& a : attempts_) n += a.method == method;
    return n;
  }

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* ctx) override {
    Attempt attempt;
    attempt.method = ctx->method();
    attempt.deadline = ctx->deadline();
    attempt.has_deadline = ctx->deadline() < std::chrono::system_clock::now() +
                                                 std::chrono::hours(1);
    auto auth = ctx->client_metadata().find("authorization");
    if (auth != ctx->client_metadata().end()) {
      attempt.authorization =
          std::string(auth->second.data(), auth->second.size());
    }
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      int seen = ++per_method_[attempt.method];
      if (seen <= failures_)
        status = grpc::Status(failure_code_, "scripted failure");
      attempts_.push_back(attempt);
    }
    return new Reactor(status);
  }

 private:
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(grpc::Status status)
        : status_(std::move(status)), response_(&empty_, 1) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (ok && status_.ok()) {
        StartWriteAndFinish(&response_, grpc::WriteOptions(), status_);
      } else {
        Finish(status_);
      }
    }
    void OnWriteDone(bool) override {}
    void OnDone() override { delete this; }

   private:
    grpc::Status status_;
    grpc::Slice empty_;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };

  absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode failure_code_ ABSL_GUARDED_BY(mu_) =
      grpc::StatusCode::UNAVAILABLE;
  std::map<std::string, int> per_method_ ABSL_GUARDED_BY(mu_);
  std::vector<Attempt> attempts_ ABSL_GUARDED_BY(mu_);
};

class SecretsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/zs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/s.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_,
                             grpc::InsecureServerCredentials());
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    ::unlink(socket_.c_str());
    ::rmdir(dir_.c_str());
  }

  std::unique_ptr<SecretsClient> Client(ClientOptions options = {}) {
    options.address = socket_;
    options.retry.initial_backoff = absl::Milliseconds(1);
    options.retry.max_backoff = absl::Milliseconds(4);
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::string dir_;
  std::string socket_;
  ScriptedService service_;
  std::unique_ptr<grpc::Server> server_;
};

constexpr char kGetSecret[] = "/zlayer.secrets.v1.Secrets/GetSecret";
constexpr char kSetSecret[] = "/zlayer.secrets.v1.Secrets/SetSecret";

TEST_F(SecretsClientTest, ReadIsRetriedOnUnavailableUntilItSucceeds) {
  service_.Script(2, grpc::StatusCode::UNAVAILABLE);
  auto client = Client();
  absl::StatusOr<v1::GetSecretResponse> r = client->GetSecret({});
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 3);
}

TEST_F(SecretsClientTest, ReadGivesUpAfterMaxAttempts) {
  service_.Script(100, grpc::StatusCode::UNAVAILABLE);
  ClientOptions options;
  options.retry.max_attempts = 4;
  auto client = Client(std::move(options));
  absl::StatusOr<v1::ListSecretsResponse> r = client->ListSecrets({});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "scripted failure");
  EXPECT_EQ(service_.AttemptsOf("/zlayer.secrets.v1.Secrets/ListSecrets"), 4);
}

TEST_F(SecretsClientTest, ReadIsNotRetriedOnOtherCodes) {
  service_.Script(1, grpc::StatusCode::NOT_FOUND);
  auto client = Client();
  EXPECT_EQ(client->GetSecret({}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 1);
}

TEST_F(SecretsClientTest, WritesAreNeverRetried) {
  service_.Script(1, grpc::StatusCode::UNAVAILABLE);
  auto client = Client();
  EXPECT_EQ(client->SetSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->DeleteSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->UndeleteSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->DestroySecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->RotateSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->RollbackSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->ImportSecrets({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->CreateEnvironment({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->UpdateEnvironment({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->DeleteEnvironment({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->RotateMasterKey({}).status().code(),
            absl::StatusCode::kUnavailable);
  // One attempt per write: nothing was sent twice.
  EXPECT_THAT(service_.attempts(), SizeIs(11));
  EXPECT_EQ(service_.AttemptsOf(kSetSecret), 1);
}

TEST_F(SecretsClientTest, EveryReadKindIsRetried) {
  service_.Script(1, grpc::StatusCode::UNAVAILABLE);
  auto client = Client();
  EXPECT_TRUE(client->GetSecret({}).ok());
  EXPECT_TRUE(client->GetSecrets({}).ok());
  EXPECT_TRUE(client->ListSecrets({}).ok());
  EXPECT_TRUE(client->SecretExists({}).ok());
  EXPECT_TRUE(client->ListVersions({}).ok());
  EXPECT_TRUE(client->ResolveEnv({}).ok());
  EXPECT_TRUE(client->CheckEnv({}).ok());
  EXPECT_TRUE(client->ExportSecrets({}).ok());
  EXPECT_TRUE(client->GetEnvironment({}).ok());
  EXPECT_TRUE(client->ListEnvironments({}).ok());
  EXPECT_TRUE(client->WhoAmI({}).ok());
  EXPECT_THAT(service_.attempts(), SizeIs(22));
}

TEST_F(SecretsClientTest, RetriesStopAtTheCallDeadline) {
  service_.Script(100, grpc::StatusCode::UNAVAILABLE);
  ClientOptions options;
  options.address = socket_;
  options.default_deadline = absl::Seconds(2);
  options.retry.initial_backoff = absl::Seconds(30);  // past the deadline
  options.retry.max_backoff = absl::Seconds(30);
  auto client = SecretsClient::Connect(std::move(options));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->GetSecret({}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 1);
}

TEST_F(SecretsClientTest, EveryCallCarriesADeadline) {
  auto client = Client();
  ASSERT_TRUE(client->GetSecret({}).ok());
  ASSERT_TRUE(client->GetSecrets({}).ok());
  ASSERT_TRUE(client->ListSecrets({}).ok());
  ASSERT_TRUE(client->SecretExists({}).ok());
  ASSERT_TRUE(client->SetSecret({}).ok());
  ASSERT_TRUE(client->DeleteSecret({}).ok());
  ASSERT_TRUE(client->UndeleteSecret({}).ok());
  ASSERT_TRUE(client->DestroySecret({}).ok());
  ASSERT_TRUE(client->RotateSecret({}).ok());
  ASSERT_TRUE(client->ListVersions({}).ok());
  ASSERT_TRUE(client->RollbackSecret({}).ok());
  ASSERT_TRUE(client->ResolveEnv({}).ok());
  ASSERT_TRUE(client->CheckEnv({}).ok());
  ASSERT_TRUE(client->ImportSecrets({}).ok());
  ASSERT_TRUE(client->ExportSecrets({}).ok());
  ASSERT_TRUE(client->CreateEnvironment({}).ok());
  ASSERT_TRUE(client->GetEnvironment({}).ok());
  ASSERT_TRUE(client->ListEnvironments({}).ok());
  ASSERT_TRUE(client->UpdateEnvironment({}).ok());
  ASSERT_TRUE(client->DeleteEnvironment({}).ok());
  ASSERT_TRUE(client->RotateMasterKey({}).ok());
  ASSERT_TRUE(client->WhoAmI({}).ok());
  std::vector<ScriptedService::Attempt> attempts = service_.attempts();
  EXPECT_THAT(attempts, SizeIs(22));
  EXPECT_THAT(attempts,
              Each(Field(&ScriptedService::Attempt::has_deadline, true)));
}

TEST_F(SecretsClientTest, PerCallTimeoutOverridesTheDefault) {
  ClientOptions options;
  options.default_deadline = absl::Seconds(30);
  auto client = Client(std::move(options));
  auto before = std::chrono::system_clock::now();
  CallOptions call;
  call.timeout = absl::Seconds(3);
  ASSERT_TRUE(client->WhoAmI({}, call).ok());
  std::vector<ScriptedService::Attempt> attempts = service_.attempts();
  ASSERT_THAT(attempts, SizeIs(1));
  EXPECT_LE(attempts[0].deadline, before + std::chrono::seconds(4));
  EXPECT_GT(attempts[0].deadline, before);
}

TEST_F(SecretsClientTest, ApiKeyIsSentAsBearerToken) {
  ClientOptions options;
  options.api_key = SecretBytes::FromString("k3y");
  auto client = Client(std::move(options));
  ASSERT_TRUE(client->WhoAmI({}).ok());
  ASSERT_THAT(service_.attempts(), SizeIs(1));
  EXPECT_EQ(service_.attempts()[0].authorization, "Bearer k3y");
}

TEST_F(SecretsClientTest, NoApiKeyMeansNoAuthorizationHeader) {
  auto client = Client();
  ASSERT_TRUE(client->WhoAmI({}).ok());
  EXPECT_EQ(service_.attempts()[0].authorization, "");
}

// Two daemons: the fixture's server is daemon "b"; daemon "a" is either a
// second scripted server or a socket path nobody listens on.
class FailoverTest : public SecretsClientTest {
 protected:
  void StartA() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + SocketA(),
                             grpc::InsecureServerCredentials());
    builder.RegisterCallbackGenericService(&service_a_);
    server_a_ = builder.BuildAndStart();
    ASSERT_NE(server_a_, nullptr);
  }
  void TearDown() override {
    if (server_a_) server_a_->Shutdown();
    ::unlink(SocketA().c_str());
    SecretsClientTest::TearDown();
  }
  std::string SocketA() const { return dir_ + "/a.sock"; }
  std::unique_ptr<SecretsClient> BothClient() {
    ClientOptions options;
    options.address = absl::StrCat(SocketA(), ",", socket_);
    options.retry.initial_backoff = absl::Milliseconds(1);
    options.retry.max_backoff = absl::Milliseconds(4);
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  ScriptedService service_a_;
  std::unique_ptr<grpc::Server> server_a_;
};

TEST_F(FailoverTest, ReadOnAnUnreachableDaemonGoesToTheNextAndSticks) {
  auto client = BothClient();
  EXPECT_EQ(client->CurrentAddress(), SocketA());
  absl::StatusOr<v1::GetSecretResponse> r = client->GetSecret({});
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(client->CurrentAddress(), socket_);
  EXPECT_TRUE(client->ListSecrets({}).ok());
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 1);
}

TEST_F(FailoverTest, ReadAnsweredUnavailableIsRepeatedOnTheNextDaemon) {
  StartA();
  service_a_.Script(100, grpc::StatusCode::UNAVAILABLE);
  auto client = BothClient();
  EXPECT_TRUE(client->GetSecret({}).ok());
  EXPECT_EQ(service_a_.AttemptsOf(kGetSecret), 1);
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 1);
}

TEST_F(FailoverTest, WriteNeverSentToADeadDaemonGoesToTheNext) {
  auto client = BothClient();
  absl::StatusOr<v1::SetSecretResponse> r = client->SetSecret({});
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(service_.AttemptsOf(kSetSecret), 1);
  EXPECT_EQ(client->CurrentAddress(), socket_);
}

TEST_F(FailoverTest, SentWriteThatFailsIsNotRepeatedAnywhere) {
  StartA();
  service_a_.Script(100, grpc::StatusCode::UNAVAILABLE);
  auto client = BothClient();
  absl::StatusOr<v1::SetSecretResponse> r = client->SetSecret({});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("outcome is unknown"));
  EXPECT_EQ(service_a_.AttemptsOf(kSetSecret), 1);
  EXPECT_EQ(service_.AttemptsOf(kSetSecret), 0);
}

// A read on a daemon with another left gets the short attempt; a sent write
// gets the call's whole deadline, since it is never repeated elsewhere.
TEST_F(FailoverTest, SentWriteHasTheWholeDeadlineAReadTheAttempt) {
  StartA();
  auto client = BothClient();
  CallOptions call;
  call.timeout = absl::Seconds(30);
  const auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(client->GetSecret({}, call).ok());
  ASSERT_TRUE(client->SetSecret({}, call).ok());
  std::vector<ScriptedService::Attempt> attempts = service_a_.attempts();
  ASSERT_THAT(attempts, SizeIs(2));
  // FailoverOptions::attempt_timeout is 2 s by default.
  EXPECT_LE(attempts[0].deadline, before + std::chrono::seconds(3));
  EXPECT_GE(attempts[1].deadline, before + std::chrono::seconds(29));
}

TEST_F(FailoverTest, DaemonsOwnAnswerIsNotFailedOver) {
  StartA();
  service_a_.Script(100, grpc::StatusCode::NOT_FOUND);
  auto client = BothClient();
  EXPECT_EQ(client->GetSecret({}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(service_.AttemptsOf(kGetSecret), 0);
  EXPECT_EQ(client->CurrentAddress(), SocketA());
}

TEST_F(FailoverTest, EveryDaemonDownIsUnavailableAndWritesNothing) {
  ClientOptions options;
  options.address = absl::StrCat(SocketA(), ",", dir_, "/c.sock");
  options.default_deadline = absl::Seconds(2);
  auto client = SecretsClient::Connect(std::move(options));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<v1::SetSecretResponse> r = (*client)->SetSecret({});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("was not sent"));
}

TEST(SecretsClientOptionsTest, ConnectRejectsBadOptions) {
  ClientOptions zero;
  zero.address = "/tmp/x.sock";
  zero.default_deadline = absl::ZeroDuration();
  EXPECT_EQ(SecretsClient::Connect(std::move(zero)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ClientOptions half;
  half.address = "localhost:7443";
  half.tls_cert_file = "/tmp/cert.pem";
  EXPECT_EQ(SecretsClient::Connect(std::move(half)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ClientOptions tls_on_unix;
  tls_on_unix.address = "/tmp/x.sock";
  tls_on_unix.tls_ca_file = "/tmp/ca.pem";
  EXPECT_EQ(SecretsClient::Connect(std::move(tls_on_unix)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ClientOptions missing_ca;
  missing_ca.address = "localhost:7443";
  missing_ca.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(SecretsClient::Connect(std::move(missing_ca)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FromGrpcStatusTest, KeepsCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (int code = 1; code <= 16; ++code) {
    absl::Status s = FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), "why it failed"));
    EXPECT_EQ(static_cast<int>(s.code()), code);
    EXPECT_EQ(s.message(), "why it failed");
  }
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                        "version mismatch"))
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(BackoffDelayTest, GrowsExponentiallyUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(50);
  p.max_backoff = absl::Milliseconds(300);
  p.multiplier = 2;
  p.jitter = 0;
  absl::BitGen gen;
  EXPECT_EQ(BackoffDelay(p, 1, gen), absl::Milliseconds(50));
  EXPECT_EQ(BackoffDelay(p, 2, gen), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 3, gen), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 4, gen), absl::Milliseconds(300));
  EXPECT_EQ(BackoffDelay(p, 9, gen), absl::Milliseconds(300));
}

TEST(BackoffDelayTest, JitterStaysWithinItsBandAndVaries) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(100);
  p.jitter = 0.2;
  absl::BitGen gen;
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    absl::Duration d = BackoffDelay(p, 1, gen);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, absl::Milliseconds(80));
  EXPECT_LE(hi, absl::Milliseconds(120));
  EXPECT_LT(lo, hi);
}

TEST(ParseAddressTest, SocketsAndTcp) {
  EXPECT_EQ(ParseAddress("unix:/run/s.sock")->grpc_target, "unix:/run/s.sock");
  EXPECT_EQ(ParseAddress("/run/s.sock")->grpc_target, "unix:/run/s.sock");
  EXPECT_EQ(ParseAddress("./.data/s.sock")->grpc_target, "unix:./.data/s.sock");
  EXPECT_FALSE(ParseAddress("/run/s.sock")->tls);
  EXPECT_TRUE(ParseAddress("secrets.internal:7443")->tls);
  EXPECT_TRUE(ParseAddress("[::1]:7443")->tls);
  EXPECT_TRUE(ParseAddress("dns:///secrets.internal:7443")->tls);
  EXPECT_FALSE(ParseAddress("secrets.internal").ok());
  EXPECT_FALSE(ParseAddress("host:0").ok());
  EXPECT_FALSE(ParseAddress("host:http").ok());
}

TEST(DefaultSocketPathTest, FollowsTheDocumentedOrder) {
  SocketPathInputs in;
  in.euid = 1000;
  in.home = "/home/ann";
  EXPECT_EQ(DefaultSocketPathFor(in),
            "/home/ann/.zlayer/secrets/zlayer-secretsd.sock");
  // deploy/zlayer-secretsd.service's socket, for root or once it exists.
  in.system_dir_exists = true;
  EXPECT_EQ(DefaultSocketPathFor(in),
            "/run/zlayer-secrets/zlayer-secretsd.sock");
  in.system_dir_exists = false;
  in.euid = 0;
  EXPECT_EQ(DefaultSocketPathFor(in),
            "/run/zlayer-secrets/zlayer-secretsd.sock");
  in.env_socket = "";
  EXPECT_EQ(DefaultSocketPathFor(in),
            "/run/zlayer-secrets/zlayer-secretsd.sock");
  in.env_socket = "/run/zs.sock";
  EXPECT_EQ(DefaultSocketPathFor(in), "/run/zs.sock");
}

}  // namespace
}  // namespace zlayer::secrets
