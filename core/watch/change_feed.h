// ChangeFeed: the daemon's one stream of store changes (metadata only), with
// positions to resume from and per-subscription coalescing, so that any
// number of watchers can follow the store and none of them can slow a
// writer down.
//
// The feed is a StoreChangeObserver (core/store/store_change.h): the store
// layer tells it about every committed change, which gets the next sequence
// number and is kept in a bounded history (for resume) and handed to every
// subscription whose filter wants it. A subscription does not queue events:
// it keeps the latest event per secret since its last Take(), so a burst of
// 1,000 rotations of one secret costs a slow watcher one entry, and the
// writer only ever does a hash-map update per interested subscription.
// Environment changes (ChangeKind::kEnvironment) are keyed by the
// environment's scope and coalesce the same way (a rename and a rename back
// are one entry whose previous name is the oldest). When
// more distinct secrets change than a subscription may hold, it stops
// collecting and asks its client to resync (re-read the full state) instead.
//
//   ChangeFeed feed(ChangeFeedOptions{}, /*epoch=*/start_nanos);
//   ObservedSecretStore store(&sqlite, &feed);
//   ASSIGN_OR_RETURN(auto sub, feed.Subscribe("uid:1000", filter,
//                                             absl::nullopt, wake));
//   ... wake() runs: ...
//   Subscription::Batch batch = sub->Take();  // events, resync, position
//
// Positions: "{epoch}-{sequence}" (FormatPosition). A sequence is only
// meaningful within one epoch (one daemon run): resuming from another
// epoch, or from a sequence older than the history, yields resync = true.
//
// Limits: Subscribe answers ResourceExhausted past max_streams in total or
// max_streams_per_caller for one caller. Memory per subscription is bounded
// by max_pending_per_stream events. Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_WATCH_CHANGE_FEED_H_
#define ZLAYER_SECRETS_CORE_WATCH_CHANGE_FEED_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "core/store/secret_store.h"
#include "core/store/store_change.h"

namespace zlayer::secrets {

// Where a watcher stands in the feed.
struct WatchPosition {
  uint64_t epoch = 0;     // the feed's run; another run's positions are void
  uint64_t sequence = 0;  // events up to and including this one were seen
  bool operator==(const WatchPosition& o) const {
    return epoch == o.epoch && sequence == o.sequence;
  }
};

// "{epoch}-{sequence}", decimal.
std::string FormatPosition(const WatchPosition& position);
// InvalidArgument unless `text` is what FormatPosition writes.
absl::StatusOr<WatchPosition> ParsePosition(absl::string_view text);

struct FeedEvent {
  uint64_t sequence = 0;
  StoreChange change;
};

struct ChangeFeedOptions {
  // Events kept for resuming; a position older than them resyncs.
  size_t history = 4096;
  // Open subscriptions in total, and per caller (ResourceExhausted past it).
  size_t max_streams = 4096;
  size_t max_streams_per_caller = 256;
  // Distinct secrets one subscription holds between two Take() calls;
  // past it the subscription resyncs instead (bounded memory).
  size_t max_pending_per_stream = 256;
};

class ChangeFeed;

// One watcher's view of the feed; leaves the feed when destroyed.
class Subscription {
 public:
  struct Batch {
    // The latest change per secret since the previous Take, oldest first.
    std::vector<FeedEvent> events;
    // The client must re-read its full state: its resume position was too
    // old or from another run, or too many secrets changed at once.
    bool resync = false;
    // Resuming after this position misses nothing that this batch (and the
    // state read after it) does not already reflect.
    WatchPosition position;
  };

  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Takes everything pending (it may be empty). Thread-safe.
  Batch Take();
  // True while something waits to be taken.
  bool HasPending() const;

 private:
  friend class ChangeFeed;
  Subscription(ChangeFeed* feed, std::string caller,
               std::function<bool(const StoreChange&)> filter,
               std::function<void()> wake)
      : feed_(feed),
        caller_(std::move(caller)),
        filter_(std::move(filter)),
        wake_(std::make_shared<const std::function<void()>>(std::move(wake))) {}

  ChangeFeed* const feed_;
  const std::string caller_;
  const std::function<bool(const StoreChange&)> filter_;
  // Shared: a writer may still run it just after the subscription is gone.
  const std::shared_ptr<const std::function<void()>> wake_;
  // Guarded by the feed's mutex.
  absl::flat_hash_map<SecretKey, FeedEvent> pending_;
  bool resync_ = false;
};

class ChangeFeed final : public StoreChangeObserver {
 public:
  ChangeFeed(ChangeFeedOptions options, uint64_t epoch);
  // Every subscription must be destroyed first.
  ~ChangeFeed() override;

  // Appends `change` with the next sequence and hands it to the interested
  // subscriptions; their wake functions run on this thread, after the
  // feed's lock is released, for those that had nothing pending before.
  void OnStoreChange(const StoreChange& change) override;

  // Changes were missed (cluster mode: the etcd watch could not resume
  // because its history was compacted): every open subscription resyncs,
  // and so does every resume from a position taken before this call.
  void ResyncAll();

  // Opens a subscription for `caller` (a principal's subject; it only
  // counts towards the per-caller limit). `filter` picks the changes it
  // wants; it runs under the feed's lock, so it must be quick and must not
  // call into the feed. `wake` is called whenever the subscription goes
  // from nothing pending to something pending (and at once, on this
  // thread, if resuming already left something to take); it must not block,
  // and it may run once more just after the subscription is destroyed (a
  // writer that picked it up before), so it should hold what it touches by
  // shared ownership.
  // With `resume_after`, the changes after that position are pending at
  // once (or resync is, see above).
  // ResourceExhausted past max_streams / max_streams_per_caller.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      absl::string_view caller, std::function<bool(const StoreChange&)> filter,
      absl::optional<WatchPosition> resume_after, std::function<void()> wake);

  // The position of the newest change.
  WatchPosition position() const;
  // Open subscriptions.
  size_t streams() const;
  const ChangeFeedOptions& options() const { return options_; }

 private:
  friend class Subscription;
  // Adds `event` to `sub`; true if `sub` had nothing pending before.
  bool AddLocked(Subscription* sub, const FeedEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Subscription* sub);

  const ChangeFeedOptions options_;
  const uint64_t epoch_;
  mutable absl::Mutex mu_;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<FeedEvent> history_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_WATCH_CHANGE_FEED_H_
