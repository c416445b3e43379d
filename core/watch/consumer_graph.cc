#include "core/watch/consumer_graph.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

absl::Status ValidateConsumer(absl::string_view consumer) {
  if (consumer.empty() || consumer.size() > 256) {
    return absl::InvalidArgumentError("consumer must be 1..256 bytes");
  }
  for (char c : consumer) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "consumer must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

ConsumerGraph::ConsumerGraph(Clock* clock, ConsumerGraphOptions options)
    : clock_(clock), options_(options) {}

size_t ConsumerGraph::ExpireLocked() {
  const absl::Time cutoff = clock_->Now() - options_.expiry;
  size_t removed = 0;
  for (auto it = consumers_.begin(); it != consumers_.end();) {
    if (it->second.watches == 0 && it->second.last_seen < cutoff) {
      removed += it->second.versions.size();
      consumers_.erase(it++);
    } else {
      ++it;
    }
  }
  entries_ -= removed;
  return removed;
}

absl::Status ConsumerGraph::Record(
    absl::string_view consumer,
    const std::vector<std::pair<SecretKey, uint32_t>>& versions) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto found = consumers_.find(consumer);
  size_t added = 0;
  for (const auto& [secret, version] : versions) {
    if (found == consumers_.end() || !found->second.versions.contains(secret)) {
      ++added;
    }
  }
  if (entries_ + added > options_.max_entries) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the consumer graph holds its limit of ",
                     options_.max_entries, " entries"));
  }
  Consumer& entry = consumers_[consumer];
  for (const auto& [secret, version] : versions) {
    entry.versions[secret] = version;
  }
  entry.last_seen = clock_->Now();
  entries_ += added;
  return absl::OkStatus();
}

void ConsumerGraph::WatchOpened(absl::string_view consumer) {
  absl::MutexLock lock(&mu_);
  Consumer& entry = consumers_[consumer];
  ++entry.watches;
  entry.last_seen = clock_->Now();
}

void ConsumerGraph::WatchClosed(absl::string_view consumer) {
  absl::MutexLock lock(&mu_);
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return;
  if (it->second.watches > 0) --it->second.watches;
  // The expiry counts from the end of its last watch.
  it->second.last_seen = clock_->Now();
}

std::vector<ConsumerUse> ConsumerGraph::Users(const SecretKey& secret) {
  std::vector<ConsumerUse> out;
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  for (const auto& [name, entry] : consumers_) {
    auto it = entry.versions.find(secret);
    if (it == entry.versions.end()) continue;
    out.push_back(
        {name, secret, it->second, entry.last_seen, entry.watches > 0});
  }
  std::sort(out.begin(), out.end(),
            [](const ConsumerUse& a, const ConsumerUse& b) {
              return a.consumer < b.consumer;
            });
  return out;
}

size_t ConsumerGraph::LiveOnVersion(const SecretKey& secret, uint32_t version) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  size_t count = 0;
  for (const auto& entry : consumers_) {
    auto it = entry.second.versions.find(secret);
    if (it != entry.second.versions.end() && it->second == version) ++count;
  }
  return count;
}

size_t ConsumerGraph::Expire() {
  absl::MutexLock lock(&mu_);
  return ExpireLocked();
}

}  // namespace zlayer::secrets
