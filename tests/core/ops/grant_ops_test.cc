#include "core/ops/grant_ops.h"

#include <memory>
#include <utility>

#include "core/base/clock.h"
#include "core/identity/access.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

class GrantOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto grants = GrantStore::Open(&store_, &clock_);
    ASSERT_OK(grants.status());
    grants_ = *std::move(grants);
  }
  AccessGrant MustGrant(const char* subject, const GrantResource& resource,
                        AccessLevel level) {
    auto g = grants_->Grant(subject, resource, level);
    EXPECT_OK(g.status());
    return g.ok() ? *g : AccessGrant();
  }

  FakeClock clock_;
  MemorySecretStore memory_{&clock_};
  testing::FaultInjectingStore store_{&memory_};
  std::unique_ptr<GrantStore> grants_;
};

TEST_F(GrantOpsTest, FindGrantById) {
  AccessGrant g =
      MustGrant("uid:1", GrantResource::Scope("shop"), AccessLevel::kRead);
  absl::optional<AccessGrant> found = FindGrant(*grants_, g.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->subject, "uid:1");
  EXPECT_EQ(found->resource, GrantResource::Scope("shop"));
  EXPECT_FALSE(FindGrant(*grants_, "no-such-id").has_value());
}

TEST_F(GrantOpsTest, RevokeMatchingAnswersWhatWentAndLeavesTheRest) {
  const GrantResource shop = GrantResource::Scope("shop");
  MustGrant("uid:1", shop, AccessLevel::kRead);
  MustGrant("uid:1", shop, AccessLevel::kWrite);
  AccessGrant other_resource =
      MustGrant("uid:1", GrantResource::Scope("bank"), AccessLevel::kRead);
  AccessGrant other_subject = MustGrant("uid:2", shop, AccessLevel::kRead);

  auto revoked = RevokeMatchingGrants(grants_.get(), "uid:1", shop);
  ASSERT_OK(revoked.status());
  EXPECT_EQ(revoked->removed, 2u);
  ASSERT_EQ(revoked->grants.size(), 2u);
  for (const AccessGrant& g : revoked->grants) {
    EXPECT_EQ(g.subject, "uid:1");
    EXPECT_EQ(g.resource, shop);
    EXPECT_FALSE(FindGrant(*grants_, g.id).has_value());
  }
  EXPECT_TRUE(FindGrant(*grants_, other_resource.id).has_value());
  EXPECT_TRUE(FindGrant(*grants_, other_subject.id).has_value());

  // Nothing left to revoke: the store's NOT_FOUND.
  auto again = RevokeMatchingGrants(grants_.get(), "uid:1", shop);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrantOpsTest, RevokeMatchingStoreFailureIsReturned) {
  const GrantResource shop = GrantResource::Scope("shop");
  AccessGrant g = MustGrant("uid:1", shop, AccessLevel::kRead);
  store_.FailNextWrite(absl::UnavailableError("disk gone"));
  auto revoked = RevokeMatchingGrants(grants_.get(), "uid:1", shop);
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(FindGrant(*grants_, g.id).has_value());
}

}  // namespace
}  // namespace zlayer::secrets
