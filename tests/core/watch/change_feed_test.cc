#include "core/watch/change_feed.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/memory_secret_store.h"
#include "core/store/observed_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

constexpr uint64_t kEpoch = 77;

bool Everything(const StoreChange&) { return true; }

// A real (memory) store behind the observing decorator, feeding the feed.
class ChangeFeedTest : public ::testing::Test {
 protected:
  ChangeFeedTest() : memory_(&clock_), store_(&memory_, &feed_) {}

  void Set(absl::string_view name, absl::string_view value) {
    ASSERT_OK(store_.SetSecret("prod", name, SecretBytes::FromString(value), {})
                  .status());
  }

  std::unique_ptr<Subscription> Subscribe(
      absl::optional<WatchPosition> resume = absl::nullopt,
      std::atomic<int>* wakes = nullptr) {
    auto sub = feed_.Subscribe("uid:1", Everything, resume, [wakes] {
      if (wakes != nullptr) ++*wakes;
    });
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? *std::move(sub) : nullptr;
  }

  FakeClock clock_;
  ChangeFeedOptions options_;
  ChangeFeed feed_{options_, kEpoch};
  MemorySecretStore memory_;
  ObservedSecretStore store_;
};

TEST(PositionTest, FormatsAndParsesBack) {
  WatchPosition p{12, 345};
  EXPECT_EQ(FormatPosition(p), "12-345");
  absl::StatusOr<WatchPosition> back = ParsePosition("12-345");
  ASSERT_OK(back);
  EXPECT_EQ(*back, p);
  EXPECT_STATUS(ParsePosition("12"), kInvalidArgument);
  EXPECT_STATUS(ParsePosition("a-b"), kInvalidArgument);
  EXPECT_STATUS(ParsePosition(""), kInvalidArgument);
}

TEST_F(ChangeFeedTest, EveryKindOfWriteReachesTheSubscriberWithoutValues) {
  std::atomic<int> wakes{0};
  auto sub = Subscribe(absl::nullopt, &wakes);
  Set("db", "one");
  ASSERT_OK(store_.RotateSecret("prod", "db", SecretBytes::FromString("two"))
                .status());
  Subscription::Batch batch = sub->Take();
  // Two writes of one secret before a Take coalesce into the newest.
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].change.kind, ChangeKind::kRotate);
  EXPECT_EQ(batch.events[0].change.version, 2u);
  EXPECT_EQ(batch.events[0].change.previous_version, 0u);
  EXPECT_EQ(batch.position, (WatchPosition{kEpoch, 2}));
  // Woken once: the second write found something already pending.
  EXPECT_EQ(wakes.load(), 1);

  ASSERT_OK(store_.DeleteSecret("prod", "db"));
  EXPECT_EQ(sub->Take().events.at(0).change.kind, ChangeKind::kDelete);
  ASSERT_OK(store_.UndeleteSecret("prod", "db"));
  batch = sub->Take();
  EXPECT_EQ(batch.events.at(0).change.kind, ChangeKind::kUndelete);
  EXPECT_EQ(batch.events.at(0).change.version, 2u);
  ASSERT_OK(store_.RollbackSecret("prod", "db", 1).status());
  batch = sub->Take();
  EXPECT_EQ(batch.events.at(0).change.kind, ChangeKind::kRollback);
  EXPECT_EQ(batch.events.at(0).change.version, 3u);
  ASSERT_OK(store_.DestroySecret("prod", "db"));
  EXPECT_EQ(sub->Take().events.at(0).change.kind, ChangeKind::kDestroy);
  EXPECT_EQ(wakes.load(), 5);
}

TEST_F(ChangeFeedTest, AFailedWriteNotifiesNobody) {
  auto sub = Subscribe();
  EXPECT_STATUS(
      store_.RotateSecret("prod", "absent", SecretBytes::FromString("x")),
      kNotFound);
  EXPECT_FALSE(sub->HasPending());
  EXPECT_EQ(feed_.position().sequence, 0u);
}

TEST_F(ChangeFeedTest, ThousandRotationsOfOneSecretCoalesceToTheLast) {
  auto sub = Subscribe();
  Set("db", "v");
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK(store_.RotateSecret("prod", "db", SecretBytes::FromString("v"))
                  .status());
  }
  Subscription::Batch batch = sub->Take();
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].change.version, 1001u);
  EXPECT_FALSE(batch.resync);
}

TEST_F(ChangeFeedTest, ResumeReplaysWhatCameAfterThePosition) {
  Set("a", "1");
  const WatchPosition seen = feed_.position();
  Set("b", "1");
  Set("c", "1");
  std::atomic<int> wakes{0};
  auto sub = Subscribe(seen, &wakes);
  EXPECT_EQ(wakes.load(), 1);  // woken at once: something to take
  Subscription::Batch batch = sub->Take();
  EXPECT_FALSE(batch.resync);
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].change.name, "b");
  EXPECT_EQ(batch.events[1].change.name, "c");
}

TEST_F(ChangeFeedTest, ResumeFromTheCurrentPositionHasNothingPending) {
  Set("a", "1");
  auto sub = Subscribe(feed_.position());
  EXPECT_FALSE(sub->HasPending());
}

TEST(ChangeFeedHistoryTest, ResumeOlderThanTheHistoryOrAnotherRunResyncs) {
  ChangeFeedOptions options;
  options.history = 2;
  ChangeFeed feed(options, kEpoch);
  for (int i = 0; i < 5; ++i) feed.OnStoreChange({ChangeKind::kSet, "s", "n"});
  // Sequences 4 and 5 are kept: resuming after 3 is fine, after 2 is not.
  auto ok = feed.Subscribe("c", Everything, WatchPosition{kEpoch, 3}, [] {});
  ASSERT_OK(ok.status());
  EXPECT_FALSE((*ok)->Take().resync);
  auto old = feed.Subscribe("c", Everything, WatchPosition{kEpoch, 2}, [] {});
  ASSERT_OK(old.status());
  EXPECT_TRUE((*old)->Take().resync);
  auto other_run = feed.Subscribe("c", Everything, WatchPosition{1, 5}, [] {});
  ASSERT_OK(other_run.status());
  EXPECT_TRUE((*other_run)->Take().resync);
  auto future =
      feed.Subscribe("c", Everything, WatchPosition{kEpoch, 9}, [] {});
  ASSERT_OK(future.status());
  EXPECT_TRUE((*future)->Take().resync);
}

TEST(ChangeFeedBoundsTest, TooManyDistinctSecretsTurnIntoOneResync) {
  ChangeFeedOptions options;
  options.max_pending_per_stream = 3;
  ChangeFeed feed(options, kEpoch);
  auto sub = feed.Subscribe("c", Everything, absl::nullopt, [] {});
  ASSERT_OK(sub.status());
  for (int i = 0; i < 100; ++i) {
    feed.OnStoreChange({ChangeKind::kSet, "s", absl::StrCat("n", i), 1, 0});
  }
  Subscription::Batch batch = (*sub)->Take();
  EXPECT_TRUE(batch.resync);
  EXPECT_TRUE(batch.events.empty());
  EXPECT_EQ(batch.position.sequence, 100u);
  EXPECT_FALSE((*sub)->HasPending());
}

TEST(ChangeFeedBoundsTest, StreamCapsPerCallerAndInTotal) {
  ChangeFeedOptions options;
  options.max_streams = 3;
  options.max_streams_per_caller = 2;
  ChangeFeed feed(options, kEpoch);
  auto a1 = feed.Subscribe("a", Everything, absl::nullopt, [] {});
  auto a2 = feed.Subscribe("a", Everything, absl::nullopt, [] {});
  ASSERT_OK(a1.status());
  ASSERT_OK(a2.status());
  EXPECT_STATUS(feed.Subscribe("a", Everything, absl::nullopt, [] {}),
                kResourceExhausted);
  auto b1 = feed.Subscribe("b", Everything, absl::nullopt, [] {});
  ASSERT_OK(b1.status());
  EXPECT_STATUS(feed.Subscribe("c", Everything, absl::nullopt, [] {}),
                kResourceExhausted);
  EXPECT_EQ(feed.streams(), 3u);
  // Closing one frees its place.
  a1->reset();
  EXPECT_EQ(feed.streams(), 2u);
  ASSERT_OK(feed.Subscribe("a", Everything, absl::nullopt, [] {}).status());
}

TEST(ChangeFeedFilterTest, OnlyWantedChangesArePendingAndWake) {
  ChangeFeed feed(ChangeFeedOptions{}, kEpoch);
  int wakes = 0;
  auto sub = feed.Subscribe(
      "c", [](const StoreChange& c) { return c.name == "db"; }, absl::nullopt,
      [&wakes] { ++wakes; });
  ASSERT_OK(sub.status());
  feed.OnStoreChange({ChangeKind::kSet, "prod", "other", 1, 0});
  EXPECT_EQ(wakes, 0);
  EXPECT_FALSE((*sub)->HasPending());
  feed.OnStoreChange({ChangeKind::kSet, "prod", "db", 1, 0});
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ((*sub)->Take().events.size(), 1u);
}

TEST_F(ChangeFeedTest, ResyncAllResyncsOpenStreamsAndOlderPositions) {
  std::atomic<int> wakes{0};
  auto idle = Subscribe(absl::nullopt, &wakes);
  auto busy = Subscribe();
  Set("db", "one");
  ASSERT_EQ(wakes.load(), 1);
  idle->Take();
  const WatchPosition before = feed_.position();
  feed_.ResyncAll();
  EXPECT_EQ(wakes.load(), 2);  // the idle one is woken
  Subscription::Batch b1 = idle->Take();
  EXPECT_TRUE(b1.resync);
  EXPECT_TRUE(b1.events.empty());
  Subscription::Batch b2 = busy->Take();
  EXPECT_TRUE(b2.resync);
  EXPECT_TRUE(b2.events.empty());  // its pending "db" is dropped
  // A client resuming from any position before the resync re-reads too,
  // even the newest one.
  auto resumed = Subscribe(before);
  EXPECT_TRUE(resumed->Take().resync);
  // Afterwards changes flow as before.
  Set("api", "k");
  Subscription::Batch after = idle->Take();
  EXPECT_FALSE(after.resync);
  ASSERT_EQ(after.events.size(), 1u);
  EXPECT_EQ(after.events[0].change.name, "api");
}

}  // namespace
}  // namespace zlayer::secrets
