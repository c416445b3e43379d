// The queued callback services (daemon/rpc/callback_services.h) through a real
// gRPC server on a Unix socket, with one worker that the test occupies: a
// call whose deadline passes or that is cancelled while queued never reaches
// storage, and a call past the queue's bound is refused RESOURCE_EXHAUSTED;
// every one of them leaves an audit record.
#include "daemon/rpc/callback_services.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/service_harness.h"

namespace zlayer::secrets {
namespace {

using testing::HarnessOptions;
using testing::ScopeTarget;
using testing::ServiceHarness;

constexpr absl::Duration kWait = absl::Seconds(30);

// Polls `done` until it holds or kWait passes.
bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class QueuedCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions options;
    options.queue.workers = 1;
    options.queue.max_queued_calls = 2;
    ASSERT_TRUE(h_.Start(options).ok());
    absl::StatusOr<std::unique_ptr<AuditLog>> audit =
        AuditLog::Create(&sink_, &clock_, AuditLogOptions{});
    ASSERT_TRUE(audit.ok());
    audit_ = std::move(*audit);
    h_.context().audit = audit_.get();
  }

  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  // Occupies the only worker until release_ is notified.
  void OccupyWorker() {
    absl::Notification started;
    ASSERT_TRUE(h_.queue()
                    ->Submit(0,
                             [this, &started] {
                               started.Notify();
                               release_.WaitForNotification();
                             })
                    .ok());
    ASSERT_TRUE(started.WaitForNotificationWithTimeout(kWait));
  }

  v1::SetSecretRequest SetRequest(const std::string& name) {
    v1::SetSecretRequest set;
    *set.mutable_target() = ScopeTarget("prod");
    set.set_name(name);
    set.set_value("v");
    return set;
  }

  // The audit lines that mention `text`.
  std::vector<std::string> AuditLinesWith(const std::string& text) {
    std::vector<std::string> out;
    for (const std::string& line : sink_.lines()) {
      if (absl::StrContains(line, text)) out.push_back(line);
    }
    return out;
  }

  bool Stored(const std::string& name) {
    return h_.store()->GetSecret("prod", name).ok();
  }

  ServiceHarness h_;
  MemoryAuditSink sink_;
  RealClock clock_;
  std::unique_ptr<AuditLog> audit_;
  absl::Notification release_;
};

TEST_F(QueuedCallsTest, DeadlinePassedWhileQueuedNeverTouchesStorage) {
  OccupyWorker();
  v1::SetSecretResponse response;
  grpc::ClientContext context;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(300);
  context.set_deadline(absl::ToChronoTime(deadline));
  grpc::Status status =
      h_.secrets()->SetSecret(&context, SetRequest("late"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_EQ(h_.queue()->queued(), 1u);  // still waiting for the worker
  // The server's deadline is the client's plus the request's transit time
  // (it receives a timeout, not a time point): microseconds over a Unix
  // socket, so a second's margin makes sure it passed there too.
  ASSERT_TRUE(WaitUntil(
      [deadline] { return absl::Now() > deadline + absl::Seconds(1); }));
  release_.Notify();
  ASSERT_TRUE(WaitUntil([this] {
    return !AuditLinesWith("deadline passed while queued").empty();
  }));
  EXPECT_FALSE(Stored("late"));
  std::vector<std::string> lines = AuditLinesWith("SetSecret");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "DEADLINE_EXCEEDED")) << lines[0];
  // The worker is free again and serves the next call.
  grpc::Status next = h_.Call(&v1::Secrets::Stub::SetSecret, h_.secrets(),
                              SetRequest("next"), &response);
  EXPECT_TRUE(next.ok()) << next.error_message();
  EXPECT_TRUE(Stored("next"));
}

TEST_F(QueuedCallsTest, CancelledWhileQueuedNeverTouchesStorage) {
  OccupyWorker();
  grpc::CompletionQueue cq;
  grpc::ClientContext cancelled;
  cancelled.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
  v1::SetSecretResponse cancelled_response;
  grpc::Status cancelled_status;
  auto reader =
      h_.secrets()->AsyncSetSecret(&cancelled, SetRequest("gone"), &cq);
  reader->Finish(&cancelled_response, &cancelled_status,
                 reinterpret_cast<void*>(1));
  ASSERT_TRUE(WaitUntil([this] { return h_.queue()->queued() == 1; }));
  cancelled.TryCancel();
  // A second call on the same connection, queued after the server read the
  // first one's cancellation (HTTP/2 frames arrive in order).
  grpc::ClientContext second;
  second.set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(60));
  v1::SetSecretResponse second_response;
  grpc::Status second_status;
  auto second_reader =
      h_.secrets()->AsyncSetSecret(&second, SetRequest("kept"), &cq);
  second_reader->Finish(&second_response, &second_status,
                        reinterpret_cast<void*>(2));
  ASSERT_TRUE(WaitUntil([this] { return h_.queue()->queued() == 2; }));
  release_.Notify();
  for (int i = 0; i < 2; ++i) {
    void* tag;
    bool ok;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  EXPECT_EQ(cancelled_status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(second_status.ok()) << second_status.error_message();
  ASSERT_TRUE(WaitUntil([this] {
    return !AuditLinesWith("call cancelled while queued").empty();
  }));
  EXPECT_FALSE(Stored("gone"));
  EXPECT_TRUE(Stored("kept"));
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(QueuedCallsTest, CallsPastTheQueueBoundAreRefusedAndAudited) {
  OccupyWorker();
  grpc::CompletionQueue cq;
  struct Pending {
    grpc::ClientContext context;
    v1::SetSecretResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SetSecretResponse>>
        reader;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  for (int i = 0; i < 2; ++i) {
    pending.push_back(std::make_unique<Pending>());
    Pending& p = *pending.back();
    p.context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(60));
    p.reader = h_.secrets()->AsyncSetSecret(
        &p.context, SetRequest("queued" + std::to_string(i)), &cq);
    p.reader->Finish(&p.response, &p.status, &p);
  }
  ASSERT_TRUE(WaitUntil([this] { return h_.queue()->queued() == 2; }));

  v1::SetSecretResponse response;
  grpc::Status refused = h_.Call(&v1::Secrets::Stub::SetSecret, h_.secrets(),
                                 SetRequest("refused"), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "server overloaded"))
      << refused.error_message();
  std::vector<std::string> lines = AuditLinesWith("server overloaded");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "RESOURCE_EXHAUSTED")) << lines[0];

  release_.Notify();
  for (int i = 0; i < 2; ++i) {
    void* tag;
    bool ok;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  for (const auto& p : pending) EXPECT_TRUE(p->status.ok());
  EXPECT_TRUE(Stored("queued0"));
  EXPECT_TRUE(Stored("queued1"));
  EXPECT_FALSE(Stored("refused"));
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace zlayer::secrets
