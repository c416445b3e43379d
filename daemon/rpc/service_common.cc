#include "daemon/rpc/service_common.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/audit/auth_failure_audit.h"
#include "core/base/status_macros.h"
#include "daemon/rpc/call_auditor.h"
#include "daemon/rpc/grpc_status.h"
#include "daemon/rpc/rpc_spec.h"
#include "daemon/transport/caller_identity.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// fmt knows std::string_view, not Abseil's own string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace

CallLog::CallLog(const ServiceContext* ctx, const grpc::ServerContextBase& call,
                 absl::string_view rpc)
    : ctx_(ctx),
      call_(&call),
      rpc_(rpc),
      request_id_(RequestIdOf(call)),
      transport_(TransportOf(call)) {}

grpc::Status CallLog::Finish(const absl::Status& status) const {
  absl::Status outcome = status;
  // A failed API-key check is audited by AuthFailureAudit (one record per
  // source and key id per interval, core/audit/auth_failure_audit.h), not here.
  const bool coalesced = IsCoalescedAudit(status);
  if (coalesced && ctx_ != nullptr && ctx_->auditor != nullptr &&
      call_ != nullptr) {
    ctx_->auditor->MarkAuditedElsewhere(call_);
  }
  if (ctx_ != nullptr && ctx_->audit != nullptr && !coalesced) {
    AuditRecord record;
    record.request_id = request_id_;
    record.subject = subject;
    record.actor = actor;
    record.groups = groups;
    record.transport = transport_;
    record.rpc = rpc_;
    record.scope = scope;
    record.name = name;
    record.service = service;
    record.sealed = sealed;
    record.client_key = client_key;
    record.versions = versions;
    record.targets = targets;
    record.node_affinity_hidden = node_affinity_hidden;
    record.code = status.code();
    record.message = std::string(status.message());
    if (call_ != nullptr) {
      record.peer = ctx_->describe_peer ? ctx_->describe_peer(call_->peer())
                                        : call_->peer();
    }
    record.duration = absl::Now() - start_;
    const bool deposited = ctx_->auditor != nullptr && call_ != nullptr &&
                           ctx_->auditor->Deposit(call_, record);
    if (!deposited) {
      outcome = WriteAuditRecord(*ctx_, record, RevealsValues(rpc_), status);
    }
  }
  const std::string code = absl::StatusCodeToString(outcome.code());
  const char* sep = detail.empty() ? "" : " ";
  switch (outcome.code()) {
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      spdlog::error(
          "rpc={} subject={} scope={} name={}{}{} -> {}: {} request_id={}",
          rpc_, subject, scope, name, sep, detail, code, Std(outcome.message()),
          request_id_);
      break;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      // Denials are what an operator looks for: info, not debug.
      spdlog::info("rpc={} subject={} scope={} name={}{}{} -> {} request_id={}",
                   rpc_, subject, scope, name, sep, detail, code, request_id_);
      break;
    default:
      spdlog::debug(
          "rpc={} subject={} scope={} name={}{}{} -> {} request_id={}", rpc_,
          subject, scope, name, sep, detail, code, request_id_);
      break;
  }
  return ToGrpcStatus(outcome);
}

absl::StatusOr<Principal> IdentifyCaller(const ServiceContext& ctx,
                                         const grpc::ServerContextBase& call,
                                         CallLog* log) {
  ASSIGN_OR_RETURN(Principal caller, ctx.identifier->Identify(call));
  log->subject = caller.Subject();
  ASSIGN_OR_RETURN(absl::optional<ActAs> act_as, ParseActAs(call));
  if (!act_as.has_value()) return caller;
  Principal user = ActingAs(caller, act_as->user, act_as->groups);
  log->actor = user.actor;
  log->subject = user.Subject();
  log->groups = user.groups;
  RETURN_IF_ERROR(
      ctx.authorizer->CheckImpersonate(caller, user.user, user.groups));
  return user;
}

AccessCheck Call::May(AccessLevel level) const {
  const Authorizer* checker = authorizer;
  const Principal* caller = &principal;
  return [checker, caller, level](const SecretKey& item) {
    return checker->Check(*caller, {item.scope, item.name}, level);
  };
}

NodeAffinityView& Call::MakeView(std::unique_ptr<NodeAffinityView>* view,
                                 SecretsProvider* values) {
  if (*view == nullptr) {
    if (!administrator_.has_value()) {
      administrator_ = ctx_->authorizer != nullptr &&
                       ctx_->authorizer->CheckAdmin(principal).ok();
    }
    *view = std::make_unique<NodeAffinityView>(ctx_->store, values, principal,
                                               *administrator_);
  }
  return **view;
}

NodeAffinityView& Call::store() { return MakeView(&store_, nullptr); }

NodeAffinityView& Call::resolve_source() {
  return MakeView(&resolve_source_, ctx_->resolve_source);
}

void Call::ReportHidden() {
  for (const NodeAffinityView* view : {store_.get(), resolve_source_.get()}) {
    if (view == nullptr) continue;
    for (const SecretKey& key : view->hidden()) {
      log.node_affinity_hidden.push_back({key.scope, key.name});
    }
  }
}

absl::Status Admit(const ServiceContext& ctx,
                   const grpc::ServerContextBase& call, absl::string_view rpc,
                   const Locate& locate, Call* out) {
  const RpcSpec* spec = FindRpcSpec(rpc);
  if (spec == nullptr) {
    return absl::InternalError(absl::StrCat(
        "RPC ", rpc, " declares no access (daemon/rpc/rpc_spec.cc)"));
  }
  const bool has_target = spec->target != Target::kNone;
  if (has_target != static_cast<bool>(locate)) {
    return absl::InternalError(absl::StrCat(
        "RPC ", rpc, "'s handler does not locate the target it declares"));
  }
  out->ctx_ = &ctx;
  ASSIGN_OR_RETURN(out->principal, IdentifyCaller(ctx, call, &out->log));
  out->authorizer = ctx.authorizer;
  switch (spec->access) {
    case Access::kCaller:
    case Access::kPerItem:
      return absl::OkStatus();
    case Access::kAdmin:
      return ctx.authorizer->CheckAdmin(out->principal);
    case Access::kRead:
    case Access::kWrite:
      break;
  }
  if (!has_target) {
    return absl::InternalError(
        absl::StrCat("RPC ", rpc, " declares a level but no target"));
  }
  ASSIGN_OR_RETURN(out->target, locate(out->log));
  return ctx.authorizer->Check(
      out->principal, {out->target.scope, out->target.name},
      spec->access == Access::kRead ? AccessLevel::kRead : AccessLevel::kWrite);
}

SecretBytes TakeSecret(const std::string& field) {
  SecretBytes out = SecretBytes::FromString(field);
  WipeString(const_cast<std::string*>(&field));
  return out;
}

}  // namespace zlayer::secrets
