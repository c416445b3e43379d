// Failover across several daemons of one cluster (docs/cluster.md,
// "Client failover"): which daemon a call tries first, whether a failed
// attempt may be repeated on another daemon, and how long a daemon that
// failed is passed over. SecretsClient runs the gRPC attempts; this file
// holds only the policy, so it can be tested without a network.
//
//   DaemonSet daemons(addresses.size(), FailoverOptions(), &clock);
//   for (size_t i : daemons.AttemptOrder()) {
//     AttemptOutcome outcome = ...;             // one RPC on daemon i
//     if (outcome.status.ok()) { daemons.RecordSuccess(i); break; }
//     if (DecideAfterFailure(kind, outcome) == AfterFailure::kReturn) ...;
//     daemons.RecordFailure(i);
//   }
//
// The rules (DecideAfterFailure):
//   * a request that provably never left this process (no connection to
//     the daemon could be established, so nothing was sent) is tried on the
//     next daemon, read or write;
//   * a read that failed UNAVAILABLE, or DEADLINE_EXCEEDED at its own
//     per-daemon deadline (earlier than the call's), is tried on the next
//     daemon: reads change nothing, so repeating them is safe;
//   * a write that was sent is never repeated: gRPC cannot tell whether an
//     UNAVAILABLE or DEADLINE_EXCEEDED write reached the daemon and was
//     applied, so the caller gets the error with "outcome unknown" added
//     (OutcomeUnknown);
//   * any other status is the daemon's answer and is returned as it is.
#ifndef ZLAYER_SECRETS_CLIENT_FAILOVER_H_
#define ZLAYER_SECRETS_CLIENT_FAILOVER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/clock.h"

namespace zlayer::secrets {

enum class CallKind { kRead, kWrite };

// What one attempt on one daemon came to.
struct AttemptOutcome {
  absl::Status status;
  // False only when the request provably never left this process: the
  // channel to the daemon never became READY (connection refused, no
  // socket, TLS handshake failed), so no byte of the request was written.
  // Once the request is handed to a READY channel it counts as sent, even
  // if gRPC later reports UNAVAILABLE: the bytes may have reached the daemon.
  bool sent = true;
  // True when the attempt's deadline was cut short of the call's deadline
  // (FailoverOptions::attempt_timeout) and that deadline passed.
  bool attempt_deadline_passed = false;
};

enum class AfterFailure { kReturn, kTryAnother };

// The rules in the header comment. `outcome.status` must not be OK.
AfterFailure DecideAfterFailure(CallKind kind, const AttemptOutcome& outcome);

// True for the codes that mean "the daemon did not answer" rather than a
// daemon's own answer: UNAVAILABLE and DEADLINE_EXCEEDED.
bool IsUnreachable(const absl::Status& status);

// `status` (UNAVAILABLE or DEADLINE_EXCEEDED of a sent write) with its
// message extended to say the write may or may not have been applied.
absl::Status OutcomeUnknown(const absl::Status& status);

// Splits a comma-separated list of daemon addresses ("unix:/a.sock,
// /b.sock, host:3000"), trimming blanks. InvalidArgument if an element is
// empty ("a,,b", "a,") or the list is empty.
absl::StatusOr<std::vector<std::string>> SplitAddresses(
    absl::string_view addresses);

struct FailoverOptions {
  // When a call has another daemon left to try, one attempt gets at most
  // this long, so a daemon that hangs (stopped, partitioned) leaves time
  // for the next. The last daemon of a round gets what is left of the
  // call's deadline. For a write it bounds only the wait for a connection:
  // once sent, a write has the call's whole deadline (it is never repeated
  // elsewhere, so there is nothing to leave time for).
  absl::Duration attempt_timeout = absl::Seconds(2);
  // A daemon that failed is passed over (tried only after every other) for
  // initial_backoff, doubling with each further failure up to max_backoff;
  // a success clears it.
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
};

// The daemons of one client, by index into its address list: which one
// last worked (sticky) and which are backing off. Thread-safe.
class DaemonSet {
 public:
  // `count` >= 1 daemons; `clock` must outlive the set.
  DaemonSet(size_t count, FailoverOptions options, const Clock* clock);

  size_t size() const { return count_; }

  // The order a call tries the daemons in: the one that last worked first
  // (unless it is backing off), then the others that are not backing off in
  // list order, then those backing off, the one whose backoff ends first
  // first. Every daemon appears exactly once.
  std::vector<size_t> AttemptOrder() const;

  // Daemon `index` answered: it becomes the sticky one, its backoff clears.
  void RecordSuccess(size_t index);
  // Daemon `index` did not answer: it backs off (see FailoverOptions).
  void RecordFailure(size_t index);

  // The daemon that last answered (0 before any call).
  size_t sticky() const;
  // Whether daemon `index` is backing off now.
  bool BackingOff(size_t index) const;

 private:
  struct Backoff {
    int failures = 0;
    absl::Time until = absl::InfinitePast();
  };

  const size_t count_;
  const FailoverOptions options_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  size_t sticky_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Backoff> backoff_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_FAILOVER_H_
