// WatchService: the streaming half of the Secrets service (WatchEnv,
// WatchSecrets) and ListConsumers, over core/watch (docs/watch.md).
//
//   ChangeFeed feed(ChangeFeedOptions{}, epoch);
//   ObservedSecretStore store(&sqlite, &feed);  // context.store = &store
//   ConsumerGraph consumers(&clock, ConsumerGraphOptions{});
//   WatchService watch(&context, &feed, &consumers, &queue);
//   auto service = MakeQueuedSecretsService(&secrets, &queue, &context,
//                                           &watch);
//   ...
//   watch.Shutdown();           // every stream ends with OK
//   server->Shutdown(deadline);
//
// Serving model: the streams use gRPC's callback API
// (grpc::ServerWriteReactor), so an open stream holds no thread, only its
// reactor, its feed subscription (bounded; core/watch/change_feed.h) and the
// last message. Everything that may block (identifying the caller, reading
// the store's metadata, access checks) runs as a task on the daemon's
// CallQueue, never on a reactor thread; a store writer only marks the
// stream's subscription and, if it was idle, queues one such task. A slow
// client therefore never holds up a writer: while its write is in flight,
// changes coalesce in its subscription and the next message carries them.
//
// Stream life: the first message is the current state (WatchEnv: the
// receipt; WatchSecrets: an empty event list), then one per change. A
// stream ends with
//   OK                  after Shutdown() (the drain), once its pending
//                       write is done;
//   RESOURCE_EXHAUSTED  past the per-caller or total stream limit, or when
//                       the call queue refuses its work;
//   PERMISSION_DENIED   WatchSecrets only: the caller lost read access
//                       (WatchEnv reports lost entries in `errors` instead
//                       and stays open);
//   CANCELLED           when the client goes away;
//   the usual codes     for bad input (INVALID_ARGUMENT), no identity
//                       (UNAUTHENTICATED), unknown environment (NOT_FOUND).
// Each stream writes one audit record when it ends (daemon/call_auditor.h).
// Keepalive: the server's HTTP/2 keepalive pings (daemon/server.cc) find
// dead peers of idle streams.
//
// Thread-safe. Must outlive the server: the destructor waits until every
// stream is done.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_WATCH_SERVICE_H_
#define ZLAYER_SECRETS_DAEMON_RPC_WATCH_SERVICE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/watch/change_feed.h"
#include "core/watch/consumer_graph.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/service_context.h"
#include "grpcpp/grpcpp.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {

template <typename Response>
class WatchStream;  // watch_service.cc

class WatchService final {
 public:
  // None is owned; all must outlive the service. `ctx` needs its store,
  // identifier and authorizer.
  WatchService(const ServiceContext* ctx, ChangeFeed* feed,
               ConsumerGraph* consumers, CallQueue* queue);
  ~WatchService();

  WatchService(const WatchService&) = delete;
  WatchService& operator=(const WatchService&) = delete;

  grpc::ServerWriteReactor<v1::WatchEnvResponse>* WatchEnv(
      grpc::CallbackServerContext* call, const v1::WatchEnvRequest* request);
  grpc::ServerWriteReactor<v1::WatchSecretsResponse>* WatchSecrets(
      grpc::CallbackServerContext* call,
      const v1::WatchSecretsRequest* request);
  // A blocking unary handler (run on the CallQueue like the others).
  grpc::Status ListConsumers(grpc::ServerContextBase* call,
                             const v1::ListConsumersRequest* request,
                             v1::ListConsumersResponse* response);

  // Ends every stream with OK (streams opened later end at once with
  // UNAVAILABLE). Idempotent.
  void Shutdown();
  // Streams not yet done.
  int streams() const;

  // One open stream, as the service sees it (internal).
  class Stream {
   public:
    virtual ~Stream() = default;
    virtual void Stop() = 0;
  };

 private:
  template <typename Response>
  friend class WatchStream;

  // False after Shutdown() (the stream must end at once).
  bool Add(Stream* stream, std::weak_ptr<Stream> weak);
  void Remove(Stream* stream);

  const ServiceContext* const ctx_;
  ChangeFeed* const feed_;
  ConsumerGraph* const consumers_;
  CallQueue* const queue_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Stream*, std::weak_ptr<Stream>> streams_
      ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_WATCH_SERVICE_H_
