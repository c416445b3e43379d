#include "core/audit/auth_failure_audit.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

absl::Status MarkCoalescedAudit(absl::Status status) {
  status.SetPayload(kCoalescedAuditPayload, absl::Cord("1"));
  return status;
}

bool IsCoalescedAudit(const absl::Status& status) {
  return status.GetPayload(kCoalescedAuditPayload).has_value();
}

AuthFailureAudit::~AuthFailureAudit() { (void)Flush(); }

void AuthFailureAudit::Note(absl::string_view source, absl::string_view id,
                            bool refused) {
  const absl::Time now = clock_->Now();
  absl::flat_hash_map<Key, Pending> due;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty()) interval_start_ = now;
    if (now - interval_start_ >= options_.interval) {
      due.swap(pending_);
      interval_start_ = now;
    }
    Key key{std::string(source), std::string(id)};
    if (!pending_.contains(key) && pending_.size() >= options_.max_pending) {
      key.second = "*";
    }
    Pending& p = pending_[key];
    if (p.failed == 0) p.first = now;
    ++p.failed;
    if (refused) ++p.refused;
    p.last = now;
  }
  if (!due.empty()) (void)WriteAll(std::move(due));
}

void AuthFailureAudit::FlushDue() {
  const absl::Time now = clock_->Now();
  absl::flat_hash_map<Key, Pending> due;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty() || now - interval_start_ < options_.interval) return;
    due.swap(pending_);
  }
  (void)WriteAll(std::move(due));
}

absl::Status AuthFailureAudit::Flush() {
  absl::flat_hash_map<Key, Pending> due;
  {
    absl::MutexLock lock(&mu_);
    due.swap(pending_);
  }
  return WriteAll(std::move(due));
}

absl::Status AuthFailureAudit::WriteAll(
    absl::flat_hash_map<Key, Pending> pending) {
  if (log_ == nullptr || pending.empty()) return absl::OkStatus();
  absl::MutexLock write_lock(&write_mu_);
  absl::Status result;
  uint64_t written = 0;
  for (const auto& [key, p] : pending) {
    AuditRecord record;
    record.request_id = "coalesced";
    record.subject = "-";
    record.transport = options_.transport;
    record.rpc = "ApiKeyAuth";
    record.scope = "system:api_keys";
    record.name = key.second;
    record.code = p.refused == p.failed ? absl::StatusCode::kResourceExhausted
                                        : absl::StatusCode::kUnauthenticated;
    record.message = absl::StrCat(
        p.failed, " failed API key attempts from ", key.first, " (", p.refused,
        " refused by the failure budget) between ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", p.first, absl::UTCTimeZone()),
        " and ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", p.last, absl::UTCTimeZone()));
    absl::Status s = log_->Record(record);
    if (s.ok()) {
      ++written;
    } else if (result.ok()) {
      result = s;
    }
  }
  absl::MutexLock lock(&mu_);
  records_written_ += written;
  return result;
}

uint64_t AuthFailureAudit::records_written() const {
  absl::MutexLock lock(&mu_);
  return records_written_;
}

}  // namespace zlayer::secrets
