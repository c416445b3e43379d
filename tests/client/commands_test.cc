// The `health` verb and the status-to-exit-code mapping, over a real gRPC
// server in process (a scripted grpc.health.v1 service) and the real
// command runner.
#include "client/cli/commands.h"

#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/cli/args.h"
#include "client/cli/exit_codes.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::cli {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// Answers Check with whatever the test set.
class ScriptedHealth final : public grpc::health::v1::Health::Service {
 public:
  void Set(HealthCheckResponse::ServingStatus status) {
    absl::MutexLock lock(&mu_);
    status_ = status;
  }
  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest*,
                     HealthCheckResponse* response) override {
    absl::MutexLock lock(&mu_);
    response->set_status(status_);
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  HealthCheckResponse::ServingStatus status_ ABSL_GUARDED_BY(mu_) =
      HealthCheckResponse::SERVING;
};

class HealthVerbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    client_ = SecretsClient::FromChannel(
        server_->InProcessChannel(grpc::ChannelArguments()), ClientOptions());
  }
  void TearDown() override { server_->Shutdown(); }

  int Health(std::string* out, std::string* err) {
    absl::StatusOr<Command> cmd = ParseCommandLine({"health"});
    EXPECT_TRUE(cmd.ok()) << cmd.status();
    std::istringstream in;
    std::ostringstream o, e;
    int code = RunCommandWith(*cmd, client_.get(), Io{&in, &o, &e});
    *out = o.str();
    *err = e.str();
    return code;
  }

  ScriptedHealth health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<SecretsClient> client_;
};

TEST_F(HealthVerbTest, ServingExitsZero) {
  std::string out, err;
  EXPECT_EQ(Health(&out, &err), kExitOk);
  EXPECT_EQ(out, "SERVING\n");
  EXPECT_EQ(err, "");
}

TEST_F(HealthVerbTest, NotServingExitsSevenWithOneLine) {
  health_.Set(HealthCheckResponse::NOT_SERVING);
  std::string out, err;
  EXPECT_EQ(Health(&out, &err), kExitNotServing);
  EXPECT_EQ(out, "NOT_SERVING\n");
  EXPECT_EQ(err, "zlayer-secret: daemon answers but is NOT_SERVING\n");
}

TEST(ExitCodesTest, EachFailureKindHasItsOwnCode) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 2);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 3);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kPermissionDenied), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnauthenticated), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAlreadyExists), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 6);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 6);
}

TEST(ExitCodesTest, ConnectionFailureBecomesTheActionableMessage) {
  std::string m = FailureMessage(
      absl::UnavailableError("failed to connect to all addresses; last "
                             "error: UNKNOWN: unix:/tmp/x.sock: Connection "
                             "refused"),
      "unix:/tmp/x.sock");
  EXPECT_THAT(m, HasSubstr("daemon not reachable at /tmp/x.sock (is "
                           "zlayer-secretsd running?"));
  // A daemon's own UNAVAILABLE (e.g. draining) keeps its words.
  EXPECT_EQ(FailureMessage(absl::UnavailableError("server is draining"),
                           "/tmp/x.sock"),
            "server is draining");
  EXPECT_EQ(FailureMessage(absl::NotFoundError("x"), "/s"), "x");
}

}  // namespace
}  // namespace zlayer::secrets::cli
