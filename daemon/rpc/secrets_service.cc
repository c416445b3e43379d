#include "daemon/rpc/secrets_service.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/ops/batch_read.h"
#include "core/ops/check_env.h"
#include "core/ops/consumer_record.h"
#include "core/ops/export.h"
#include "core/ops/import.h"
#include "core/ops/secret_write.h"
#include "core/resolve/json_field.h"
#include "core/resolve/resolver.h"
#include "daemon/rpc/convert.h"
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

// The first failed check of a request, in order.
absl::Status FirstError(absl::Status a, absl::Status b) {
  return a.ok() ? b : a;
}

// Every secret a batch call touched, with its version, for the audit record.
void LogTargets(const std::vector<SecretKey>& keys,
                const std::vector<uint32_t>& versions, CallLog* log) {
  for (size_t i = 0; i < keys.size(); ++i) {
    log->targets.push_back({keys[i].scope, keys[i].name});
    log->versions.push_back(versions[i]);
  }
}

// ResolveContext.service as audited: as the caller states it, but not a
// place for arbitrary bytes ("" unless it is a valid name).
std::string AuditedService(const std::string& service) {
  if (!ValidateText(service, "service", 1, kMaxNameBytes).ok()) return "";
  return service;
}

// ResolveEnv's receipt for the audit record.
void LogReceipt(const std::vector<ReceiptEntry>& receipt, bool pinned,
                CallLog* log) {
  for (const ReceiptEntry& r : receipt) {
    log->targets.push_back({r.target.scope, r.target.name});
    log->versions.push_back(r.version);
  }
  if (pinned) absl::StrAppend(&log->detail, " pinned=true");
}

// ResolveEnv's resolution, fresh or pinned to a receipt, bounded by the
// answer limit and the call's life; an entry the caller may not execute
// fails like a bad reference (its secret is never read), so one answer
// lists every problem. Reads from the resolve source (Vault-routed scopes)
// when the daemon has one, through `source` (the call's node-affinity view
// of it).
absl::StatusOr<ResolvedEnv> ResolveRequest(
    const ServiceContext& ctx, SecretsProvider* source,
    const v1::ResolveEnvRequest& request,
    const std::map<std::string, std::string>& env,
    const AccessCheck& may_execute, std::function<absl::Status()> keep_going) {
  ResolveBudget budget;
  budget.max_output_bytes = ctx.limits.max_response_bytes;
  budget.keep_going = std::move(keep_going);
  const Resolver resolver(source, ctx.environments);
  const ResolveContext context = ResolveContextFromProto(request.context());
  if (request.pin().empty()) {
    return WithLimitFlag(resolver.Resolve(env, context, may_execute, budget));
  }
  return WithLimitFlag(resolver.ResolvePinned(
      env, context, PinsFromProto(request.pin()), may_execute, budget));
}

}  // namespace

SecretsService::SecretsService(const ServiceContext* ctx) : ctx_(ctx) {}

absl::StatusOr<std::string> SecretsService::ScopeOf(const v1::Target& target,
                                                    CallLog* log) const {
  ASSIGN_OR_RETURN(std::string scope,
                   ScopeFromTarget(target, ctx_->environments));
  log->scope = scope;
  return scope;
}

Locate SecretsService::Secret(const v1::Target& target, const std::string& name,
                              absl::Status input) const {
  return
      [this, &target, &name, input](CallLog& log) -> absl::StatusOr<SecretKey> {
        ASSIGN_OR_RETURN(std::string scope, ScopeOf(target, &log));
        RETURN_IF_ERROR(ValidateName(name));
        log.name = name;
        RETURN_IF_ERROR(input);
        return SecretKey{std::move(scope), name};
      };
}

Locate SecretsService::Scope(const v1::Target& target,
                             absl::Status input) const {
  return [this, &target, input](CallLog& log) -> absl::StatusOr<SecretKey> {
    ASSIGN_OR_RETURN(std::string scope, ScopeOf(target, &log));
    RETURN_IF_ERROR(input);
    return SecretKey{std::move(scope), ""};
  };
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
  const std::string& field = request->field();
  return Serve(ctx_, *context, "GetSecret",
               Secret(request->target(), request->name(), CheckField(field)),
               [&](Call& call) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     const std::string seal_key,
                     SealKey(request->seal_to(), call.principal, &call.log));
                 // Value and metadata from one snapshot.
                 ASSIGN_OR_RETURN(ValueWithMetadata got,
                                  call.store().GetWithMetadata(
                                      call.target.scope, call.target.name,
                                      request->version()));
                 if (!field.empty()) {
                   ASSIGN_OR_RETURN(got.read.value,
                                    ExtractJsonField(got.read.value, field));
                 }
                 call.log.versions.push_back(got.read.version);
                 RETURN_IF_ERROR(SetValueOrSealed(
                     &got.read.value, seal_key, response->mutable_value(),
                     response->mutable_sealed_value()));
                 ToProto(got.metadata, response->mutable_metadata());
                 response->set_version(got.read.version);
                 return absl::OkStatus();
               });
}

grpc::Status SecretsService::GetSecrets(grpc::ServerContextBase* context,
                                        const v1::GetSecretsRequest* request,
                                        v1::GetSecretsResponse* response) {
  return Serve(ctx_, *context, "GetSecrets", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(std::string scope, ScopeOf(request->target(), &call.log));
    ASSIGN_OR_RETURN(std::vector<SecretKey> keys,
                     KeysFromRequest(request->names(), scope, ctx_->limits));
    call.log.detail = absl::StrCat("names=", keys.size());
    const AccessCheck may_read = call.May(AccessLevel::kRead);
    for (const SecretKey& key : keys) RETURN_IF_ERROR(may_read(key));
    ASSIGN_OR_RETURN(const std::string seal_key,
                     SealKey(request->seal_to(), call.principal, &call.log));
    ASSIGN_OR_RETURN(BatchRead read, WithLimitFlag(ReadSecrets(
                                         &call.store(), keys,
                                         ctx_->limits.max_response_bytes)));
    std::vector<uint32_t> versions;
    for (const VersionedValue& v : read.values) versions.push_back(v.version);
    LogTargets(read.found, versions, &call.log);
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
  const std::string& prefix = request->name_prefix();
  const absl::Status input =
      prefix.empty() ? absl::OkStatus()
                     : ValidateText(prefix, "name prefix", 1, kMaxNameBytes);
  return Serve(
      ctx_, *context, "ListSecrets", Scope(request->target(), input),
      [&](Call& call) -> absl::Status {
        ListOptions options;
        options.name_prefix = prefix;
        options.page_token = request->page_token();
        // "at most 1000": larger requests get the largest page.
        options.page_size = std::min(request->page_size(), kMaxPageSize);
        options.include_deleted = request->include_deleted();
        ASSIGN_OR_RETURN(ListPage page,
                         call.store().List(call.target.scope, options));
        for (const SecretMetadata& m : page.secrets)
          ToProto(m, response->add_secrets());
        response->set_next_page_token(page.next_page_token);
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::SecretExists(
    grpc::ServerContextBase* context, const v1::SecretExistsRequest* request,
    v1::SecretExistsResponse* response) {
  return Serve(ctx_, *context, "SecretExists",
               Secret(request->target(), request->name()),
               [&](Call& call) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     bool exists,
                     call.store().Exists(call.target.scope, call.target.name));
                 response->set_exists(exists);
                 return absl::OkStatus();
               });
}

grpc::Status SecretsService::ListVersions(
    grpc::ServerContextBase* context, const v1::ListVersionsRequest* request,
    v1::ListVersionsResponse* response) {
  return Serve(ctx_, *context, "ListVersions",
               Secret(request->target(), request->name()),
               [&](Call& call) -> absl::Status {
                 ASSIGN_OR_RETURN(std::vector<VersionInfo> versions,
                                  call.store().ListVersions(call.target.scope,
                                                            call.target.name));
                 for (const VersionInfo& v : versions)
                   ToProto(v, response->add_versions());
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
  const auto affinity = NodeAffinityFromProto(request->has_node_affinity(),
                                              request->node_affinity());
  const absl::Status input =
      FirstError(FirstError(CheckValueSize(value.size(), ctx_->limits),
                            CheckMaxVersions(request->max_versions())),
                 affinity.status());
  return Serve(ctx_, *context, "SetSecret",
               Secret(request->target(), request->name(), input),
               [&](Call& call) -> absl::Status {
                 WriteOptions options;
                 options.max_versions = request->max_versions();
                 options.node_affinity = *affinity;
                 if (request->has_expected_version()) {
                   options.expected_version = request->expected_version();
                 }
                 ASSIGN_OR_RETURN(
                     WriteOutcome written,
                     WriteSecret(&call.store(), call.target.scope,
                                 call.target.name, value, options));
                 call.log.versions.push_back(written.metadata.version);
                 ToProto(written.metadata, response->mutable_metadata());
                 response->set_created(written.created);
                 return absl::OkStatus();
               });
}

grpc::Status SecretsService::DeleteSecret(
    grpc::ServerContextBase* context, const v1::DeleteSecretRequest* request,
    v1::DeleteSecretResponse* response) {
  return Serve(ctx_, *context, "DeleteSecret",
               Secret(request->target(), request->name()),
               [&](Call& call) -> absl::Status {
                 return call.store().DeleteSecret(call.target.scope,
                                                  call.target.name);
               });
}

grpc::Status SecretsService::UndeleteSecret(
    grpc::ServerContextBase* context, const v1::UndeleteSecretRequest* request,
    v1::UndeleteSecretResponse* response) {
  return Serve(
      ctx_, *context, "UndeleteSecret",
      Secret(request->target(), request->name()),
      [&](Call& call) -> absl::Status {
        const SecretKey& key = call.target;
        RETURN_IF_ERROR(call.store().UndeleteSecret(key.scope, key.name));
        ASSIGN_OR_RETURN(SecretMetadata metadata,
                         call.store().GetMetadata(key.scope, key.name));
        call.log.versions.push_back(metadata.version);
        ToProto(metadata, response->mutable_metadata());
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::DestroySecret(
    grpc::ServerContextBase* context, const v1::DestroySecretRequest* request,
    v1::DestroySecretResponse* response) {
  return Serve(ctx_, *context, "DestroySecret",
               Secret(request->target(), request->name()),
               [&](Call& call) -> absl::Status {
                 return call.store().DestroySecret(call.target.scope,
                                                   call.target.name);
               });
}

grpc::Status SecretsService::RotateSecret(
    grpc::ServerContextBase* context, const v1::RotateSecretRequest* request,
    v1::RotateSecretResponse* response) {
  const SecretBytes value = TakeSecret(request->value());
  const auto affinity = NodeAffinityFromProto(request->has_node_affinity(),
                                              request->node_affinity());
  return Serve(ctx_, *context, "RotateSecret",
               Secret(request->target(), request->name(),
                      FirstError(CheckValueSize(value.size(), ctx_->limits),
                                 affinity.status())),
               [&](Call& call) -> absl::Status {
                 const SecretKey& key = call.target;
                 WriteOptions options;
                 options.node_affinity = *affinity;
                 ASSIGN_OR_RETURN(RotationResult rotated,
                                  RotateSecretWith(&call.store(), key.scope,
                                                   key.name, value, options));
                 call.log.versions.push_back(rotated.new_version);
                 response->set_previous_version(rotated.previous_version);
                 response->set_new_version(rotated.new_version);
                 response->set_consumers_on_previous(
                     static_cast<uint32_t>(ConsumersOnVersion(
                         ctx_->consumers, key, rotated.previous_version)));
                 return absl::OkStatus();
               });
}

grpc::Status SecretsService::RollbackSecret(
    grpc::ServerContextBase* context, const v1::RollbackSecretRequest* request,
    v1::RollbackSecretResponse* response) {
  const absl::Status input =
      request->version() == 0
          ? absl::InvalidArgumentError("version is required (> 0)")
          : absl::OkStatus();
  return Serve(
      ctx_, *context, "RollbackSecret",
      Secret(request->target(), request->name(), input),
      [&](Call& call) -> absl::Status {
        const SecretKey& key = call.target;
        ASSIGN_OR_RETURN(SecretMetadata metadata,
                         call.store().RollbackSecret(key.scope, key.name,
                                                     request->version()));
        call.log.versions.push_back(metadata.version);
        ToProto(metadata, response->mutable_metadata());
        // A rollback writes one new version on top of the current one.
        response->set_consumers_on_previous(static_cast<uint32_t>(
            ConsumersOnVersion(ctx_->consumers, key, metadata.version - 1)));
        return absl::OkStatus();
      });
}

// ---------------------------------------------------------------------------
// Env maps

grpc::Status SecretsService::ResolveEnv(grpc::ServerContextBase* context,
                                        const v1::ResolveEnvRequest* request,
                                        v1::ResolveEnvResponse* response) {
  return Serve(ctx_, *context, "ResolveEnv", [&](Call& call) -> absl::Status {
    CallLog& log = call.log;
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    log.detail = absl::StrCat("entries=", env.size());
    log.service = AuditedService(request->context().service());
    const std::string& consumer = request->consumer();
    if (!consumer.empty()) RETURN_IF_ERROR(ValidateConsumer(consumer));
    ASSIGN_OR_RETURN(const std::string seal_key,
                     SealKey(request->seal_to(), call.principal, &log));
    ASSIGN_OR_RETURN(
        ResolvedEnv resolved,
        ResolveRequest(*ctx_, &call.resolve_source(), *request, env,
                       call.May(AccessLevel::kExecute), KeepGoing(*context)));
    // Sealed values travel as bytes; only the plain `env` map is text.
    if (seal_key.empty()) {
      RETURN_IF_ERROR(CheckValuesAreText(resolved, env.size()));
    }
    LogReceipt(resolved.receipt, !request->pin().empty(), &log);
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
  return Serve(ctx_, *context, "CheckEnv", [&](Call& call) -> absl::Status {
    ASSIGN_OR_RETURN(auto env, EnvMapFromRequest(request->env(), ctx_->limits));
    call.log.detail = absl::StrCat("entries=", env.size());
    ASSIGN_OR_RETURN(
        EnvCheck check,
        CheckEnvMap(&call.store(), ctx_->environments, env,
                    ResolveContextFromProto(request->context()),
                    call.May(AccessLevel::kExecute),
                    call.May(AccessLevel::kRead), KeepGoing(*context)));
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
  const absl::StatusOr<SecretFileFormat> format =
      FormatFromRequest(request->format());
  // Names come from the file, so the write grant covers the whole scope
  // (the dry run too: its diff tells whether stored values equal the file's).
  return Serve(
      ctx_, *context, "ImportSecrets",
      Scope(request->target(),
            FirstError(CheckImportSize(content.size(), ctx_->limits),
                       format.status())),
      [&](Call& call) -> absl::Status {
        // All or nothing: any problem in the file is reported and nothing is
        // written (OK status, applied=false, `errors` listed).
        ASSIGN_OR_RETURN(
            ImportOutcome out,
            ImportIntoScope(&call.store(), call.target.scope,
                            content.InsecureView(), *format,
                            ctx_->limits.max_value_bytes, request->dry_run()));
        if (out.parsed) {
          call.log.detail = absl::StrCat("entries=", out.entries,
                                         " errors=", out.errors.size(),
                                         " dry_run=", request->dry_run());
        }
        LogTargets(out.written, out.versions, &call.log);
        ImportToProto(out, response);
        return absl::OkStatus();
      });
}

grpc::Status SecretsService::ExportSecrets(
    grpc::ServerContextBase* context, const v1::ExportSecretsRequest* request,
    v1::ExportSecretsResponse* response) {
  const absl::StatusOr<SecretFileFormat> format =
      FormatFromRequest(request->format());
  return Serve(
      ctx_, *context, "ExportSecrets",
      Scope(request->target(), format.status()),
      [&](Call& call) -> absl::Status {
        ASSIGN_OR_RETURN(
            const std::string seal_key,
            SealKey(request->seal_to(), call.principal, &call.log));
        ASSIGN_OR_RETURN(
            ExportedScope exported,
            ExportScope(&call.store(), call.target.scope, *format));
        LogTargets(exported.read, exported.versions, &call.log);
        RETURN_IF_ERROR(SetValueOrSealed(&exported.content, seal_key,
                                         response->mutable_content(),
                                         response->mutable_sealed_content()));
        response->set_count(static_cast<uint32_t>(exported.read.size()));
        call.log.detail = absl::StrCat("count=", exported.read.size());
        return absl::OkStatus();
      });
}

}  // namespace zlayer::secrets
