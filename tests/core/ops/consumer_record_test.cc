#include "core/ops/consumer_record.h"

#include <map>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/resolve/resolver.h"
#include "core/store/memory_secret_store.h"
#include "core/watch/consumer_graph.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

class ConsumerRecordTest : public ::testing::Test {
 protected:
  ConsumerRecordTest() : store_(&clock_), resolver_(&store_, nullptr) {}

  void Put(const std::string& name, const std::string& value) {
    ASSERT_TRUE(
        store_.SetSecret("shop", name, SecretBytes::FromString(value), {})
            .ok());
  }

  ResolvedEnv Resolve(const std::map<std::string, std::string>& env) {
    auto out = resolver_.Resolve(env, {"shop", ""});
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : ResolvedEnv{};
  }

  FakeClock clock_;
  MemorySecretStore store_;
  Resolver resolver_;
};

TEST_F(ConsumerRecordTest, RotationCountsConsumersStillOnThePreviousVersion) {
  ConsumerGraph graph(&clock_, {});
  Put("db", R"({"user":"u","pass":"p"})");
  Put("token", "t1");
  const std::map<std::string, std::string> env = {
      {"DB_USER", "$S:db/user"}, {"DB_PASS", "$S:db/pass"}, {"T", "$S:token"}};
  ASSERT_TRUE(RecordResolve(&graph, "prod/api/1", Resolve(env).receipt).ok());
  ASSERT_TRUE(RecordResolve(&graph, "prod/api/2", Resolve(env).receipt).ok());

  auto rotated =
      store_.RotateSecret("shop", "token", SecretBytes::FromString("t2"));
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(
      ConsumersOnVersion(&graph, {"shop", "token"}, rotated->previous_version),
      2u);
  // One consumer re-resolves: one is left on the previous version.
  ASSERT_TRUE(RecordResolve(&graph, "prod/api/2", Resolve(env).receipt).ok());
  EXPECT_EQ(
      ConsumersOnVersion(&graph, {"shop", "token"}, rotated->previous_version),
      1u);
  EXPECT_EQ(ConsumersOnVersion(&graph, {"shop", "token"}, rotated->new_version),
            1u);
  std::vector<ConsumerUse> users = graph.Users({"shop", "db"});
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].consumer, "prod/api/1");
  EXPECT_EQ(users[0].version, 1u);
}

TEST_F(ConsumerRecordTest, SecretNamedByTwoEntriesIsOneGraphEntry) {
  ConsumerGraphOptions options;
  options.max_entries = 1;
  ConsumerGraph graph(&clock_, options);
  Put("db", R"({"user":"u","pass":"p"})");
  ResolvedEnv env = Resolve({{"A", "$S:db/user"}, {"B", "$S:db/pass"}});
  ASSERT_EQ(env.receipt.size(), 2u);
  EXPECT_TRUE(RecordResolve(&graph, "c", env.receipt).ok());
  EXPECT_EQ(graph.Users({"shop", "db"}).size(), 1u);
}

TEST_F(ConsumerRecordTest, AnonymousOrNoGraphRecordsNothing) {
  ConsumerGraph graph(&clock_, {});
  Put("db", "v");
  ResolvedEnv env = Resolve({{"A", "$S:db"}});
  EXPECT_TRUE(RecordResolve(&graph, "", env.receipt).ok());
  EXPECT_TRUE(RecordResolve(nullptr, "c", env.receipt).ok());
  EXPECT_TRUE(graph.Users({"shop", "db"}).empty());
  EXPECT_EQ(ConsumersOnVersion(nullptr, {"shop", "db"}, 1), 0u);
  EXPECT_EQ(ConsumersOnVersion(&graph, {"shop", "db"}, 0), 0u);
}

TEST_F(ConsumerRecordTest, FullGraphIsReportedAndRecordsNothing) {
  ConsumerGraphOptions options;
  options.max_entries = 1;
  ConsumerGraph graph(&clock_, options);
  Put("a", "1");
  Put("b", "2");
  EXPECT_TRUE(
      RecordResolve(&graph, "c1", Resolve({{"A", "$S:a"}}).receipt).ok());
  absl::Status full =
      RecordResolve(&graph, "c2", Resolve({{"B", "$S:b"}}).receipt);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(graph.Users({"shop", "b"}).empty());
}

}  // namespace
}  // namespace zlayer::secrets
