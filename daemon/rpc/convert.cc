#include "daemon/rpc/convert.h"

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/crypto/sealed_box.h"
#include "core/identity/identity_records.h"
#include "core/ops/credential_access.h"
#include "core/store/node_affinity.h"

namespace zlayer::secrets {

void ToProto(const Environment& in, v1::Environment* out) {
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_project(in.project);
  out->set_description(in.description);
  out->set_created_at(in.created_at);
  out->set_updated_at(in.updated_at);
  out->set_scope(EnvironmentScope(in));
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

void ToProto(const ClientKeyInfo& in, v1::ClientKey* out) {
  out->set_id(in.id);
  out->set_owner(in.owner);
  out->set_public_key_hex(absl::BytesToHexString(in.public_key));
  out->set_created_at(in.created_at);
  out->set_revoked_at(in.revoked_at);
}

void SetBytes(const SecretBytes& value, std::string* out) {
  absl::string_view bytes = value.InsecureView();
  out->assign(bytes.data(), bytes.size());
}

absl::StatusOr<RegistryAuthType> RegistryAuthTypeFromProto(
    v1::RegistryAuthType type) {
  switch (type) {
    case v1::REGISTRY_AUTH_TYPE_UNSPECIFIED:
    case v1::REGISTRY_AUTH_TYPE_BASIC:
      return RegistryAuthType::kBasic;
    case v1::REGISTRY_AUTH_TYPE_TOKEN:
      return RegistryAuthType::kToken;
    default:
      return absl::InvalidArgumentError("unknown auth_type");
  }
}

absl::StatusOr<GitCredentialKind> GitCredentialKindFromProto(
    v1::GitCredentialKind kind) {
  switch (kind) {
    case v1::GIT_CREDENTIAL_KIND_UNSPECIFIED:
    case v1::GIT_CREDENTIAL_KIND_PAT:
      return GitCredentialKind::kPat;
    case v1::GIT_CREDENTIAL_KIND_SSH_KEY:
      return GitCredentialKind::kSshKey;
    default:
      return absl::InvalidArgumentError("unknown kind");
  }
}

void RekeyStatusToProto(const RekeyStatusInfo& info, v1::RekeyStatus* out) {
  out->set_running(info.running);
  out->set_generation(info.generation);
  out->set_done(info.done);
  out->set_total(info.total);
  if (!info.last_status.ok()) {
    // A storage or integrity error of the store: names no value.
    out->set_error(
        absl::StrCat(absl::StatusCodeToString(info.last_status.code()), ": ",
                     info.last_status.message()));
  }
  out->set_active_generation(info.active_generation);
}

void ToProto(const SecretMetadata& in, v1::SecretMetadata* out) {
  out->set_scope(in.scope);
  out->set_name(in.name);
  out->set_version(in.version);
  out->set_created_at(in.created_at);
  out->set_updated_at(in.updated_at);
  out->set_key_id(in.key_id);
  out->set_max_versions(in.max_versions);
  out->set_deleted(in.deleted);
  out->set_deleted_at(in.deleted_at);
  for (const std::string& entry : in.node_affinity) {
    out->add_node_affinity(entry);
  }
}

absl::StatusOr<absl::optional<std::vector<std::string>>> NodeAffinityFromProto(
    bool present, const v1::NodeAffinity& affinity) {
  if (!present) return absl::optional<std::vector<std::string>>();
  ASSIGN_OR_RETURN(std::vector<std::string> canonical,
                   CanonicalNodeAffinity(std::vector<std::string>(
                       affinity.entries().begin(), affinity.entries().end())));
  return absl::optional<std::vector<std::string>>(std::move(canonical));
}

absl::StatusOr<SecretFileFormat> FormatFromRequest(v1::SecretFormat format) {
  switch (format) {
    case v1::SECRET_FORMAT_UNSPECIFIED:
    case v1::SECRET_FORMAT_DOTENV:
      return SecretFileFormat::kDotenv;
    case v1::SECRET_FORMAT_JSON:
      return SecretFileFormat::kJson;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown secret format ", static_cast<int>(format)));
  }
}

v1::ImportAction ToProto(ImportAction action) {
  switch (action) {
    case ImportAction::kCreate:
      return v1::IMPORT_ACTION_CREATE;
    case ImportAction::kUpdate:
      return v1::IMPORT_ACTION_UPDATE;
    case ImportAction::kUnchanged:
      return v1::IMPORT_ACTION_UNCHANGED;
  }
  return v1::IMPORT_ACTION_UNSPECIFIED;
}

void BatchToProto(const BatchRead& in, v1::GetSecretsResponse* out) {
  for (size_t i = 0; i < in.found.size(); ++i) {
    const std::string& name = in.found[i].name;
    SetBytes(in.values[i].value, &(*out->mutable_values())[name]);
    (*out->mutable_versions())[name] = in.values[i].version;
  }
  for (const std::string& name : in.missing) out->add_missing(name);
}

absl::Status SealedBatchToProto(const BatchRead& in,
                                absl::string_view public_key,
                                v1::GetSecretsResponse* out) {
  for (size_t i = 0; i < in.found.size(); ++i) {
    const std::string& name = in.found[i].name;
    absl::StatusOr<std::string> box =
        SealToPublicKey(public_key, in.values[i].value.InsecureView());
    if (!box.ok()) {
      out->Clear();
      return box.status();
    }
    (*out->mutable_sealed_values())[name] = *std::move(box);
    (*out->mutable_versions())[name] = in.values[i].version;
  }
  for (const std::string& name : in.missing) out->add_missing(name);
  return absl::OkStatus();
}

absl::Status SealedResolvedToProto(const ResolvedEnv& in,
                                   absl::string_view public_key,
                                   v1::ResolveEnvResponse* out) {
  for (const auto& [key, value] : in.values) {
    absl::StatusOr<std::string> box =
        SealToPublicKey(public_key, value.InsecureView());
    if (!box.ok()) {
      out->Clear();
      return box.status();
    }
    (*out->mutable_sealed_env())[key] = *std::move(box);
  }
  ResolvedEnv receipt_only;
  receipt_only.receipt = in.receipt;
  ResolvedToProto(receipt_only, out);
  return absl::OkStatus();
}

void ResolvedToProto(const ResolvedEnv& in, v1::ResolveEnvResponse* out) {
  for (const auto& [key, value] : in.values) {
    SetBytes(value, &(*out->mutable_env())[key]);
  }
  for (const ReceiptEntry& r : in.receipt) {
    v1::ResolvedEntry* entry = out->add_receipt();
    entry->set_key(r.key);
    entry->set_reference(r.reference);
    entry->set_scope(r.target.scope);
    entry->set_name(r.target.name);
    entry->set_version(r.version);
    entry->set_field(r.field);
    entry->set_incarnation(r.incarnation);
  }
}

void CheckToProto(const EnvCheck& in, v1::CheckEnvResponse* out) {
  for (const CheckedEnvEntry& e : in.entries) {
    v1::CheckedEntry* c = out->add_entries();
    c->set_key(e.key);
    c->set_is_reference(e.is_reference);
    c->set_reference(e.reference);
    c->set_scope(e.scope);
    c->set_name(e.name);
    c->set_field(e.field);
    c->set_readable(e.readable);
    c->set_exists(e.exists);
    c->set_version(e.version);
    c->set_error(e.error);
  }
  out->set_ok(in.ok);
}

void ImportToProto(const ImportOutcome& in, v1::ImportSecretsResponse* out) {
  for (const std::string& error : in.errors) out->add_errors(error);
  for (const ImportChange& change : in.changes) {
    v1::ImportChange* c = out->add_changes();
    c->set_name(change.name);
    c->set_action(ToProto(change.action));
    c->set_line(change.line);
  }
  out->set_created(in.created);
  out->set_updated(in.updated);
  out->set_unchanged(in.unchanged);
  out->set_applied(in.applied);
}

// --- Requests

absl::Status CheckValueSize(size_t size, const Limits& limits) {
  if (size > limits.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value is ", size, " bytes; the limit is ", limits.max_value_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckImportSize(size_t size, const Limits& limits) {
  if (size <= limits.max_import_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("import content is ", size,
                                                 " bytes; the limit is ",
                                                 limits.max_import_bytes));
}

absl::Status CheckField(const std::string& field) {
  if (field.empty()) return absl::OkStatus();
  return ValidateText(field, "field", 1, kMaxNameBytes);
}

absl::Status CheckMaxVersions(uint32_t max_versions) {
  if (max_versions > kMaxMaxVersions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_versions ", max_versions, " exceeds ", kMaxMaxVersions));
  }
  return absl::OkStatus();
}

// An env map key: 1..kMaxNameBytes of text without '=' (environment
// variables cannot hold one in their name).
absl::Status ValidateEnvKey(absl::string_view key) {
  RETURN_IF_ERROR(ValidateText(key, "env key", 1, kMaxNameBytes));
  if (key.find('=') != absl::string_view::npos) {
    return absl::InvalidArgumentError("env key contains '='");
  }
  return absl::OkStatus();
}

// The env map of ResolveEnv/CheckEnv, checked against the limits; a bad key
// is named by its position (it may not be printable).
absl::StatusOr<std::map<std::string, std::string>> EnvMapFromRequest(
    const google::protobuf::Map<std::string, std::string>& env,
    const Limits& limits) {
  if (env.size() > limits.max_env_entries) {
    return absl::InvalidArgumentError(absl::StrCat("env map has ", env.size(),
                                                   " entries; the limit is ",
                                                   limits.max_env_entries));
  }
  std::map<std::string, std::string> out(env.begin(), env.end());
  size_t index = 0;
  for (const auto& [key, value] : out) {
    absl::Status status = ValidateEnvKey(key);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "env entry ", index, " (in key order): ", status.message()));
    }
    ++index;
  }
  return out;
}

// GetSecrets' names, checked against the limits and deduplicated in order;
// a bad name is named by its index.
absl::StatusOr<std::vector<SecretKey>> KeysFromRequest(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const std::string& scope, const Limits& limits) {
  if (static_cast<size_t>(names.size()) > limits.max_names_per_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.size(), " names requested; the limit is ",
                     limits.max_names_per_batch));
  }
  std::vector<SecretKey> keys;
  keys.reserve(names.size());
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < names.size(); ++i) {
    absl::Status valid = ValidateName(names[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("names[", i, "]: ", valid.message()));
    }
    if (seen.insert(names[i]).second) keys.push_back({scope, names[i]});
  }
  return keys;
}

std::vector<ReceiptEntry> PinsFromProto(
    const google::protobuf::RepeatedPtrField<v1::ResolvedEntry>& pins) {
  std::vector<ReceiptEntry> out;
  out.reserve(pins.size());
  for (const v1::ResolvedEntry& p : pins) {
    out.push_back({p.key(),
                   p.reference(),
                   {p.scope(), p.name()},
                   p.version(),
                   p.field(),
                   p.incarnation()});
  }
  return out;
}

// ---------------------------------------------------------------------------
// Targets and per-RPC request shapes

namespace {

// A deployment or service name inside a Target: one path segment.
absl::Status ValidateSegment(absl::string_view segment,
                             absl::string_view what) {
  RETURN_IF_ERROR(ValidateText(segment, what, 1, kMaxNameBytes));
  if (segment.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains '/'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TargetScope(const v1::Target& target,
                                        EnvironmentRegistry* environments) {
  switch (target.kind_case()) {
    case v1::Target::kScope:
      RETURN_IF_ERROR(ValidateScope(target.scope()));
      return target.scope();
    case v1::Target::kDeployment: {
      const v1::DeploymentTarget& d = target.deployment();
      RETURN_IF_ERROR(ValidateSegment(d.deployment(), "deployment"));
      std::string scope = d.deployment();
      if (!d.service().empty()) {
        RETURN_IF_ERROR(ValidateSegment(d.service(), "service"));
        absl::StrAppend(&scope, "/", d.service());
      }
      RETURN_IF_ERROR(ValidateScope(scope));
      return scope;
    }
    case v1::Target::kEnvironment: {
      const v1::EnvironmentTarget& e = target.environment();
      RETURN_IF_ERROR(
          ValidateText(e.name_or_id(), "environment", 1, kMaxNameBytes));
      RETURN_IF_ERROR(ValidateProject(e.project()));
      if (environments == nullptr) {
        return absl::FailedPreconditionError(
            "this daemon has no environment registry");
      }
      return environments->ResolveScope(e.name_or_id(), e.project());
    }
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "target is required (scope, deployment or environment)");
}

}  // namespace

absl::StatusOr<std::string> ScopeFromTarget(const v1::Target& target,
                                            EnvironmentRegistry* environments) {
  ASSIGN_OR_RETURN(std::string scope, TargetScope(target, environments));
  // Said clearly here, before any access check: the identity records live
  // in "system:" scopes, and the credential grant resources hold no secrets.
  if (IsSystemScope(scope)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scope '", scope,
                     "' is internal to the daemon; no client may read or "
                     "write it (use the Admin RPCs)"));
  }
  if (scope == kRegistryCredentialResource || scope == kGitCredentialResource) {
    return absl::InvalidArgumentError(
        absl::StrCat("scope '", scope,
                     "' is reserved for credential grants; it holds no "
                     "secrets"));
  }
  return scope;
}

ResolveContext ResolveContextFromProto(const v1::ResolveContext& context) {
  ResolveContext out;
  out.deployment = context.deployment();
  out.project = context.project();
  return out;
}

void ToProto(const VersionInfo& in, v1::VersionInfo* out) {
  out->set_version(in.version);
  out->set_created_at(in.created_at);
  out->set_key_id(in.key_id);
}

absl::Status CheckValuesAreText(const ResolvedEnv& resolved, size_t entries) {
  std::vector<EntryError> not_text;
  for (const ReceiptEntry& r : resolved.receipt) {
    if (!IsValidUtf8(resolved.values.at(r.key).InsecureView())) {
      not_text.push_back(
          {r.key, r.reference,
           absl::FailedPreconditionError(
               "the value is not UTF-8 text (env values must be)")});
    }
  }
  if (not_text.empty()) return absl::OkStatus();
  return CombineEntryErrors(not_text, entries);
}

absl::Status SetValueOrSealed(SecretBytes* value, absl::string_view seal_key,
                              std::string* plain, std::string* sealed) {
  if (seal_key.empty()) {
    SetBytes(*value, plain);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(*sealed, SealToPublicKey(seal_key, value->InsecureView()));
  *value = SecretBytes();  // wiped now, not at the end of the call
  return absl::OkStatus();
}

absl::StatusOr<RegistryCredential> RequestedRegistryCredential(
    const v1::GetRegistryCredentialRequest& request,
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, std::string* host_name) {
  switch (request.key_case()) {
    case v1::GetRegistryCredentialRequest::kId: {
      ASSIGN_OR_RETURN(
          RegistryCredential found,
          RegistryCredentialById(creds, authorizer, principal, request.id()));
      *host_name = RegistryResource(found.registry).name;
      return found;
    }
    case v1::GetRegistryCredentialRequest::kRegistry:
      RETURN_IF_ERROR(
          ValidateText(request.registry(), "registry", 1, kMaxNameBytes));
      *host_name = RegistryResource(request.registry()).name;
      return RegistryCredentialForHost(creds, authorizer, principal,
                                       request.registry());
    case v1::GetRegistryCredentialRequest::KEY_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("id or registry is required");
}

absl::StatusOr<GitCredential> RequestedGitCredential(
    const v1::GetGitCredentialRequest& request, GitCredentialStore* creds,
    const Authorizer& authorizer, const Principal& principal,
    std::string* host_name) {
  switch (request.key_case()) {
    case v1::GetGitCredentialRequest::kId: {
      ASSIGN_OR_RETURN(
          GitCredential found,
          GitCredentialById(creds, authorizer, principal, request.id()));
      *host_name = GitResource(found.match.host).name;
      return found;
    }
    case v1::GetGitCredentialRequest::kUrl: {
      const v1::GitUrl& url = request.url();
      RETURN_IF_ERROR(ValidateText(url.host(), "host", 1, kMaxNameBytes));
      *host_name = GitResource(url.host()).name;
      return GitCredentialForUrl(creds, authorizer, principal, url.protocol(),
                                 url.host(), url.path());
    }
    case v1::GetGitCredentialRequest::KEY_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("id or url is required");
}

}  // namespace zlayer::secrets
