#include "daemon/rpc/callback_services.h"

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "daemon/rpc/backup_stream.h"
#include "daemon/rpc/service_common.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {
namespace {

// What a worker does with a dequeued call (see the header).
grpc::Status RunQueuedCall(const ServiceContext* ctx,
                           grpc::CallbackServerContext* call,
                           absl::string_view rpc,
                           absl::AnyInvocable<grpc::Status()>& handler) {
  // The deadline first: gRPC also cancels a call whose deadline passed.
  // gRPC deadlines are wall-clock time points (no deadline: the maximum).
  if (call->deadline() <= std::chrono::system_clock::now()) {
    return CallLog(ctx, *call, rpc)
        .Finish(absl::DeadlineExceededError(
            "deadline passed while queued; nothing was done"));
  }
  if (call->IsCancelled()) {
    return CallLog(ctx, *call, rpc)
        .Finish(absl::CancelledError("call cancelled while queued"));
  }
  return handler();
}

// One override per unary RPC: queue the handler object's method of the same
// name. The request, response and context belong to the call and live until
// the reactor is finished, which only the queued task (or a refusal) does.
#define ZS_QUEUED_UNARY(rpc, Request, Response)                              \
  grpc::ServerUnaryReactor* rpc(grpc::CallbackServerContext* call,           \
                                const v1::Request* request,                  \
                                v1::Response* response) override {           \
    return QueueUnaryCall(queue_, ctx_, call, #rpc, request->ByteSizeLong(), \
                          [this, call, request, response] {                  \
                            return handlers_->rpc(call, request, response);  \
                          });                                                \
  }

class QueuedSecretsService final : public v1::Secrets::CallbackService {
 public:
  QueuedSecretsService(SecretsService* handlers, CallQueue* queue,
                       const ServiceContext* ctx, WatchService* watch)
      : handlers_(handlers), queue_(queue), ctx_(ctx), watch_(watch) {}

  ZS_QUEUED_UNARY(GetSecret, GetSecretRequest, GetSecretResponse)
  ZS_QUEUED_UNARY(GetSecrets, GetSecretsRequest, GetSecretsResponse)
  ZS_QUEUED_UNARY(ListSecrets, ListSecretsRequest, ListSecretsResponse)
  ZS_QUEUED_UNARY(SecretExists, SecretExistsRequest, SecretExistsResponse)
  ZS_QUEUED_UNARY(SetSecret, SetSecretRequest, SetSecretResponse)
  ZS_QUEUED_UNARY(DeleteSecret, DeleteSecretRequest, DeleteSecretResponse)
  ZS_QUEUED_UNARY(UndeleteSecret, UndeleteSecretRequest, UndeleteSecretResponse)
  ZS_QUEUED_UNARY(DestroySecret, DestroySecretRequest, DestroySecretResponse)
  ZS_QUEUED_UNARY(RotateSecret, RotateSecretRequest, RotateSecretResponse)
  ZS_QUEUED_UNARY(ListVersions, ListVersionsRequest, ListVersionsResponse)
  ZS_QUEUED_UNARY(RollbackSecret, RollbackSecretRequest, RollbackSecretResponse)
  ZS_QUEUED_UNARY(ResolveEnv, ResolveEnvRequest, ResolveEnvResponse)
  ZS_QUEUED_UNARY(CheckEnv, CheckEnvRequest, CheckEnvResponse)
  ZS_QUEUED_UNARY(ImportSecrets, ImportSecretsRequest, ImportSecretsResponse)
  ZS_QUEUED_UNARY(ExportSecrets, ExportSecretsRequest, ExportSecretsResponse)

  // Watching (daemon/watch_service.h); UNIMPLEMENTED without a WatchService.
  grpc::ServerWriteReactor<v1::WatchEnvResponse>* WatchEnv(
      grpc::CallbackServerContext* call,
      const v1::WatchEnvRequest* request) override {
    if (watch_ == nullptr)
      return v1::Secrets::CallbackService::WatchEnv(call, request);
    return watch_->WatchEnv(call, request);
  }
  grpc::ServerWriteReactor<v1::WatchSecretsResponse>* WatchSecrets(
      grpc::CallbackServerContext* call,
      const v1::WatchSecretsRequest* request) override {
    if (watch_ == nullptr)
      return v1::Secrets::CallbackService::WatchSecrets(call, request);
    return watch_->WatchSecrets(call, request);
  }
  grpc::ServerUnaryReactor* ListConsumers(
      grpc::CallbackServerContext* call,
      const v1::ListConsumersRequest* request,
      v1::ListConsumersResponse* response) override {
    if (watch_ == nullptr) {
      return v1::Secrets::CallbackService::ListConsumers(call, request,
                                                         response);
    }
    return QueueUnaryCall(
        queue_, ctx_, call, "ListConsumers", request->ByteSizeLong(),
        [this, call, request, response] {
          return watch_->ListConsumers(call, request, response);
        });
  }

 private:
  SecretsService* const handlers_;
  CallQueue* const queue_;
  const ServiceContext* const ctx_;
  WatchService* const watch_;
};

class QueuedAdminService final : public v1::Admin::CallbackService {
 public:
  QueuedAdminService(AdminService* handlers, CallQueue* queue,
                     const ServiceContext* ctx)
      : handlers_(handlers), queue_(queue), ctx_(ctx) {}

  // Streaming, not queued: daemon/backup_stream.h.
  grpc::ServerWriteReactor<v1::BackupChunk>* Backup(
      grpc::CallbackServerContext* call,
      const v1::BackupRequest* /*request*/) override {
    return StartBackupStream(ctx_, call);
  }

  ZS_QUEUED_UNARY(CreateEnvironment, CreateEnvironmentRequest, Environment)
  ZS_QUEUED_UNARY(GetEnvironment, GetEnvironmentRequest, Environment)
  ZS_QUEUED_UNARY(ListEnvironments, ListEnvironmentsRequest,
                  ListEnvironmentsResponse)
  ZS_QUEUED_UNARY(UpdateEnvironment, UpdateEnvironmentRequest, Environment)
  ZS_QUEUED_UNARY(DeleteEnvironment, DeleteEnvironmentRequest,
                  DeleteEnvironmentResponse)
  ZS_QUEUED_UNARY(RotateMasterKey, RotateMasterKeyRequest,
                  RotateMasterKeyResponse)
  ZS_QUEUED_UNARY(WhoAmI, WhoAmIRequest, WhoAmIResponse)
  ZS_QUEUED_UNARY(RekeyDataKeys, RekeyDataKeysRequest, RekeyDataKeysResponse)
  ZS_QUEUED_UNARY(GetRekeyStatus, GetRekeyStatusRequest, RekeyStatus)
  ZS_QUEUED_UNARY(CreateApiKey, CreateApiKeyRequest, CreateApiKeyResponse)
  ZS_QUEUED_UNARY(RotateApiKey, RotateApiKeyRequest, CreateApiKeyResponse)
  ZS_QUEUED_UNARY(ListApiKeys, ListApiKeysRequest, ListApiKeysResponse)
  ZS_QUEUED_UNARY(RegisterClientKey, RegisterClientKeyRequest, ClientKey)
  ZS_QUEUED_UNARY(ListClientKeys, ListClientKeysRequest, ListClientKeysResponse)
  ZS_QUEUED_UNARY(RevokeClientKey, RevokeClientKeyRequest, ClientKey)
  ZS_QUEUED_UNARY(SetApiKeyRoles, SetApiKeyRolesRequest, ApiKey)
  ZS_QUEUED_UNARY(DeleteApiKey, DeleteApiKeyRequest, DeleteApiKeyResponse)
  ZS_QUEUED_UNARY(Grant, GrantRequest, AccessGrant)
  ZS_QUEUED_UNARY(Revoke, RevokeRequest, RevokeResponse)
  ZS_QUEUED_UNARY(RevokeMatching, RevokeMatchingRequest, RevokeMatchingResponse)
  ZS_QUEUED_UNARY(ListGrants, ListGrantsRequest, ListGrantsResponse)
  ZS_QUEUED_UNARY(CreateRegistryCredential, CreateRegistryCredentialRequest,
                  RegistryCredential)
  ZS_QUEUED_UNARY(ListRegistryCredentials, ListRegistryCredentialsRequest,
                  ListRegistryCredentialsResponse)
  ZS_QUEUED_UNARY(DeleteRegistryCredential, DeleteRegistryCredentialRequest,
                  DeleteRegistryCredentialResponse)
  ZS_QUEUED_UNARY(GetRegistryCredential, GetRegistryCredentialRequest,
                  GetRegistryCredentialResponse)
  ZS_QUEUED_UNARY(CreateGitCredential, CreateGitCredentialRequest,
                  GitCredential)
  ZS_QUEUED_UNARY(ListGitCredentials, ListGitCredentialsRequest,
                  ListGitCredentialsResponse)
  ZS_QUEUED_UNARY(DeleteGitCredential, DeleteGitCredentialRequest,
                  DeleteGitCredentialResponse)
  ZS_QUEUED_UNARY(GetGitCredential, GetGitCredentialRequest,
                  GetGitCredentialResponse)

 private:
  AdminService* const handlers_;
  CallQueue* const queue_;
  const ServiceContext* const ctx_;
};

#undef ZS_QUEUED_UNARY

}  // namespace

grpc::ServerUnaryReactor* QueueUnaryCall(
    CallQueue* queue, const ServiceContext* ctx,
    grpc::CallbackServerContext* call, absl::string_view rpc,
    size_t request_bytes, absl::AnyInvocable<grpc::Status()> handler) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  absl::Status queued = queue->Submit(
      request_bytes,
      [ctx, call, rpc, reactor, handler = std::move(handler)]() mutable {
        reactor->Finish(RunQueuedCall(ctx, call, rpc, handler));
      });
  if (!queued.ok()) {
    // Refused: answered here, audited, nothing of the handler ran. (The
    // audit write is one append, unless --audit-fsync; refusals only happen
    // past the queue's bound, where this thread slowing down is harmless.)
    reactor->Finish(CallLog(ctx, *call, rpc).Finish(queued));
  }
  return reactor;
}

std::unique_ptr<grpc::Service> MakeQueuedSecretsService(
    SecretsService* handlers, CallQueue* queue, const ServiceContext* ctx,
    WatchService* watch) {
  return std::make_unique<QueuedSecretsService>(handlers, queue, ctx, watch);
}

std::unique_ptr<grpc::Service> MakeQueuedAdminService(
    AdminService* handlers, CallQueue* queue, const ServiceContext* ctx) {
  return std::make_unique<QueuedAdminService>(handlers, queue, ctx);
}

}  // namespace zlayer::secrets
