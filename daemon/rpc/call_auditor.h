// CallAuditor: writes each call's audit record at the end of the call, with
// the status the client actually receives, and records the calls that gRPC
// refuses before any handler runs.
//
// Why at the end and in an interceptor: a handler's status is not always
// what the client sees. A response larger than the send limit is refused by
// gRPC after the handler returned OK; a request that does not parse, that is
// over the receive limit, or that names no known method never reaches a
// handler at all (but see the limit below). The interceptor's PRE_SEND_STATUS
// hook runs after the handler, in the same batch as the response message and
// before anything is sent, so it sees both the status and the serialised
// response:
//   1. The handler (CallLog::Finish, daemon/rpc/service_common.h) deposits its
//      record (subject, scope, name, versions, targets) with Deposit().
//   2. At PRE_SEND_STATUS the interceptor computes the final status: the
//      handler's, gRPC's own for a call no handler served (INTERNAL with no
//      message for an unparsable request becomes INVALID_ARGUMENT, as
//      ParseErrorInterceptor sends it), RESOURCE_EXHAUSTED "response of N
//      bytes exceeds the M-byte message limit" for an oversized response
//      (the message is then replaced by an empty one, so the client receives
//      exactly that status), and CANCELLED/DEADLINE_EXCEEDED when the client
//      is already gone.
//   3. It writes the record with that status. Fail closed: when the call
//      reveals values (the RPC is declared with `option (reveals_values) =
//      true` in proto/secrets.proto) and the record cannot be written, the
//      status becomes UNAVAILABLE "audit log unavailable; ..." and the
//      response message is replaced by an empty one: no value leaves.
//   4. A call whose record was deposited but never reached PRE_SEND_STATUS
//      is recorded as CANCELLED when its interceptor is destroyed.
// Calls with neither a deposit nor an error (health checks, reflection) are
// not recorded.
//
// Limit: a request over gRPC's receive limit (--max-message-bytes) is
// refused by gRPC's core before the call is published to C++ at all (gRPC
// 1.51 creates no interceptor and runs no callback for it), so it cannot be
// recorded here; the client receives RESOURCE_EXHAUSTED "Received message
// larger than max".
//
// Refusals are coalesced under flood: for each (source, code, RPC) at most
// `refusal_burst` failed calls per `refusal_interval` are recorded one by
// one; the rest are counted, and one summary record per key ("count": N,
// request_id "-") is written with the first call after the interval ends.
// The source is the caller's subject when a handler identified it, else
// what `source_of_peer` says (the daemon: "uid:N" of a Unix peer), else the
// peer's address without the port ("peer:ipv4:10.0.0.5").
// Successful calls are never coalesced.
//
//   CallAuditor auditor(&context, CallAuditorOptions{});
//   context.auditor = &auditor;
//   builder.experimental().SetInterceptorCreators(auditor.Factories());
//
// Thread-safe. Must outlive the server it is installed on.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_CALL_AUDITOR_H_
#define ZLAYER_SECRETS_DAEMON_RPC_CALL_AUDITOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/audit/audit_log.h"
#include "core/identity/access.h"
#include "daemon/rpc/service_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"

namespace zlayer::secrets {

// True when the RPC is declared `option (reveals_values) = true` in
// proto/secrets.proto. `rpc` is a method name ("GetSecret") or gRPC's path
// ("/zlayer.secrets.v1.Secrets/GetSecret"). Thread-safe.
bool RevealsValues(absl::string_view rpc);

// The client's `x-request-id` metadata when it is 1..64 printable ASCII
// characters, else a random "r-<16 hex>".
std::string RequestIdOf(const grpc::ServerContextBase& call);
// The transport by the form of peer() (see daemon/transport/caller_identity.h).
Transport TransportOf(const grpc::ServerContextBase& call);

// Writes `record` and returns the status the client must receive: `outcome`,
// or UNAVAILABLE when `reveals_values` and `outcome` is OK and the record
// could not be written. Reports the write to ctx.audit_written. For callers
// without a CallAuditor (no coalescing).
absl::Status WriteAuditRecord(const ServiceContext& ctx,
                              const AuditRecord& record, bool reveals_values,
                              const absl::Status& outcome);

struct CallAuditorOptions {
  // gRPC's send limit: larger responses are refused (see above).
  size_t max_send_message_bytes = 8 << 20;
  absl::Duration refusal_interval = absl::Seconds(10);
  int64_t refusal_burst = 20;
  // Distinct (source, code, RPC) keys tracked at once; beyond it, new
  // sources share one key with source "*".
  size_t max_refusal_keys = 4096;
  // The source of a call no handler identified, from gRPC's peer() ("" =
  // unknown). Must be cheap and thread-safe (no API-key verification).
  std::function<std::string(absl::string_view peer)> source_of_peer;
};

class CallAuditor {
 public:
  // `ctx` is borrowed (its audit log, clock and audit_written are used) and
  // must outlive the auditor.
  CallAuditor(const ServiceContext* ctx, CallAuditorOptions options);
  CallAuditor(const CallAuditor&) = delete;
  CallAuditor& operator=(const CallAuditor&) = delete;

  // Interceptor factories to install on a ServerBuilder, after the others.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Factories();

  // Handler side: hands over the record of the call served with `call`
  // (code and message are filled in at the end). False when no interceptor
  // of this auditor tracks the call; the caller then writes it itself.
  bool Deposit(const grpc::ServerContextBase* call, AuditRecord record)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Handler side: the call's outcome is audited elsewhere (a failed API-key
  // check, counted by AuthFailureAudit in one record per source and key id
  // per interval), so the interceptor writes nothing for it.
  void MarkAuditedElsewhere(const grpc::ServerContextBase* call)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Writes `record` (coalescing refusals) and returns the status the client
  // must receive, as WriteAuditRecord.
  absl::Status Write(const AuditRecord& record, bool reveals_values,
                     const absl::Status& outcome) ABSL_LOCKS_EXCLUDED(mu_);

  const ServiceContext& context() const { return *ctx_; }
  const CallAuditorOptions& options() const { return options_; }

  // Called by the interceptors.
  class CallState;
  void Register(const grpc::ServerContextBase* call, CallState* state)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(const grpc::ServerContextBase* call) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct RefusalWindow {
    absl::Time start;
    int64_t written = 0;
    int64_t suppressed = 0;
    AuditRecord sample;  // subject, transport, rpc, code of the key
  };
  // Moves the summaries of ended windows into `out`.
  void TakeEndedWindows(absl::Time now, std::vector<AuditRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServiceContext* const ctx_;
  const CallAuditorOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<const grpc::ServerContextBase*, CallState*> calls_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, RefusalWindow> refusals_
      ABSL_GUARDED_BY(mu_);
  absl::Time next_window_end_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_CALL_AUDITOR_H_
