// The failover policy of client/failover.h on its own: which daemon is tried
// first, the backoff of a daemon that failed (FakeClock), and which failed
// attempts may be repeated on another daemon. Outcomes are injected here;
// secrets_client_test and tests/cluster run the same policy over real gRPC.
#include "client/failover.h"

#include <vector>

#include "core/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

AttemptOutcome Outcome(absl::Status status, bool sent,
                       bool attempt_deadline_passed = false) {
  AttemptOutcome o;
  o.status = std::move(status);
  o.sent = sent;
  o.attempt_deadline_passed = attempt_deadline_passed;
  return o;
}

TEST(DecideAfterFailureTest, AnythingNotSentMovesOnReadOrWrite) {
  for (CallKind kind : {CallKind::kRead, CallKind::kWrite}) {
    EXPECT_EQ(DecideAfterFailure(
                  kind, Outcome(absl::UnavailableError("refused"), false)),
              AfterFailure::kTryAnother);
  }
}

TEST(DecideAfterFailureTest, ReadsMoveOnWhenTheDaemonDidNotAnswer) {
  EXPECT_EQ(DecideAfterFailure(CallKind::kRead,
                               Outcome(absl::UnavailableError("reset"), true)),
            AfterFailure::kTryAnother);
  // Its own attempt deadline passed, the call's has not: try another.
  EXPECT_EQ(DecideAfterFailure(
                CallKind::kRead,
                Outcome(absl::DeadlineExceededError("slow"), true, true)),
            AfterFailure::kTryAnother);
  // The call's deadline itself passed: nothing left to try with.
  EXPECT_EQ(DecideAfterFailure(
                CallKind::kRead,
                Outcome(absl::DeadlineExceededError("slow"), true, false)),
            AfterFailure::kReturn);
}

TEST(DecideAfterFailureTest, ASentWriteIsNeverRepeated) {
  EXPECT_EQ(DecideAfterFailure(CallKind::kWrite,
                               Outcome(absl::UnavailableError("reset"), true)),
            AfterFailure::kReturn);
  EXPECT_EQ(DecideAfterFailure(
                CallKind::kWrite,
                Outcome(absl::DeadlineExceededError("slow"), true, true)),
            AfterFailure::kReturn);
}

TEST(DecideAfterFailureTest, TheDaemonsOwnAnswerIsReturned) {
  for (CallKind kind : {CallKind::kRead, CallKind::kWrite}) {
    for (absl::Status s :
         {absl::NotFoundError("x"), absl::PermissionDeniedError("x"),
          absl::FailedPreconditionError("x"), absl::AbortedError("x")}) {
      EXPECT_EQ(DecideAfterFailure(kind, Outcome(s, true)),
                AfterFailure::kReturn)
          << s;
    }
  }
}

TEST(OutcomeUnknownTest, KeepsTheCodeAndSaysSo) {
  absl::Status s = OutcomeUnknown(absl::UnavailableError("Socket closed"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("Socket closed"));
  EXPECT_THAT(s.message(), HasSubstr("outcome is unknown"));
}

TEST(SplitAddressesTest, CommaListTrimmed) {
  auto list = SplitAddresses("unix:/a.sock, /b.sock ,h:7000");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(*list, ElementsAre("unix:/a.sock", "/b.sock", "h:7000"));
  auto one = SplitAddresses("/only.sock");
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(*one, ElementsAre("/only.sock"));
  EXPECT_EQ(SplitAddresses("a,,b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitAddresses("a,").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitAddresses("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class DaemonSetTest : public ::testing::Test {
 protected:
  DaemonSetTest() : daemons_(3, Options(), &clock_) {}
  static FailoverOptions Options() {
    FailoverOptions o;
    o.initial_backoff = absl::Seconds(1);
    o.max_backoff = absl::Seconds(4);
    return o;
  }
  FakeClock clock_;
  DaemonSet daemons_;
};

TEST_F(DaemonSetTest, ListOrderBeforeAnyCall) {
  EXPECT_THAT(daemons_.AttemptOrder(), ElementsAre(0, 1, 2));
}

TEST_F(DaemonSetTest, TheDaemonThatLastAnsweredIsTriedFirst) {
  daemons_.RecordFailure(0);
  daemons_.RecordSuccess(1);
  EXPECT_EQ(daemons_.sticky(), 1u);
  // 0 is backing off: last.
  EXPECT_THAT(daemons_.AttemptOrder(), ElementsAre(1, 2, 0));
  // Once 0's backoff is over it is tried again, but after the sticky one.
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(daemons_.AttemptOrder(), ElementsAre(1, 0, 2));
}

TEST_F(DaemonSetTest, BackoffDoublesUpToTheCapAndSuccessClearsIt) {
  daemons_.RecordFailure(0);  // 1 s
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(daemons_.BackingOff(0));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(daemons_.BackingOff(0));
  daemons_.RecordFailure(0);  // 2 s
  clock_.Advance(absl::Milliseconds(1999));
  EXPECT_TRUE(daemons_.BackingOff(0));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(daemons_.BackingOff(0));
  for (int i = 0; i < 10; ++i) daemons_.RecordFailure(0);
  clock_.Advance(absl::Seconds(4));  // capped at max_backoff
  EXPECT_FALSE(daemons_.BackingOff(0));
  daemons_.RecordFailure(0);
  daemons_.RecordSuccess(0);
  EXPECT_FALSE(daemons_.BackingOff(0));
  // Cleared: the next failure starts again at 1 s.
  daemons_.RecordFailure(0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(daemons_.BackingOff(0));
}

TEST_F(DaemonSetTest, WhenAllBackOffTheSoonestIsFirstAndNoneIsDropped) {
  daemons_.RecordFailure(2);  // until +1 s
  daemons_.RecordFailure(0);
  daemons_.RecordFailure(0);  // until +2 s
  daemons_.RecordFailure(1);
  daemons_.RecordFailure(1);
  daemons_.RecordFailure(1);  // until +4 s
  EXPECT_THAT(daemons_.AttemptOrder(), ElementsAre(2, 0, 1));
}

// A whole call driven by the policy, attempts injected: daemon 0 is down
// (connection refused, nothing sent), daemon 1 answers.
TEST_F(DaemonSetTest, AWriteNotSentToADeadDaemonGoesToTheNextAndSticks) {
  int sent_to_1 = 0;
  auto attempt = [&](size_t i) {
    if (i == 0) return Outcome(absl::UnavailableError("refused"), false);
    ++sent_to_1;
    return Outcome(absl::OkStatus(), true);
  };
  for (int call = 0; call < 3; ++call) {
    for (size_t i : daemons_.AttemptOrder()) {
      AttemptOutcome o = attempt(i);
      if (o.status.ok()) {
        daemons_.RecordSuccess(i);
        break;
      }
      ASSERT_EQ(DecideAfterFailure(CallKind::kWrite, o),
                AfterFailure::kTryAnother);
      daemons_.RecordFailure(i);
    }
  }
  EXPECT_EQ(sent_to_1, 3);
  EXPECT_EQ(daemons_.sticky(), 1u);
  EXPECT_THAT(daemons_.AttemptOrder(), ElementsAre(1, 2, 0));
}

}  // namespace
}  // namespace zlayer::secrets
