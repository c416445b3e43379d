#include "core/ops/environment_ops.h"

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/env/memory_environment_registry.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

class EnvironmentOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = registry_.Create("prod", "shop", "");
    ASSERT_OK(env.status());
    env_ = *env;
  }
  bool Exists() { return registry_.Get(env_.id).ok(); }

  FakeClock clock_;
  MemorySecretStore memory_{&clock_};
  testing::FaultInjectingStore store_{&memory_};
  MemoryEnvironmentRegistry registry_{&clock_};
  Environment env_;
};

TEST_F(EnvironmentOpsTest, EmptyEnvironmentIsDeleted) {
  ASSERT_OK(DeleteEmptyEnvironment(&registry_, &store_, env_));
  EXPECT_FALSE(Exists());
}

TEST_F(EnvironmentOpsTest, EnvironmentWithALiveSecretStays) {
  ASSERT_OK(memory_
                .SetSecret(EnvironmentScope(env_), "db",
                           SecretBytes::FromString("v"), {})
                .status());
  absl::Status status = DeleteEmptyEnvironment(&registry_, &store_, env_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(status.message()),
            "environment 'prod' still holds secrets; delete them first");
  EXPECT_TRUE(Exists());
}

TEST_F(EnvironmentOpsTest, SoftDeletedSecretsDoNotKeepIt) {
  ASSERT_OK(memory_
                .SetSecret(EnvironmentScope(env_), "db",
                           SecretBytes::FromString("v"), {})
                .status());
  ASSERT_OK(memory_.DeleteSecret(EnvironmentScope(env_), "db"));
  ASSERT_OK(DeleteEmptyEnvironment(&registry_, &store_, env_));
  EXPECT_FALSE(Exists());
}

TEST_F(EnvironmentOpsTest, ListingFailureKeepsTheEnvironment) {
  store_.FailNextRead(absl::UnavailableError("disk gone"));
  EXPECT_EQ(DeleteEmptyEnvironment(&registry_, &store_, env_).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Exists());
}

}  // namespace
}  // namespace zlayer::secrets
