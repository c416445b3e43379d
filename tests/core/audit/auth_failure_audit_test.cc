#include "core/audit/auth_failure_audit.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

class AuthFailureAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::Create(&sink_, &clock_, {});
    ASSERT_TRUE(log.ok());
    log_ = *std::move(log);
  }

  FakeClock clock_;
  MemoryAuditSink sink_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuthFailureAuditTest, RepeatedFailuresBecomeOneRecordPerInterval) {
  AuthFailureAuditOptions o;
  o.interval = absl::Seconds(10);
  AuthFailureAudit audit(log_.get(), &clock_, o);
  for (int i = 0; i < 1000; ++i) {
    audit.Note("ipv4:127.0.0.1", "admin", /*refused=*/i >= 10);
  }
  audit.Note("ipv6:[::1]", "ci", false);
  audit.FlushDue();
  EXPECT_TRUE(sink_.lines().empty());
  clock_.Advance(absl::Seconds(10));
  audit.FlushDue();
  std::vector<std::string> lines = sink_.lines();
  ASSERT_EQ(lines.size(), 2u);
  std::string admin =
      absl::StrContains(lines[0], "admin") ? lines[0] : lines[1];
  EXPECT_TRUE(absl::StrContains(admin, "\"rpc\":\"ApiKeyAuth\""));
  EXPECT_TRUE(absl::StrContains(admin, "\"name\":\"admin\""));
  EXPECT_TRUE(absl::StrContains(admin, "\"code\":\"UNAUTHENTICATED\""));
  EXPECT_TRUE(absl::StrContains(
      admin, "1000 failed API key attempts from ipv4:127.0.0.1 (990 refused"))
      << admin;
  EXPECT_EQ(audit.records_written(), 2u);
  // Nothing pending: nothing more.
  clock_.Advance(absl::Seconds(30));
  audit.FlushDue();
  EXPECT_EQ(sink_.lines().size(), 2u);
}

TEST_F(AuthFailureAuditTest, AllRefusedIsResourceExhaustedAndShutdownFlushes) {
  {
    AuthFailureAudit audit(log_.get(), &clock_, {});
    audit.Note("ipv4:10.0.0.1", "x", /*refused=*/true);
    audit.Note("ipv4:10.0.0.1", "x", /*refused=*/true);
    EXPECT_TRUE(sink_.lines().empty());
  }  // destroyed: flushed
  ASSERT_EQ(sink_.lines().size(), 1u);
  EXPECT_TRUE(
      absl::StrContains(sink_.lines()[0], "\"code\":\"RESOURCE_EXHAUSTED\""));
}

TEST_F(AuthFailureAuditTest, PendingPairsAreBounded) {
  AuthFailureAuditOptions o;
  o.max_pending = 4;
  AuthFailureAudit audit(log_.get(), &clock_, o);
  for (int i = 0; i < 100; ++i) {
    audit.Note("ipv4:10.0.0.1", std::string("id") + std::to_string(i), false);
  }
  ASSERT_TRUE(audit.Flush().ok());
  std::vector<std::string> lines = sink_.lines();
  ASSERT_EQ(lines.size(), 5u);  // 4 ids and "*"
  int star = 0;
  for (const std::string& l : lines) {
    if (absl::StrContains(l, "\"name\":\"*\"")) {
      ++star;
      EXPECT_TRUE(absl::StrContains(l, "96 failed API key attempts")) << l;
    }
  }
  EXPECT_EQ(star, 1);
}

TEST(CoalescedAuditMarkTest, MarksAStatusWithoutChangingIt) {
  absl::Status s = MarkCoalescedAudit(absl::UnauthenticatedError("invalid"));
  EXPECT_TRUE(IsCoalescedAudit(s));
  EXPECT_TRUE(absl::IsUnauthenticated(s));
  EXPECT_EQ(s.message(), "invalid");
  EXPECT_FALSE(IsCoalescedAudit(absl::UnauthenticatedError("invalid")));
}

}  // namespace
}  // namespace zlayer::secrets
