#include "core/watch/consumer_graph.h"

#include "core/base/clock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

const SecretKey kDb{"prod", "db"};
const SecretKey kApi{"prod", "api"};

ConsumerGraphOptions Options(absl::Duration expiry, size_t max_entries = 100) {
  ConsumerGraphOptions options;
  options.expiry = expiry;
  options.max_entries = max_entries;
  return options;
}

TEST(ConsumerGraphTest, RecordsWhoHoldsWhichVersion) {
  FakeClock clock;
  ConsumerGraph graph(&clock, Options(absl::Minutes(10)));
  ASSERT_OK(graph.Record("prod/api/1", {{kDb, 3}, {kApi, 1}}));
  ASSERT_OK(graph.Record("prod/api/2", {{kDb, 4}}));
  std::vector<ConsumerUse> users = graph.Users(kDb);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].consumer, "prod/api/1");
  EXPECT_EQ(users[0].version, 3u);
  EXPECT_EQ(users[1].version, 4u);
  EXPECT_EQ(graph.LiveOnVersion(kDb, 3), 1u);
  EXPECT_EQ(graph.LiveOnVersion(kDb, 4), 1u);
  // A later resolve moves the consumer to the new version.
  ASSERT_OK(graph.Record("prod/api/1", {{kDb, 4}}));
  EXPECT_EQ(graph.LiveOnVersion(kDb, 3), 0u);
  EXPECT_EQ(graph.LiveOnVersion(kDb, 4), 2u);
}

TEST(ConsumerGraphTest, ConsumersWithoutWatchOrResolveExpire) {
  FakeClock clock;
  ConsumerGraph graph(&clock, Options(absl::Minutes(10)));
  ASSERT_OK(graph.Record("gone", {{kDb, 1}}));
  ASSERT_OK(graph.Record("watching", {{kDb, 1}}));
  graph.WatchOpened("watching");
  clock.Advance(absl::Minutes(9));
  EXPECT_EQ(graph.Users(kDb).size(), 2u);
  clock.Advance(absl::Minutes(2));
  std::vector<ConsumerUse> users = graph.Users(kDb);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].consumer, "watching");
  EXPECT_TRUE(users[0].watching);
  // Once its watch ends, the expiry counts from then.
  graph.WatchClosed("watching");
  clock.Advance(absl::Minutes(9));
  EXPECT_EQ(graph.LiveOnVersion(kDb, 1), 1u);
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(graph.LiveOnVersion(kDb, 1), 0u);
  EXPECT_TRUE(graph.Users(kDb).empty());
}

TEST(ConsumerGraphTest, FullGraphRefusesNewEntriesUntilSomeExpire) {
  FakeClock clock;
  ConsumerGraph graph(&clock, Options(absl::Minutes(1), /*max_entries=*/2));
  ASSERT_OK(graph.Record("a", {{kDb, 1}, {kApi, 1}}));
  EXPECT_STATUS(graph.Record("b", {{kDb, 1}}), kResourceExhausted);
  // Updating an entry already held needs no room.
  ASSERT_OK(graph.Record("a", {{kDb, 2}}));
  clock.Advance(absl::Minutes(2));
  ASSERT_OK(graph.Record("b", {{kDb, 2}}));
  EXPECT_EQ(graph.Users(kDb).size(), 1u);
}

TEST(ConsumerGraphTest, ConsumerIdentityIsValidated) {
  EXPECT_OK(ValidateConsumer("prod/api/instance-7"));
  EXPECT_STATUS(ValidateConsumer(""), kInvalidArgument);
  EXPECT_STATUS(ValidateConsumer("has space"), kInvalidArgument);
  EXPECT_STATUS(ValidateConsumer(std::string(257, 'a')), kInvalidArgument);
}

}  // namespace
}  // namespace zlayer::secrets
