// The one declaration of what each unary and streaming RPC of the Secrets
// and Admin services needs before its body runs: the access level, and for
// a level on a target, what the target is. `Serve` (service_common.h) reads
// it, so identify + authorize + audit happen once per call, outside the
// handler's body; a handler only converts, calls core and fills its answer.
// Whether an RPC reveals values is declared next to it in
// proto/secrets.proto (`option (reveals_values)`), not here. Node affinity
// is not declared per RPC either: it applies to every secret a body reads,
// whatever the RPC, through the call's store view (Call::store(),
// core/identity/node_affinity_view.h), after the access declared here.
//
//   const RpcSpec* spec = FindRpcSpec("SetSecret");
//   // {"Secrets", "SetSecret", Access::kWrite, Target::kSecret}
//
// A new RPC adds one line to the table in rpc_spec.cc;
// tests/daemon/rpc_spec_test fails for a method of either service without
// one, and Serve refuses (INTERNAL) a call whose RPC is not declared.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_RPC_SPEC_H_
#define ZLAYER_SECRETS_DAEMON_RPC_RPC_SPEC_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace zlayer::secrets {

// Who may make the call, checked by Serve before the body runs.
enum class Access {
  // Any identified caller: the call touches only the caller's own records
  // (WhoAmI, RegisterClientKey) or names no secret (environment reads).
  kCaller,
  // The admin role (Authorizer::CheckAdmin), checked before the request is
  // looked at.
  kAdmin,
  // Read / write on the call's one target (RpcSpec::target), checked once
  // the target has validated.
  kRead,
  kWrite,
  // Checked per item by the body through the check Serve hands it
  // (`Call::May`, or the authorizer for core/ops/credential_access):
  // batch reads, ResolveEnv per reference, filtered lists, owner-or-admin.
  kPerItem,
};

// What kRead / kWrite is checked on.
enum class Target {
  kNone,    // kCaller, kAdmin, kPerItem
  kSecret,  // one secret: target scope + name
  kScope,   // a whole scope: target scope, name ""
};

struct RpcSpec {
  absl::string_view service;  // "Secrets" or "Admin" (proto service name)
  absl::string_view rpc;      // the method name, as in the proto
  Access access;
  Target target;
};

// Every declared RPC, in proto order per service.
absl::Span<const RpcSpec> AllRpcSpecs();

// The declaration of `rpc` (a method name; names are unique across both
// services), or null when it has none.
const RpcSpec* FindRpcSpec(absl::string_view rpc);

absl::string_view AccessName(Access access);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_RPC_SPEC_H_
