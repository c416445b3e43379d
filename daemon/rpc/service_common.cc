#include "daemon/rpc/service_common.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/audit/auth_failure_audit.h"
#include "core/base/status_macros.h"
#include "daemon/rpc/call_auditor.h"
#include "daemon/rpc/grpc_status.h"
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

SecretBytes TakeSecret(const std::string& field) {
  SecretBytes out = SecretBytes::FromString(field);
  WipeString(const_cast<std::string*>(&field));
  return out;
}

}  // namespace zlayer::secrets
