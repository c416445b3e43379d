// The interface that tells who is calling. The transports implement it
// (daemon/transport/caller_identity.h: Unix socket peer credentials, API
// keys over TLS); the RPC layer (daemon/rpc/service_context.h) holds one and
// asks it once per call.
//
//   ASSIGN_OR_RETURN(Principal who, identifier->Identify(*context));
//
// Implementations must be thread-safe.
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTIFIER_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTIFIER_H_

#include "absl/status/statusor.h"
#include "core/identity/access.h"
#include "grpcpp/server_context.h"

namespace zlayer::secrets {

class CallerIdentifier {
 public:
  virtual ~CallerIdentifier() = default;
  // UNAUTHENTICATED when the call carries no identity the configuration
  // accepts.
  virtual absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTIFIER_H_
