#include "daemon/service_common.h"

#include <sodium.h>

#include <memory>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/auth_failure_audit.h"
#include "daemon/grpc_status.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

constexpr absl::string_view kRequestIdHeader = "x-request-id";
constexpr size_t kMaxRequestIdBytes = 64;

// fmt knows std::string_view, not Abseil's own string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

std::string RequestIdOf(const grpc::ServerContextBase& call) {
  const auto& metadata = call.client_metadata();
  auto it = metadata.find(
      grpc::string_ref(kRequestIdHeader.data(), kRequestIdHeader.size()));
  if (it != metadata.end() && !it->second.empty() &&
      it->second.size() <= kMaxRequestIdBytes) {
    bool printable = true;
    for (char c : it->second) printable &= c > 0x20 && c < 0x7f;
    if (printable) return std::string(it->second.data(), it->second.size());
  }
  unsigned char random[8];
  randombytes_buf(random, sizeof(random));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "r-";
  for (unsigned char b : random) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

// The transport by the form of peer() (see daemon/caller_identity.h); the
// principal's own transport is the same whenever one was identified.
Transport TransportOf(const grpc::ServerContextBase& call) {
  const std::string peer = call.peer();
  if (absl::StartsWith(peer, "fd:")) return Transport::kUnix;
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    std::shared_ptr<const grpc::AuthContext> auth = call.auth_context();
    if (auth != nullptr) {
      for (const grpc::string_ref& v :
           auth->FindPropertyValues("transport_security_type")) {
        if (v == "ssl" || v == "tls") return Transport::kTls;
      }
    }
    return Transport::kInsecureTcp;
  }
  return Transport::kInProcess;
}

}  // namespace

bool RevealsValues(absl::string_view rpc) {
  return rpc == "GetSecret" || rpc == "GetSecrets" || rpc == "ResolveEnv" ||
         rpc == "ExportSecrets" || rpc == "GetRegistryCredential" ||
         rpc == "GetGitCredential";
}

CallLog::CallLog(const ServiceContext* ctx, const grpc::ServerContextBase& call,
                 absl::string_view rpc)
    : ctx_(ctx),
      rpc_(rpc),
      request_id_(RequestIdOf(call)),
      transport_(TransportOf(call)) {}

grpc::Status CallLog::Finish(const absl::Status& status) const {
  absl::Status outcome = status;
  // A failed API-key check is audited by AuthFailureAudit (one record per
  // source and key id per interval, core/auth_failure_audit.h), not here.
  if (ctx_ != nullptr && ctx_->audit != nullptr && !IsCoalescedAudit(status)) {
    AuditRecord record;
    record.request_id = request_id_;
    record.subject = subject;
    record.transport = transport_;
    record.rpc = rpc_;
    record.scope = scope;
    record.name = name;
    record.versions = versions;
    record.targets = targets;
    record.code = status.code();
    record.message = std::string(status.message());
    absl::Status written = ctx_->audit->Record(record);
    if (ctx_->audit_written) ctx_->audit_written(written.ok());
    if (!written.ok()) {
      spdlog::error(
          "event=audit_write_failed rpc={} request_id={} error=\"{}\"", rpc_,
          request_id_, Std(written.message()));
      if (status.ok() && RevealsValues(rpc_)) {
        outcome = absl::UnavailableError(
            "audit log unavailable; values are not served until the audit "
            "record can be written");
      }
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
    default:
      spdlog::debug(
          "rpc={} subject={} scope={} name={}{}{} -> {} request_id={}", rpc_,
          subject, scope, name, sep, detail, code, request_id_);
      break;
  }
  return ToGrpcStatus(outcome);
}

SecretBytes TakeSecret(const std::string& field) {
  SecretBytes out = SecretBytes::FromString(field);
  WipeString(const_cast<std::string*>(&field));
  return out;
}

}  // namespace zlayer::secrets
