#include "core/identity/auth_failure_budget.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

AuthFailureBudgetOptions Small() {
  AuthFailureBudgetOptions o;
  o.source_free_failures = 3;
  o.id_free_failures = 5;
  o.base_backoff = absl::Seconds(1);
  o.max_backoff = absl::Seconds(8);
  o.forget_after = absl::Minutes(10);
  return o;
}

TEST(AuthFailureBudgetTest, SourceIsRefusedAfterItsFreeFailuresWithBackoff) {
  FakeClock clock;
  AuthFailureBudget budget(&clock, Small());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(budget.Check("ipv4:1.1.1.1", "admin").allowed);
    budget.RecordFailure("ipv4:1.1.1.1", "admin");
  }
  // The free failures are spent, but no backoff yet.
  EXPECT_TRUE(budget.Check("ipv4:1.1.1.1", "other").allowed);
  budget.RecordFailure("ipv4:1.1.1.1", "other");  // 4th: 1 s
  AuthFailureBudget::Decision d = budget.Check("ipv4:1.1.1.1", "x");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.source_blocked);
  EXPECT_EQ(d.retry_after, absl::Seconds(1));
  // Refused attempts do not extend the block.
  for (int i = 0; i < 100; ++i) budget.Check("ipv4:1.1.1.1", "x");
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(budget.Check("ipv4:1.1.1.1", "x").allowed);
  budget.RecordFailure("ipv4:1.1.1.1", "x");  // 5th: 2 s
  EXPECT_EQ(budget.Check("ipv4:1.1.1.1", "x").retry_after, absl::Seconds(2));
  clock.Advance(absl::Seconds(2));
  budget.RecordFailure("ipv4:1.1.1.1", "x");  // 6th: 4 s
  EXPECT_EQ(budget.Check("ipv4:1.1.1.1", "x").retry_after, absl::Seconds(4));
  clock.Advance(absl::Seconds(4));
  budget.RecordFailure("ipv4:1.1.1.1", "x");  // 7th: 8 s
  clock.Advance(absl::Seconds(8));
  budget.RecordFailure("ipv4:1.1.1.1", "x");  // 8th: capped at 8 s
  EXPECT_EQ(budget.Check("ipv4:1.1.1.1", "x").retry_after, absl::Seconds(8));
  // Another address is not affected.
  EXPECT_TRUE(budget.Check("ipv4:2.2.2.2", "x").allowed);
}

TEST(AuthFailureBudgetTest, BlockedIdRefusesDirtySourcesButNeverACleanOne) {
  FakeClock clock;
  AuthFailureBudget budget(&clock, Small());
  // Six addresses, one failure each on "admin": the id is blocked.
  for (int i = 0; i < 6; ++i) {
    budget.RecordFailure(absl::StrCat("ipv4:10.0.0.", i), "admin");
  }
  // An address that failed before is refused on "admin" ...
  AuthFailureBudget::Decision d = budget.Check("ipv4:10.0.0.1", "admin");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.id_blocked);
  EXPECT_FALSE(d.source_blocked);
  // ... but not on another id,
  EXPECT_TRUE(budget.Check("ipv4:10.0.0.1", "ci").allowed);
  // and the administrator from a clean address is always checked.
  EXPECT_TRUE(budget.Check("ipv4:192.0.2.9", "admin").allowed);
}

TEST(AuthFailureBudgetTest, CountersAreForgottenAfterAQuietPeriod) {
  FakeClock clock;
  AuthFailureBudget budget(&clock, Small());
  for (int i = 0; i < 4; ++i) budget.RecordFailure("s", "id");
  EXPECT_FALSE(budget.Check("s", "id").allowed);
  clock.Advance(absl::Minutes(10));
  EXPECT_TRUE(budget.Check("s", "id").allowed);
  // Starts from zero again: three free failures.
  for (int i = 0; i < 3; ++i) budget.RecordFailure("s", "id");
  EXPECT_TRUE(budget.Check("s", "id").allowed);
}

TEST(AuthFailureBudgetTest, TablesAreBounded) {
  FakeClock clock;
  AuthFailureBudgetOptions o = Small();
  o.max_tracked = 64;
  AuthFailureBudget budget(&clock, o);
  for (int i = 0; i < 10000; ++i) {
    budget.RecordFailure(absl::StrCat("ipv4:", i), absl::StrCat("id", i));
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_LE(budget.tracked_sources(), 64u);
  EXPECT_LE(budget.tracked_ids(), 64u);
  // The newest ones are kept.
  for (int i = 0; i < 3; ++i) budget.RecordFailure("ipv4:9999", "id9999");
  EXPECT_FALSE(budget.Check("ipv4:9999", "id9999").allowed);
}

}  // namespace
}  // namespace zlayer::secrets
