// Environment changes in the change feed (issue 12: "an environment renamed
// or deleted"): a real (memory) registry behind ObservedEnvironmentRegistry
// feeds a ChangeFeed; create, rename and delete become kEnvironment events
// with the same coalescing and resume as secret changes.
#include <atomic>
#include <memory>

#include "core/base/clock.h"
#include "core/env/memory_environment_registry.h"
#include "core/env/observed_environment_registry.h"
#include "core/watch/change_feed.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

bool Everything(const StoreChange&) { return true; }

Environment Must(absl::StatusOr<Environment> env) {
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *std::move(env) : Environment{};
}

class EnvironmentChangesTest : public ::testing::Test {
 protected:
  EnvironmentChangesTest()
      : registry_(std::make_unique<MemoryEnvironmentRegistry>(&clock_),
                  &feed_) {}

  std::unique_ptr<Subscription> Subscribe(
      absl::optional<WatchPosition> resume = absl::nullopt) {
    auto sub = feed_.Subscribe("uid:1", Everything, resume, [] {});
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? *std::move(sub) : nullptr;
  }

  FakeClock clock_;
  ChangeFeed feed_{ChangeFeedOptions{}, 5};
  ObservedEnvironmentRegistry registry_;
};

TEST_F(EnvironmentChangesTest, CreateRenameAndDeleteAreEvents) {
  std::unique_ptr<Subscription> sub = Subscribe();
  Environment env = Must(registry_.Create("staging", "shop", "first"));
  Subscription::Batch batch = sub->Take();
  ASSERT_EQ(batch.events.size(), 1u);
  const StoreChange& created = batch.events[0].change;
  EXPECT_EQ(created.kind, ChangeKind::kEnvironment);
  EXPECT_EQ(created.scope, EnvironmentScope(env));
  EXPECT_EQ(created.name, "");
  EXPECT_EQ(created.environment_id, env.id);
  EXPECT_EQ(created.environment_project, "shop");
  EXPECT_EQ(created.environment_name, "staging");
  EXPECT_EQ(created.previous_environment_name, "");
  EXPECT_EQ(ChangeKindName(created.kind), "environment");

  ASSERT_OK(registry_.Update(env.id, "stage2", "").status());
  batch = sub->Take();
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].change.environment_name, "stage2");
  EXPECT_EQ(batch.events[0].change.previous_environment_name, "staging");

  // A new description resolves nothing differently: no event.
  ASSERT_OK(registry_.Update(env.id, "", "second").status());
  EXPECT_FALSE(sub->HasPending());

  ASSERT_OK(registry_.Delete(env.id));
  batch = sub->Take();
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].change.scope, EnvironmentScope(env));
  EXPECT_EQ(batch.events[0].change.environment_name, "");
  EXPECT_EQ(batch.events[0].change.previous_environment_name, "stage2");
}

TEST_F(EnvironmentChangesTest, FailedWritesTellNothing) {
  std::unique_ptr<Subscription> sub = Subscribe();
  Environment env = Must(registry_.Create("staging", "", ""));
  Environment other = Must(registry_.Create("prod", "", ""));
  sub->Take();
  EXPECT_STATUS(registry_.Create("staging", "", ""), kAlreadyExists);
  EXPECT_STATUS(registry_.Update(other.id, "staging", ""), kAlreadyExists);
  EXPECT_STATUS(registry_.Delete("7d1c1d4e-8a6e-4c36-9d2c-3f0f1e2a4b5c"),
                kNotFound);
  EXPECT_FALSE(sub->HasPending());
  EXPECT_EQ(env.name, "staging");
}

TEST_F(EnvironmentChangesTest, RenameAndRenameBackCoalesceToOneEntry) {
  Environment env = Must(registry_.Create("staging", "", ""));
  std::unique_ptr<Subscription> sub = Subscribe();
  ASSERT_OK(registry_.Update(env.id, "stage2", "").status());
  ASSERT_OK(registry_.Update(env.id, "staging", "").status());
  Subscription::Batch batch = sub->Take();
  ASSERT_EQ(batch.events.size(), 1u);
  // The newest name, and the oldest one the client was not told about.
  EXPECT_EQ(batch.events[0].change.environment_name, "staging");
  EXPECT_EQ(batch.events[0].change.previous_environment_name, "staging");
  EXPECT_EQ(batch.events[0].sequence, 3u);
  EXPECT_EQ(batch.position.sequence, 3u);
}

TEST_F(EnvironmentChangesTest, ResumeReplaysEnvironmentChanges) {
  Environment env = Must(registry_.Create("staging", "", ""));
  const WatchPosition seen = feed_.position();
  ASSERT_OK(registry_.Delete(env.id));
  std::unique_ptr<Subscription> sub = Subscribe(seen);
  Subscription::Batch batch = sub->Take();
  EXPECT_FALSE(batch.resync);
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].change.kind, ChangeKind::kEnvironment);
  EXPECT_EQ(batch.events[0].change.previous_environment_name, "staging");
  // From another run's position: resync, as for secrets.
  std::unique_ptr<Subscription> stale = Subscribe(WatchPosition{4, 1});
  EXPECT_TRUE(stale->Take().resync);
}

TEST(ObservedEnvironmentRegistryTest, WithoutObserverStillWorks) {
  FakeClock clock;
  ObservedEnvironmentRegistry registry(
      std::make_unique<MemoryEnvironmentRegistry>(&clock), nullptr);
  Environment env = Must(registry.Create("staging", "", ""));
  Environment found = Must(registry.Find("staging", ""));
  EXPECT_EQ(found.id, env.id);
  ASSERT_OK(registry.Delete(env.id));
  EXPECT_STATUS(registry.Find("staging", ""), kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets
