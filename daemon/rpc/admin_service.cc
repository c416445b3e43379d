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
#include "core/identity/client_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_store.h"
#include "core/identity/identity_records.h"
#include "core/identity/registry_credential_store.h"
#include "core/ops/credential_access.h"
#include "core/ops/environment_ops.h"
#include "core/ops/grant_ops.h"
#include "core/store/secret_store.h"
#include "daemon/rpc/convert.h"

namespace zlayer::secrets {
namespace {

// The size of a master key (XChaCha20-Poly1305).
constexpr size_t kMasterKeyBytes = 32;

// A store the daemon wires; FailedPrecondition when absent (tests).
template <typename T>
absl::StatusOr<T*> Need(T* store, absl::string_view what) {
  if (store == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("this daemon has no ", what));
  }
  return store;
}

// As above, and the call is audited under `scope` (the store's records).
template <typename T>
absl::StatusOr<T*> Need(T* store, absl::string_view what,
                        absl::string_view scope, CallLog* log) {
  ASSIGN_OR_RETURN(T * found, Need(store, what));
  log->scope = std::string(scope);
  return found;
}

// ListGrants' filter: a subject's grants, a resource's, or all; the filter
// goes into the call's log.
absl::StatusOr<std::vector<AccessGrant>> FilteredGrants(
    const GrantStore& grants, const v1::ListGrantsRequest& request,
    CallLog* log) {
  switch (request.filter_case()) {
    case v1::ListGrantsRequest::kSubject:
      RETURN_IF_ERROR(ValidateSubject(request.subject()));
      log->detail = absl::StrCat("grantee=", request.subject());
      return grants.ListForSubject(request.subject());
    case v1::ListGrantsRequest::kResource: {
      ASSIGN_OR_RETURN(GrantResource resource,
                       ResourceFromProto(request.resource()));
      log->scope = resource.DebugString();
      return grants.ListForResource(resource);
    }
    case v1::ListGrantsRequest::FILTER_NOT_SET:
      break;
  }
  return grants.ListAll();
}

}  // namespace

AdminService::AdminService(const ServiceContext* ctx) : ctx_(ctx) {}

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
      ctx_, *context, "CreateEnvironment", [&](Call& call) -> absl::Status {
        RETURN_IF_ERROR(ValidateProject(request->project()));
        RETURN_IF_ERROR(ValidateDescription(request->description()));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        // The registry validates the name (blank, oversized, taken).
        ASSIGN_OR_RETURN(Environment env,
                         registry->Create(request->name(), request->project(),
                                          request->description()));
        call.log.scope = EnvironmentScope(env);
        ToProto(env, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::GetEnvironment(
    grpc::ServerContextBase* context, const v1::GetEnvironmentRequest* request,
    v1::Environment* response) {
  return Serve(
      ctx_, *context, "GetEnvironment", [&](Call& call) -> absl::Status {
        RETURN_IF_ERROR(ValidateText(request->name_or_id(), "environment", 1,
                                     kMaxNameBytes));
        RETURN_IF_ERROR(ValidateProject(request->project()));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        ASSIGN_OR_RETURN(Environment env, registry->Find(request->name_or_id(),
                                                         request->project()));
        call.log.scope = EnvironmentScope(env);
        ToProto(env, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListEnvironments(
    grpc::ServerContextBase* context,
    const v1::ListEnvironmentsRequest* request,
    v1::ListEnvironmentsResponse* response) {
  return Serve(ctx_, *context, "ListEnvironments",
               [&](Call& call) -> absl::Status {
                 RETURN_IF_ERROR(ValidateProject(request->project()));
                 ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
                 ASSIGN_OR_RETURN(std::vector<Environment> envs,
                                  registry->List(request->project()));
                 for (const Environment& env : envs)
                   ToProto(env, response->add_environments());
                 call.log.detail = absl::StrCat("count=", envs.size());
                 return absl::OkStatus();
               });
}

grpc::Status AdminService::UpdateEnvironment(
    grpc::ServerContextBase* context,
    const v1::UpdateEnvironmentRequest* request, v1::Environment* response) {
  return Serve(
      ctx_, *context, "UpdateEnvironment", [&](Call& call) -> absl::Status {
        RETURN_IF_ERROR(
            ValidateText(request->id(), "environment id", 1, kMaxNameBytes));
        RETURN_IF_ERROR(ValidateDescription(request->description()));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        ASSIGN_OR_RETURN(Environment env,
                         registry->Update(request->id(), request->name(),
                                          request->description()));
        call.log.scope = EnvironmentScope(env);
        ToProto(env, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteEnvironment(
    grpc::ServerContextBase* context,
    const v1::DeleteEnvironmentRequest* request,
    v1::DeleteEnvironmentResponse* response) {
  return Serve(
      ctx_, *context, "DeleteEnvironment", [&](Call& call) -> absl::Status {
        RETURN_IF_ERROR(
            ValidateText(request->id(), "environment id", 1, kMaxNameBytes));
        ASSIGN_OR_RETURN(EnvironmentRegistry * registry, Registry());
        ASSIGN_OR_RETURN(Environment env, registry->Get(request->id()));
        call.log.scope = EnvironmentScope(env);
        return DeleteEmptyEnvironment(registry, ctx_->store, env);
      });
}

grpc::Status AdminService::RotateMasterKey(
    grpc::ServerContextBase* context, const v1::RotateMasterKeyRequest* request,
    v1::RotateMasterKeyResponse* response) {
  SecretBytes new_key = TakeSecret(request->new_key());
  return Serve(
      ctx_, *context, "RotateMasterKey", [&](Call& call) -> absl::Status {
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
        call.log.detail = absl::StrCat("new_key_id=", result.new_key_id);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RekeyDataKeys(
    grpc::ServerContextBase* context,
    const v1::RekeyDataKeysRequest* /*request*/,
    v1::RekeyDataKeysResponse* response) {
  return Serve(ctx_, *context, "RekeyDataKeys",
               [&](Call& call) -> absl::Status {
                 if (!ctx_->start_rekey) {
                   return absl::UnimplementedError(
                       "this store has no data keys to rotate");
                 }
                 ASSIGN_OR_RETURN(uint32_t generation, ctx_->start_rekey());
                 response->set_generation(generation);
                 call.log.detail = absl::StrCat("generation=", generation);
                 return absl::OkStatus();
               });
}

grpc::Status AdminService::GetRekeyStatus(
    grpc::ServerContextBase* context,
    const v1::GetRekeyStatusRequest* /*request*/, v1::RekeyStatus* response) {
  return Serve(ctx_, *context, "GetRekeyStatus",
               [&](Call& call) -> absl::Status {
                 if (!ctx_->rekey_status) {
                   return absl::UnimplementedError(
                       "this store has no data keys to rotate");
                 }
                 RekeyStatusToProto(ctx_->rekey_status(), response);
                 return absl::OkStatus();
               });
}

grpc::Status AdminService::WhoAmI(grpc::ServerContextBase* context,
                                  const v1::WhoAmIRequest* request,
                                  v1::WhoAmIResponse* response) {
  return Serve(ctx_, *context, "WhoAmI", [&](Call& call) -> absl::Status {
    response->set_subject(call.principal.Subject());
    for (const std::string& role : call.principal.roles)
      response->add_roles(role);
    response->set_transport(
        std::string(TransportName(call.principal.transport)));
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
  return Serve(ctx_, context, rpc, [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(ApiKeyStore * keys, Need(ctx_->api_keys, "API key store",
                                              kApiKeysScope, &call.log));
    RETURN_IF_ERROR(ValidateApiKeyId(id));
    call.log.name = id;
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
  return Serve(ctx_, *context, "ListApiKeys", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(ApiKeyStore * keys, Need(ctx_->api_keys, "API key store",
                                              kApiKeysScope, &call.log));
    ASSIGN_OR_RETURN(std::vector<ApiKeyInfo> all, keys->List());
    for (const ApiKeyInfo& info : all) ToProto(info, response->add_keys());
    call.log.detail = absl::StrCat("count=", all.size());
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Client keys (sealed reveals)

grpc::Status AdminService::RegisterClientKey(
    grpc::ServerContextBase* context,
    const v1::RegisterClientKeyRequest* request, v1::ClientKey* response) {
  return Serve(
      ctx_, *context, "RegisterClientKey", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store",
                              kClientKeysScope, &call.log));
        // Bound to whoever calls: for a proxy acting as a user, that user.
        ASSIGN_OR_RETURN(
            ClientKeyInfo info,
            keys->Register(call.principal.Subject(), request->public_key()));
        call.log.name = info.id;
        ToProto(info, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListClientKeys(
    grpc::ServerContextBase* context, const v1::ListClientKeysRequest* request,
    v1::ListClientKeysResponse* response) {
  return Serve(
      ctx_, *context, "ListClientKeys", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store",
                              kClientKeysScope, &call.log));
        std::string owner = call.principal.Subject();
        if (request->all()) {
          RETURN_IF_ERROR(ctx_->authorizer->CheckAdmin(call.principal));
          owner.clear();
        }
        ASSIGN_OR_RETURN(std::vector<ClientKeyInfo> listed, keys->List(owner));
        for (const ClientKeyInfo& k : listed) ToProto(k, response->add_keys());
        call.log.detail = absl::StrCat("count=", listed.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RevokeClientKey(
    grpc::ServerContextBase* context, const v1::RevokeClientKeyRequest* request,
    v1::ClientKey* response) {
  return Serve(
      ctx_, *context, "RevokeClientKey", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store",
                              kClientKeysScope, &call.log));
        RETURN_IF_ERROR(
            ValidateText(request->id(), "client key id", 1, kMaxNameBytes));
        call.log.name = request->id();
        const bool admin = ctx_->authorizer->CheckAdmin(call.principal).ok();
        RETURN_IF_ERROR(
            keys->Revoke(request->id(), call.principal.Subject(), admin));
        ASSIGN_OR_RETURN(ClientKeyInfo info, keys->Get(request->id()));
        ToProto(info, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::SetApiKeyRoles(
    grpc::ServerContextBase* context, const v1::SetApiKeyRolesRequest* request,
    v1::ApiKey* response) {
  return Serve(
      ctx_, *context, "SetApiKeyRoles", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            ApiKeyStore * keys,
            Need(ctx_->api_keys, "API key store", kApiKeysScope, &call.log));
        RETURN_IF_ERROR(ValidateApiKeyId(request->id()));
        call.log.name = request->id();
        RETURN_IF_ERROR(keys->SetRoles(request->id(), Roles(request->roles())));
        ASSIGN_OR_RETURN(ApiKeyInfo info, keys->Get(request->id()));
        ToProto(info, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteApiKey(grpc::ServerContextBase* context,
                                        const v1::DeleteApiKeyRequest* request,
                                        v1::DeleteApiKeyResponse* response) {
  return Serve(ctx_, *context, "DeleteApiKey", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(ApiKeyStore * keys, Need(ctx_->api_keys, "API key store",
                                              kApiKeysScope, &call.log));
    RETURN_IF_ERROR(ValidateApiKeyId(request->id()));
    call.log.name = request->id();
    return keys->Delete(request->id());
  });
}

// ---------------------------------------------------------------------------
// Grants

grpc::Status AdminService::Grant(grpc::ServerContextBase* context,
                                 const v1::GrantRequest* request,
                                 v1::AccessGrant* response) {
  return Serve(ctx_, *context, "Grant", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    RETURN_IF_ERROR(ValidateSubject(request->subject()));
    ASSIGN_OR_RETURN(GrantResource resource,
                     ResourceFromProto(request->resource()));
    ASSIGN_OR_RETURN(AccessLevel level, LevelFromProto(request->level()));
    call.log.scope = resource.DebugString();
    call.log.detail = absl::StrCat("grantee=", request->subject(),
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
  return Serve(ctx_, *context, "Revoke", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    RETURN_IF_ERROR(ValidateText(request->id(), "grant id", 1, kMaxNameBytes));
    call.log.detail = absl::StrCat("grant=", request->id());
    absl::optional<AccessGrant> grant = FindGrant(*grants, request->id());
    if (grant.has_value()) {
      ToProto(*grant, response->mutable_grant());
      call.log.scope = grant->resource.DebugString();
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
      ctx_, *context, "RevokeMatching", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(GrantStore * grants,
                         Need(ctx_->grants, "grant store"));
        RETURN_IF_ERROR(ValidateSubject(request->subject()));
        ASSIGN_OR_RETURN(GrantResource resource,
                         ResourceFromProto(request->resource()));
        call.log.scope = resource.DebugString();
        call.log.detail = absl::StrCat("grantee=", request->subject());
        ASSIGN_OR_RETURN(
            RevokedGrants revoked,
            RevokeMatchingGrants(grants, request->subject(), resource));
        for (const AccessGrant& g : revoked.grants)
          ToProto(g, response->add_grants());
        call.log.detail =
            absl::StrCat(call.log.detail, " removed=", revoked.removed);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListGrants(grpc::ServerContextBase* context,
                                      const v1::ListGrantsRequest* request,
                                      v1::ListGrantsResponse* response) {
  return Serve(ctx_, *context, "ListGrants", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(GrantStore * grants, Need(ctx_->grants, "grant store"));
    ASSIGN_OR_RETURN(std::vector<AccessGrant> found,
                     FilteredGrants(*grants, *request, &call.log));
    for (const AccessGrant& g : found) ToProto(g, response->add_grants());
    call.log.detail =
        absl::StrCat(call.log.detail, call.log.detail.empty() ? "" : " ",
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
      [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store"));
        RETURN_IF_ERROR(
            ValidateText(request->registry(), "registry", 1, kMaxNameBytes));
        RETURN_IF_ERROR(
            ValidateText(request->username(), "username", 1, kMaxNameBytes));
        call.log.scope = kRegistryCredentialResource;
        call.log.name = NormalizeRegistryHost(request->registry());
        ASSIGN_OR_RETURN(RegistryAuthType type,
                         RegistryAuthTypeFromProto(request->auth_type()));
        ASSIGN_OR_RETURN(RegistryCredential created,
                         creds->Create(request->registry(), request->username(),
                                       password, type));
        call.log.detail = absl::StrCat("id=", created.id);
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
      [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store",
                 kRegistryCredentialResource, &call.log));
        ASSIGN_OR_RETURN(std::vector<RegistryCredential> shown,
                         ReadableRegistryCredentials(creds, *ctx_->authorizer,
                                                     call.principal));
        for (const RegistryCredential& c : shown)
          ToProto(c, response->add_credentials());
        call.log.detail = absl::StrCat("count=", shown.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteRegistryCredential(
    grpc::ServerContextBase* context,
    const v1::DeleteRegistryCredentialRequest* request,
    v1::DeleteRegistryCredentialResponse* response) {
  return Serve(
      ctx_, *context, "DeleteRegistryCredential",
      [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store",
                 kRegistryCredentialResource, &call.log));
        call.log.detail = absl::StrCat("id=", request->id());
        ASSIGN_OR_RETURN(RegistryCredential c, creds->Get(request->id()));
        call.log.name = NormalizeRegistryHost(c.registry);
        return creds->Delete(request->id());
      });
}

grpc::Status AdminService::GetRegistryCredential(
    grpc::ServerContextBase* context,
    const v1::GetRegistryCredentialRequest* request,
    v1::GetRegistryCredentialResponse* response) {
  return Serve(
      ctx_, *context, "GetRegistryCredential", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            RegistryCredentialStore * creds,
            Need(ctx_->registry_credentials, "registry credential store",
                 kRegistryCredentialResource, &call.log));
        ASSIGN_OR_RETURN(
            RegistryCredential found,
            RequestedRegistryCredential(*request, creds, *ctx_->authorizer,
                                        call.principal, &call.log.name));
        ASSIGN_OR_RETURN(SecretBytes password, creds->GetPassword(found.id));
        call.log.detail = absl::StrCat("id=", found.id);
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
      ctx_, *context, "CreateGitCredential", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store"));
        RETURN_IF_ERROR(
            ValidateText(request->name(), "name", 1, kMaxNameBytes));
        call.log.scope = kGitCredentialResource;
        call.log.name = absl::AsciiStrToLower(request->host());
        ASSIGN_OR_RETURN(GitCredentialKind kind,
                         GitCredentialKindFromProto(request->kind()));
        GitCredentialMatch match;
        match.host = request->host();
        match.path_prefix = request->path_prefix();
        match.username = request->username();
        ASSIGN_OR_RETURN(GitCredential created,
                         creds->Create(request->name(), value, kind, match));
        call.log.detail = absl::StrCat("id=", created.id);
        ToProto(created, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListGitCredentials(
    grpc::ServerContextBase* context,
    const v1::ListGitCredentialsRequest* request,
    v1::ListGitCredentialsResponse* response) {
  return Serve(
      ctx_, *context, "ListGitCredentials", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store",
                              kGitCredentialResource, &call.log));
        ASSIGN_OR_RETURN(
            std::vector<GitCredential> shown,
            ReadableGitCredentials(creds, *ctx_->authorizer, call.principal));
        for (const GitCredential& c : shown)
          ToProto(c, response->add_credentials());
        call.log.detail = absl::StrCat("count=", shown.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::DeleteGitCredential(
    grpc::ServerContextBase* context,
    const v1::DeleteGitCredentialRequest* request,
    v1::DeleteGitCredentialResponse* response) {
  return Serve(
      ctx_, *context, "DeleteGitCredential", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store",
                              kGitCredentialResource, &call.log));
        call.log.detail = absl::StrCat("id=", request->id());
        ASSIGN_OR_RETURN(GitCredential c, creds->Get(request->id()));
        call.log.name = c.match.host;
        return creds->Delete(request->id());
      });
}

grpc::Status AdminService::GetGitCredential(
    grpc::ServerContextBase* context,
    const v1::GetGitCredentialRequest* request,
    v1::GetGitCredentialResponse* response) {
  return Serve(
      ctx_, *context, "GetGitCredential", [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(GitCredentialStore * creds,
                         Need(ctx_->git_credentials, "git credential store",
                              kGitCredentialResource, &call.log));
        ASSIGN_OR_RETURN(
            GitCredential found,
            RequestedGitCredential(*request, creds, *ctx_->authorizer,
                                   call.principal, &call.log.name));
        ASSIGN_OR_RETURN(SecretBytes value, creds->GetValue(found.id));
        call.log.detail = absl::StrCat("id=", found.id);
        ToProto(found, response->mutable_credential());
        SetBytes(value, response->mutable_value());
        return absl::OkStatus();
      });
}

}  // namespace zlayer::secrets
