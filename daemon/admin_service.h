// AdminService: the gRPC Admin service (proto/secrets.proto): environments,
// master-key rotation, and WhoAmI. A thin adapter over core/, like
// SecretsService: identify the caller, check access, validate, call core,
// map the status with ToGrpcStatus() (through CallLog).
//
// Access:
//   CreateEnvironment, UpdateEnvironment, DeleteEnvironment, RotateMasterKey
//       admin only (Authorizer::CheckAdmin), as upstream.
//   GetEnvironment, ListEnvironments
//       any authenticated caller: an environment record holds no secret, and
//       callers need ids and names to address environment targets (the CLI's
//       `--env NAME` lookup lists them). Reading secrets in one still needs
//       a grant on its scope.
//   WhoAmI  any caller whose identity the daemon accepts.
//
//   AdminService admin(&context);
//   builder.RegisterService(&admin);
//
// Thread-safe: no state of its own.
#ifndef ZLAYER_SECRETS_DAEMON_ADMIN_SERVICE_H_
#define ZLAYER_SECRETS_DAEMON_ADMIN_SERVICE_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/service_common.h"
#include "daemon/service_context.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {

class AdminService final : public v1::Admin::Service {
 public:
  // `ctx` is not owned and must outlive the service. Environment RPCs fail
  // with FAILED_PRECONDITION when it has no registry; RotateMasterKey with
  // UNIMPLEMENTED when it has no rotate_master_key.
  explicit AdminService(const ServiceContext* ctx);

  grpc::Status CreateEnvironment(grpc::ServerContext* context,
                                 const v1::CreateEnvironmentRequest* request,
                                 v1::Environment* response) override;
  grpc::Status GetEnvironment(grpc::ServerContext* context,
                              const v1::GetEnvironmentRequest* request,
                              v1::Environment* response) override;
  grpc::Status ListEnvironments(
      grpc::ServerContext* context, const v1::ListEnvironmentsRequest* request,
      v1::ListEnvironmentsResponse* response) override;
  grpc::Status UpdateEnvironment(grpc::ServerContext* context,
                                 const v1::UpdateEnvironmentRequest* request,
                                 v1::Environment* response) override;
  // FAILED_PRECONDITION while the environment's scope holds a live secret.
  // The check and the delete are two steps: a secret written in between is
  // left in a scope no environment names (still reachable by raw scope).
  grpc::Status DeleteEnvironment(
      grpc::ServerContext* context, const v1::DeleteEnvironmentRequest* request,
      v1::DeleteEnvironmentResponse* response) override;
  // INVALID_ARGUMENT unless new_key is empty or exactly 32 bytes.
  grpc::Status RotateMasterKey(grpc::ServerContext* context,
                               const v1::RotateMasterKeyRequest* request,
                               v1::RotateMasterKeyResponse* response) override;
  grpc::Status WhoAmI(grpc::ServerContext* context,
                      const v1::WhoAmIRequest* request,
                      v1::WhoAmIResponse* response) override;

 private:
  // The caller, checked to be an admin when `admin` is set.
  absl::StatusOr<Principal> Identify(const grpc::ServerContext& context,
                                     bool admin, CallLog* log) const;
  // The registry, or FailedPrecondition when the daemon has none.
  absl::StatusOr<EnvironmentRegistry*> Registry() const;

  const ServiceContext* ctx_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_ADMIN_SERVICE_H_
