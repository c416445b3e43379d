// CallTracker: a server interceptor that counts the calls in flight, so the
// drain can tell whether every call finished before its deadline.
//
// Why: grpc::Server::Shutdown(deadline) returns when every call is done, or
// at the deadline after cancelling the rest, and does not say which. The
// drain runs Shutdown() in a thread and WaitForCalls(deadline) beside it, and
// logs whether calls had to be cancelled. Health Watch streams are calls like
// any other: HealthService::Shutdown() ends them at the start of the drain.
//
//   CallTracker tracker;
//   builder.experimental().SetInterceptorCreators(tracker.Factories());
//
// Thread-safe. Must outlive the server it is installed on.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_CALL_TRACKER_H_
#define ZLAYER_SECRETS_DAEMON_RPC_CALL_TRACKER_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

namespace zlayer::secrets {

class CallTracker {
 public:
  CallTracker() = default;
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Interceptor factories to install on a ServerBuilder (one per call).
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Factories();

  // True once no call is in flight; false at the deadline.
  bool WaitForCalls(absl::Time deadline);

  int calls_in_flight() const;

  // Called by the interceptors.
  void CallStarted();
  void CallEnded();

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_CALL_TRACKER_H_
