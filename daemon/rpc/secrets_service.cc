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
#include "core/crypto/sealed_box.h"
#include "core/format/env_file_format.h"
#include "core/identity/identity_records.h"
#include "core/ops/batch_read.h"
#include "core/ops/check_env.h"
#include "core/ops/consumer_record.h"
#include "core/ops/export.h"
#include "core/ops/import.h"
#include "core/ops/secret_write.h"
#include "core/resolve/json_field.h"
#include "core/resolve/resolver.h"
#include "daemon/rpc/convert.h"
#include "daemon/rpc/grpc_status.h"
#include "daemon/rpc/service_common.h"

namespace zlayer::secrets {
namespace {

// Largest page ListSecrets serves (proto: "at most 1000").
constexpr uint32_t kMaxPageSize = 1000;

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

// Names the flag behind a per-call answer limit (core/ops knows no flags).
template <typename T>
absl::StatusOr<T> WithLimitFlag(absl::StatusOr<T> result) {
  if (!absl::IsResourceExhausted(result.status())) return result;
  return absl::ResourceExhaustedError(
      absl::StrCat(result.status().message(), " (--max-response-bytes)"));
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

// The response's env map is proto `string`: a value that is not UTF-8 would
// make the client reject the whole message, so it is refused here, naming
// every such entry.
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

}  // namespace

SecretsService::SecretsService(const ServiceContext* ctx) : ctx_(ctx) {}

absl::StatusOr<Principal> SecretsService::Identify(
    const grpc::ServerContextBase& context, CallLog* log) const {
  return IdentifyCaller(*ctx_, context, log);
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
    absl::Status input, Principal* principal_out) const {
  ASSIGN_OR_RETURN(Principal principal, Identify(context, log));
  ASSIGN_OR_RETURN(std::string scope, ResolveTarget(target, log));
  RETURN_IF_ERROR(ValidateName(name));
  log->name = name;
  RETURN_IF_ERROR(input);
  RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, name}, level));
  if (principal_out != nullptr) *principal_out = std::move(principal);
  return scope;
}

absl::StatusOr<std::string> SecretsService::SealKey(const std::string& seal_to,
                                                    const Principal& principal,
                                                    CallLog* log) const {
  log->sealed = !seal_to.empty();
  if (seal_to.empty()) return std::string();
  RETURN_IF_ERROR(ValidateText(seal_to, "seal_to", 1, kMaxNameBytes));
  log->client_key = seal_to;
  if (ctx_->client_keys == nullptr) {
    return absl::FailedPreconditionError(
        "this daemon keeps no client keys (sealed reveals are off)");
  }
  return ctx_->client_keys->PublicKeyFor(seal_to, principal.Subject());
}

// ---------------------------------------------------------------------------
// Reads

grpc::Status SecretsService::GetSecret(grpc::ServerContextBase* context,
                                       const v1::GetSecretRequest* request,
                                       v1::GetSecretResponse* response) {
  return Serve(ctx_, *context, "GetSecret", [&](CallLog& log) -> absl::Status {
    const bool want_field = !request->field().empty();
    Principal principal;
    ASSIGN_OR_RETURN(
        std::string scope,
        AuthorizeSecret(*context, request->target(), request->name(),
                        AccessLevel::kRead, &log,
                        want_field ? ValidateText(request->field(), "field", 1,
                                                  kMaxNameBytes)
                                   : absl::OkStatus(),
                        &principal));
    ASSIGN_OR_RETURN(const std::string seal_key,
                     SealKey(request->seal_to(), principal, &log));
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
    if (seal_key.empty()) {
      SetBytes(read.value, response->mutable_value());
    } else {
      ASSIGN_OR_RETURN(*response->mutable_sealed_value(),
                       SealToPublicKey(seal_key, read.value.InsecureView()));
      read.value = SecretBytes();  // wiped now, not at the end of the call
    }
    ToProto(got.metadata, response->mutable_metadata());
    response->set_version(read.version);
    return absl::OkStatus();
  });
}

grpc::Status SecretsService::GetSecrets(grpc::ServerContextBase* context,
                                        const v1::GetSecretsRequest* request,
                                        v1::GetSecretsResponse* response) {
  return Serve(ctx_, *context, "GetSecrets", [&](CallLog& log) -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(std::string scope, ResolveTarget(request->target(), &log));
    ASSIGN_OR_RETURN(std::vector<SecretKey> keys,
                     KeysFromRequest(request->names(), scope, ctx_->limits));
    log.detail = absl::StrCat("names=", keys.size());
    for (const SecretKey& key : keys) {
      RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {key.scope, key.name},
                                              AccessLevel::kRead));
    }
    ASSIGN_OR_RETURN(const std::string seal_key,
                     SealKey(request->seal_to(), principal, &log));
    ASSIGN_OR_RETURN(BatchRead read,
                     WithLimitFlag(ReadSecrets(
                         ctx_->store, keys, ctx_->limits.max_response_bytes)));
    for (size_t i = 0; i < read.found.size(); ++i) {
      log.targets.push_back({read.found[i].scope, read.found[i].name});
      log.versions.push_back(read.values[i].version);
    }
    if (!seal_key.empty()) {
      return SealedBatchToProto(read, seal_key, response);
    }
    BatchToProto(read, response);
    return absl::OkStatus();
  });
}

grpc::Status SecretsService::ListSecrets(grpc::ServerContextBase* context,
                                         const v1::ListSecretsRequest* request,
                                         v1::ListSecretsResponse* response) {
  return Serve(
      ctx_, *context, "ListSecrets", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
        ASSIGN_OR_RETURN(std::string scope,
                         ResolveTarget(request->target(), &log));
        if (!request->name_prefix().empty()) {
          RETURN_IF_ERROR(ValidateText(request->name_prefix(), "name prefix", 1,
                                       kMaxNameBytes));
        }
        RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, ""},
                                                AccessLevel::kRead));
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
      });
}

grpc::Status SecretsService::SecretExists(
    grpc::ServerContextBase* context, const v1::SecretExistsRequest* request,
    v1::SecretExistsResponse* response) {
  return Serve(
      ctx_, *context, "SecretExists", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::string scope,
            AuthorizeSecret(*context, request->target(), request->name(),
                            AccessLevel::kRead, &log));
        ASSIGN_OR_RETURN(bool exists,
                         ctx_->store->Exists(scope, request->name()));
        response->set_exists(exists);
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::ListVersions(
    grpc::ServerContextBase* context, const v1::ListVersionsRequest* request,
    v1::ListVersionsResponse* response) {
  return Serve(
      ctx_, *context, "ListVersions", [&](CallLog& log) -> absl::Status {
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
      });
}

// ---------------------------------------------------------------------------
// Writes

grpc::Status SecretsService::SetSecret(grpc::ServerContextBase* context,
                                       const v1::SetSecretRequest* request,
                                       v1::SetSecretResponse* response) {
  // Out of the request at once, so that every path (errors too) wipes it.
  const SecretBytes value = TakeSecret(request->value());
  return Serve(ctx_, *context, "SetSecret", [&](CallLog& log) -> absl::Status {
    const std::string& name = request->name();
    absl::Status input = CheckValueSize(value.size(), ctx_->limits);
    if (input.ok()) input = CheckMaxVersions(request->max_versions());
    ASSIGN_OR_RETURN(std::string scope,
                     AuthorizeSecret(*context, request->target(), name,
                                     AccessLevel::kWrite, &log, input));
    WriteOptions options;
    options.max_versions = request->max_versions();
    if (request->has_expected_version()) {
      options.expected_version = request->expected_version();
    }
    ASSIGN_OR_RETURN(WriteOutcome written,
                     WriteSecret(ctx_->store, scope, name, value, options));
    log.versions.push_back(written.metadata.version);
    ToProto(written.metadata, response->mutable_metadata());
    response->set_created(written.created);
    return absl::OkStatus();
  });
}

grpc::Status SecretsService::DeleteSecret(
    grpc::ServerContextBase* context, const v1::DeleteSecretRequest* request,
    v1::DeleteSecretResponse* response) {
  return Serve(
      ctx_, *context, "DeleteSecret", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::string scope,
            AuthorizeSecret(*context, request->target(), request->name(),
                            AccessLevel::kWrite, &log));
        return ctx_->store->DeleteSecret(scope, request->name());
      });
}

grpc::Status SecretsService::UndeleteSecret(
    grpc::ServerContextBase* context, const v1::UndeleteSecretRequest* request,
    v1::UndeleteSecretResponse* response) {
  return Serve(
      ctx_, *context, "UndeleteSecret", [&](CallLog& log) -> absl::Status {
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
      });
}

grpc::Status SecretsService::DestroySecret(
    grpc::ServerContextBase* context, const v1::DestroySecretRequest* request,
    v1::DestroySecretResponse* response) {
  return Serve(
      ctx_, *context, "DestroySecret", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::string scope,
            AuthorizeSecret(*context, request->target(), request->name(),
                            AccessLevel::kWrite, &log));
        return ctx_->store->DestroySecret(scope, request->name());
      });
}

grpc::Status SecretsService::RotateSecret(
    grpc::ServerContextBase* context, const v1::RotateSecretRequest* request,
    v1::RotateSecretResponse* response) {
  const SecretBytes value = TakeSecret(request->value());
  return Serve(
      ctx_, *context, "RotateSecret", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::string scope,
            AuthorizeSecret(*context, request->target(), request->name(),
                            AccessLevel::kWrite, &log,
                            CheckValueSize(value.size(), ctx_->limits)));
        ASSIGN_OR_RETURN(
            RotationResult rotated,
            ctx_->store->RotateSecret(scope, request->name(), value));
        log.versions.push_back(rotated.new_version);
        response->set_previous_version(rotated.previous_version);
        response->set_new_version(rotated.new_version);
        response->set_consumers_on_previous(static_cast<uint32_t>(
            ConsumersOnVersion(ctx_->consumers, {scope, request->name()},
                               rotated.previous_version)));
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::RollbackSecret(
    grpc::ServerContextBase* context, const v1::RollbackSecretRequest* request,
    v1::RollbackSecretResponse* response) {
  return Serve(
      ctx_, *context, "RollbackSecret", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(
            std::string scope,
            AuthorizeSecret(
                *context, request->target(), request->name(),
                AccessLevel::kWrite, &log,
                request->version() == 0
                    ? absl::InvalidArgumentError("version is required (> 0)")
                    : absl::OkStatus()));
        ASSIGN_OR_RETURN(SecretMetadata metadata,
                         ctx_->store->RollbackSecret(scope, request->name(),
                                                     request->version()));
        log.versions.push_back(metadata.version);
        ToProto(metadata, response->mutable_metadata());
        // A rollback writes one new version on top of the current one.
        response->set_consumers_on_previous(static_cast<uint32_t>(
            ConsumersOnVersion(ctx_->consumers, {scope, request->name()},
                               metadata.version - 1)));
        return absl::OkStatus();
      });
}

// ---------------------------------------------------------------------------
// Env maps

grpc::Status SecretsService::ResolveEnv(grpc::ServerContextBase* context,
                                        const v1::ResolveEnvRequest* request,
                                        v1::ResolveEnvResponse* response) {
  return Serve(ctx_, *context, "ResolveEnv", [&](CallLog& log) -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    log.detail = absl::StrCat("entries=", env.size());
    // Audited as the caller states it; not a place for arbitrary bytes.
    const std::string& service = request->context().service();
    if (ValidateText(service, "service", 1, kMaxNameBytes).ok()) {
      log.service = service;
    }
    ResolveBudget budget;
    budget.max_output_bytes = ctx_->limits.max_response_bytes;
    budget.keep_going = KeepGoing(*context);
    // An entry the caller may not execute fails like a bad reference, so
    // one answer lists every problem; its secret is never read.
    AccessCheck may_execute = [&](const SecretKey& target) {
      return ctx_->authorizer->Check(principal, {target.scope, target.name},
                                     AccessLevel::kExecute);
    };
    const std::string& consumer = request->consumer();
    if (!consumer.empty()) RETURN_IF_ERROR(ValidateConsumer(consumer));
    ASSIGN_OR_RETURN(const std::string seal_key,
                     SealKey(request->seal_to(), principal, &log));
    SecretsProvider* source =
        ctx_->resolve_source != nullptr ? ctx_->resolve_source : ctx_->store;
    const Resolver resolver(source, ctx_->environments);
    const ResolveContext resolve_context =
        ResolveContextFromRequest(request->context());
    ASSIGN_OR_RETURN(
        ResolvedEnv resolved,
        WithLimitFlag(
            request->pin().empty()
                ? resolver.Resolve(env, resolve_context, may_execute, budget)
                : resolver.ResolvePinned(env, resolve_context,
                                         PinsFromProto(request->pin()),
                                         may_execute, budget)));
    // Sealed values travel as bytes; only the plain `env` map is text.
    if (seal_key.empty()) {
      RETURN_IF_ERROR(CheckValuesAreText(resolved, env.size()));
    }
    for (const ReceiptEntry& r : resolved.receipt) {
      log.targets.push_back({r.target.scope, r.target.name});
      log.versions.push_back(r.version);
    }
    if (!request->pin().empty()) absl::StrAppend(&log.detail, " pinned=true");
    // A full graph refuses new consumers, never the resolve.
    if (!RecordResolve(ctx_->consumers, consumer, resolved.receipt).ok()) {
      absl::StrAppend(&log.detail, " consumer_not_recorded=graph_full");
    }
    if (!seal_key.empty()) {
      return SealedResolvedToProto(resolved, seal_key, response);
    }
    ResolvedToProto(resolved, response);
    return absl::OkStatus();
  });
}

grpc::Status SecretsService::CheckEnv(grpc::ServerContextBase* context,
                                      const v1::CheckEnvRequest* request,
                                      v1::CheckEnvResponse* response) {
  return Serve(ctx_, *context, "CheckEnv", [&](CallLog& log) -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    log.detail = absl::StrCat("entries=", env.size());
    auto may = [&](AccessLevel level) -> AccessCheck {
      return [&, level](const SecretKey& target) {
        return ctx_->authorizer->Check(principal, {target.scope, target.name},
                                       level);
      };
    };
    ASSIGN_OR_RETURN(EnvCheck check,
                     CheckEnvMap(ctx_->store, ctx_->environments, env,
                                 ResolveContextFromRequest(request->context()),
                                 may(AccessLevel::kExecute),
                                 may(AccessLevel::kRead), KeepGoing(*context)));
    CheckToProto(check, response);
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// Import and export

grpc::Status SecretsService::ImportSecrets(
    grpc::ServerContextBase* context, const v1::ImportSecretsRequest* request,
    v1::ImportSecretsResponse* response) {
  const SecretBytes content = TakeSecret(request->content());
  return Serve(
      ctx_, *context, "ImportSecrets", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
        ASSIGN_OR_RETURN(std::string scope,
                         ResolveTarget(request->target(), &log));
        if (content.size() > ctx_->limits.max_import_bytes) {
          return absl::InvalidArgumentError(absl::StrCat(
              "import content is ", content.size(), " bytes; the limit is ",
              ctx_->limits.max_import_bytes));
        }
        ASSIGN_OR_RETURN(SecretFileFormat format,
                         FormatFromRequest(request->format()));
        // Names come from the file, so the grant must cover the whole scope.
        // The dry run needs it too: its diff tells whether stored values equal
        // the file's.
        RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, ""},
                                                AccessLevel::kWrite));

        // All or nothing: any problem in the file is reported and nothing is
        // written (OK status, applied=false, `errors` listed: a failed
        // status could not carry the list).
        ASSIGN_OR_RETURN(
            ImportOutcome out,
            ImportIntoScope(ctx_->store, scope, content.InsecureView(), format,
                            ctx_->limits.max_value_bytes, request->dry_run()));
        if (out.parsed) {
          log.detail = absl::StrCat("entries=", out.entries,
                                    " errors=", out.errors.size(),
                                    " dry_run=", request->dry_run());
        }
        for (size_t i = 0; i < out.written.size(); ++i) {
          log.targets.push_back({out.written[i].scope, out.written[i].name});
          log.versions.push_back(out.versions[i]);
        }
        ImportToProto(out, response);
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::ExportSecrets(
    grpc::ServerContextBase* context, const v1::ExportSecretsRequest* request,
    v1::ExportSecretsResponse* response) {
  return Serve(
      ctx_, *context, "ExportSecrets", [&](CallLog& log) -> absl::Status {
        ASSIGN_OR_RETURN(Principal principal, Identify(*context, &log));
        ASSIGN_OR_RETURN(std::string scope,
                         ResolveTarget(request->target(), &log));
        ASSIGN_OR_RETURN(SecretFileFormat format,
                         FormatFromRequest(request->format()));
        RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, ""},
                                                AccessLevel::kRead));
        ASSIGN_OR_RETURN(const std::string seal_key,
                         SealKey(request->seal_to(), principal, &log));

        ASSIGN_OR_RETURN(ExportedScope exported,
                         ExportScope(ctx_->store, scope, format));
        for (size_t i = 0; i < exported.read.size(); ++i) {
          log.targets.push_back(
              {exported.read[i].scope, exported.read[i].name});
          log.versions.push_back(exported.versions[i]);
        }
        if (seal_key.empty()) {
          SetBytes(exported.content, response->mutable_content());
        } else {
          ASSIGN_OR_RETURN(
              *response->mutable_sealed_content(),
              SealToPublicKey(seal_key, exported.content.InsecureView()));
          exported.content = SecretBytes();  // wiped now
        }
        response->set_count(static_cast<uint32_t>(exported.read.size()));
        log.detail = absl::StrCat("count=", exported.read.size());
        return absl::OkStatus();
      });
}

}  // namespace zlayer::secrets
