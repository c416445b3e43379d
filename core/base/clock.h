// Time as a dependency: core/ never reads the wall clock directly, so tests
// can drive time with FakeClock.
//
//   RealClock clock;
//   int64_t now = clock.NowUnixSeconds();
#ifndef ZLAYER_SECRETS_CORE_BASE_CLOCK_H_
#define ZLAYER_SECRETS_CORE_BASE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace zlayer::secrets {

// Thread-safe source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  int64_t NowUnixSeconds() const { return absl::ToUnixSeconds(Now()); }
};

// The system's wall clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance for callers without a clock of their own.
  static Clock* Default() {
    static RealClock* clock = new RealClock();
    return clock;
  }
};

// A clock that moves only when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BASE_CLOCK_H_
