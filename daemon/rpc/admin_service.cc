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

// GetRegistryCredential's lookup by id or by host (core/ops/credential_access.h
// decides access); log->name is the host once it is known.
absl::StatusOr<RegistryCredential> RequestedRegistryCredential(
    const v1::GetRegistryCredentialRequest& request,
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, CallLog* log) {
  switch (request.key_case()) {
    case v1::GetRegistryCredentialRequest::kId: {
      ASSIGN_OR_RETURN(
          RegistryCredential found,
          RegistryCredentialById(creds, authorizer, principal, request.id()));
      log->name = RegistryResource(found.registry).name;
      return found;
    }
    case v1::GetRegistryCredentialRequest::kRegistry: {
      RETURN_IF_ERROR(
          ValidateText(request.registry(), "registry", 1, kMaxNameBytes));
      log->name = RegistryResource(request.registry()).name;
      ASSIGN_OR_RETURN(RegistryCredential found,
                       RegistryCredentialForHost(creds, authorizer, principal,
                                                 request.registry()));
      return found;
    }
    case v1::GetRegistryCredentialRequest::KEY_NOT_SET:
      return absl::InvalidArgumentError("id or registry is required");
  }
  return absl::InvalidArgumentError("id or registry is required");
}

// GetGitCredential's lookup by id or by URL, as above.
absl::StatusOr<GitCredential> RequestedGitCredential(
    const v1::GetGitCredentialRequest& request, GitCredentialStore* creds,
    const Authorizer& authorizer, const Principal& principal, CallLog* log) {
  switch (request.key_case()) {
    case v1::GetGitCredentialRequest::kId: {
      ASSIGN_OR_RETURN(
          GitCredential found,
          GitCredentialById(creds, authorizer, principal, request.id()));
      log->name = GitResource(found.match.host).name;
      return found;
    }
    case v1::GetGitCredentialRequest::kUrl: {
      const v1::GitUrl& url = request.url();
      RETURN_IF_ERROR(ValidateText(url.host(), "host", 1, kMaxNameBytes));
      log->name = GitResource(url.host()).name;
      ASSIGN_OR_RETURN(
          GitCredential found,
          GitCredentialForUrl(creds, authorizer, principal, url.protocol(),
                              url.host(), url.path()));
      return found;
    }
    case v1::GetGitCredentialRequest::KEY_NOT_SET:
      return absl::InvalidArgumentError("id or url is required");
  }
  return absl::InvalidArgumentError("id or url is required");
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
        log.scope = EnvironmentScope(env);
        return DeleteEmptyEnvironment(registry, ctx_->store, env);
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
        RekeyStatusToProto(ctx_->rekey_status(), response);
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

// ---------------------------------------------------------------------------
// Client keys (sealed reveals)

grpc::Status AdminService::RegisterClientKey(
    grpc::ServerContextBase* context,
    const v1::RegisterClientKeyRequest* request, v1::ClientKey* response) {
  return Serve(
      ctx_, *context, "RegisterClientKey", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store"));
        log.scope = std::string(kClientKeysScope);
        // Bound to whoever calls: for a proxy acting as a user, that user.
        ASSIGN_OR_RETURN(
            ClientKeyInfo info,
            keys->Register(principal.Subject(), request->public_key()));
        log.name = info.id;
        ToProto(info, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminService::ListClientKeys(
    grpc::ServerContextBase* context, const v1::ListClientKeysRequest* request,
    v1::ListClientKeysResponse* response) {
  return Serve(
      ctx_, *context, "ListClientKeys", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store"));
        log.scope = std::string(kClientKeysScope);
        std::string owner = principal.Subject();
        if (request->all()) {
          RETURN_IF_ERROR(ctx_->authorizer->CheckAdmin(principal));
          owner.clear();
        }
        ASSIGN_OR_RETURN(std::vector<ClientKeyInfo> listed, keys->List(owner));
        for (const ClientKeyInfo& k : listed) ToProto(k, response->add_keys());
        log.detail = absl::StrCat("count=", listed.size());
        return absl::OkStatus();
      });
}

grpc::Status AdminService::RevokeClientKey(
    grpc::ServerContextBase* context, const v1::RevokeClientKeyRequest* request,
    v1::ClientKey* response) {
  return Serve(
      ctx_, *context, "RevokeClientKey", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal,
                         Identify(*context, /*admin=*/false, &log));
        ASSIGN_OR_RETURN(ClientKeyStore * keys,
                         Need(ctx_->client_keys, "client key store"));
        log.scope = std::string(kClientKeysScope);
        RETURN_IF_ERROR(
            ValidateText(request->id(), "client key id", 1, kMaxNameBytes));
        log.name = request->id();
        const bool admin = ctx_->authorizer->CheckAdmin(principal).ok();
        RETURN_IF_ERROR(
            keys->Revoke(request->id(), principal.Subject(), admin));
        ASSIGN_OR_RETURN(ClientKeyInfo info, keys->Get(request->id()));
        ToProto(info, response);
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
    absl::optional<AccessGrant> grant = FindGrant(*grants, request->id());
    if (grant.has_value()) {
      ToProto(*grant, response->mutable_grant());
      log.scope = grant->resource.DebugString();
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
        ASSIGN_OR_RETURN(
            RevokedGrants revoked,
            RevokeMatchingGrants(grants, request->subject(), resource));
        for (const AccessGrant& g : revoked.grants)
          ToProto(g, response->add_grants());
        log.detail = absl::StrCat(log.detail, " removed=", revoked.removed);
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
        ASSIGN_OR_RETURN(RegistryAuthType type,
                         RegistryAuthTypeFromProto(request->auth_type()));
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
  return Serve(ctx_, *context, "ListRegistryCredentials",
               [&](CallLog& log) -> absl::Status {
                 ASSIGN_OR_RETURN(Principal principal,
                                  Identify(*context, /*admin=*/false, &log));
                 ASSIGN_OR_RETURN(RegistryCredentialStore * creds,
                                  Need(ctx_->registry_credentials,
                                       "registry credential store"));
                 log.scope = kRegistryCredentialResource;
                 ASSIGN_OR_RETURN(std::vector<RegistryCredential> shown,
                                  ReadableRegistryCredentials(
                                      creds, *ctx_->authorizer, principal));
                 for (const RegistryCredential& c : shown)
                   ToProto(c, response->add_credentials());
                 log.detail = absl::StrCat("count=", shown.size());
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
        ASSIGN_OR_RETURN(
            RegistryCredential found,
            RequestedRegistryCredential(*request, creds, *ctx_->authorizer,
                                        principal, &log));
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
        ASSIGN_OR_RETURN(GitCredentialKind kind,
                         GitCredentialKindFromProto(request->kind()));
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
        ASSIGN_OR_RETURN(
            std::vector<GitCredential> shown,
            ReadableGitCredentials(creds, *ctx_->authorizer, principal));
        for (const GitCredential& c : shown)
          ToProto(c, response->add_credentials());
        log.detail = absl::StrCat("count=", shown.size());
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
        ASSIGN_OR_RETURN(
            GitCredential found,
            RequestedGitCredential(*request, creds, *ctx_->authorizer,
                                   principal, &log));
        ASSIGN_OR_RETURN(SecretBytes value, creds->GetValue(found.id));
        log.detail = absl::StrCat("id=", found.id);
        ToProto(found, response->mutable_credential());
        SetBytes(value, response->mutable_value());
        return absl::OkStatus();
      });
}

}  // namespace zlayer::secrets
