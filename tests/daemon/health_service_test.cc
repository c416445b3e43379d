// HealthService on a gRPC server whose one client connection is a
// socketpair (no socket path, no port; a real HTTP/2 transport, unlike the
// in-process channel, which completes a write only once the client reads
// it): Check, Watch, status pushes, unknown services, Shutdown() ending the
// streams, and watchers that go away.
#include "daemon/rpc/health_service.h"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel_posix.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/server_posix.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ServingStatus = HealthCheckResponse::ServingStatus;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kSecrets[] = "zlayer.secrets.v1.Secrets";

// A Watch stream from the client side.
class Watch {
 public:
  Watch(Health::Stub* stub, const std::string& service) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HealthCheckRequest request;
    request.set_service(service);
    reader_ = stub->Watch(&context_, request);
  }
  ~Watch() {
    if (!finished_) {
      context_.TryCancel();
      reader_->Finish().IgnoreError();
    }
  }

  // The next status sent; nullopt when the stream has ended.
  absl::optional<ServingStatus> Next() {
    HealthCheckResponse response;
    if (!reader_->Read(&response)) return absl::nullopt;
    return response.status();
  }
  // Every status until the stream ends.
  std::vector<ServingStatus> Rest() {
    std::vector<ServingStatus> statuses;
    while (absl::optional<ServingStatus> status = Next()) {
      statuses.push_back(*status);
    }
    return statuses;
  }
  // The call's status; call after Next() returned nullopt.
  grpc::Status Finish() {
    finished_ = true;
    return reader_->Finish();
  }
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
  bool finished_ = false;
};

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    int fds[2];
    ASSERT_EQ(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
        0);
    // gRPC owns (and closes) both ends from here on.
    grpc::AddInsecureChannelFromFd(server_.get(), fds[0]);
    stub_ =
        Health::NewStub(grpc::CreateInsecureChannelFromFd("health", fds[1]));
  }

  void TearDown() override {
    // Cancels whatever a test left open; the service outlives the server.
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_->Wait();
  }

  // Check(service): the status, or the call's error code.
  grpc::StatusCode Check(const std::string& service, ServingStatus* status) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status result = stub_->Check(&context, request, &response);
    *status = response.status();
    return result.error_code();
  }

  ServingStatus CheckOk(const std::string& service) {
    ServingStatus status = HealthCheckResponse::UNKNOWN;
    EXPECT_EQ(Check(service, &status), grpc::StatusCode::OK) << service;
    return status;
  }

  HealthService health_;  // destroyed after the server
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, OverallServerIsKnownAndNotServingAtFirst) {
  EXPECT_EQ(CheckOk(""), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, CheckReportsTheStatusOfAKnownService) {
  health_.SetServingStatus("", true);
  health_.SetServingStatus(kSecrets, true);
  EXPECT_EQ(CheckOk(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckOk(kSecrets), HealthCheckResponse::SERVING);
  health_.SetServingStatus(kSecrets, false);
  EXPECT_EQ(CheckOk(kSecrets), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckOk(""), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, CheckOfAnUnknownServiceIsNotFound) {
  ServingStatus status;
  EXPECT_EQ(Check("no.such.Service", &status), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchSendsTheCurrentStatusAndThenEveryChange) {
  health_.SetServingStatus(kSecrets, true);
  Watch watch(stub_.get(), kSecrets);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);
  health_.SetServingStatus(kSecrets, false);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus(kSecrets, true);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, WatchIsNotSentOtherServicesOrUnchangedStatuses) {
  Watch watch(stub_.get(), "");
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus("", false);       // unchanged
  health_.SetServingStatus(kSecrets, true);  // another service
  health_.SetServingStatus("", true);
  // The first message after the initial one is this change.
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, WatchOfAnUnknownServiceStaysOpenUntilItIsKnown) {
  Watch watch(stub_.get(), kSecrets);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVICE_UNKNOWN);
  ASSERT_TRUE(health_.AwaitWatchers(1, absl::Now() + kWait));
  health_.SetServingStatus(kSecrets, true);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, ShutdownSendsNotServingThenEndsTheStreamWithOk) {
  health_.SetServingStatus("", true);
  Watch watch(stub_.get(), "");
  ASSERT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  health_.Shutdown();
  EXPECT_EQ(watch.Rest(),
            std::vector<ServingStatus>{HealthCheckResponse::NOT_SERVING});
  grpc::Status status = watch.Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
  EXPECT_TRUE(health_.AwaitWatchers(0, absl::Now() + kWait));
}

TEST_F(HealthServiceTest, ShutdownEndsWatchersOfUnknownServicesToo) {
  Watch watch(stub_.get(), "no.such.Service");
  ASSERT_EQ(watch.Next(), HealthCheckResponse::SERVICE_UNKNOWN);
  ASSERT_TRUE(health_.AwaitWatchers(1, absl::Now() + kWait));
  health_.Shutdown();
  EXPECT_EQ(watch.Rest(),
            std::vector<ServingStatus>{HealthCheckResponse::NOT_SERVING});
  EXPECT_TRUE(watch.Finish().ok());
}

TEST_F(HealthServiceTest, ShutdownDoesNotRepeatAStatusTheWatcherAlreadyHas) {
  Watch watch(stub_.get(), "");
  ASSERT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(health_.AwaitWatchers(1, absl::Now() + kWait));
  health_.Shutdown();
  EXPECT_TRUE(watch.Rest().empty());
  EXPECT_TRUE(watch.Finish().ok());
}

TEST_F(HealthServiceTest, StatusesAreFrozenAfterShutdown) {
  health_.SetServingStatus("", true);
  health_.SetServingStatus(kSecrets, true);
  health_.Shutdown();
  health_.Shutdown();  // idempotent
  health_.SetServingStatus("", true);
  health_.SetServingStatus(kSecrets, true);
  health_.SetServingStatus("new.Service", true);
  EXPECT_EQ(CheckOk(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckOk(kSecrets), HealthCheckResponse::NOT_SERVING);
  ServingStatus status;
  EXPECT_EQ(Check("new.Service", &status), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchAfterShutdownGetsNotServingAndEnds) {
  health_.SetServingStatus("", true);
  health_.Shutdown();
  for (const std::string service : {"", "no.such.Service"}) {
    Watch watch(stub_.get(), service);
    EXPECT_EQ(watch.Rest(),
              std::vector<ServingStatus>{HealthCheckResponse::NOT_SERVING})
        << service;
    EXPECT_TRUE(watch.Finish().ok()) << service;
  }
}

// The drain's promise: after Shutdown() every Watch stream ends on the
// server's side by itself (its reactor is done), so nothing is left for the
// server's Shutdown() to wait for or to cancel.
TEST_F(HealthServiceTest, ShutdownEndsEveryWatchStreamOnItsOwn) {
  health_.SetServingStatus("", true);
  Watch first(stub_.get(), "");
  Watch second(stub_.get(), kSecrets);
  ASSERT_EQ(first.Next(), HealthCheckResponse::SERVING);
  ASSERT_EQ(second.Next(), HealthCheckResponse::SERVICE_UNKNOWN);
  ASSERT_TRUE(health_.AwaitWatchers(2, absl::Now() + kWait));

  health_.Shutdown();
  // Before the clients read anything more.
  EXPECT_TRUE(health_.AwaitWatchers(0, absl::Now() + kWait));
  for (Watch* watch : {&first, &second}) {
    EXPECT_EQ(watch->Rest(),
              std::vector<ServingStatus>{HealthCheckResponse::NOT_SERVING});
    EXPECT_TRUE(watch->Finish().ok());
  }
}

TEST_F(HealthServiceTest, AWatcherWhoseClientCancelsIsCleanedUp) {
  health_.SetServingStatus("", true);
  Watch watch(stub_.get(), "");
  ASSERT_EQ(watch.Next(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(health_.AwaitWatchers(1, absl::Now() + kWait));
  watch.Cancel();
  EXPECT_FALSE(watch.Next().has_value());
  EXPECT_EQ(watch.Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(health_.AwaitWatchers(0, absl::Now() + kWait));
  // Later changes reach nobody and harm nothing.
  health_.SetServingStatus("", false);
  health_.Shutdown();
}

TEST_F(HealthServiceTest, AWatcherCancelledByTheServerDeadlineIsCleanedUp) {
  Watch watch(stub_.get(), "");
  ASSERT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);
  // No health Shutdown(): the server cancels the open stream itself.
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  EXPECT_FALSE(watch.Next().has_value());
  EXPECT_FALSE(watch.Finish().ok());
  EXPECT_TRUE(health_.AwaitWatchers(0, absl::Now() + kWait));
}

// Updates racing the writes: each watcher sees a coherent stream (no status
// twice in a row, as only changes are sent), ending with NOT_SERVING and OK.
TEST_F(HealthServiceTest, RapidChangesAreCoalescedAndStreamsEndCleanly) {
  constexpr int kWatchers = 4;
  constexpr int kChanges = 500;
  health_.SetServingStatus("", true);
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < kWatchers; ++i) {
    watches.push_back(std::make_unique<Watch>(stub_.get(), ""));
    ASSERT_EQ(watches.back()->Next(), HealthCheckResponse::SERVING);
  }
  std::vector<std::vector<ServingStatus>> seen(kWatchers);
  std::vector<grpc::Status> ends(kWatchers);
  std::vector<std::thread> readers;
  for (int i = 0; i < kWatchers; ++i) {
    readers.emplace_back([&, i] {
      seen[i] = watches[i]->Rest();
      ends[i] = watches[i]->Finish();
    });
  }
  for (int i = 0; i < kChanges; ++i) health_.SetServingStatus("", i % 2 == 0);
  health_.Shutdown();
  for (std::thread& reader : readers) reader.join();

  for (int i = 0; i < kWatchers; ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(ends[i].ok());
    ASSERT_FALSE(seen[i].empty());
    EXPECT_LE(seen[i].size(), static_cast<size_t>(kChanges + 1));
    EXPECT_EQ(seen[i].back(), HealthCheckResponse::NOT_SERVING);
    ServingStatus previous = HealthCheckResponse::SERVING;  // the first one
    for (ServingStatus status : seen[i]) {
      EXPECT_NE(status, previous);
      previous = status;
    }
  }
  EXPECT_TRUE(health_.AwaitWatchers(0, absl::Now() + kWait));
}

}  // namespace
}  // namespace zlayer::secrets
