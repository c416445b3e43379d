#include "core/watch/change_feed.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace zlayer::secrets {

std::string FormatPosition(const WatchPosition& position) {
  return absl::StrCat(position.epoch, "-", position.sequence);
}

absl::StatusOr<WatchPosition> ParsePosition(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  WatchPosition position;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &position.epoch) ||
      !absl::SimpleAtoi(parts[1], &position.sequence)) {
    return absl::InvalidArgumentError(
        "malformed watch position (expected what a previous message carried)");
  }
  return position;
}

Subscription::~Subscription() { feed_->Remove(this); }

Subscription::Batch Subscription::Take() {
  Batch batch;
  absl::MutexLock lock(&feed_->mu_);
  batch.position = {feed_->epoch_, feed_->sequence_};
  batch.resync = resync_;
  resync_ = false;
  batch.events.reserve(pending_.size());
  for (auto& entry : pending_) batch.events.push_back(std::move(entry.second));
  pending_.clear();
  std::sort(batch.events.begin(), batch.events.end(),
            [](const FeedEvent& a, const FeedEvent& b) {
              return a.sequence < b.sequence;
            });
  return batch;
}

bool Subscription::HasPending() const {
  absl::MutexLock lock(&feed_->mu_);
  return resync_ || !pending_.empty();
}

ChangeFeed::ChangeFeed(ChangeFeedOptions options, uint64_t epoch)
    : options_(options), epoch_(epoch) {}

ChangeFeed::~ChangeFeed() = default;

bool ChangeFeed::AddLocked(Subscription* sub, const FeedEvent& event) {
  const bool was_idle = !sub->resync_ && sub->pending_.empty();
  if (sub->resync_) return false;  // the client re-reads everything anyway
  SecretKey key{event.change.scope, event.change.name};
  auto it = sub->pending_.find(key);
  if (it != sub->pending_.end()) {
    // Coalesce: the newest state of the secret is all the client needs,
    // but keep the oldest previous_version it has not been told about.
    // (An environment's key is its scope with name "": the same holds for
    // the name it had before.)
    const uint32_t previous = it->second.change.previous_version;
    std::string previous_name =
        std::move(it->second.change.previous_environment_name);
    it->second = event;
    it->second.change.previous_version = previous;
    it->second.change.previous_environment_name = std::move(previous_name);
  } else if (sub->pending_.size() >= options_.max_pending_per_stream) {
    sub->pending_.clear();
    sub->resync_ = true;
  } else {
    sub->pending_.emplace(std::move(key), event);
  }
  return was_idle;
}

void ChangeFeed::OnStoreChange(const StoreChange& change) {
  std::vector<std::shared_ptr<const std::function<void()>>> wakes;
  {
    absl::MutexLock lock(&mu_);
    FeedEvent event{++sequence_, change};
    for (Subscription* sub : subscriptions_) {
      if (sub->filter_(change) && AddLocked(sub, event)) {
        wakes.push_back(sub->wake_);
      }
    }
    history_.push_back(std::move(event));
    while (history_.size() > options_.history) history_.pop_front();
  }
  // Outside the lock, so a writer never waits on a watcher's own lock; the
  // shared copies keep each function alive even if its subscription is
  // destroyed meanwhile (see Subscribe).
  for (const auto& wake : wakes) (*wake)();
}

void ChangeFeed::ResyncAll() {
  std::vector<std::shared_ptr<const std::function<void()>>> wakes;
  {
    absl::MutexLock lock(&mu_);
    // A sequence no event has: a resume from any earlier position finds it
    // missing from the (now empty) history and resyncs.
    ++sequence_;
    history_.clear();
    for (Subscription* sub : subscriptions_) {
      const bool was_idle = !sub->resync_ && sub->pending_.empty();
      sub->pending_.clear();
      sub->resync_ = true;
      if (was_idle) wakes.push_back(sub->wake_);
    }
  }
  for (const auto& wake : wakes) (*wake)();
}

absl::StatusOr<std::unique_ptr<Subscription>> ChangeFeed::Subscribe(
    absl::string_view caller, std::function<bool(const StoreChange&)> filter,
    absl::optional<WatchPosition> resume_after, std::function<void()> wake) {
  std::unique_ptr<Subscription> sub(new Subscription(
      this, std::string(caller), std::move(filter), std::move(wake)));
  bool wake_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (subscriptions_.size() >= options_.max_streams) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many open watch streams (", subscriptions_.size(),
                       "); the daemon's limit is ", options_.max_streams,
                       " (--max-watch-streams)"));
    }
    size_t& mine = per_caller_[sub->caller_];
    if (mine >= options_.max_streams_per_caller) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "this caller has ", mine, " open watch streams; the limit is ",
          options_.max_streams_per_caller,
          " per caller (--max-watch-streams-per-caller)"));
    }
    ++mine;
    subscriptions_.insert(sub.get());
    if (resume_after.has_value()) {
      const uint64_t oldest =
          history_.empty() ? sequence_ + 1 : history_.front().sequence;
      if (resume_after->epoch != epoch_ || resume_after->sequence > sequence_ ||
          resume_after->sequence + 1 < oldest) {
        sub->resync_ = true;
      } else {
        for (const FeedEvent& event : history_) {
          if (event.sequence > resume_after->sequence &&
              sub->filter_(event.change)) {
            AddLocked(sub.get(), event);
          }
        }
      }
      wake_now = sub->resync_ || !sub->pending_.empty();
    }
  }
  if (wake_now) (*sub->wake_)();
  return sub;
}

void ChangeFeed::Remove(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  if (subscriptions_.erase(sub) == 0) return;
  auto it = per_caller_.find(sub->caller_);
  if (it != per_caller_.end() && --it->second == 0) per_caller_.erase(it);
}

WatchPosition ChangeFeed::position() const {
  absl::MutexLock lock(&mu_);
  return {epoch_, sequence_};
}

size_t ChangeFeed::streams() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

}  // namespace zlayer::secrets
