// AuthFailureAudit: coalesced audit records for failed credential checks.
//
// A flood of wrong keys must not write one audit line per attempt (each line
// costs a write, with --audit-fsync a disk flush, and the log grows without
// bound). Failures are counted per (source, credential id) and written as
// one record per pair per interval, through AuditLog's ordinary Record():
//
//   {"request_id":"coalesced","subject":"-","transport":"tls",
//    "rpc":"ApiKeyAuth","scope":"system:api_keys","name":"admin",
//    "code":"UNAUTHENTICATED",
//    "message":"37 failed API key attempts from ipv4:127.0.0.1 (12 refused
//     by the failure budget) between 2026-... and 2026-..."}
//
// `name` is the presented key id (already validated as [A-Za-z0-9_-]{1,64};
// hashed like every name with --audit-hash-names); `code` is
// RESOURCE_EXHAUSTED when every attempt of the interval was refused by the
// failure budget, else UNAUTHENTICATED. Pending counts are written when the
// interval has passed (Note() and FlushDue() check; the daemon calls
// FlushDue() once a second) and by Flush() (at shutdown; the destructor
// flushes too). At most `max_pending` pairs are held; beyond that a source's
// further ids are counted under the id "*".
//
// The calls whose failures are counted here write no per-call record: the
// status they return carries kCoalescedAuditPayload, which CallLog
// (daemon/rpc/service_common.h) honours.
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_AUDIT_AUTH_FAILURE_AUDIT_H_
#define ZLAYER_SECRETS_CORE_AUDIT_AUTH_FAILURE_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "core/identity/access.h"

namespace zlayer::secrets {

// Status payload type URL marking a failure already counted here; its value
// is irrelevant.
inline constexpr absl::string_view kCoalescedAuditPayload =
    "type.zlayer.dev/zlayer.secrets.CoalescedAudit";

// Marks `status` (returned to the caller) as audited by AuthFailureAudit.
absl::Status MarkCoalescedAudit(absl::Status status);
// True when `status` carries kCoalescedAuditPayload.
bool IsCoalescedAudit(const absl::Status& status);

struct AuthFailureAuditOptions {
  absl::Duration interval = absl::Seconds(10);
  size_t max_pending = 4096;
  Transport transport = Transport::kTls;
};

class AuthFailureAudit {
 public:
  // `log` (may be null: counting only) and `clock` are borrowed.
  AuthFailureAudit(const AuditLog* log, const Clock* clock,
                   AuthFailureAuditOptions options)
      : log_(log), clock_(clock), options_(options) {}
  ~AuthFailureAudit();

  // Counts one failed attempt from `source` on `id`; `refused` when the
  // failure budget refused it without a check.
  void Note(absl::string_view source, absl::string_view id, bool refused)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the pending records if the interval has passed.
  void FlushDue() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes every pending record now. Unavailable if a record could not be
  // written (its counts are then lost and the error logged by the caller).
  absl::Status Flush() ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t records_written() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    int64_t failed = 0;
    int64_t refused = 0;
    absl::Time first;
    absl::Time last;
  };
  using Key = std::pair<std::string, std::string>;  // source, id

  absl::Status WriteAll(absl::flat_hash_map<Key, Pending> pending);

  const AuditLog* const log_;
  const Clock* const clock_;
  const AuthFailureAuditOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Pending> pending_ ABSL_GUARDED_BY(mu_);
  absl::Time interval_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t records_written_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialises writers so records leave in order; never held with mu_.
  absl::Mutex write_mu_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_AUDIT_AUTH_FAILURE_AUDIT_H_
