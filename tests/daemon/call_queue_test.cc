// CallQueue: order, admission bounds, and Stop().
#include "daemon/rpc/call_queue.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

CallQueueOptions OneWorker() {
  CallQueueOptions options;
  options.workers = 1;
  return options;
}

// Occupies a worker of `queue` until `release` is notified; returns once the
// worker runs it.
void Occupy(CallQueue* queue, absl::Notification* release) {
  absl::Notification started;
  ASSERT_TRUE(queue
                  ->Submit(0,
                           [&started, release] {
                             started.Notify();
                             release->WaitForNotification();
                           })
                  .ok());
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST(CallQueueTest, DefaultWorkersIsAtLeastSixteen) {
  CallQueue queue(CallQueueOptions{});
  EXPECT_GE(queue.workers(), 16);
  EXPECT_EQ(queue.workers(), CallQueue::DefaultWorkers());
}

TEST(CallQueueTest, OneWorkerRunsTasksInArrivalOrder) {
  CallQueue queue(OneWorker());
  absl::Mutex mu;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(queue
                    .Submit(10,
                            [&mu, &order, i] {
                              absl::MutexLock lock(&mu);
                              order.push_back(i);
                            })
                    .ok());
  }
  queue.Stop();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(CallQueueTest, CallsPastTheCountBoundAreRefused) {
  CallQueueOptions options = OneWorker();
  options.max_queued_calls = 3;
  CallQueue queue(options);
  absl::Notification release;
  Occupy(&queue, &release);
  int ran = 0;  // only the worker touches it, and only after release
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(queue.Submit(0, [&ran] { ++ran; }).ok());
  }
  absl::Status refused = queue.Submit(0, [&ran] { ran += 100; });
  EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "server overloaded"));
  EXPECT_EQ(queue.queued(), 3u);
  EXPECT_EQ(queue.rejected(), 1u);
  EXPECT_EQ(queue.peak_queued(), 3u);
  release.Notify();
  queue.Stop();
  EXPECT_EQ(ran, 3);  // the refused task never ran
  EXPECT_EQ(queue.queued(), 0u);
  EXPECT_EQ(queue.peak_queued(), 3u);
}

TEST(CallQueueTest, CallsPastTheByteBoundAreRefused) {
  CallQueueOptions options = OneWorker();
  options.max_queued_bytes = 3 * kQueuedCallOverheadBytes + 1000;
  CallQueue queue(options);
  absl::Notification release;
  Occupy(&queue, &release);
  ASSERT_TRUE(queue.Submit(1000, [] {}).ok());
  ASSERT_TRUE(queue.Submit(0, [] {}).ok());
  absl::Status refused = queue.Submit(1, [] {});
  EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "bytes"));
  // One that fits exactly is still queued.
  EXPECT_TRUE(queue.Submit(0, [] {}).ok());
  EXPECT_EQ(queue.rejected(), 1u);
  release.Notify();
  queue.Stop();
}

TEST(CallQueueTest, StopRunsWhatIsQueuedThenRefuses) {
  CallQueue queue(OneWorker());
  absl::Notification release;
  Occupy(&queue, &release);
  int ran = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(queue.Submit(0, [&ran] { ++ran; }).ok());
  }
  release.Notify();
  queue.Stop();
  EXPECT_EQ(ran, 5);
  EXPECT_TRUE(absl::IsUnavailable(queue.Submit(0, [&ran] { ++ran; })));
  EXPECT_EQ(ran, 5);
  queue.Stop();  // idempotent
}

}  // namespace
}  // namespace zlayer::secrets
