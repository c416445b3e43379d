#include "daemon/rpc/call_auditor.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "daemon/rpc/parse_error_interceptor.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "proto/secrets.pb.h"
#include "spdlog/spdlog.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace zlayer::secrets {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr absl::string_view kRequestIdHeader = "x-request-id";
constexpr size_t kMaxRequestIdBytes = 64;
// An unknown method's name comes from the client; it is cut to this length.
constexpr size_t kMaxRpcNameBytes = 128;

std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

// Every method marked `reveals_values`, by name and by gRPC path.
const absl::flat_hash_set<std::string>& RevealingMethods() {
  static const auto* methods = [] {
    auto* set = new absl::flat_hash_set<std::string>();
    const google::protobuf::FileDescriptor* file =
        v1::GetSecretRequest::descriptor()->file();
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        if (!method->options().GetExtension(v1::reveals_values)) continue;
        set->insert(method->name());
        set->insert(
            absl::StrCat("/", service->full_name(), "/", method->name()));
      }
    }
    return set;
  }();
  return *methods;
}

// The method name of a gRPC path ("/pkg.Service/Method" -> "Method").
std::string RpcNameOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash != absl::string_view::npos) path.remove_prefix(slash + 1);
  return std::string(path.substr(0, kMaxRpcNameBytes));
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// See call_tracker.cc: tells TSan about the order gRPC gives the hooks and
// the interceptor's deletion; nothing outside TSan builds.
void HookDone(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}
void BeforeDelete(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}

}  // namespace

bool RevealsValues(absl::string_view rpc) {
  return RevealingMethods().contains(rpc);
}

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
  return absl::StrCat(
      "r-", absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(random), sizeof(random))));
}

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

absl::Status WriteAuditRecord(const ServiceContext& ctx,
                              const AuditRecord& record, bool reveals_values,
                              const absl::Status& outcome) {
  if (ctx.audit == nullptr) return outcome;
  absl::Status written = ctx.audit->Record(record);
  if (ctx.audit_written) ctx.audit_written(written.ok());
  if (written.ok()) return outcome;
  spdlog::error("event=audit_write_failed rpc={} request_id={} error=\"{}\"",
                record.rpc, record.request_id, Std(written.message()));
  if (outcome.ok() && reveals_values) {
    return absl::UnavailableError(
        "audit log unavailable; values are not served until the audit "
        "record can be written");
  }
  return outcome;
}

// ---- per call ----

class CallAuditor::CallState {
 public:
  void Deposit(AuditRecord record) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    deposited_ = std::move(record);
  }
  absl::optional<AuditRecord> Take() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    absl::optional<AuditRecord> out = std::move(deposited_);
    deposited_.reset();
    return out;
  }
  void MarkAuditedElsewhere() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    audited_elsewhere_ = true;
  }
  bool audited_elsewhere() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return audited_elsewhere_;
  }

 private:
  absl::Mutex mu_;
  absl::optional<AuditRecord> deposited_ ABSL_GUARDED_BY(mu_);
  bool audited_elsewhere_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

// Lives exactly as long as its call.
class AuditInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuditInterceptor(CallAuditor* auditor,
                   grpc::experimental::ServerRpcInfo* info)
      : auditor_(auditor),
        call_(info->server_context()),
        method_(info->method() != nullptr ? info->method() : "") {
    auditor_->Register(call_, &state_);
  }

  ~AuditInterceptor() override {
    BeforeDelete(this);
    auditor_->Unregister(call_);
    // A handler's record that never reached PRE_SEND_STATUS: the call ended
    // without a response (the server cancelled it, e.g. at the drain).
    absl::optional<AuditRecord> left = state_.Take();
    if (left.has_value()) {
      left->code = absl::StatusCode::kCancelled;
      left->message = "the call ended before its response was sent";
      auditor_
          ->Write(*left, /*reveals_values=*/false,
                  absl::CancelledError(left->message))
          .IgnoreError();
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Complete(methods);
    }
    HookDone(this);
    // May end the call and delete this interceptor: nothing after it.
    methods->Proceed();
  }

 private:
  void Complete(grpc::experimental::InterceptorBatchMethods* methods) {
    absl::Status final_status = FromGrpc(methods->GetSendStatus());
    // What ParseErrorInterceptor sends instead of gRPC's bare INTERNAL.
    if (final_status.code() == absl::StatusCode::kInternal &&
        final_status.message().empty()) {
      final_status = absl::InvalidArgumentError(kUnparsableRequestMessage);
    }
    grpc::ByteBuffer* response = methods->QueryInterceptionHookPoint(
                                     InterceptionHookPoints::PRE_SEND_MESSAGE)
                                     ? methods->GetSerializedSendMessage()
                                     : nullptr;
    bool replace = false;
    const size_t limit = auditor_->options().max_send_message_bytes;
    if (final_status.ok() && response != nullptr &&
        response->Length() > limit) {
      // gRPC would refuse it with its own RESOURCE_EXHAUSTED after this
      // hook; say so ourselves, so the record and the client agree.
      final_status = absl::ResourceExhaustedError(
          absl::StrCat("response of ", response->Length(),
                       " bytes exceeds the ", limit, "-byte message limit"));
      replace = true;
    }
    absl::optional<AuditRecord> record = state_.Take();
    // A served call whose client is gone: the response will not arrive.
    if (record.has_value() && final_status.ok() && call_->IsCancelled()) {
      final_status = absl::CancelledError(
          "the client cancelled the call (or its deadline passed) before the "
          "response was sent");
    }
    if (!record.has_value()) {
      // No handler served the call: record refusals only (health checks
      // and reflection are not audited), unless another record covers it.
      if (final_status.ok() || state_.audited_elsewhere()) return;
      record.emplace();
      record->request_id = RequestIdOf(*call_);
      record->transport = TransportOf(*call_);
      record->rpc = RpcNameOf(method_);
      record->subject = "-";
    }
    if (record->subject == "-") record->subject = SourceOf();
    record->code = final_status.code();
    record->message = std::string(final_status.message());
    absl::Status outcome =
        auditor_->Write(*record, RevealsValues(method_), final_status);
    if (outcome.code() != final_status.code()) replace = true;
    if (!replace) return;
    methods->ModifySendStatus(ToGrpc(outcome));
    if (response != nullptr) {
      // gRPC sends the message op of this batch regardless; an empty
      // message carries nothing, and the client drops it with the error.
      grpc::Slice empty{std::string()};
      *response = grpc::ByteBuffer(&empty, 1);
    }
  }

  // Who sent a call no handler identified: what the configured
  // `source_of_peer` says (the Unix peer's uid), else the peer's address
  // without its port.
  std::string SourceOf() const {
    const std::string peer = call_->peer();
    const auto& source_of_peer = auditor_->options().source_of_peer;
    if (source_of_peer) {
      std::string source = source_of_peer(peer);
      if (!source.empty()) return source;
    }
    const size_t colon = peer.rfind(':');
    if (!absl::StartsWith(peer, "fd:") && colon != std::string::npos &&
        colon > 5) {
      return absl::StrCat("peer:", peer.substr(0, colon));
    }
    return absl::StrCat("peer:", peer);
  }

  CallAuditor* const auditor_;
  grpc::ServerContextBase* const call_;
  const std::string method_;
  CallAuditor::CallState state_;
};

class AuditFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuditFactory(CallAuditor* auditor) : auditor_(auditor) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AuditInterceptor(auditor_, info);
  }

 private:
  CallAuditor* auditor_;
};

}  // namespace

// ---- CallAuditor ----

CallAuditor::CallAuditor(const ServiceContext* ctx, CallAuditorOptions options)
    : ctx_(ctx), options_(options) {}

std::vector<
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CallAuditor::Factories() {
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      factories;
  factories.push_back(std::make_unique<AuditFactory>(this));
  return factories;
}

void CallAuditor::Register(const grpc::ServerContextBase* call,
                           CallState* state) {
  absl::MutexLock lock(&mu_);
  calls_[call] = state;
}

void CallAuditor::Unregister(const grpc::ServerContextBase* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

bool CallAuditor::Deposit(const grpc::ServerContextBase* call,
                          AuditRecord record) {
  CallState* state = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(call);
    if (it == calls_.end()) return false;
    state = it->second;
  }
  // The call's interceptor outlives its handler, so `state` stays valid.
  state->Deposit(std::move(record));
  return true;
}

void CallAuditor::MarkAuditedElsewhere(const grpc::ServerContextBase* call) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(call);
  // The call's interceptor outlives its handler, so the state stays valid.
  if (it != calls_.end()) it->second->MarkAuditedElsewhere();
}

void CallAuditor::TakeEndedWindows(absl::Time now,
                                   std::vector<AuditRecord>* out) {
  if (now < next_window_end_) return;
  next_window_end_ = absl::InfiniteFuture();
  for (auto it = refusals_.begin(); it != refusals_.end();) {
    RefusalWindow& w = it->second;
    const absl::Time end = w.start + options_.refusal_interval;
    if (end > now) {
      next_window_end_ = std::min(next_window_end_, end);
      ++it;
      continue;
    }
    if (w.suppressed > 0) {
      AuditRecord summary = w.sample;
      summary.request_id = "-";
      summary.count = w.suppressed;
      out->push_back(std::move(summary));
    }
    refusals_.erase(it++);
  }
}

absl::Status CallAuditor::Write(const AuditRecord& record, bool reveals_values,
                                const absl::Status& outcome) {
  if (ctx_->audit == nullptr) return outcome;
  std::vector<AuditRecord> summaries;
  bool write = true;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now =
        ctx_->clock != nullptr ? ctx_->clock->Now() : absl::Now();
    TakeEndedWindows(now, &summaries);
    if (record.code != absl::StatusCode::kOk) {
      const std::string code = absl::StatusCodeToString(record.code);
      std::string key =
          absl::StrCat(record.subject, "\n", code, "\n", record.rpc);
      std::string subject = record.subject;
      if (!refusals_.contains(key) &&
          refusals_.size() >= options_.max_refusal_keys) {
        subject = "*";
        key = absl::StrCat("*\n", code, "\n", record.rpc);
      }
      auto [it, inserted] = refusals_.try_emplace(key);
      RefusalWindow& w = it->second;
      if (inserted) {
        w.start = now;
        w.sample.subject = subject;
        w.sample.transport = record.transport;
        w.sample.rpc = record.rpc;
        w.sample.code = record.code;
        next_window_end_ =
            std::min(next_window_end_, now + options_.refusal_interval);
      }
      if (w.written < options_.refusal_burst) {
        ++w.written;
      } else {
        ++w.suppressed;
        write = false;
      }
    }
  }
  for (const AuditRecord& summary : summaries) {
    WriteAuditRecord(*ctx_, summary, /*reveals_values=*/false, absl::OkStatus())
        .IgnoreError();
  }
  if (!write) return outcome;
  return WriteAuditRecord(*ctx_, record, reveals_values, outcome);
}

}  // namespace zlayer::secrets
