#include "daemon/rpc/secrets_service.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/format/env_file_format.h"
#include "core/identity/identity_records.h"
#include "core/resolve/json_field.h"
#include "core/resolve/resolver.h"
#include "daemon/rpc/grpc_status.h"
#include "daemon/rpc/service_common.h"

namespace zlayer::secrets {
namespace {

// How often SetSecret re-reads the current version when a concurrent writer
// slips in between its read and its check-and-set write (see SetSecret).
constexpr int kCreateProbeAttempts = 4;

// Largest page ListSecrets serves (proto: "at most 1000").
constexpr uint32_t kMaxPageSize = 1000;

absl::Status CheckValueSize(size_t size, const Limits& limits) {
  if (size > limits.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value is ", size, " bytes; the limit is ", limits.max_value_bytes));
  }
  return absl::OkStatus();
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

// Asked by core/ between units of work: stop once nobody waits for the
// answer (the client cancelled, or the call's deadline passed).
std::function<absl::Status()> KeepGoing(
    const grpc::ServerContextBase& context) {
  return [&context]() -> absl::Status {
    if (context.IsCancelled()) {
      return absl::CancelledError("the call was cancelled");
    }
    if (context.deadline() < std::chrono::system_clock::now()) {
      return absl::DeadlineExceededError("the call's deadline passed");
    }
    return absl::OkStatus();
  };
}

// The per-call answer limit, named in the refusal.
absl::Status ResponseTooLarge(size_t bytes, const Limits& limits) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the answer would hold ", bytes, " bytes; the per-call limit is ",
      limits.max_response_bytes, " bytes (--max-response-bytes)"));
}

ResolveContext ResolveContextFromRequest(const v1::ResolveContext& context) {
  ResolveContext out;
  out.deployment = context.deployment();
  out.project = context.project();
  return out;
}

// A deployment or service name inside a Target: one path segment.
absl::Status ValidateSegment(absl::string_view segment,
                             absl::string_view what) {
  RETURN_IF_ERROR(ValidateText(segment, what, 1, kMaxNameBytes));
  if (segment.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " contains '/'"));
  }
  return absl::OkStatus();
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
}

void SetBytes(const SecretBytes& value, std::string* out) {
  absl::string_view bytes = value.InsecureView();
  out->assign(bytes.data(), bytes.size());
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

// Where an imported entry came from, for messages: "line N" (dotenv) or
// "key 'K'" (JSON, which has no useful line numbers). Names are not secret.
std::string ImportLocation(const ImportedSecret& entry) {
  if (entry.line > 0) return absl::StrCat("line ", entry.line);
  return absl::StrCat("key '", entry.name, "'");
}

}  // namespace

SecretsService::SecretsService(const ServiceContext* ctx) : ctx_(ctx) {}

absl::StatusOr<Principal> SecretsService::Identify(
    const grpc::ServerContextBase& context, CallLog* log) const {
  ASSIGN_OR_RETURN(Principal principal, ctx_->identifier->Identify(context));
  log->subject = principal.Subject();
  return principal;
}

absl::StatusOr<std::string> SecretsService::ResolveTarget(
    const v1::Target& target, CallLog* log) const {
  std::string scope;
  switch (target.kind_case()) {
    case v1::Target::kScope:
      RETURN_IF_ERROR(ValidateScope(target.scope()));
      scope = target.scope();
      break;
    case v1::Target::kDeployment: {
      const v1::DeploymentTarget& d = target.deployment();
      RETURN_IF_ERROR(ValidateSegment(d.deployment(), "deployment"));
      scope = d.deployment();
      if (!d.service().empty()) {
        RETURN_IF_ERROR(ValidateSegment(d.service(), "service"));
        absl::StrAppend(&scope, "/", d.service());
      }
      RETURN_IF_ERROR(ValidateScope(scope));
      break;
    }
    case v1::Target::kEnvironment: {
      const v1::EnvironmentTarget& e = target.environment();
      RETURN_IF_ERROR(
          ValidateText(e.name_or_id(), "environment", 1, kMaxNameBytes));
      RETURN_IF_ERROR(ValidateProject(e.project()));
      if (ctx_->environments == nullptr) {
        return absl::FailedPreconditionError(
            "this daemon has no environment registry");
      }
      ASSIGN_OR_RETURN(
          scope, ctx_->environments->ResolveScope(e.name_or_id(), e.project()));
      break;
    }
    case v1::Target::KIND_NOT_SET:
      return absl::InvalidArgumentError(
          "target is required (scope, deployment or environment)");
  }
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
  log->scope = scope;
  return scope;
}

absl::StatusOr<std::string> SecretsService::AuthorizeSecret(
    const grpc::ServerContextBase& context, const v1::Target& target,
    const std::string& name, AccessLevel level, CallLog* log,
    absl::Status input) const {
  ASSIGN_OR_RETURN(Principal principal, Identify(context, log));
  ASSIGN_OR_RETURN(std::string scope, ResolveTarget(target, log));
  RETURN_IF_ERROR(ValidateName(name));
  log->name = name;
  RETURN_IF_ERROR(input);
  RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, name}, level));
  return scope;
}

// ---------------------------------------------------------------------------
// Reads

grpc::Status SecretsService::GetSecret(grpc::ServerContextBase* context,
                                       const v1::GetSecretRequest* request,
                                       v1::GetSecretResponse* response) {
  CallLog log(ctx_, *context, "GetSecret");
  absl::Status status = [&]() -> absl::Status {
    const bool want_field = !request->field().empty();
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kRead, &log,
                        want_field ? ValidateText(request->field(), "field", 1,
                                                  kMaxNameBytes)
                                   : absl::OkStatus()));
    // Value and metadata from one snapshot.
    ASSIGN_OR_RETURN(ValueWithMetadata got,
                     ctx_->store->GetWithMetadata(scope, request->name(),
                                                  request->version()));
    VersionedValue& read = got.read;
    if (want_field) {
      ASSIGN_OR_RETURN(read.value,
                       ExtractJsonField(read.value, request->field()));
    }
    log.versions.push_back(read.version);
    SetBytes(read.value, response->mutable_value());
    ToProto(got.metadata, response->mutable_metadata());
    response->set_version(read.version);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::GetSecrets(grpc::ServerContextBase* context,
                                        const v1::GetSecretsRequest* request,
                                        v1::GetSecretsResponse* response) {
  CallLog log(ctx_, *context, "GetSecrets");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(std::string scope, ResolveTarget(request->target(), &log));
    if (static_cast<size_t>(request->names_size()) >
        ctx_->limits.max_names_per_batch) {
      return absl::InvalidArgumentError(
          absl::StrCat(request->names_size(), " names requested; the limit is ",
                       ctx_->limits.max_names_per_batch));
    }
    std::vector<SecretKey> keys;
    keys.reserve(request->names_size());
    absl::flat_hash_set<absl::string_view> seen;
    for (int i = 0; i < request->names_size(); ++i) {
      const std::string& name = request->names(i);
      absl::Status valid = ValidateName(name);
      if (!valid.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("names[", i, "]: ", valid.message()));
      }
      if (seen.insert(name).second) keys.push_back({scope, name});
    }
    log.detail = absl::StrCat("names=", keys.size());
    for (const SecretKey& key : keys) {
      RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {key.scope, key.name},
                                              AccessLevel::kRead));
    }
    ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> reads,
                     ctx_->store->ReadBatch(keys));
    // The answer's size is known from the reads: refuse before copying.
    size_t answer_bytes = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      answer_bytes += keys[i].name.size();
      if (reads[i].ok()) answer_bytes += reads[i]->value.size();
    }
    if (ctx_->limits.max_response_bytes != 0 &&
        answer_bytes > ctx_->limits.max_response_bytes) {
      return ResponseTooLarge(answer_bytes, ctx_->limits);
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& name = keys[i].name;
      if (reads[i].ok()) {
        log.targets.push_back({keys[i].scope, name});
        log.versions.push_back(reads[i]->version);
        SetBytes(reads[i]->value, &(*response->mutable_values())[name]);
        (*response->mutable_versions())[name] = reads[i]->version;
      } else if (absl::IsNotFound(reads[i].status())) {
        response->add_missing(name);
      } else {
        response->Clear();  // no partial answer next to an error
        return reads[i].status();
      }
    }
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::ListSecrets(grpc::ServerContextBase* context,
                                         const v1::ListSecretsRequest* request,
                                         v1::ListSecretsResponse* response) {
  CallLog log(ctx_, *context, "ListSecrets");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(std::string scope, ResolveTarget(request->target(), &log));
    if (!request->name_prefix().empty()) {
      RETURN_IF_ERROR(ValidateText(request->name_prefix(), "name prefix", 1,
                                   kMaxNameBytes));
    }
    RETURN_IF_ERROR(
        ctx_->authorizer->Check(principal, {scope, ""}, AccessLevel::kRead));
    ListOptions options;
    options.name_prefix = request->name_prefix();
    options.page_token = request->page_token();
    // "at most 1000": larger requests get the largest page, not an error.
    options.page_size = std::min(request->page_size(), kMaxPageSize);
    options.include_deleted = request->include_deleted();
    ASSIGN_OR_RETURN(ListPage page, ctx_->store->List(scope, options));
    for (const SecretMetadata& m : page.secrets)
      ToProto(m, response->add_secrets());
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::SecretExists(
    grpc::ServerContextBase* context, const v1::SecretExistsRequest* request,
    v1::SecretExistsResponse* response) {
  CallLog log(ctx_, *context, "SecretExists");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kRead, &log));
    ASSIGN_OR_RETURN(bool exists, ctx_->store->Exists(scope, request->name()));
    response->set_exists(exists);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::ListVersions(
    grpc::ServerContextBase* context, const v1::ListVersionsRequest* request,
    v1::ListVersionsResponse* response) {
  CallLog log(ctx_, *context, "ListVersions");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kRead, &log));
    ASSIGN_OR_RETURN(std::vector<VersionInfo> versions,
                     ctx_->store->ListVersions(scope, request->name()));
    for (const VersionInfo& v : versions) {
      v1::VersionInfo* out = response->add_versions();
      out->set_version(v.version);
      out->set_created_at(v.created_at);
      out->set_key_id(v.key_id);
    }
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

// ---------------------------------------------------------------------------
// Writes

grpc::Status SecretsService::SetSecret(grpc::ServerContextBase* context,
                                       const v1::SetSecretRequest* request,
                                       v1::SetSecretResponse* response) {
  CallLog log(ctx_, *context, "SetSecret");
  // Out of the request at once, so that every path (errors too) wipes it.
  const SecretBytes value = TakeSecret(request->value());
  absl::Status status = [&]() -> absl::Status {
    const std::string& name = request->name();
    absl::Status input = CheckValueSize(value.size(), ctx_->limits);
    if (input.ok()) input = CheckMaxVersions(request->max_versions());
    ASSIGN_OR_RETURN(std::string scope,
                     AuthorizeSecret(*context, request->target(), name,
                                     AccessLevel::kWrite, &log, input));
    WriteOptions options;
    options.max_versions = request->max_versions();

    if (request->has_expected_version()) {
      // The caller's check-and-set already tells: 0 succeeds only when no
      // live secret existed, N only when version N was live.
      options.expected_version = request->expected_version();
      ASSIGN_OR_RETURN(SecretMetadata written,
                       ctx_->store->SetSecret(scope, name, value, options));
      log.versions.push_back(written.version);
      ToProto(written, response->mutable_metadata());
      response->set_created(request->expected_version() == 0);
      return absl::OkStatus();
    }

    // An unconditional write. SecretStore has no "was it there?" output, so
    // `created` comes from a read of the current version followed by a
    // check-and-set write against exactly that version: if another writer
    // slips in between, the write fails (nothing written) and we look again.
    // `created` is thus exact, not a guess from a racy pre-read.
    for (int attempt = 0; attempt < kCreateProbeAttempts; ++attempt) {
      absl::StatusOr<SecretMetadata> current =
          ctx_->store->GetMetadata(scope, name);
      bool live = false;
      if (current.ok()) {
        live = !current->deleted;
      } else if (!absl::IsNotFound(current.status())) {
        return current.status();
      }
      options.expected_version = live ? current->version : 0;
      absl::StatusOr<SecretMetadata> written =
          ctx_->store->SetSecret(scope, name, value, options);
      if (written.ok()) {
        log.versions.push_back(written->version);
        ToProto(*written, response->mutable_metadata());
        response->set_created(!live);
        return absl::OkStatus();
      }
      if (!absl::IsAlreadyExists(written.status()) &&
          !absl::IsFailedPrecondition(written.status())) {
        return written.status();
      }
    }
    // Sustained contention on this one secret: the write is what the caller
    // asked for, so do it unconditionally. Only here may `created` be wrong,
    // and only for a soft-deleted secret revived at version > 1.
    options.expected_version.reset();
    ASSIGN_OR_RETURN(SecretMetadata written,
                     ctx_->store->SetSecret(scope, name, value, options));
    log.versions.push_back(written.version);
    ToProto(written, response->mutable_metadata());
    response->set_created(written.version == 1);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::DeleteSecret(
    grpc::ServerContextBase* context, const v1::DeleteSecretRequest* request,
    v1::DeleteSecretResponse* response) {
  CallLog log(ctx_, *context, "DeleteSecret");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kWrite, &log));
    return ctx_->store->DeleteSecret(scope, request->name());
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::UndeleteSecret(
    grpc::ServerContextBase* context, const v1::UndeleteSecretRequest* request,
    v1::UndeleteSecretResponse* response) {
  CallLog log(ctx_, *context, "UndeleteSecret");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kWrite, &log));
    RETURN_IF_ERROR(ctx_->store->UndeleteSecret(scope, request->name()));
    ASSIGN_OR_RETURN(SecretMetadata metadata,
                     ctx_->store->GetMetadata(scope, request->name()));
    log.versions.push_back(metadata.version);
    ToProto(metadata, response->mutable_metadata());
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::DestroySecret(
    grpc::ServerContextBase* context, const v1::DestroySecretRequest* request,
    v1::DestroySecretResponse* response) {
  CallLog log(ctx_, *context, "DestroySecret");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kWrite, &log));
    return ctx_->store->DestroySecret(scope, request->name());
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::RotateSecret(
    grpc::ServerContextBase* context, const v1::RotateSecretRequest* request,
    v1::RotateSecretResponse* response) {
  CallLog log(ctx_, *context, "RotateSecret");
  const SecretBytes value = TakeSecret(request->value());
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kWrite, &log,
                        CheckValueSize(value.size(), ctx_->limits)));
    ASSIGN_OR_RETURN(RotationResult rotated,
                     ctx_->store->RotateSecret(scope, request->name(), value));
    log.versions.push_back(rotated.new_version);
    response->set_previous_version(rotated.previous_version);
    response->set_new_version(rotated.new_version);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::RollbackSecret(
    grpc::ServerContextBase* context, const v1::RollbackSecretRequest* request,
    v1::RollbackSecretResponse* response) {
  CallLog log(ctx_, *context, "RollbackSecret");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string scope,
                     AuthorizeSecret(*context, request->target(),
                                     request->name(), AccessLevel::kWrite, &log,
                                     request->version() == 0
                                         ? absl::InvalidArgumentError(
                                               "version is required (> 0)")
                                         : absl::OkStatus()));
    ASSIGN_OR_RETURN(SecretMetadata metadata,
                     ctx_->store->RollbackSecret(scope, request->name(),
                                                 request->version()));
    log.versions.push_back(metadata.version);
    ToProto(metadata, response->mutable_metadata());
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

// ---------------------------------------------------------------------------
// Env maps

grpc::Status SecretsService::ResolveEnv(grpc::ServerContextBase* context,
                                        const v1::ResolveEnvRequest* request,
                                        v1::ResolveEnvResponse* response) {
  CallLog log(ctx_, *context, "ResolveEnv");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    log.detail = absl::StrCat("entries=", env.size());
    Resolver resolver(ctx_->store, ctx_->environments);
    ResolvePlan plan =
        resolver.Plan(env, ResolveContextFromRequest(request->context()));
    // Access is part of the plan: an entry the caller may not execute fails
    // like a bad reference, so one answer lists every problem and nothing is
    // read for a caller who may not have it.
    for (PlannedEntry& entry : plan.entries) {
      if (!entry.is_reference || !entry.status.ok()) continue;
      entry.status = ctx_->authorizer->Check(
          principal, {entry.target.scope, entry.target.name},
          AccessLevel::kExecute);
    }
    ResolveBudget budget;
    budget.max_output_bytes = ctx_->limits.max_response_bytes;
    budget.keep_going = KeepGoing(*context);
    absl::StatusOr<ResolvedEnv> executed =
        resolver.Execute(plan, /*errors=*/nullptr, budget);
    if (absl::IsResourceExhausted(executed.status())) {
      return absl::ResourceExhaustedError(
          absl::StrCat(executed.status().message(), " (--max-response-bytes)"));
    }
    ASSIGN_OR_RETURN(ResolvedEnv resolved, std::move(executed));
    // The response's env map is proto `string`: a value that is not UTF-8
    // would make the client reject the whole message, so refuse it here.
    std::vector<EntryError> not_text;
    for (const ReceiptEntry& r : resolved.receipt) {
      if (!IsValidUtf8(resolved.values[r.key].InsecureView())) {
        not_text.push_back(
            {r.key, r.reference,
             absl::FailedPreconditionError(
                 "the value is not UTF-8 text (env values must be)")});
      }
    }
    if (!not_text.empty()) return CombineEntryErrors(not_text, env.size());
    for (const auto& [key, value] : resolved.values) {
      SetBytes(value, &(*response->mutable_env())[key]);
    }
    for (const ReceiptEntry& r : resolved.receipt) {
      log.targets.push_back({r.target.scope, r.target.name});
      log.versions.push_back(r.version);
      v1::ResolvedEntry* out = response->add_receipt();
      out->set_key(r.key);
      out->set_reference(r.reference);
      out->set_scope(r.target.scope);
      out->set_name(r.target.name);
      out->set_version(r.version);
      out->set_field(r.field);
    }
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::CheckEnv(grpc::ServerContextBase* context,
                                      const v1::CheckEnvRequest* request,
                                      v1::CheckEnvResponse* response) {
  CallLog log(ctx_, *context, "CheckEnv");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    log.detail = absl::StrCat("entries=", env.size());
    Resolver resolver(ctx_->store, ctx_->environments);
    ResolvePlan plan =
        resolver.Plan(env, ResolveContextFromRequest(request->context()));
    bool all_ok = true;
    const std::function<absl::Status()> keep_going = KeepGoing(*context);
    for (const PlannedEntry& entry : plan.entries) {
      // One metadata read per entry: stop once nobody waits for the answer.
      RETURN_IF_ERROR(keep_going());
      v1::CheckedEntry* out = response->add_entries();
      out->set_key(entry.key);
      out->set_is_reference(entry.is_reference);
      if (!entry.is_reference) continue;
      if (!entry.status.ok()) {
        out->set_error(std::string(entry.status.message()));
        all_ok = false;
        continue;
      }
      out->set_reference(entry.reference);
      out->set_scope(entry.target.scope);
      out->set_name(entry.target.name);
      out->set_field(entry.field);
      const Resource resource{entry.target.scope, entry.target.name};
      absl::Status may_execute =
          ctx_->authorizer->Check(principal, resource, AccessLevel::kExecute);
      out->set_readable(may_execute.ok());
      // Existence and version are metadata: shown to callers with read on
      // the secret, and found without reading (or decrypting) the value.
      if (ctx_->authorizer->Check(principal, resource, AccessLevel::kRead)
              .ok()) {
        absl::StatusOr<SecretMetadata> metadata =
            ctx_->store->GetMetadata(entry.target.scope, entry.target.name);
        if (metadata.ok() && !metadata->deleted) {
          out->set_exists(true);
          out->set_version(metadata->version);
        } else if (!metadata.ok() && !absl::IsNotFound(metadata.status())) {
          return metadata.status();
        }
      }
      if (!may_execute.ok()) {
        out->set_error(std::string(may_execute.message()));
      } else if (!out->exists()) {
        out->set_error(absl::StrCat("secret '", entry.target.name,
                                    "' not found in scope '",
                                    entry.target.scope, "'"));
      }
      if (!out->error().empty()) all_ok = false;
    }
    response->set_ok(all_ok);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

// ---------------------------------------------------------------------------
// Import and export

grpc::Status SecretsService::ImportSecrets(
    grpc::ServerContextBase* context, const v1::ImportSecretsRequest* request,
    v1::ImportSecretsResponse* response) {
  CallLog log(ctx_, *context, "ImportSecrets");
  const SecretBytes content = TakeSecret(request->content());
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(std::string scope, ResolveTarget(request->target(), &log));
    if (content.size() > ctx_->limits.max_import_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("import content is ", content.size(),
                       " bytes; the limit is ", ctx_->limits.max_import_bytes));
    }
    ASSIGN_OR_RETURN(SecretFileFormat format,
                     FormatFromRequest(request->format()));
    // Names come from the file, so the grant must cover the whole scope. The
    // dry run needs it too: its diff tells whether stored values equal the
    // file's.
    RETURN_IF_ERROR(
        ctx_->authorizer->Check(principal, {scope, ""}, AccessLevel::kWrite));

    // All or nothing: any problem in the file is reported and nothing is
    // written (OK status, applied=false, `errors` listed: a failed status
    // could not carry the list). Duplicate keys are not errors: the last
    // definition wins (core/format/env_file_format.h).
    absl::StatusOr<SecretFileImport> parsed =
        ::zlayer::secrets::ImportSecrets(content.InsecureView(), format);
    if (!parsed.ok()) {
      response->add_errors(std::string(parsed.status().message()));
      response->set_applied(false);
      return absl::OkStatus();
    }
    for (const ImportedSecret& entry : parsed->entries) {
      absl::Status valid = ValidateName(entry.name);
      if (valid.ok()) valid = CheckValueSize(entry.value.size(), ctx_->limits);
      if (!valid.ok()) {
        parsed->errors.push_back(
            absl::StrCat(ImportLocation(entry), ": ", valid.message()));
      }
    }
    log.detail = absl::StrCat("entries=", parsed->entries.size(),
                              " errors=", parsed->errors.size(),
                              " dry_run=", request->dry_run());
    if (!parsed->errors.empty()) {
      for (std::string& error : parsed->errors)
        response->add_errors(std::move(error));
      response->set_applied(false);
      return absl::OkStatus();
    }

    // The diff, against one snapshot of the current values.
    std::vector<SecretKey> keys;
    keys.reserve(parsed->entries.size());
    for (const ImportedSecret& entry : parsed->entries)
      keys.push_back({scope, entry.name});
    ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> current,
                     ctx_->store->ReadBatch(keys));
    std::vector<absl::optional<uint32_t>> expected(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const ImportedSecret& entry = parsed->entries[i];
      v1::ImportAction action;
      if (current[i].ok()) {
        expected[i] = current[i]->version;
        if (current[i]->value.ConstantTimeEquals(entry.value)) {
          action = v1::IMPORT_ACTION_UNCHANGED;
          response->set_unchanged(response->unchanged() + 1);
        } else {
          action = v1::IMPORT_ACTION_UPDATE;
          response->set_updated(response->updated() + 1);
        }
      } else if (absl::IsNotFound(current[i].status())) {
        expected[i] = 0;
        action = v1::IMPORT_ACTION_CREATE;
        response->set_created(response->created() + 1);
      } else {
        response->Clear();
        return current[i].status();
      }
      v1::ImportChange* change = response->add_changes();
      change->set_name(entry.name);
      change->set_action(action);
      change->set_line(static_cast<uint32_t>(entry.line));
    }
    if (request->dry_run()) {
      response->set_applied(false);
      return absl::OkStatus();
    }

    // SecretStore has no multi-secret transaction, so entries are written
    // one by one; unchanged ones are skipped (no new version). Each write is
    // a check-and-set against the version the diff saw, so the reported
    // create/update is what happened. A failure stops the import; its
    // status names the entry and every secret already written.
    std::vector<std::string> written;
    for (size_t i = 0; i < keys.size(); ++i) {
      const v1::ImportChange& change = response->changes(static_cast<int>(i));
      if (change.action() == v1::IMPORT_ACTION_UNCHANGED) continue;
      WriteOptions options;
      options.expected_version = expected[i];
      absl::StatusOr<SecretMetadata> result = ctx_->store->SetSecret(
          scope, keys[i].name, parsed->entries[i].value, options);
      if (!result.ok()) {
        response->Clear();
        std::string why(result.status().message());
        if (absl::IsAlreadyExists(result.status()) ||
            absl::IsFailedPrecondition(result.status())) {
          why = "it changed while the import ran";
        }
        return absl::Status(
            result.status().code(),
            absl::StrCat("import stopped at ",
                         ImportLocation(parsed->entries[i]), " ('",
                         keys[i].name, "'): ", why, "; written before it (",
                         written.size(), "): ", absl::StrJoin(written, ", ")));
      }
      written.push_back(keys[i].name);
      log.targets.push_back({scope, keys[i].name});
      log.versions.push_back(result->version);
    }
    response->set_applied(true);
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

grpc::Status SecretsService::ExportSecrets(
    grpc::ServerContextBase* context, const v1::ExportSecretsRequest* request,
    v1::ExportSecretsResponse* response) {
  CallLog log(ctx_, *context, "ExportSecrets");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(std::string scope, ResolveTarget(request->target(), &log));
    ASSIGN_OR_RETURN(SecretFileFormat format,
                     FormatFromRequest(request->format()));
    RETURN_IF_ERROR(
        ctx_->authorizer->Check(principal, {scope, ""}, AccessLevel::kRead));

    // Names from every page, then every value from one snapshot. A secret
    // deleted between the two is left out; one created after the listing
    // is not included.
    std::vector<SecretKey> keys;
    ListOptions options;
    options.page_size = kMaxPageSize;
    do {
      ASSIGN_OR_RETURN(ListPage page, ctx_->store->List(scope, options));
      for (const SecretMetadata& m : page.secrets)
        keys.push_back({scope, m.name});
      options.page_token = std::move(page.next_page_token);
    } while (!options.page_token.empty());
    ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> reads,
                     ctx_->store->ReadBatch(keys));
    std::map<std::string, SecretBytes> values;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (reads[i].ok()) {
        log.targets.push_back({scope, keys[i].name});
        log.versions.push_back(reads[i]->version);
        values.emplace(keys[i].name, std::move(reads[i]->value));
      } else if (!absl::IsNotFound(reads[i].status())) {
        return reads[i].status();
      }
    }
    ASSIGN_OR_RETURN(SecretBytes rendered,
                     ::zlayer::secrets::ExportSecrets(values, format));
    SetBytes(rendered, response->mutable_content());
    response->set_count(static_cast<uint32_t>(values.size()));
    log.detail = absl::StrCat("count=", values.size());
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

}  // namespace zlayer::secrets
