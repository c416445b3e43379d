// What the gRPC services need from the daemon: the store, the environment
// registry, who is calling, what they may do, and the request limits.
// The server (daemon/server.h) builds one ServiceContext and hands it to
// every service; the services (daemon/rpc/secrets_service.h,
// daemon/rpc/admin_service.h) are thin adapters: validate, check access, call
// core/, fill the response, map the status.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_SERVICE_CONTEXT_H_
#define ZLAYER_SECRETS_DAEMON_RPC_SERVICE_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/audit/audit_log.h"
#include "core/backup/backup.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/env/environment_registry.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/client_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_store.h"
#include "core/identity/registry_credential_store.h"
#include "core/store/secret_store.h"
#include "core/watch/consumer_graph.h"
#include "daemon/transport/caller_identifier.h"
#include "grpcpp/server_context.h"

namespace zlayer::secrets {

class CallAuditor;  // daemon/rpc/call_auditor.h

// Request limits; beyond them calls fail with INVALID_ARGUMENT (or
// RESOURCE_EXHAUSTED for whole-message size, enforced by gRPC itself).
struct Limits {
  size_t max_message_bytes = 8 << 20;  // gRPC receive/send limit
  size_t max_value_bytes = kMaxValueBytes;
  size_t max_names_per_batch = 1000;  // GetSecrets
  size_t max_env_entries = 1000;      // ResolveEnv / CheckEnv
  size_t max_import_bytes = 4 << 20;  // ImportSecrets content
  // ResolveEnv/GetSecrets answer, checked before it is built
  // (RESOURCE_EXHAUSTED); 0 = unbounded.
  size_t max_response_bytes = 4 << 20;
};

// The credential scopes (kRegistryCredentialResource, kGitCredentialResource)
// are declared in core/identity/grant_store.h, next to the grant rules that
// treat them specially.

// Result of a master-key rotation (Admin.RotateMasterKey).
struct KeyRotationResult {
  uint32_t new_key_id = 0;
  uint64_t versions_reencrypted = 0;
};

// How far a data-key rotation (rekey) has come (Admin.GetRekeyStatus).
struct RekeyStatusInfo {
  bool running = false;
  uint32_t generation = 0;  // the generation values move to (0 = no run yet)
  uint64_t done = 0;
  uint64_t total = 0;
  absl::Status last_status;        // of the last finished run
  uint32_t active_generation = 0;  // the generation new values use
};

struct ServiceContext {
  SecretStore* store = nullptr;  // not owned
  // What ResolveEnv reads references through when some scopes live
  // elsewhere (--vault-scope, docs/vault.md); null = `store`. Not owned.
  SecretsProvider* resolve_source = nullptr;
  EnvironmentRegistry* environments = nullptr;   // not owned
  const Authorizer* authorizer = nullptr;        // not owned
  const CallerIdentifier* identifier = nullptr;  // not owned
  Clock* clock = nullptr;                        // not owned
  Limits limits;
  // Re-wraps the store's data keys under a new master key (empty =
  // generate); unset when the store cannot rotate (e.g. the in-memory
  // store).
  std::function<absl::StatusOr<KeyRotationResult>(SecretBytes new_key)>
      rotate_master_key;
  // Starts (or resumes) a rekey and returns the generation values move to;
  // unset when the store has no data keys. Both or neither are set.
  std::function<absl::StatusOr<uint32_t>()> start_rekey;
  std::function<RekeyStatusInfo()> rekey_status;
  // A backup file of the whole store, produced piece by piece as it is sent
  // (core/backup/backup.h, cluster_backup.h); unset when the store cannot
  // be backed up (the in-memory store).
  std::function<absl::StatusOr<std::unique_ptr<BackupSource>>()> create_backup;

  // Identity stores (daemon/server.cc wires them; tests may leave them null:
  // the Admin RPCs that need one then answer FAILED_PRECONDITION).
  ApiKeyStore* api_keys = nullptr;                          // not owned
  GrantStore* grants = nullptr;                             // not owned
  RegistryCredentialStore* registry_credentials = nullptr;  // not owned
  GitCredentialStore* git_credentials = nullptr;            // not owned
  // Sealed reveals: client keys (null = seal_to answers FAILED_PRECONDITION).
  ClientKeyStore* client_keys = nullptr;  // not owned

  // The audit trail (daemon/rpc/service_common.h, CallLog): null = no audit.
  const AuditLog* audit = nullptr;  // not owned
  // Told the outcome of every audit write (true = written), so the daemon
  // can turn health NOT_SERVING while the audit log cannot be written.
  std::function<void(bool written)> audit_written;
  // Writes the records at the end of each call, with the status the client
  // receives (daemon/rpc/call_auditor.h); null = CallLog writes them itself.
  CallAuditor* auditor = nullptr;  // not owned
  // The audit record's "peer" for gRPC's peer() string ("pid:N" for a Unix
  // caller); unset = peer() itself.
  std::function<std::string(absl::string_view peer)> describe_peer;

  // Who resolves which versions (ResolveEnv.consumer; rotate and rollback
  // report consumers left on the previous version). Null = not recorded,
  // counts answer 0.
  ConsumerGraph* consumers = nullptr;  // not owned
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_SERVICE_CONTEXT_H_
