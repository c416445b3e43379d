#include "core/identity/auth_failure_budget.h"

#include <algorithm>
#include <vector>

namespace zlayer::secrets {

const AuthFailureBudget::Counter* AuthFailureBudget::Find(
    const Table& table, absl::string_view key, absl::Time now) const {
  auto it = table.find(key);
  if (it == table.end()) return nullptr;
  if (now - it->second.last_failure >= options_.forget_after &&
      now >= it->second.blocked_until) {
    return nullptr;
  }
  return &it->second;
}

AuthFailureBudget::Decision AuthFailureBudget::Check(absl::string_view source,
                                                     absl::string_view id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Decision d;
  const Counter* src = Find(sources_, source, now);
  if (src != nullptr && now < src->blocked_until) {
    d.allowed = false;
    d.source_blocked = true;
    d.retry_after = src->blocked_until - now;
    return d;
  }
  const Counter* key = Find(ids_, id, now);
  if (key != nullptr && now < key->blocked_until && src != nullptr &&
      src->failures > 0) {
    d.allowed = false;
    d.id_blocked = true;
    d.retry_after = key->blocked_until - now;
  }
  return d;
}

void AuthFailureBudget::RecordFailure(absl::string_view source,
                                      absl::string_view id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Fail(&sources_, source, options_.source_free_failures, now);
  Fail(&ids_, id, options_.id_free_failures, now);
}

void AuthFailureBudget::Fail(Table* table, absl::string_view key,
                             int free_failures, absl::Time now) {
  auto it = table->find(key);
  if (it == table->end()) {
    if (table->size() >= options_.max_tracked) MakeRoom(table, now);
    it = table->emplace(std::string(key), Counter{}).first;
  }
  Counter& c = it->second;
  if (now - c.last_failure >= options_.forget_after && now >= c.blocked_until) {
    c = Counter{};
  }
  ++c.failures;
  c.last_failure = now;
  const int past = c.failures - free_failures;
  if (past > 0) {
    absl::Duration backoff = options_.max_backoff;
    // 2^(past-1) * base, without overflowing the shift.
    if (past <= 30) {
      backoff = std::min(options_.max_backoff,
                         options_.base_backoff * (int64_t{1} << (past - 1)));
    }
    c.blocked_until = now + backoff;
  }
}

void AuthFailureBudget::MakeRoom(Table* table, absl::Time now) {
  // Forgotten counters first.
  for (auto it = table->begin(); it != table->end();) {
    auto here = it++;
    if (now - here->second.last_failure >= options_.forget_after &&
        now >= here->second.blocked_until) {
      table->erase(here);
    }
  }
  if (table->size() < options_.max_tracked) return;
  // Then the oldest eighth (amortised: one scan per many insertions).
  std::vector<absl::Time> last;
  last.reserve(table->size());
  for (const auto& [k, c] : *table) last.push_back(c.last_failure);
  const size_t drop = std::max<size_t>(1, table->size() / 8);
  std::nth_element(last.begin(), last.begin() + (drop - 1), last.end());
  const absl::Time cutoff = last[drop - 1];
  for (auto it = table->begin(); it != table->end();) {
    auto here = it++;
    if (here->second.last_failure <= cutoff) table->erase(here);
  }
}

size_t AuthFailureBudget::tracked_sources() const {
  absl::MutexLock lock(&mu_);
  return sources_.size();
}

size_t AuthFailureBudget::tracked_ids() const {
  absl::MutexLock lock(&mu_);
  return ids_.size();
}

}  // namespace zlayer::secrets
