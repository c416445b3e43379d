// SecretsService: the gRPC Secrets service (proto/secrets.proto), a thin
// adapter over core/. Every handler is one `Serve` (service_common.h), which
// identifies the caller and checks the access its RPC declares in
// daemon/rpc/rpc_spec.cc, on the target the handler's locator (`Secret` /
// `Scope`: the Target as a scope, the name and any input validated before
// the access check) returns; the body then converts the request, calls core
// and fills the response.
//
// Access levels (core/identity/access.h), per RPC, as declared in
// rpc_spec.cc:
//   read     GetSecret, GetSecrets, ExportSecrets (values);
//            ListSecrets, SecretExists, ListVersions (metadata only: the
//            names and versions of a scope are treated as readable by anyone
//            who may read its values, and by no one else);
//   execute  ResolveEnv, on every referenced secret (a container start);
//   write    SetSecret, DeleteSecret, UndeleteSecret, DestroySecret,
//            RotateSecret, RollbackSecret, ImportSecrets (also its dry run:
//            the diff reveals whether stored values equal the file's).
// CheckEnv never fails on access: each entry says whether the caller could
// resolve it (`readable` = execute); exists/version are filled only where the
// caller holds read on the secret.
//
// Secret hygiene: values leave the store as SecretBytes and are copied into
// a response field only at the end; request fields that carried a value are
// wiped once moved into SecretBytes. Handlers log (spdlog, debug level) the
// RPC, subject, scope, name and status code, never values or messages.
//
// The handlers are plain blocking code; gRPC reaches them through a
// callback-API adapter that runs them on the daemon's worker pool
// (daemon/rpc/callback_services.h), where blocking SQLite calls are fine:
//
//   SecretsService secrets(&context);
//   auto service = MakeQueuedSecretsService(&secrets, &queue, &context);
//   builder.RegisterService(service.get());
//
// Thread-safe: handlers keep no state of their own.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_SECRETS_SERVICE_H_
#define ZLAYER_SECRETS_DAEMON_RPC_SECRETS_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/identity/access.h"
#include "daemon/rpc/service_common.h"
#include "daemon/rpc/service_context.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {

class SecretsService final {
 public:
  // `ctx` is not owned and must outlive the service; its store, authorizer
  // and identifier are required (environments may be null: environment
  // targets then fail with FAILED_PRECONDITION).
  explicit SecretsService(const ServiceContext* ctx);

  grpc::Status GetSecret(grpc::ServerContextBase* context,
                         const v1::GetSecretRequest* request,
                         v1::GetSecretResponse* response);
  grpc::Status GetSecrets(grpc::ServerContextBase* context,
                          const v1::GetSecretsRequest* request,
                          v1::GetSecretsResponse* response);
  grpc::Status ListSecrets(grpc::ServerContextBase* context,
                           const v1::ListSecretsRequest* request,
                           v1::ListSecretsResponse* response);
  grpc::Status SecretExists(grpc::ServerContextBase* context,
                            const v1::SecretExistsRequest* request,
                            v1::SecretExistsResponse* response);
  grpc::Status SetSecret(grpc::ServerContextBase* context,
                         const v1::SetSecretRequest* request,
                         v1::SetSecretResponse* response);
  grpc::Status DeleteSecret(grpc::ServerContextBase* context,
                            const v1::DeleteSecretRequest* request,
                            v1::DeleteSecretResponse* response);
  grpc::Status UndeleteSecret(grpc::ServerContextBase* context,
                              const v1::UndeleteSecretRequest* request,
                              v1::UndeleteSecretResponse* response);
  grpc::Status DestroySecret(grpc::ServerContextBase* context,
                             const v1::DestroySecretRequest* request,
                             v1::DestroySecretResponse* response);
  grpc::Status RotateSecret(grpc::ServerContextBase* context,
                            const v1::RotateSecretRequest* request,
                            v1::RotateSecretResponse* response);
  grpc::Status ListVersions(grpc::ServerContextBase* context,
                            const v1::ListVersionsRequest* request,
                            v1::ListVersionsResponse* response);
  grpc::Status RollbackSecret(grpc::ServerContextBase* context,
                              const v1::RollbackSecretRequest* request,
                              v1::RollbackSecretResponse* response);
  grpc::Status ResolveEnv(grpc::ServerContextBase* context,
                          const v1::ResolveEnvRequest* request,
                          v1::ResolveEnvResponse* response);
  grpc::Status CheckEnv(grpc::ServerContextBase* context,
                        const v1::CheckEnvRequest* request,
                        v1::CheckEnvResponse* response);
  grpc::Status ImportSecrets(grpc::ServerContextBase* context,
                             const v1::ImportSecretsRequest* request,
                             v1::ImportSecretsResponse* response);
  grpc::Status ExportSecrets(grpc::ServerContextBase* context,
                             const v1::ExportSecretsRequest* request,
                             v1::ExportSecretsResponse* response);

 private:
  // Locators (service_common.h) for an RPC declared on one secret / a whole
  // scope: the canonical scope of `target` (ScopeFromTarget in convert.h),
  // then `name` (ValidateName), then `input` (the handler's checks of the
  // rest of the request, whose error wins over a denial). Record scope and
  // name in the call's log.
  Locate Secret(const v1::Target& target, const std::string& name,
                absl::Status input = absl::OkStatus()) const;
  Locate Scope(const v1::Target& target,
               absl::Status input = absl::OkStatus()) const;
  absl::StatusOr<std::string> ScopeOf(const v1::Target& target,
                                      CallLog* log) const;
  // Sealed reveals (docs/identity.md): "" for an empty `seal_to` (a plain
  // answer), else the public key of client key `seal_to`, which must belong
  // to `principal`'s subject (for a proxy acting as a user: that user;
  // ClientKeyStore::PublicKeyFor is the one rule). Records sealed or plain
  // in `log` first, so a refusal is audited with the key id. Errors:
  // NotFound (unknown id), PermissionDenied (another identity's key),
  // FailedPrecondition (revoked, or no client key store).
  absl::StatusOr<std::string> SealKey(const std::string& seal_to,
                                      const Principal& principal,
                                      CallLog* log) const;

  const ServiceContext* ctx_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_SECRETS_SERVICE_H_
