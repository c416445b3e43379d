// The Daemon in-process: start-up, health, and the drain with a call in
// flight (a test-only service holds the call until the test releases it).
#include "daemon/server.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "daemon/config.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::zlayer::secrets::testing::HoldRequest;
using ::zlayer::secrets::testing::HoldResponse;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::TestingService;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);

DaemonOptions TestOptions(const TempDir& dir, TestingService* service) {
  DaemonOptions options;
  options.data_dir = dir.Sub("data");
  options.socket_path = dir.Sub("d.sock");
  options.extra_services = {service};
  options.log_level = "warn";
  return options;
}

// Runs Daemon::Run() in a thread.
class RunningDaemon {
 public:
  explicit RunningDaemon(std::unique_ptr<Daemon> daemon)
      : daemon_(std::move(daemon)),
        thread_([this] { status_ = daemon_->Run(); }) {}
  ~RunningDaemon() {
    daemon_->RequestShutdown();
    if (thread_.joinable()) thread_.join();
  }
  Daemon* operator->() { return daemon_.get(); }
  absl::Status Join() {
    thread_.join();
    return status_;
  }

 private:
  std::unique_ptr<Daemon> daemon_;
  absl::Status status_;
  std::thread thread_;
};

// A health Watch stream on its own channel (so its own connection).
class HealthWatch {
 public:
  HealthWatch(const std::string& socket, const std::string& service)
      : stub_(grpc::health::v1::Health::NewStub(UnixChannel(socket))),
        context_(std::make_unique<grpc::ClientContext>()) {
    context_->set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HealthCheckRequest request;
    request.set_service(service);
    reader_ = stub_->Watch(context_.get(), request);
  }
  ~HealthWatch() {
    if (context_ != nullptr) context_->TryCancel();
  }
  // The next status sent, or UNKNOWN when the stream ended.
  HealthCheckResponse::ServingStatus Next() {
    HealthCheckResponse response;
    if (!reader_->Read(&response)) return HealthCheckResponse::UNKNOWN;
    return response.status();
  }
  // After Next() returned UNKNOWN: the call's status. Then closes the
  // connection, as a client done with the server does. (gRPC's sync client
  // reads an idle connection only at its 5 s backup poll; kept open, it would
  // hold the server's graceful GOAWAY, and so the drain, that long.)
  grpc::Status End() {
    grpc::Status status = reader_->Finish();
    // Each of these holds the connection.
    reader_.reset();
    context_.reset();
    stub_.reset();
    return status;
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
};

TEST(DaemonTest, CreateBuildsDataDirAndSocket) {
  TempDir dir;
  TestingService service;
  auto daemon = Daemon::Create(TestOptions(dir, &service));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  struct stat st;
  ASSERT_EQ(stat(dir.Sub("data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(dir.Sub("d.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  // The generated master key file.
  ASSERT_EQ(stat(dir.Sub("data/secrets_zlayer.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The SQLite store.
  ASSERT_EQ(stat(dir.Sub("data/secrets.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  EXPECT_FALSE((*daemon)->serving());
}

TEST(DaemonTest, HealthIsNotServingUntilRunAndServingAfter) {
  TempDir dir;
  TestingService service;
  DaemonOptions options = TestOptions(dir, &service);
  options.listen = "127.0.0.1:0";
  options.insecure_loopback = true;
  auto created = Daemon::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_NE((*created)->tcp_port(), 0);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string((*created)->tcp_port()),
      grpc::InsecureChannelCredentials(), args);
  // The TCP port answers as soon as the server is built, before Run().
  auto before = zlayer::secrets::testing::CheckHealth(channel, "", kWait);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, HealthCheckResponse::NOT_SERVING);

  RunningDaemon daemon(*std::move(created));
  HealthWatch watch(options.socket_path, "");
  HealthCheckResponse::ServingStatus status = watch.Next();
  if (status == HealthCheckResponse::NOT_SERVING) status = watch.Next();
  EXPECT_EQ(status, HealthCheckResponse::SERVING);
  auto after = zlayer::secrets::testing::CheckHealth(channel, "", kWait);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, HealthCheckResponse::SERVING);
}

TEST(DaemonTest, SecondDaemonOnTheSameSocketIsRefused) {
  TempDir dir;
  TestingService service;
  auto first = Daemon::Create(TestOptions(dir, &service));
  ASSERT_TRUE(first.ok()) << first.status();
  DaemonOptions options = TestOptions(dir, &service);
  options.data_dir = dir.Sub("data2");
  auto second = Daemon::Create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(DaemonTest, HealthIsServingAfterStartAndNotServingDuringDrain) {
  TempDir dir;
  TestingService service;
  DaemonOptions options = TestOptions(dir, &service);
  options.drain_timeout = absl::Seconds(30);
  auto created = Daemon::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  RunningDaemon daemon(*std::move(created));

  HealthWatch overall(options.socket_path, "");
  HealthCheckResponse::ServingStatus status = overall.Next();
  // The Watch may start before Run() flips health: then SERVING follows.
  if (status == HealthCheckResponse::NOT_SERVING) status = overall.Next();
  ASSERT_EQ(status, HealthCheckResponse::SERVING);
  auto checked = zlayer::secrets::testing::CheckHealth(
      UnixChannel(options.socket_path), "", kWait);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, HealthCheckResponse::SERVING);
  EXPECT_TRUE(daemon->serving());

  // A call in flight when the drain starts.
  grpc::Status hold_status;
  HoldResponse hold_response;
  std::thread caller([&] {
    auto stub = zlayer::secrets::testing::DaemonTesting::NewStub(
        UnixChannel(options.socket_path));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    hold_status = stub->Hold(&context, HoldRequest(), &hold_response);
  });
  ASSERT_TRUE(service.WaitForHolds(1, kWait));

  daemon->RequestShutdown();
  EXPECT_EQ(overall.Next(), HealthCheckResponse::NOT_SERVING);
  // The watcher's stream ends cleanly, before the held call is done.
  EXPECT_EQ(overall.Next(), HealthCheckResponse::UNKNOWN);
  grpc::Status watch_status = overall.End();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();

  // The held call still completes normally, and then Run() returns OK.
  service.Release();
  caller.join();
  EXPECT_TRUE(hold_status.ok()) << hold_status.error_message();
  EXPECT_TRUE(hold_response.released());
  EXPECT_TRUE(daemon.Join().ok());
  EXPECT_FALSE(daemon->serving());
  struct stat st;
  EXPECT_NE(stat(options.socket_path.c_str(), &st), 0)
      << "the socket file outlived the daemon";
}

// Health Watch streams do not hold the drain: each is sent NOT_SERVING and
// ended with OK by the daemon, for the whole server, a served service and a
// service the daemon does not know.
TEST(DaemonTest, DrainEndsHealthWatchStreamsWithNotServingThenOk) {
  TempDir dir;
  TestingService service;
  DaemonOptions options = TestOptions(dir, &service);
  options.drain_timeout = absl::Seconds(60);
  auto created = Daemon::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  RunningDaemon daemon(*std::move(created));

  HealthWatch overall(options.socket_path, "");
  HealthWatch secrets(options.socket_path, "zlayer.secrets.v1.Secrets");
  HealthWatch unknown(options.socket_path, "no.such.Service");
  for (HealthWatch* watch : {&overall, &secrets}) {
    HealthCheckResponse::ServingStatus status = watch->Next();
    if (status == HealthCheckResponse::NOT_SERVING) status = watch->Next();
    ASSERT_EQ(status, HealthCheckResponse::SERVING);
  }
  ASSERT_EQ(unknown.Next(), HealthCheckResponse::SERVICE_UNKNOWN);

  absl::Time start = absl::Now();
  daemon->RequestShutdown();
  for (HealthWatch* watch : {&overall, &secrets, &unknown}) {
    EXPECT_EQ(watch->Next(), HealthCheckResponse::NOT_SERVING);
    EXPECT_EQ(watch->Next(), HealthCheckResponse::UNKNOWN);  // ended
    grpc::Status status = watch->End();
    EXPECT_TRUE(status.ok())
        << status.error_code() << " " << status.error_message();
  }
  EXPECT_TRUE(daemon.Join().ok());
  // Far from the 60 s drain timeout.
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST(DaemonTest, DrainTimeoutCancelsCallsThatDoNotFinish) {
  TempDir dir;
  TestingService service;
  DaemonOptions options = TestOptions(dir, &service);
  options.drain_timeout = absl::Milliseconds(200);
  auto created = Daemon::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  RunningDaemon daemon(*std::move(created));

  grpc::Status hold_status;
  std::thread caller([&] {
    auto stub = zlayer::secrets::testing::DaemonTesting::NewStub(
        UnixChannel(options.socket_path));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HoldResponse response;
    hold_status = stub->Hold(&context, HoldRequest(), &response);
  });
  ASSERT_TRUE(service.WaitForHolds(1, kWait));
  absl::Time start = absl::Now();
  daemon->RequestShutdown();
  EXPECT_TRUE(daemon.Join().ok());
  caller.join();
  EXPECT_FALSE(hold_status.ok());
  // Well before the call's own deadline.
  EXPECT_LT(absl::Now() - start, kWait / 2);
}

TEST(DaemonTest, ReloadTlsWithoutTlsIsFailedPrecondition) {
  TempDir dir;
  TestingService service;
  auto daemon = Daemon::Create(TestOptions(dir, &service));
  ASSERT_TRUE(daemon.ok());
  EXPECT_EQ((*daemon)->ReloadTls().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace zlayer::secrets
