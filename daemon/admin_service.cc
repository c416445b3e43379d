#include "daemon/admin_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/environment_registry.h"
#include "core/secret_bytes.h"
#include "core/secret_store.h"
#include "core/status_macros.h"
#include "core/text_validation.h"

namespace zlayer::secrets {
namespace {

// The size of a master key (XChaCha20-Poly1305).
constexpr size_t kMasterKeyBytes = 32;

void ToProto(const Environment& in, v1::Environment* out) {
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_project(in.project);
  out->set_description(in.description);
  out->set_created_at(in.created_at);
  out->set_updated_at(in.updated_at);
  out->set_scope(EnvironmentScope(in));
}

const char* TransportName(Transport transport) {
  switch (transport) {
    case Transport::kUnix:
      return "unix";
    case Transport::kTls:
      return "tls";
    case Transport::kInsecureTcp:
      return "tcp";
    case Transport::kInProcess:
      return "inprocess";
  }
  return "unknown";
}

}  // namespace

AdminService::AdminService(const ServiceContext* ctx) : ctx_(ctx) {}

absl::StatusOr<Principal> AdminService::Identify(
    const grpc::ServerContext& context, bool admin, CallLog* log) const {
  ASSIGN_OR_RETURN(Principal principal, ctx_->identifier->Identify(context));
  log->subject = principal.Subject();
  if (admin) RETURN_IF_ERROR(ctx_->authorizer->CheckAdmin(principal));
  return principal;
}

absl::StatusOr<EnvironmentRegistry*> AdminService::Registry() const {
  if (ctx_->environments == nullptr) {
    return absl::FailedPreconditionError(
        "this daemon has no environment registry");
  }
  return ctx_->environments;
}

grpc::Status AdminService::CreateEnvironment(
    grpc::ServerContext* context, const v1::CreateEnvironmentRequest* request,
    v1::Environment* response) {
  CallLog log("CreateEnvironment");
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    RETURN_IF_ERROR(ValidateProject(request->project()));
    RETURN_IF_ERROR(ValidateDescription(request->description()));
    ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
    // The registry validates the name (blank, oversized, taken).
    ASSIGN_OR_RETURN(Environment env,
                     registry->Create(request->name(), request->project(),
                                      request->description()));
    log.scope = EnvironmentScope(env);
    ToProto(env, response);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status AdminService::GetEnvironment(
    grpc::ServerContext* context, const v1::GetEnvironmentRequest* request,
    v1::Environment* response) {
  CallLog log("GetEnvironment");
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/false, &log).status());
    RETURN_IF_ERROR(
        ValidateText(request->name_or_id(), "environment", 1, kMaxNameBytes));
    RETURN_IF_ERROR(ValidateProject(request->project()));
    ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
    ASSIGN_OR_RETURN(Environment env,
                     registry->Find(request->name_or_id(), request->project()));
    log.scope = EnvironmentScope(env);
    ToProto(env, response);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status AdminService::ListEnvironments(
    grpc::ServerContext* context, const v1::ListEnvironmentsRequest* request,
    v1::ListEnvironmentsResponse* response) {
  CallLog log("ListEnvironments");
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/false, &log).status());
    RETURN_IF_ERROR(ValidateProject(request->project()));
    ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
    ASSIGN_OR_RETURN(std::vector<Environment> envs,
                     registry->List(request->project()));
    for (const Environment& env : envs)
      ToProto(env, response->add_environments());
    log.detail = absl::StrCat("count=", envs.size());
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status AdminService::UpdateEnvironment(
    grpc::ServerContext* context, const v1::UpdateEnvironmentRequest* request,
    v1::Environment* response) {
  CallLog log("UpdateEnvironment");
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    RETURN_IF_ERROR(
        ValidateText(request->id(), "environment id", 1, kMaxNameBytes));
    RETURN_IF_ERROR(ValidateDescription(request->description()));
    ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
    ASSIGN_OR_RETURN(Environment env,
                     registry->Update(request->id(), request->name(),
                                      request->description()));
    log.scope = EnvironmentScope(env);
    ToProto(env, response);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status AdminService::DeleteEnvironment(
    grpc::ServerContext* context, const v1::DeleteEnvironmentRequest* request,
    v1::DeleteEnvironmentResponse* response) {
  CallLog log("DeleteEnvironment");
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    RETURN_IF_ERROR(
        ValidateText(request->id(), "environment id", 1, kMaxNameBytes));
    ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
    ASSIGN_OR_RETURN(Environment env, registry->Get(request->id()));
    const std::string scope = EnvironmentScope(env);
    log.scope = scope;
    // Live secrets only (upstream's rule); soft-deleted ones stay in the
    // scope and remain reachable by a raw scope target.
    ListOptions one;
    one.page_size = 1;
    ASSIGN_OR_RETURN(ListPage page, ctx_->store->List(scope, one));
    if (!page.secrets.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("environment '", env.name,
                       "' still holds secrets; delete them first"));
    }
    return registry->Delete(request->id());
  }();
  return log.Finish(status);
}

grpc::Status AdminService::RotateMasterKey(
    grpc::ServerContext* context, const v1::RotateMasterKeyRequest* request,
    v1::RotateMasterKeyResponse* response) {
  CallLog log("RotateMasterKey");
  SecretBytes new_key = TakeSecret(request->new_key());
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    if (!ctx_->rotate_master_key) {
      return absl::UnimplementedError(
          "this store cannot rotate its master key");
    }
    if (!new_key.empty() && new_key.size() != kMasterKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("new_key must be ", kMasterKeyBytes,
                       " bytes (or empty to generate one)"));
    }
    ASSIGN_OR_RETURN(KeyRotationResult result,
                     ctx_->rotate_master_key(std::move(new_key)));
    response->set_new_key_id(result.new_key_id);
    response->set_versions_reencrypted(result.versions_reencrypted);
    log.detail = absl::StrCat("new_key_id=", result.new_key_id,
                              " versions=", result.versions_reencrypted);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status AdminService::WhoAmI(grpc::ServerContext* context,
                                  const v1::WhoAmIRequest* request,
                                  v1::WhoAmIResponse* response) {
  CallLog log("WhoAmI");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal,
                     Identify(*context, /*admin=*/false, &log));
    response->set_subject(principal.Subject());
    for (const std::string& role : principal.roles) response->add_roles(role);
    response->set_transport(TransportName(principal.transport));
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

}  // namespace zlayer::secrets
