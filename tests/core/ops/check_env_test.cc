#include "core/ops/check_env.h"

#include <map>
#include <string>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/env/memory_environment_registry.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;

class CheckEnvTest : public ::testing::Test {
 protected:
  CheckEnvTest() : memory_(&clock_), store_(&memory_), envs_(&clock_) {}

  absl::StatusOr<EnvCheck> Check(const std::map<std::string, std::string>& env,
                                 AccessCheck execute = Allow(),
                                 AccessCheck read = Allow()) {
    return CheckEnvMap(&store_, &envs_, env, ResolveContext{"shop", ""},
                       execute, read, [] { return absl::OkStatus(); });
  }
  static AccessCheck Allow() {
    return [](const SecretKey&) { return absl::OkStatus(); };
  }
  static AccessCheck Deny() {
    return [](const SecretKey&) {
      return absl::PermissionDeniedError("caller lacks execute");
    };
  }

  FakeClock clock_;
  MemorySecretStore memory_;
  testing::FaultInjectingStore store_;
  MemoryEnvironmentRegistry envs_;
};

TEST_F(CheckEnvTest, MissingEnvironmentStillNamesTheCanonicalReference) {
  auto check = Check({{"DB", "$S::nowhere/db"}});
  ASSERT_OK(check.status());
  EXPECT_FALSE(check->ok);
  ASSERT_EQ(check->entries.size(), 1u);
  const CheckedEnvEntry& entry = check->entries[0];
  EXPECT_EQ(entry.reference, "$S::nowhere/db");
  EXPECT_EQ(entry.name, "db");
  EXPECT_EQ(entry.scope, "");
  EXPECT_THAT(entry.error, HasSubstr("nowhere"));
}

TEST_F(CheckEnvTest, ReportsExistenceWithoutReadingValues) {
  ASSERT_OK(memory_.SetSecret("shop", "db", SecretBytes::FromString("v"), {})
                .status());
  auto check = Check({{"A", "$S:db"}, {"B", "$S:nope"}, {"C", "plain"}});
  ASSERT_OK(check.status());
  EXPECT_FALSE(check->ok);
  ASSERT_EQ(check->entries.size(), 3u);
  EXPECT_TRUE(check->entries[0].exists);
  EXPECT_EQ(check->entries[0].version, 1u);
  EXPECT_TRUE(check->entries[0].error.empty());
  EXPECT_THAT(check->entries[1].error, HasSubstr("not found"));
  EXPECT_FALSE(check->entries[2].is_reference);
  EXPECT_TRUE(store_.batch_keys().empty());  // metadata only
}

TEST_F(CheckEnvTest, WithoutReadAccessExistenceIsHidden) {
  ASSERT_OK(memory_.SetSecret("shop", "db", SecretBytes::FromString("v"), {})
                .status());
  auto check = Check({{"A", "$S:db"}}, Deny(), Deny());
  ASSERT_OK(check.status());
  EXPECT_FALSE(check->entries[0].readable);
  EXPECT_FALSE(check->entries[0].exists);
  EXPECT_THAT(check->entries[0].error, HasSubstr("lacks execute"));
  EXPECT_EQ(store_.reads(), 0);
}

TEST_F(CheckEnvTest, FailedMetadataReadIsReturned) {
  store_.FailNextRead(absl::DataLossError("integrity"));
  EXPECT_STATUS(Check({{"A", "$S:db"}}), kDataLoss);
}

}  // namespace
}  // namespace zlayer::secrets
