#include "daemon/rpc/admin_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/audit/audit_log.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/env/environment_registry.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_store.h"
#include "core/identity/identity_records.h"
#include "core/identity/registry_credential_store.h"
#include "core/store/secret_store.h"

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

// A store the daemon wires; FailedPrecondition when absent (tests).
template <typename T>
absl::StatusOr<T*> Need(T* store, absl::string_view what) {
  if (store == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("this daemon has no ", what));
  }
  return store;
}

absl::StatusOr<AccessLevel> LevelFromProto(v1::AccessLevel level) {
  switch (level) {
    case v1::ACCESS_LEVEL_READ:
      return AccessLevel::kRead;
    case v1::ACCESS_LEVEL_EXECUTE:
      return AccessLevel::kExecute;
    case v1::ACCESS_LEVEL_WRITE:
      return AccessLevel::kWrite;
    default:
      return absl::InvalidArgumentError(
          "level is required (read, execute or write)");
  }
}

v1::AccessLevel LevelToProto(AccessLevel level) {
  switch (level) {
    case AccessLevel::kRead:
      return v1::ACCESS_LEVEL_READ;
    case AccessLevel::kExecute:
      return v1::ACCESS_LEVEL_EXECUTE;
    case AccessLevel::kWrite:
      return v1::ACCESS_LEVEL_WRITE;
    case AccessLevel::kNone:
      break;
  }
  return v1::ACCESS_LEVEL_UNSPECIFIED;
}

absl::StatusOr<GrantResource> ResourceFromProto(const v1::GrantResource& in) {
  GrantResource out;
  switch (in.kind()) {
    case v1::RESOURCE_KIND_ENVIRONMENT:
      out.kind = ResourceKind::kEnvironment;
      break;
    case v1::RESOURCE_KIND_SCOPE:
      out.kind = ResourceKind::kScope;
      break;
    case v1::RESOURCE_KIND_SECRET:
      out.kind = ResourceKind::kSecret;
      break;
    case v1::RESOURCE_KIND_IMPERSONATE:
      out.kind = ResourceKind::kImpersonate;
      break;
    default:
      return absl::InvalidArgumentError(
          "resource kind is required (environment, scope, secret or "
          "impersonate)");
  }
  if (out.kind != ResourceKind::kSecret && !in.name().empty()) {
    return absl::InvalidArgumentError(
        "a resource name is only valid for kind secret");
  }
  out.id = in.id();
  out.name = in.name();
  RETURN_IF_ERROR(ValidateGrantResource(out));
  return out;
}

void ToProto(const GrantResource& in, v1::GrantResource* out) {
  switch (in.kind) {
    case ResourceKind::kEnvironment:
      out->set_kind(v1::RESOURCE_KIND_ENVIRONMENT);
      break;
    case ResourceKind::kScope:
      out->set_kind(v1::RESOURCE_KIND_SCOPE);
      break;
    case ResourceKind::kSecret:
      out->set_kind(v1::RESOURCE_KIND_SECRET);
      break;
    case ResourceKind::kImpersonate:
      out->set_kind(v1::RESOURCE_KIND_IMPERSONATE);
      break;
  }
  out->set_id(in.id);
  out->set_name(in.name);
}

void ToProto(const AccessGrant& in, v1::AccessGrant* out) {
  out->set_id(in.id);
  out->set_subject(in.subject);
  ToProto(in.resource, out->mutable_resource());
  out->set_level(LevelToProto(in.level));
  out->set_created_at(in.created_at);
}

void ToProto(const ApiKeyInfo& in, v1::ApiKey* out) {
  out->set_id(in.id);
  for (const std::string& role : in.roles) out->add_roles(role);
  out->set_created_at(in.created_at);
  out->set_updated_at(in.updated_at);
}

void ToProto(const RegistryCredential& in, v1::RegistryCredential* out) {
  out->set_id(in.id);
  out->set_registry(in.registry);
  out->set_username(in.username);
  out->set_auth_type(in.auth_type == RegistryAuthType::kToken
                         ? v1::REGISTRY_AUTH_TYPE_TOKEN
                         : v1::REGISTRY_AUTH_TYPE_BASIC);
  out->set_created_at(in.created_at);
}

void ToProto(const GitCredential& in, v1::GitCredential* out) {
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_kind(in.kind == GitCredentialKind::kSshKey
                    ? v1::GIT_CREDENTIAL_KIND_SSH_KEY
                    : v1::GIT_CREDENTIAL_KIND_PAT);
  out->set_host(in.match.host);
  out->set_path_prefix(in.match.path_prefix);
  out->set_username(in.match.username);
  out->set_created_at(in.created_at);
}

std::vector<std::string> Roles(
    const google::protobuf::RepeatedPtrField<std::string>& roles) {
  return std::vector<std::string>(roles.begin(), roles.end());
}

void SetBytes(const SecretBytes& value, std::string* out) {
  absl::string_view bytes = value.InsecureView();
  out->assign(bytes.data(), bytes.size());
}

// The grant resource a credential helper read is checked against.
Resource RegistryResource(absl::string_view registry) {
  return {kRegistryCredentialResource, NormalizeRegistryHost(registry)};
}
Resource GitResource(absl::string_view host) {
  return {kGitCredentialResource, absl::AsciiStrToLower(host)};
}

// A credential fetched by id, for a caller who may not read every credential
// of its kind: an unknown id and one the caller may not read answer the same
// PERMISSION_DENIED, naming neither host nor existence (the lookup is made in
// both cases, so the work is the same too). `credential` is the lookup's
// result; `resource` the grant resource of the credential when found.
absl::Status CheckCredentialById(const Authorizer& authorizer,
                                 const Principal& principal,
                                 absl::string_view kind_scope,
                                 absl::string_view id, bool found,
                                 const Resource& resource) {
  if (found && authorizer.Check(principal, resource, AccessLevel::kRead).ok()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(principal.Subject(),
                                                  " lacks read on ", kind_scope,
                                                  " credential id ", id));
}

}  // namespace

AdminService::AdminService(const ServiceContext* ctx) : ctx_(ctx) {}

absl::StatusOr<Principal> AdminService::Identify(
    const grpc::ServerContextBase& context, bool admin, CallLog* log) const {
  ASSIGN_OR_RETURN(Principal principal, IdentifyCaller(*ctx_, context, log));
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
    grpc::ServerContextBase* context,
    const v1::CreateEnvironmentRequest* request, v1::Environment* response) {
  return Serve(
      ctx_, *context, "CreateEnvironment", [&](CallLog& log) -> absl::Status {
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
      });
}

grpc::Status AdminService::GetEnvironment(
    grpc::ServerContextBase* context, const v1::GetEnvironmentRequest* request,
    v1::Environment* response) {
  return Serve(
      ctx_, *context, "GetEnvironment", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/false, &log).status());
        RETURN_IF_ERROR(ValidateText(request->name_or_id(), "environment", 1,
                                     kMaxNameBytes));
        RETURN_IF_ERROR(ValidateProject(request->project()));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        ASSIGN_OR_RETURN(Environment env, registry->Find(request->name_or_id(),
                                                         request->project()));
        log.scope = EnvironmentScope(env);
        ToProto(env, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListEnvironments(
    grpc::ServerContextBase* context,
    const v1::ListEnvironmentsRequest* request,
    v1::ListEnvironmentsResponse* response) {
  return Serve(
      ctx_, *context, "ListEnvironments", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/false, &log).status());
        RETURN_IF_ERROR(ValidateProject(request->project()));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        ASSIGN_OR_RETURN(std::vector<Environment> envs,
                         registry->List(request->project()));
        for (const Environment& env : envs)
          ToProto(env, response->add_environments());
        log.detail = absl::StrCat("count=", envs.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::UpdateEnvironment(
    grpc::ServerContextBase* context,
    const v1::UpdateEnvironmentRequest* request, v1::Environment* response) {
  return Serve(
      ctx_, *context, "UpdateEnvironment", [&](CallLog& log) -> absl::Status {
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
      });
}

grpc::Status AdminService::DeleteEnvironment(
    grpc::ServerContextBase* context,
    const v1::DeleteEnvironmentRequest* request,
    v1::DeleteEnvironmentResponse* response) {
  return Serve(
      ctx_, *context, "DeleteEnvironment", [&](CallLog& log) -> absl::Status {
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
      });
}

grpc::Status AdminService::RotateMasterKey(
    grpc::ServerContextBase* context, const v1::RotateMasterKeyRequest* request,
    v1::RotateMasterKeyResponse* response) {
  SecretBytes new_key = TakeSecret(request->new_key());
  return Serve(
      ctx_, *context, "RotateMasterKey", [&](CallLog& log) -> absl::Status {
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
        log.detail = absl::StrCat("new_key_id=", result.new_key_id);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RekeyDataKeys(
    grpc::ServerContextBase* context,
    const v1::RekeyDataKeysRequest* /*request*/,
    v1::RekeyDataKeysResponse* response) {
  return Serve(
      ctx_, *context, "RekeyDataKeys", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        if (!ctx_->start_rekey) {
          return absl::UnimplementedError(
              "this store has no data keys to rotate");
        }
        ASSIGN_OR_RETURN(uint32_t generation, ctx_->start_rekey());
        response->set_generation(generation);
        log.detail = absl::StrCat("generation=", generation);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::GetRekeyStatus(
    grpc::ServerContextBase* context,
    const v1::GetRekeyStatusRequest* /*request*/, v1::RekeyStatus* response) {
  return Serve(
      ctx_, *context, "GetRekeyStatus", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        if (!ctx_->rekey_status) {
          return absl::UnimplementedError(
              "this store has no data keys to rotate");
        }
        const RekeyStatusInfo info = ctx_->rekey_status();
        response->set_running(info.running);
        response->set_generation(info.generation);
        response->set_done(info.done);
        response->set_total(info.total);
        if (!info.last_status.ok()) {
          // A storage or integrity error of the store: names no value.
          response->set_error(
              absl::StrCat(absl::StatusCodeToString(info.last_status.code()),
                           ": ", info.last_status.message()));
        }
        response->set_active_generation(info.active_generation);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::WhoAmI(grpc::ServerContextBase* context,
                                  const v1::WhoAmIRequest* request,
                                  v1::WhoAmIResponse* response) {
  return Serve(ctx_, *context, "WhoAmI", [&](CallLog& log) -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal,
                     Identify(*context, /*admin=*/false, &log));
    response->set_subject(principal.Subject());
    for (const std::string& role : principal.roles) response->add_roles(role);
    response->set_transport(std::string(TransportName(principal.transport)));
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// API keys

// CreateApiKey and RotateApiKey: an admin call on key `id` whose answer is
// the new key, shown this once.
grpc::Status AdminService::IssueApiKey(
    const grpc::ServerContextBase& context, absl::string_view rpc,
    const std::string& id,
    absl::FunctionRef<absl::StatusOr<NewApiKey>(ApiKeyStore*)> issue,
    v1::CreateApiKeyResponse* response) {
  return Serve(ctx_, context, rpc, [&](CallLog& log) -> absl::Status {
    RETURN_IF_ERROR(Identify(context, /*admin=*/true, &log).status());
    ASSIGN_OR_RETURN(ApiKeyStore * keys, Need(ctx_->api_keys, "API key store"));
    log.scope = std::string(kApiKeysScope);
    RETURN_IF_ERROR(ValidateApiKeyId(id));
    log.name = id;
    ASSIGN_OR_RETURN(NewApiKey key, issue(keys));
    ToProto(key.info, response->mutable_key());
    SetBytes(key.presentable_key, response->mutable_presentable_key());
    return absl::OkStatus();
  });
}

grpc::Status AdminService::CreateApiKey(grpc::ServerContextBase* context,
                                        const v1::CreateApiKeyRequest* request,
                                        v1::CreateApiKeyResponse* response) {
  return IssueApiKey(
      *context, "CreateApiKey", request->id(),
      [&](ApiKeyStore* keys) {
        return keys->Create(request->id(), Roles(request->roles()));
      },
      response);
}

grpc::Status AdminService::RotateApiKey(grpc::ServerContextBase* context,
                                        const v1::RotateApiKeyRequest* request,
                                        v1::CreateApiKeyResponse* response) {
  return IssueApiKey(
      *context, "RotateApiKey", request->id(),
      [&](ApiKeyStore* keys) { return keys->Rotate(request->id()); }, response);
}

grpc::Status AdminService::ListApiKeys(grpc::ServerContextBase* context,
                                       const v1::ListApiKeysRequest* request,
                                       v1::ListApiKeysResponse* response) {
  return Serve(
      ctx_, *context, "ListApiKeys", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(ApiKeyStore * keys,
                         Need(ctx_->api_keys, "API key store"));
        log.scope = std::string(kApiKeysScope);
        ASSIGN_OR_RETURN(std::vector<ApiKeyInfo> all, keys->List());
        for (const ApiKeyInfo& info : all) ToProto(info, response->add_keys());
        log.detail = absl::StrCat("count=", all.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::SetApiKeyRoles(
    grpc::ServerContextBase* context, const v1::SetApiKeyRolesRequest* request,
    v1::ApiKey* response) {
  return Serve(
      ctx_, *context, "SetApiKeyRoles", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(ApiKeyStore * keys,
                         Need(ctx_->api_keys, "API key store"));
        log.scope = std::string(kApiKeysScope);
        RETURN_IF_ERROR(ValidateApiKeyId(request->id()));
        log.name = request->id();
        RETURN_IF_ERROR(keys->SetRoles(request->id(), Roles(request->roles())));
        ASSIGN_OR_RETURN(ApiKeyInfo info, keys->Get(request->id()));
        ToProto(info, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteApiKey(grpc::ServerContextBase* context,
                                        const v1::DeleteApiKeyRequest* request,
                                        v1::DeleteApiKeyResponse* response) {
  return Serve(
      ctx_, *context, "DeleteApiKey", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(ApiKeyStore * keys,
                         Need(ctx_->api_keys, "API key store"));
        log.scope = std::string(kApiKeysScope);
        RETURN_IF_ERROR(ValidateApiKeyId(request->id()));
        log.name = request->id();
        return keys->Delete(request->id());
      });
}

// ---------------------------------------------------------------------------
// Grants

grpc::Status AdminService::Grant(grpc::ServerContextBase* context,
                                 const v1::GrantRequest* request,
                                 v1::AccessGrant* response) {
  return Serve(ctx_, *context, "Grant", [&](CallLog& log) -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    RETURN_IF_ERROR(ValidateSubject(request->subject()));
    ASSIGN_OR_RETURN(GrantResource resource,
                     ResourceFromProto(request->resource()));
    ASSIGN_OR_RETURN(AccessLevel level, LevelFromProto(request->level()));
    log.scope = resource.DebugString();
    log.detail = absl::StrCat("grantee=", request->subject(),
                              " level=", AccessLevelName(level));
    ASSIGN_OR_RETURN(AccessGrant grant,
                     grants->Grant(request->subject(), resource, level));
    ToProto(grant, response);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::Revoke(grpc::ServerContextBase* context,
                                  const v1::RevokeRequest* request,
                                  v1::RevokeResponse* response) {
  return Serve(ctx_, *context, "Revoke", [&](CallLog& log) -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    RETURN_IF_ERROR(ValidateText(request->id(), "grant id", 1, kMaxNameBytes));
    log.detail = absl::StrCat("grant=", request->id());
    for (const AccessGrant& g : grants->ListAll()) {
      if (g.id == request->id()) {
        ToProto(g, response->mutable_grant());
        log.scope = g.resource.DebugString();
        break;
      }
    }
    absl::Status revoked = grants->Revoke(request->id());
    if (!revoked.ok()) response->Clear();
    return revoked;
  });
}

grpc::Status AdminService::RevokeMatching(
    grpc::ServerContextBase* context, const v1::RevokeMatchingRequest* request,
    v1::RevokeMatchingResponse* response) {
  return Serve(
      ctx_, *context, "RevokeMatching", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(GrantStore * grants,
                         Need(ctx_->grants, "grant store"));
        RETURN_IF_ERROR(ValidateSubject(request->subject()));
        ASSIGN_OR_RETURN(GrantResource resource,
                         ResourceFromProto(request->resource()));
        log.scope = resource.DebugString();
        log.detail = absl::StrCat("grantee=", request->subject());
        // Listed first so the answer can say what went; the index changes only
        // through this store, serialised by its own lock.
        std::vector<AccessGrant> matching;
        for (AccessGrant& g : grants->ListForSubject(request->subject())) {
          if (g.resource == resource) matching.push_back(std::move(g));
        }
        ASSIGN_OR_RETURN(size_t removed,
                         grants->RevokeMatching(request->subject(), resource));
        for (const AccessGrant& g : matching)
          ToProto(g, response->add_grants());
        log.detail = absl::StrCat(log.detail, " removed=", removed);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListGrants(grpc::ServerContextBase* context,
                                      const v1::ListGrantsRequest* request,
                                      v1::ListGrantsResponse* response) {
  return Serve(ctx_, *context, "ListGrants", [&](CallLog& log) -> absl::Status {
    RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    std::vector<AccessGrant> found;
    switch (request->filter_case()) {
      case v1::ListGrantsRequest::kSubject:
        RETURN_IF_ERROR(ValidateSubject(request->subject()));
        log.detail = absl::StrCat("grantee=", request->subject());
        found = grants->ListForSubject(request->subject());
        break;
      case v1::ListGrantsRequest::kResource: {
        ASSIGN_OR_RETURN(GrantResource resource,
                         ResourceFromProto(request->resource()));
        log.scope = resource.DebugString();
        found = grants->ListForResource(resource);
        break;
      }
      case v1::ListGrantsRequest::FILTER_NOT_SET:
        found = grants->ListAll();
        break;
    }
    for (const AccessGrant& g : found) ToProto(g, response->add_grants());
    log.detail = absl::StrCat(log.detail, log.detail.empty() ? "" : " ",
                              "count=", found.size());
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Registry credentials

grpc::Status AdminService::CreateRegistryCredential(
    grpc::ServerContextBase* context,
    const v1::CreateRegistryCredentialRequest* request,
    v1::RegistryCredential* response) {
  const SecretBytes password = TakeSecret(request->password());
  return Serve(
      ctx_, *context, "CreateRegistryCredential",
      [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store"));
        RETURN_IF_ERROR(
            ValidateText(request->registry(), "registry", 1, kMaxNameBytes));
        RETURN_IF_ERROR(
            ValidateText(request->username(), "username", 1, kMaxNameBytes));
        log.scope = kRegistryCredentialResource;
        log.name = NormalizeRegistryHost(request->registry());
        RegistryAuthType type = RegistryAuthType::kBasic;
        switch (request->auth_type()) {
          case v1::REGISTRY_AUTH_TYPE_UNSPECIFIED:
          case v1::REGISTRY_AUTH_TYPE_BASIC:
            break;
          case v1::REGISTRY_AUTH_TYPE_TOKEN:
            type = RegistryAuthType::kToken;
            break;
          default:
            return absl::InvalidArgumentError("unknown auth_type");
        }
        ASSIGN_OR_RETURN(RegistryCredential created,
                         creds->Create(request->registry(), request->username(),
                                       password, type));
        log.detail = absl::StrCat("id=", created.id);
        ToProto(created, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListRegistryCredentials(
    grpc::ServerContextBase* context,
    const v1::ListRegistryCredentialsRequest* request,
    v1::ListRegistryCredentialsResponse* response) {
  return Serve(
      ctx_, *context, "ListRegistryCredentials",
      [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store"));
        log.scope = kRegistryCredentialResource;
        ASSIGN_OR_RETURN(std::vector<RegistryCredential> all, creds->List());
        int shown = 0;
        for (const RegistryCredential& c : all) {
          if (!ctx_->authorizer
                   ->Check(principal, RegistryResource(c.registry),
                           AccessLevel::kRead)
                   .ok()) {
            continue;
          }
          ToProto(c, response->add_credentials());
          ++shown;
        }
        log.detail = absl::StrCat("count=", shown);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteRegistryCredential(
    grpc::ServerContextBase* context,
    const v1::DeleteRegistryCredentialRequest* request,
    v1::DeleteRegistryCredentialResponse* response) {
  return Serve(
      ctx_, *context, "DeleteRegistryCredential",
      [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store"));
        log.scope = kRegistryCredentialResource;
        log.detail = absl::StrCat("id=", request->id());
        ASSIGN_OR_RETURN(RegistryCredential c, creds->Get(request->id()));
        log.name = NormalizeRegistryHost(c.registry);
        return creds->Delete(request->id());
      });
}

grpc::Status AdminService::GetRegistryCredential(
    grpc::ServerContextBase* context,
    const v1::GetRegistryCredentialRequest* request,
    v1::GetRegistryCredentialResponse* response) {
  return Serve(
      ctx_, *context, "GetRegistryCredential",
      [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store"));
        log.scope = kRegistryCredentialResource;
        RegistryCredential found;
        switch (request->key_case()) {
          case v1::GetRegistryCredentialRequest::kId: {
            // Who may read every registry credential learns NOT_FOUND; anyone
            // else cannot tell an unknown id from a forbidden one.
            const bool reads_all =
                ctx_->authorizer
                    ->Check(principal, {kRegistryCredentialResource, ""},
                            AccessLevel::kRead)
                    .ok();
            absl::StatusOr<RegistryCredential> got = creds->Get(request->id());
            if (!reads_all) {
              RETURN_IF_ERROR(CheckCredentialById(
                  *ctx_->authorizer, principal, kRegistryCredentialResource,
                  request->id(), got.ok(),
                  got.ok() ? RegistryResource(got->registry) : Resource()));
            }
            if (!got.ok()) return got.status();
            found = *std::move(got);
            log.name = RegistryResource(found.registry).name;
            break;
          }
          case v1::GetRegistryCredentialRequest::kRegistry: {
            RETURN_IF_ERROR(ValidateText(request->registry(), "registry", 1,
                                         kMaxNameBytes));
            // Access first: a caller without it learns nothing about what is
            // stored for the host.
            Resource resource = RegistryResource(request->registry());
            log.name = resource.name;
            RETURN_IF_ERROR(ctx_->authorizer->Check(principal, resource,
                                                    AccessLevel::kRead));
            ASSIGN_OR_RETURN(found, creds->FindByRegistry(request->registry()));
            break;
          }
          case v1::GetRegistryCredentialRequest::KEY_NOT_SET:
            return absl::InvalidArgumentError("id or registry is required");
        }
        ASSIGN_OR_RETURN(SecretBytes password, creds->GetPassword(found.id));
        log.detail = absl::StrCat("id=", found.id);
        ToProto(found, response->mutable_credential());
        SetBytes(password, response->mutable_password());
        return absl::OkStatus();
      });
}

// ---------------------------------------------------------------------------
// Git credentials

grpc::Status AdminService::CreateGitCredential(
    grpc::ServerContextBase* context,
    const v1::CreateGitCredentialRequest* request,
    v1::GitCredential* response) {
  const SecretBytes value = TakeSecret(request->value());
  return Serve(
      ctx_, *context, "CreateGitCredential", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store"));
        RETURN_IF_ERROR(
            ValidateText(request->name(), "name", 1, kMaxNameBytes));
        log.scope = kGitCredentialResource;
        log.name = absl::AsciiStrToLower(request->host());
        GitCredentialKind kind = GitCredentialKind::kPat;
        switch (request->kind()) {
          case v1::GIT_CREDENTIAL_KIND_UNSPECIFIED:
          case v1::GIT_CREDENTIAL_KIND_PAT:
            break;
          case v1::GIT_CREDENTIAL_KIND_SSH_KEY:
            kind = GitCredentialKind::kSshKey;
            break;
          default:
            return absl::InvalidArgumentError("unknown kind");
        }
        GitCredentialMatch match;
        match.host = request->host();
        match.path_prefix = request->path_prefix();
        match.username = request->username();
        ASSIGN_OR_RETURN(GitCredential created,
                         creds->Create(request->name(), value, kind, match));
        log.detail = absl::StrCat("id=", created.id);
        ToProto(created, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListGitCredentials(
    grpc::ServerContextBase* context,
    const v1::ListGitCredentialsRequest* request,
    v1::ListGitCredentialsResponse* response) {
  return Serve(
      ctx_, *context, "ListGitCredentials", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store"));
        log.scope = kGitCredentialResource;
        ASSIGN_OR_RETURN(std::vector<GitCredential> all, creds->List());
        int shown = 0;
        for (const GitCredential& c : all) {
          if (!ctx_->authorizer
                   ->Check(principal, GitResource(c.match.host),
                           AccessLevel::kRead)
                   .ok()) {
            continue;
          }
          ToProto(c, response->add_credentials());
          ++shown;
        }
        log.detail = absl::StrCat("count=", shown);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteGitCredential(
    grpc::ServerContextBase* context,
    const v1::DeleteGitCredentialRequest* request,
    v1::DeleteGitCredentialResponse* response) {
  return Serve(
      ctx_, *context, "DeleteGitCredential", [&](CallLog& log) -> absl::Status {
        RETURN_IF_ERROR(Identify(*context, /*admin=*/true, &log).status());
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store"));
        log.scope = kGitCredentialResource;
        log.detail = absl::StrCat("id=", request->id());
        ASSIGN_OR_RETURN(GitCredential c, creds->Get(request->id()));
        log.name = c.match.host;
        return creds->Delete(request->id());
      });
}

grpc::Status AdminService::GetGitCredential(
    grpc::ServerContextBase* context,
    const v1::GetGitCredentialRequest* request,
    v1::GetGitCredentialResponse* response) {
  return Serve(
      ctx_, *context, "GetGitCredential", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store"));
        log.scope = kGitCredentialResource;
        GitCredential found;
        switch (request->key_case()) {
          case v1::GetGitCredentialRequest::kId: {
            // As for registry credentials: no existence oracle by id.
            const bool reads_all =
                ctx_->authorizer
                    ->Check(principal, {kGitCredentialResource, ""},
                            AccessLevel::kRead)
                    .ok();
            absl::StatusOr<GitCredential> got = creds->Get(request->id());
            if (!reads_all) {
              RETURN_IF_ERROR(CheckCredentialById(
                  *ctx_->authorizer, principal, kGitCredentialResource,
                  request->id(), got.ok(),
                  got.ok() ? GitResource(got->match.host) : Resource()));
            }
            if (!got.ok()) return got.status();
            found = *std::move(got);
            log.name = GitResource(found.match.host).name;
            break;
          }
          case v1::GetGitCredentialRequest::kUrl: {
            const v1::GitUrl& url = request->url();
            RETURN_IF_ERROR(ValidateText(url.host(), "host", 1, kMaxNameBytes));
            Resource resource = GitResource(url.host());
            log.name = resource.name;
            RETURN_IF_ERROR(ctx_->authorizer->Check(principal, resource,
                                                    AccessLevel::kRead));
            ASSIGN_OR_RETURN(found, creds->FindForUrl(url.protocol(),
                                                      url.host(), url.path()));
            break;
          }
          case v1::GetGitCredentialRequest::KEY_NOT_SET:
            return absl::InvalidArgumentError("id or url is required");
        }
        ASSIGN_OR_RETURN(SecretBytes value, creds->GetValue(found.id));
        log.detail = absl::StrCat("id=", found.id);
        ToProto(found, response->mutable_credential());
        SetBytes(value, response->mutable_value());
        return absl::OkStatus();
      });
}

}  // namespace zlayer::secrets
