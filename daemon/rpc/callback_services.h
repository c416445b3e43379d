// The Secrets and Admin services as gRPC serves them: callback-API adapters
// (v1::Secrets::CallbackService, v1::Admin::CallbackService) over the
// handler objects (daemon/rpc/secrets_service.h, daemon/rpc/admin_service.h),
// which stay plain blocking code. Each unary call is queued on the daemon's
// CallQueue (daemon/rpc/call_queue.h); a worker then
//   1. answers DEADLINE_EXCEEDED "deadline passed while queued" if the
//      call's deadline passed while it waited, and CANCELLED if the client
//      cancelled it (context->IsCancelled()): in both cases nothing of the
//      handler runs, so storage is never touched (one audit record is
//      written);
//   2. otherwise runs the handler (identify, validate, authorise, core, audit)
//      and finishes the reactor with its status.
// A call the queue refuses (past its bound, or while the daemon stops) is
// answered at once on the reactor thread: RESOURCE_EXHAUSTED "server
// overloaded ..." / UNAVAILABLE, with one audit record (subject "-": it was
// refused before identification, which may need the store).
//
// The gRPC reactor threads thus only deserialise, queue and serialise; the
// handlers may block (SQLite, fsync, the audit file) on the workers.
//
//   SecretsService secrets(&context);
//   CallQueue queue(CallQueueOptions{});
//   std::unique_ptr<grpc::Service> service =
//       MakeQueuedSecretsService(&secrets, &queue, &context);
//   builder.RegisterService(service.get());
//
// The returned services keep pointers only: handlers, queue and context must
// outlive the server. Thread-safe.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_CALLBACK_SERVICES_H_
#define ZLAYER_SECRETS_DAEMON_RPC_CALLBACK_SERVICES_H_

#include <cstddef>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "daemon/rpc/admin_service.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "daemon/rpc/watch_service.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace zlayer::secrets {

// `watch` serves WatchEnv, WatchSecrets and ListConsumers (null: they are
// UNIMPLEMENTED).
std::unique_ptr<grpc::Service> MakeQueuedSecretsService(
    SecretsService* handlers, CallQueue* queue, const ServiceContext* ctx,
    WatchService* watch = nullptr);
std::unique_ptr<grpc::Service> MakeQueuedAdminService(
    AdminService* handlers, CallQueue* queue, const ServiceContext* ctx);

// The step every adapter method takes (exposed for the adapters only):
// queues `handler` for the unary call `call` of RPC `rpc` and returns the
// call's reactor, finished by the worker (or at once if refused).
grpc::ServerUnaryReactor* QueueUnaryCall(
    CallQueue* queue, const ServiceContext* ctx,
    grpc::CallbackServerContext* call, absl::string_view rpc,
    size_t request_bytes, absl::AnyInvocable<grpc::Status()> handler);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_CALLBACK_SERVICES_H_
