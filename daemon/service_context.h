// What the gRPC services need from the daemon: the store, the environment
// registry, who is calling, what they may do, and the request limits.
// The server (daemon/server.h) builds one ServiceContext and hands it to
// every service; the services (daemon/secrets_service.h,
// daemon/admin_service.h) are thin adapters: validate, check access, call
// core/, fill the response, map the status.
#ifndef ZLAYER_SECRETS_DAEMON_SERVICE_CONTEXT_H_
#define ZLAYER_SECRETS_DAEMON_SERVICE_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/clock.h"
#include "core/environment_registry.h"
#include "core/secret_bytes.h"
#include "core/secret_store.h"
#include "grpcpp/server_context.h"

namespace zlayer::secrets {

// Request limits; beyond them calls fail with INVALID_ARGUMENT (or
// RESOURCE_EXHAUSTED for whole-message size, enforced by gRPC itself).
struct Limits {
  size_t max_message_bytes = 8 << 20;   // gRPC receive/send limit
  size_t max_value_bytes = kMaxValueBytes;
  size_t max_names_per_batch = 1000;    // GetSecrets
  size_t max_env_entries = 1000;        // ResolveEnv / CheckEnv
  size_t max_import_bytes = 4 << 20;    // ImportSecrets content
};

// Tells who is calling. Implemented by the server's transport layer (Unix
// socket peer credentials, API keys over TLS).
class CallerIdentifier {
 public:
  virtual ~CallerIdentifier() = default;
  // UNAUTHENTICATED when the call carries no identity the configuration
  // accepts.
  virtual absl::StatusOr<Principal> Identify(const grpc::ServerContext& context) const = 0;
};

// Result of a master-key rotation (Admin.RotateMasterKey).
struct KeyRotationResult {
  uint32_t new_key_id = 0;
  uint64_t versions_reencrypted = 0;
};

struct ServiceContext {
  SecretStore* store = nullptr;                 // not owned
  EnvironmentRegistry* environments = nullptr;  // not owned
  const Authorizer* authorizer = nullptr;       // not owned
  const CallerIdentifier* identifier = nullptr; // not owned
  Clock* clock = nullptr;                       // not owned
  Limits limits;
  // Re-encrypts the store under a new key (empty = generate); unset when the
  // store cannot rotate (e.g. the in-memory store).
  std::function<absl::StatusOr<KeyRotationResult>(SecretBytes new_key)> rotate_master_key;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_SERVICE_CONTEXT_H_
