// CallAuditor::Write: refusals coalesced per (source, code, RPC) and
// interval, with one summary record carrying the count; successes never
// coalesced; fail-closed for value-revealing calls. The interceptor side is
// exercised against the real daemon in tests/security/audit.
#include "daemon/rpc/call_auditor.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "core/identity/identity_records.h"
#include "daemon/rpc/service_context.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

class CallAuditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::Create(&sink_, &clock_, {});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    ctx_.audit = log_.get();
    ctx_.clock = &clock_;
    ctx_.audit_written = [this](bool ok) { written_.push_back(ok); };
    CallAuditorOptions options;
    options.refusal_interval = absl::Seconds(10);
    options.refusal_burst = 3;
    options.max_refusal_keys = 2;
    auditor_ = std::make_unique<CallAuditor>(&ctx_, options);
  }

  static AuditRecord Refusal(const std::string& subject,
                             const std::string& rpc = "GetSecret") {
    AuditRecord r;
    r.request_id = "r";
    r.subject = subject;
    r.rpc = rpc;
    r.code = absl::StatusCode::kInvalidArgument;
    r.message = "request message could not be parsed";
    return r;
  }

  int Count(const std::string& part) const {
    int n = 0;
    for (const std::string& line : sink_.lines()) {
      n += absl::StrContains(line, part);
    }
    return n;
  }

  FakeClock clock_;
  MemoryAuditSink sink_;
  std::unique_ptr<AuditLog> log_;
  ServiceContext ctx_;
  std::unique_ptr<CallAuditor> auditor_;
  std::vector<bool> written_;
};

TEST_F(CallAuditorTest, RefusalsBeyondTheBurstAreCountedThenSummarised) {
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(
        auditor_
            ->Write(Refusal("uid:7"), false, absl::InvalidArgumentError("x"))
            .code(),
        absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(sink_.lines().size(), 3u);  // the burst
  // Another key (another source, another RPC) has its own burst.
  ASSERT_TRUE(absl::IsInvalidArgument(auditor_->Write(
      Refusal("uid:8"), false, absl::InvalidArgumentError("x"))));
  EXPECT_EQ(sink_.lines().size(), 4u);
  // Successes are never coalesced.
  AuditRecord ok = Refusal("uid:7");
  ok.code = absl::StatusCode::kOk;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(auditor_->Write(ok, true, absl::OkStatus()).ok());
  }
  EXPECT_EQ(Count("\"code\":\"OK\""), 10);

  // After the interval, the next record brings the summary of the 47.
  clock_.Advance(absl::Seconds(11));
  ASSERT_TRUE(absl::IsInvalidArgument(auditor_->Write(
      Refusal("uid:7"), false, absl::InvalidArgumentError("x"))));
  int summaries = 0;
  for (const std::string& line : sink_.lines()) {
    absl::StatusOr<FlatRecord> r = FlatRecord::Parse(line);
    ASSERT_TRUE(r.ok()) << line;
    absl::StatusOr<int64_t> count = r->Int("count");
    if (!count.ok()) continue;
    ++summaries;
    EXPECT_EQ(*count, 47);
    EXPECT_EQ(*r->String("subject"), "uid:7");
    EXPECT_EQ(*r->String("rpc"), "GetSecret");
    EXPECT_EQ(*r->String("code"), "INVALID_ARGUMENT");
    EXPECT_EQ(*r->String("request_id"), "-");
  }
  EXPECT_EQ(summaries, 1);
  // uid:8 had nothing suppressed: no summary for it. The new window of
  // uid:7 starts with a full record.
  EXPECT_EQ(Count("\"count\""), 1);
}

TEST_F(CallAuditorTest, ManySourcesShareOneKeyBeyondTheCap) {
  for (int source = 0; source < 20; ++source) {
    auditor_
        ->Write(Refusal("peer:ipv4:10.0.0." + std::to_string(source)), false,
                absl::InvalidArgumentError("x"))
        .IgnoreError();
  }
  // Two keys tracked (burst 3 each: 1 record each), then every further
  // source falls into "*" (burst 3).
  EXPECT_EQ(sink_.lines().size(), 2u + 3u);
}

TEST_F(CallAuditorTest, RevealingCallsFailClosedWhenTheRecordIsLost) {
  sink_.SetFailing(true);
  AuditRecord ok = Refusal("uid:7", "CreateApiKey");
  ok.code = absl::StatusCode::kOk;
  absl::Status s =
      auditor_->Write(ok, /*reveals_values=*/true, absl::OkStatus());
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_TRUE(
      auditor_->Write(ok, /*reveals_values=*/false, absl::OkStatus()).ok());
  ASSERT_FALSE(written_.empty());
  EXPECT_FALSE(written_.back());
}

}  // namespace
}  // namespace zlayer::secrets
