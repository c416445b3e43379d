// CallTracker: a server interceptor that counts the calls in flight, so the
// drain can tell ordinary calls (which it lets finish) from health Watch
// streams (which never finish on their own).
//
// Why: grpc::Server::Shutdown(deadline) waits for every call, and the
// default health service's Watch streams stay open until cancelled; a single
// watcher (an orchestrator, a load balancer) would make every drain last
// the full drain timeout. With the tracker the drain is:
//   BeginDrain(); health NOT_SERVING; Server::Shutdown(deadline) in a thread
//   WaitForCalls(deadline)            ordinary calls finish
//   WaitForWatchers(short deadline)   each watcher has been sent an update
//   grpc_server_cancel_all_calls()    only watchers are left: end them
//
//   CallTracker tracker;
//   builder.experimental().SetInterceptorCreators(tracker.Factories());
//
// Thread-safe. Must outlive the server it is installed on.
#ifndef ZLAYER_SECRETS_DAEMON_CALL_TRACKER_H_
#define ZLAYER_SECRETS_DAEMON_CALL_TRACKER_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace zlayer::secrets {

inline constexpr char kHealthWatchMethod[] = "/grpc.health.v1.Health/Watch";

class CallTracker {
 public:
  CallTracker() = default;
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Interceptor factories to install on a ServerBuilder (one per call).
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Factories();

  // From now on, a message sent on a Watch stream marks it as notified.
  void BeginDrain();
  // True when no call other than health Watch is in flight; false at the
  // deadline.
  bool WaitForCalls(absl::Time deadline);
  // True when every open Watch stream has been sent a message since
  // BeginDrain(); false at the deadline.
  bool WaitForWatchers(absl::Time deadline);

  int calls_in_flight() const;
  int watchers() const;

  // Called by the interceptors.
  void CallStarted(const void* call, bool watch);
  void CallEnded(const void* call, bool watch);
  void MessageSent(const void* call);

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  // Watch stream -> sent a message since BeginDrain().
  absl::flat_hash_map<const void*, bool> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_CALL_TRACKER_H_
