// AdminService: the gRPC Admin service (proto/secrets.proto): environments,
// master-key rotation, and WhoAmI. A thin adapter over core/, like
// SecretsService: each handler is one `Serve` (service_common.h), which
// identifies the caller and checks the access its RPC declares in
// daemon/rpc/rpc_spec.cc before the body validates, calls core and fills
// the response.
//
// Access (as declared in rpc_spec.cc):
//   CreateEnvironment, UpdateEnvironment, DeleteEnvironment, RotateMasterKey,
//   RekeyDataKeys, GetRekeyStatus
//       admin only (Authorizer::CheckAdmin), as upstream.
//   GetEnvironment, ListEnvironments
//       any authenticated caller: an environment record holds no secret, and
//       callers need ids and names to address environment targets (the CLI's
//       `--env NAME` lookup lists them). Reading secrets in one still needs
//       a grant on its scope.
//   WhoAmI  any caller whose identity the daemon accepts.
//   CreateApiKey, RotateApiKey, ListApiKeys, SetApiKeyRoles, DeleteApiKey,
//   Grant, Revoke, RevokeMatching, ListGrants,
//   Create/Delete{Registry,Git}Credential
//       admin only.
//   GetRegistryCredential, ListRegistryCredentials (the docker credential
//   helper's reads)
//       administrators, and callers holding read on the resource
//       "credentials:registry" (a scope grant: every registry) or on the
//       secret "credentials:registry"/<normalised host> (one registry);
//       List returns only what the caller may read.
//   GetGitCredential, ListGitCredentials (the git credential helper's)
//       the same with "credentials:git"/<lower-cased host[:port]>.
//   A Get by id looks the credential up before checking access, so a caller
//   without access can tell an unknown id (NOT_FOUND) from a forbidden one
//   (PERMISSION_DENIED); ids are random UUIDs.
//
//   AdminService admin(&context);
//   auto service = MakeQueuedAdminService(&admin, &queue, &context);
//   builder.RegisterService(service.get());  // daemon/rpc/callback_services.h
//
// Thread-safe: no state of its own.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_ADMIN_SERVICE_H_
#define ZLAYER_SECRETS_DAEMON_RPC_ADMIN_SERVICE_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/identity/api_key_store.h"
#include "daemon/rpc/service_common.h"
#include "daemon/rpc/service_context.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {

class AdminService final {
 public:
  // `ctx` is not owned and must outlive the service. Environment RPCs fail
  // with FAILED_PRECONDITION when it has no registry; RotateMasterKey with
  // UNIMPLEMENTED when it has no rotate_master_key.
  explicit AdminService(const ServiceContext* ctx);

  grpc::Status CreateEnvironment(grpc::ServerContextBase* context,
                                 const v1::CreateEnvironmentRequest* request,
                                 v1::Environment* response);
  grpc::Status GetEnvironment(grpc::ServerContextBase* context,
                              const v1::GetEnvironmentRequest* request,
                              v1::Environment* response);
  grpc::Status ListEnvironments(grpc::ServerContextBase* context,
                                const v1::ListEnvironmentsRequest* request,
                                v1::ListEnvironmentsResponse* response);
  grpc::Status UpdateEnvironment(grpc::ServerContextBase* context,
                                 const v1::UpdateEnvironmentRequest* request,
                                 v1::Environment* response);
  // FAILED_PRECONDITION while the environment's scope holds a live secret.
  // The check and the delete are two steps: a secret written in between is
  // left in a scope no environment names (still reachable by raw scope).
  grpc::Status DeleteEnvironment(grpc::ServerContextBase* context,
                                 const v1::DeleteEnvironmentRequest* request,
                                 v1::DeleteEnvironmentResponse* response);
  // INVALID_ARGUMENT unless new_key is empty or exactly 32 bytes.
  grpc::Status RotateMasterKey(grpc::ServerContextBase* context,
                               const v1::RotateMasterKeyRequest* request,
                               v1::RotateMasterKeyResponse* response);
  grpc::Status WhoAmI(grpc::ServerContextBase* context,
                      const v1::WhoAmIRequest* request,
                      v1::WhoAmIResponse* response);
  // UNIMPLEMENTED when the context has no start_rekey / rekey_status;
  // FAILED_PRECONDITION while a rekey runs.
  grpc::Status RekeyDataKeys(grpc::ServerContextBase* context,
                             const v1::RekeyDataKeysRequest* request,
                             v1::RekeyDataKeysResponse* response);
  grpc::Status GetRekeyStatus(grpc::ServerContextBase* context,
                              const v1::GetRekeyStatusRequest* request,
                              v1::RekeyStatus* response);

  grpc::Status CreateApiKey(grpc::ServerContextBase* context,
                            const v1::CreateApiKeyRequest* request,
                            v1::CreateApiKeyResponse* response);
  grpc::Status RotateApiKey(grpc::ServerContextBase* context,
                            const v1::RotateApiKeyRequest* request,
                            v1::CreateApiKeyResponse* response);
  grpc::Status ListApiKeys(grpc::ServerContextBase* context,
                           const v1::ListApiKeysRequest* request,
                           v1::ListApiKeysResponse* response);
  // Client keys for sealed reveals (any identified caller, for itself;
  // see proto/secrets.proto and core/identity/client_key_store.h).
  grpc::Status RegisterClientKey(grpc::ServerContextBase* context,
                                 const v1::RegisterClientKeyRequest* request,
                                 v1::ClientKey* response);
  grpc::Status ListClientKeys(grpc::ServerContextBase* context,
                              const v1::ListClientKeysRequest* request,
                              v1::ListClientKeysResponse* response);
  grpc::Status RevokeClientKey(grpc::ServerContextBase* context,
                               const v1::RevokeClientKeyRequest* request,
                               v1::ClientKey* response);
  grpc::Status SetApiKeyRoles(grpc::ServerContextBase* context,
                              const v1::SetApiKeyRolesRequest* request,
                              v1::ApiKey* response);
  grpc::Status DeleteApiKey(grpc::ServerContextBase* context,
                            const v1::DeleteApiKeyRequest* request,
                            v1::DeleteApiKeyResponse* response);

  grpc::Status Grant(grpc::ServerContextBase* context,
                     const v1::GrantRequest* request,
                     v1::AccessGrant* response);
  grpc::Status Revoke(grpc::ServerContextBase* context,
                      const v1::RevokeRequest* request,
                      v1::RevokeResponse* response);
  grpc::Status RevokeMatching(grpc::ServerContextBase* context,
                              const v1::RevokeMatchingRequest* request,
                              v1::RevokeMatchingResponse* response);
  grpc::Status ListGrants(grpc::ServerContextBase* context,
                          const v1::ListGrantsRequest* request,
                          v1::ListGrantsResponse* response);

  grpc::Status CreateRegistryCredential(
      grpc::ServerContextBase* context,
      const v1::CreateRegistryCredentialRequest* request,
      v1::RegistryCredential* response);
  grpc::Status ListRegistryCredentials(
      grpc::ServerContextBase* context,
      const v1::ListRegistryCredentialsRequest* request,
      v1::ListRegistryCredentialsResponse* response);
  grpc::Status DeleteRegistryCredential(
      grpc::ServerContextBase* context,
      const v1::DeleteRegistryCredentialRequest* request,
      v1::DeleteRegistryCredentialResponse* response);
  grpc::Status GetRegistryCredential(
      grpc::ServerContextBase* context,
      const v1::GetRegistryCredentialRequest* request,
      v1::GetRegistryCredentialResponse* response);

  grpc::Status CreateGitCredential(
      grpc::ServerContextBase* context,
      const v1::CreateGitCredentialRequest* request,
      v1::GitCredential* response);
  grpc::Status ListGitCredentials(grpc::ServerContextBase* context,
                                  const v1::ListGitCredentialsRequest* request,
                                  v1::ListGitCredentialsResponse* response);
  grpc::Status DeleteGitCredential(
      grpc::ServerContextBase* context,
      const v1::DeleteGitCredentialRequest* request,
      v1::DeleteGitCredentialResponse* response);
  grpc::Status GetGitCredential(grpc::ServerContextBase* context,
                                const v1::GetGitCredentialRequest* request,
                                v1::GetGitCredentialResponse* response);

 private:
  // The registry, or FailedPrecondition when the daemon has none.
  absl::StatusOr<EnvironmentRegistry*> Registry() const;
  // CreateApiKey / RotateApiKey: `issue` makes the key once the caller is
  // known to be an admin and `id` is valid.
  grpc::Status IssueApiKey(
      const grpc::ServerContextBase& context, absl::string_view rpc,
      const std::string& id,
      absl::FunctionRef<absl::StatusOr<NewApiKey>(ApiKeyStore*)> issue,
      v1::CreateApiKeyResponse* response);

  const ServiceContext* ctx_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_ADMIN_SERVICE_H_
