// HealthService: the daemon's grpc.health.v1.Health (Check and Watch), with a
// Shutdown() that ends every Watch stream cleanly, so a drain needs neither
// call cancellation nor a grace period.
//
//   HealthService health;                    // "" known, NOT_SERVING
//   builder.RegisterService(&health);
//   health.SetServingStatus("", true);       // pushed to every "" watcher
//   ...
//   health.Shutdown();   // NOT_SERVING for all, then each Watch ends with OK
//   server->Shutdown(deadline);              // returns once calls are done
//
// Semantics (the standard health protocol):
//   Check(service)  the service's status; NOT_FOUND for a service that was
//                   never given one. "" is the server as a whole.
//   Watch(service)  sends the current status at once, then every change.
//                   An unknown service gets SERVICE_UNKNOWN and the stream
//                   stays open: once the service is given a status, that is
//                   sent. While a write is in flight, changes are coalesced:
//                   the next write carries the latest status, and a status
//                   equal to the one the client was last sent is not sent
//                   again.
//   Shutdown()      sets every known service NOT_SERVING and freezes the
//                   statuses (later SetServingStatus calls are ignored, as
//                   with gRPC's default service). Every Watch stream, also
//                   one of an unknown service and one opened later, is sent
//                   NOT_SERVING (unless that is already what its client was
//                   last sent) and, once that write has completed, finished
//                   with grpc::Status::OK. OK, not UNAVAILABLE: the stream did
//                   its job - its last message is the final status - and the
//                   server ends it on purpose; the next call tells the client
//                   that the server is gone.
//
// Watch uses the callback API (grpc::ServerWriteReactor), so an open watcher
// holds no thread of the daemon's synchronous pool; Check is answered inline
// on the callback thread (a map lookup under a mutex, nothing blocks). A
// watcher whose client goes away, or whose call the server cancels at its
// shutdown deadline, is finished with CANCELLED and freed in OnDone.
//
// Thread-safe. Must outlive the grpc::Server it is registered on: the
// destructor waits until every Watch stream is done, which the server's
// Shutdown() and Wait() guarantee.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_HEALTH_SERVICE_H_
#define ZLAYER_SECRETS_DAEMON_RPC_HEALTH_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace zlayer::secrets {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  // Knows "" (the whole server) as NOT_SERVING; no other service yet.
  HealthService();
  // Waits until every Watch stream is done (see above).
  ~HealthService() override;

  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // Sets `service` SERVING or NOT_SERVING (making it known if it was not)
  // and pushes the change to its watchers. Ignored after Shutdown().
  void SetServingStatus(absl::string_view service, bool serving);

  // NOT_SERVING for everything, frozen; ends every Watch stream (see above).
  // Idempotent.
  void Shutdown();

  // The number of Watch streams not yet done (their OnDone has not run).
  int watchers() const;
  // Waits until watchers() == n; false at the deadline. For tests and
  // diagnostics.
  bool AwaitWatchers(int n, absl::Time deadline) const;

  // grpc::health::v1::Health::CallbackService.
  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;

  // From Watcher::OnDone: forgets `watcher` (which then deletes itself).
  void Remove(Watcher* watcher);

  mutable absl::Mutex mu_;
  // Known services and their status ("" always).
  absl::flat_hash_map<std::string,
                      grpc::health::v1::HealthCheckResponse::ServingStatus>
      statuses_ ABSL_GUARDED_BY(mu_);
  // Open Watch streams by service name. A Watcher is removed (in its OnDone)
  // under mu_ before it is deleted, so holding mu_ keeps every listed
  // Watcher alive.
  absl::flat_hash_map<std::string, absl::flat_hash_set<Watcher*>> watchers_
      ABSL_GUARDED_BY(mu_);
  int watcher_count_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_HEALTH_SERVICE_H_
