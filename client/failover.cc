#include "client/failover.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace zlayer::secrets {

bool IsUnreachable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

AfterFailure DecideAfterFailure(CallKind kind, const AttemptOutcome& outcome) {
  if (!outcome.sent) return AfterFailure::kTryAnother;
  if (kind == CallKind::kWrite) return AfterFailure::kReturn;
  if (outcome.status.code() == absl::StatusCode::kUnavailable) {
    return AfterFailure::kTryAnother;
  }
  // DEADLINE_EXCEEDED of a unary read means no response arrived; when the
  // call's own deadline has not passed yet there is time for another daemon.
  if (outcome.status.code() == absl::StatusCode::kDeadlineExceeded &&
      outcome.attempt_deadline_passed) {
    return AfterFailure::kTryAnother;
  }
  return AfterFailure::kReturn;
}

absl::Status OutcomeUnknown(const absl::Status& status) {
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(),
                   " (the write was sent, so its outcome is unknown: it may "
                   "or may not have been applied; read it back before "
                   "repeating it)"));
}

absl::StatusOr<std::vector<std::string>> SplitAddresses(
    absl::string_view addresses) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(addresses, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty address in the list '", addresses,
                       "' (separate daemon addresses with single commas)"));
    }
    out.emplace_back(part);
  }
  return out;
}

DaemonSet::DaemonSet(size_t count, FailoverOptions options, const Clock* clock)
    : count_(std::max<size_t>(count, 1)),
      options_(std::move(options)),
      clock_(clock),
      backoff_(count_) {}

std::vector<size_t> DaemonSet::AttemptOrder() const {
  const absl::Time now = clock_->Now();
  std::vector<absl::Time> until;
  size_t sticky;
  {
    absl::MutexLock lock(&mu_);
    for (const Backoff& b : backoff_) until.push_back(b.until);
    sticky = sticky_;
  }
  std::vector<size_t> ready;
  std::vector<size_t> waiting;
  auto place = [&](size_t i) {
    (until[i] > now ? waiting : ready).push_back(i);
  };
  place(sticky);
  for (size_t i = 0; i < until.size(); ++i) {
    if (i != sticky) place(i);
  }
  std::stable_sort(waiting.begin(), waiting.end(),
                   [&](size_t a, size_t b) { return until[a] < until[b]; });
  ready.insert(ready.end(), waiting.begin(), waiting.end());
  return ready;
}

void DaemonSet::RecordSuccess(size_t index) {
  absl::MutexLock lock(&mu_);
  sticky_ = index;
  backoff_[index] = Backoff();
}

void DaemonSet::RecordFailure(size_t index) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Backoff& b = backoff_[index];
  absl::Duration delay = options_.initial_backoff;
  for (int i = 0; i < b.failures && delay < options_.max_backoff; ++i) {
    delay *= 2;
  }
  b.failures++;
  b.until = now + std::min(delay, options_.max_backoff);
}

size_t DaemonSet::sticky() const {
  absl::MutexLock lock(&mu_);
  return sticky_;
}

bool DaemonSet::BackingOff(size_t index) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  return backoff_[index].until > now;
}

}  // namespace zlayer::secrets
