// CallQueue: the daemon's bounded worker pool. gRPC's callback reactors hand
// every Secrets/Admin call to it (daemon/rpc/callback_services.h), so that the
// threads that poll sockets never block on SQLite, fsync or the audit file;
// a burst of calls waits here instead of being refused.
//
//   CallQueue queue(CallQueueOptions{});        // starts the workers
//   absl::Status queued = queue.Submit(request_bytes, [] { ...work... });
//   if (!queued.ok()) { ...answer the call with `queued` now... }
//   queue.Stop();                               // runs what is queued, joins
//
// Bounds (admission): at most `max_queued_calls` tasks wait, holding at most
// `max_queued_bytes` of request bytes (each task costs its request's size
// plus kQueuedCallOverheadBytes, for gRPC's call arena and the context). A
// task past either bound is not queued: Submit returns ResourceExhausted and
// the caller answers the call at once. Tasks run in arrival order on
// `workers` threads; running tasks are not counted against the bounds.
//
// Thread-safe. Tasks must not call Stop().
#ifndef ZLAYER_SECRETS_DAEMON_RPC_CALL_QUEUE_H_
#define ZLAYER_SECRETS_DAEMON_RPC_CALL_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::secrets {

// What a queued call costs besides its request message (gRPC's per-call
// arena, the server context, the task itself): a deliberately round figure.
inline constexpr size_t kQueuedCallOverheadBytes = 4096;

struct CallQueueOptions {
  // Worker threads; 0 = DefaultWorkers().
  int workers = 0;
  // Most calls waiting for a worker. 10,000 calls at the overhead above plus
  // a typical 1 KiB request are ~50 MiB.
  size_t max_queued_calls = 10000;
  // Most request bytes (plus overhead) waiting for a worker: bounds the
  // memory of a queue of large requests (8 MiB each at most).
  size_t max_queued_bytes = size_t{256} << 20;
};

class CallQueue {
 public:
  // max(16, 4 x cores): workers spend most of a call blocked (fsync, SQLite
  // locks, the audit file), and SQLite's group commit shares one fsync among
  // the writers that wait together, so more workers than cores pay off.
  static int DefaultWorkers();

  // Starts the workers.
  explicit CallQueue(CallQueueOptions options);
  // Stop().
  ~CallQueue();

  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  // Queues `task` (run once, on a worker). ResourceExhausted past a bound
  // (the message names it); Unavailable after Stop(). `task` is destroyed
  // unrun on error.
  absl::Status Submit(size_t request_bytes, absl::AnyInvocable<void()> task);

  // Refuses new tasks, lets the workers run every queued one, joins them.
  // Idempotent.
  void Stop();

  int workers() const { return static_cast<int>(threads_.size()); }
  const CallQueueOptions& options() const { return options_; }
  // Tasks waiting (not running); for tests, logs and metrics.
  size_t queued() const;
  // Tasks refused by a bound (ResourceExhausted) since start.
  uint64_t rejected() const;
  // The most tasks ever waiting at once since start.
  size_t peak_queued() const;

 private:
  struct Task {
    size_t bytes;
    absl::AnyInvocable<void()> run;
  };

  void WorkerLoop();

  const CallQueueOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  size_t peak_queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex stop_mu_;  // one Stop() joins
  std::vector<std::thread> threads_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_CALL_QUEUE_H_
