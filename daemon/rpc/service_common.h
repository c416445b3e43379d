// Pieces every gRPC service handler uses: CallLog (the one log line and the
// one audit record per call, and the status mapping) and TakeSecret (secret
// request fields into SecretBytes).
//
// CallLog: what each RPC handler records when it finishes. Handlers fill in
// log-safe facts as they learn them (the caller's subject, then the scope
// and name once validated, the versions read or written, a short detail such
// as "entries=3") and end with `return log.Finish(status);`, which
//   1. builds one audit record (core/audit/audit_log.h) when the ServiceContext
//   has
//      an AuditLog: time, request id, subject, transport, RPC, scope, name,
//      versions/targets, outcome code and message — never a value — and
//      hands it to the ServiceContext's CallAuditor, which writes it when
//      the call ends with the status the client receives (see
//      daemon/rpc/call_auditor.h; fail-closed audit for the RPCs declared
//      `reveals_values` happens there). Without a CallAuditor (tests that
//      run handlers bare) it writes the record itself, failing closed the
//      same way;
//   2. logs one operator line (spdlog);
//   3. maps the status with ToGrpcStatus().
// Requests, responses and values are never logged: the line and the record
// hold only what is set here.
//
//   CallLog log(ctx_, *context, "GetSecret");
//   log.subject = principal.Subject();
//   log.versions.push_back(read.version);
//   return log.Finish(status);
//
// Fail-closed audit: an RPC declared with `option (reveals_values) = true`
// in proto/secrets.proto (one declaration per RPC, next to it) is answered
// UNAVAILABLE "audit log unavailable; ..." with no response message when its
// record cannot be written. Other calls keep their outcome (a write cannot
// be undone) and the failure is logged at error level. Every write's
// outcome is reported to ServiceContext::audit_written (health).

// Request ids: the client's `x-request-id` metadata when it is 1..64
// printable ASCII characters, else a random "r-<16 hex>".
//
// Successes and client errors log at debug level; DataLoss, Internal and
// Unknown at error level with the status message (the operator's view of
// what the client only sees as a generic message). Core's status messages
// never contain values (core/store/secret_store.h). Not thread-safe; one per
// call.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_SERVICE_COMMON_H_
#define ZLAYER_SECRETS_DAEMON_RPC_SERVICE_COMMON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "core/audit/audit_log.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "core/identity/node_affinity_view.h"
#include "core/resolve/resolver.h"
#include "core/store/secret_store.h"
#include "daemon/rpc/service_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace zlayer::secrets {

class CallLog {
 public:
  // `ctx` may be null (no audit); `call` is the handler's ServerContext.
  CallLog(const ServiceContext* ctx, const grpc::ServerContextBase& call,
          absl::string_view rpc);
  // Without a call context (tests of the log line only): no audit.
  explicit CallLog(absl::string_view rpc) : rpc_(rpc) {}

  // Audits and logs the call and returns ToGrpcStatus(status), or
  // UNAVAILABLE for a value-revealing call whose audit record failed.
  grpc::Status Finish(const absl::Status& status) const;

  std::string subject = "-";  // Principal::Subject(); "-" until identified
  std::string actor;          // delegated identity: who asserted subject
  std::vector<std::string> groups;  // delegated identity: asserted groups
  std::string scope;                // set only once validated
  std::string name;                 // set only once validated
  std::string detail;               // counts and flags, never values
  std::string service;              // ResolveContext.service, audited as is
  // Value-revealing RPCs: sealed to client key `client_key` or plain (see
  // AuditRecord::sealed); unset for the others.
  absl::optional<bool> sealed;
  std::string client_key;
  std::vector<uint32_t> versions;    // versions read or written
  std::vector<AuditTarget> targets;  // batch calls: every secret touched
  // Secrets hidden from the caller by their node affinity (the audit
  // record's node_affinity_hidden); filled by Serve from the call's view.
  std::vector<AuditTarget> node_affinity_hidden;

  const std::string& request_id() const { return request_id_; }

 private:
  const ServiceContext* ctx_ = nullptr;
  const grpc::ServerContextBase* call_ = nullptr;
  std::string rpc_;
  std::string request_id_;
  Transport transport_ = Transport::kInProcess;
  absl::Time start_ = absl::Now();  // for the record's duration
};

// The call as a handler's body sees it: its log, the identified caller and,
// for an RPC declared kRead/kWrite (daemon/rpc/rpc_spec.h), the target Serve
// authorized.
struct Call {
  explicit Call(CallLog& call_log) : log(call_log) {}

  CallLog& log;
  Principal principal;
  SecretKey target;  // kRead/kWrite: validated and authorized; name "" = scope
  const Authorizer* authorizer = nullptr;

  // kPerItem: the check of one item at `level` for this caller (as
  // core/resolve's AccessCheck). Valid while the call runs.
  AccessCheck May(AccessLevel level) const;

  // The store as this caller may see it: every read and write of a body
  // goes through it, so node affinity (core/identity/node_affinity_view.h)
  // is enforced in one place for every RPC. resolve_source() is the same
  // over ServiceContext::resolve_source (ResolveEnv). Made on first use,
  // after Admit identified the caller; valid while the call runs.
  NodeAffinityView& store();
  NodeAffinityView& resolve_source();
  // Copies what the views hid into log.node_affinity_hidden (Serve does).
  void ReportHidden();

 private:
  friend absl::Status Admit(
      const ServiceContext&, const grpc::ServerContextBase&, absl::string_view,
      const std::function<absl::StatusOr<SecretKey>(CallLog&)>&, Call*);
  NodeAffinityView& MakeView(std::unique_ptr<NodeAffinityView>* view,
                             SecretsProvider* values);
  const ServiceContext* ctx_ = nullptr;
  absl::optional<bool> administrator_;
  std::unique_ptr<NodeAffinityView> store_;
  std::unique_ptr<NodeAffinityView> resolve_source_;
};

// How a kRead/kWrite RPC finds its target: validates the request's target
// (and, before the access check, any other input whose error should win over
// a denial), records scope and name in the log, and returns them.
using Locate = std::function<absl::StatusOr<SecretKey>(CallLog&)>;

// Identifies the caller and authorizes the call as `rpc`'s RpcSpec declares
// (kAdmin: CheckAdmin; kRead/kWrite: `locate`, then Check on its target;
// kCaller/kPerItem: identify only). Internal when `rpc` has no declaration
// or declares a target its handler does not locate.
absl::Status Admit(const ServiceContext& ctx,
                   const grpc::ServerContextBase& call, absl::string_view rpc,
                   const Locate& locate, Call* out);

// The one skeleton of every unary RPC handler: a CallLog for the call, Admit
// (identify and authorize as declared in rpc_spec.cc), the handler's body
// (convert, call core, fill the response, recording log-safe facts in
// call.log), then Finish — one log line, one audit record, the status mapped
// once.
//
//   return Serve(ctx_, *context, "DeleteSecret",
//                Secret(request->target(), request->name()),
//                [&](Call& call) { return store->DeleteSecret(...); });
template <typename Body>
grpc::Status Serve(const ServiceContext* ctx,
                   const grpc::ServerContextBase& call, absl::string_view rpc,
                   const Locate& locate, Body&& body) {
  CallLog log(ctx, call, rpc);
  Call admitted(log);
  absl::Status status = Admit(*ctx, call, rpc, locate, &admitted);
  if (status.ok()) status = body(admitted);
  admitted.ReportHidden();
  return log.Finish(status);
}

// An RPC with no target (kCaller, kAdmin, kPerItem).
template <typename Body>
grpc::Status Serve(const ServiceContext* ctx,
                   const grpc::ServerContextBase& call, absl::string_view rpc,
                   Body&& body) {
  return Serve(ctx, call, rpc, Locate(), std::forward<Body>(body));
}

// Identifies the caller of `call`, once per call: the transport's principal
// (ctx.identifier), or, when the call asserts a delegated identity
// (metadata x-zlayer-act-as-user / x-zlayer-act-as-groups, parsed by
// ParseActAs in daemon/transport/caller_identity.h), the asserted user and
// groups, which are then authorized exactly as themselves (never with the
// caller's rights; Principal::IsDelegated). Fills `log`: subject, and for an
// assertion actor = the caller's subject, subject = "user:<id>", groups —
// before the impersonation check, so a refusal is audited with both.
// Errors: the identifier's (UNAUTHENTICATED, ...); InvalidArgument for
// malformed act-as metadata; PermissionDenied "<actor> may not act as
// <subject>" when the caller holds no impersonate grant matching the user
// and every group (Authorizer::CheckImpersonate).
absl::StatusOr<Principal> IdentifyCaller(const ServiceContext& ctx,
                                         const grpc::ServerContextBase& call,
                                         CallLog* log);

// Copies a request's secret field (a value, a key, import content) into
// SecretBytes and wipes the field. The request object belongs to gRPC's call
// and is destroyed unread once the call is finished; it is not itself const
// (gRPC only hands it out as const), so wiping it early merely
// shortens the plaintext's life in ordinary memory.
SecretBytes TakeSecret(const std::string& field);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_SERVICE_COMMON_H_
