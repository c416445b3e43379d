// AuthFailureBudget: how many failed credential checks a source and an id
// may cost before further attempts are refused without running a check.
//
// Two tables of counters, one per source (the caller's address, or a Unix
// uid) and one per credential id (an API key id). Each failure adds one to
// both. The first `free_failures` within the forget window cost nothing;
// every failure after that blocks the counter for
// min(base_backoff * 2^(n - 1), max_backoff), n = failures past the free
// ones (exponential backoff). Refused attempts do not count as failures, so
// a blocked attacker gets one real try per backoff period. A counter with no
// failure for `forget_after` starts again from zero. Successes change
// nothing (a caller holding one valid key cannot reset its budget with it).
//
// Check() decides before the verification:
//   * a blocked source is refused, whatever key it presents;
//   * a blocked id is refused only for sources that have failures on record
//     themselves ("dirty" sources). A source without failures is always
//     verified: the per-id budget slows guessing spread over many addresses
//     (each address gets one try per backoff period on that id) but cannot
//     be used to lock the administrator out of their own key from a clean
//     address. The trade-off is documented in docs/identity.md.
//
// Memory: each table holds at most `max_tracked` counters; when full,
// forgotten ones are dropped first, then the oldest ones (an attacker with
// more addresses than that can evict counters; the id table still slows
// them).
//
//   AuthFailureBudget budget(&clock, {});
//   AuthFailureBudget::Decision d = budget.Check(source, id);
//   if (!d.allowed) return absl::ResourceExhaustedError(...);
//   if (!verified) budget.RecordFailure(source, id);
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_AUTH_FAILURE_BUDGET_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_AUTH_FAILURE_BUDGET_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/clock.h"

namespace zlayer::secrets {

struct AuthFailureBudgetOptions {
  int source_free_failures = 10;
  int id_free_failures = 50;
  absl::Duration base_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  absl::Duration forget_after = absl::Minutes(15);
  size_t max_tracked = 65536;  // per table
};

class AuthFailureBudget {
 public:
  struct Decision {
    bool allowed = true;
    // When refused: which counter, and how long until it lets a try through.
    bool source_blocked = false;
    bool id_blocked = false;
    absl::Duration retry_after;
  };

  // `clock` is borrowed and must outlive the budget.
  AuthFailureBudget(const Clock* clock, AuthFailureBudgetOptions options)
      : clock_(clock), options_(options) {}

  Decision Check(absl::string_view source, absl::string_view id)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RecordFailure(absl::string_view source, absl::string_view id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Counters held now (tests, metrics).
  size_t tracked_sources() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t tracked_ids() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Counter {
    int failures = 0;
    absl::Time last_failure = absl::InfinitePast();
    absl::Time blocked_until = absl::InfinitePast();
  };
  using Table = absl::flat_hash_map<std::string, Counter>;

  // The live counter for `key` (a forgotten one reads as fresh), or null.
  const Counter* Find(const Table& table, absl::string_view key,
                      absl::Time now) const;
  void Fail(Table* table, absl::string_view key, int free_failures,
            absl::Time now);
  void MakeRoom(Table* table, absl::Time now);

  const Clock* const clock_;
  const AuthFailureBudgetOptions options_;
  mutable absl::Mutex mu_;
  Table sources_ ABSL_GUARDED_BY(mu_);
  Table ids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_AUTH_FAILURE_BUDGET_H_
