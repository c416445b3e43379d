#include "daemon/metrics.h"

#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "daemon/rpc/interceptor_tsan.h"
#include "google/protobuf/descriptor.h"

namespace zlayer::secrets {
namespace {

// go-grpc-prometheus's grpc_code values (Go's codes.Code.String()).
const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  AppendHeader(out, name, type, help);
}

std::string Number(double value) { return MetricNumber(value); }

// Lives exactly as long as its call.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(Metrics* metrics, const char* method)
      : metrics_(metrics),
        method_(method != nullptr ? method : ""),
        start_(std::chrono::steady_clock::now()) {
    metrics_->CallStarted();
  }
  ~MetricsInterceptor() override {
    InterceptorBeforeDelete(this);
    metrics_->CallFinished(
        method_, code_,
        absl::FromChrono(std::chrono::steady_clock::now() - start_));
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    InterceptorHookDone(this);
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    // May end the call and delete this interceptor: nothing after it.
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  // A call that ends without sending a status was cancelled.
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info->method());
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

std::string LabelValue(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MetricNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest of %.15g/%.17g that reads back as the same double.
  std::string shorter = absl::StrFormat("%.15g", value);
  double back = 0;
  if (absl::SimpleAtod(shorter, &back) && back == value) return shorter;
  return absl::StrFormat("%.17g", value);
}

void AppendHeader(std::string* out, absl::string_view name,
                  absl::string_view type, absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

void AppendHistogram(std::string* out, absl::string_view name,
                     absl::string_view labels,
                     const Histogram::Snapshot& snapshot) {
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < snapshot.bounds.size(); ++i) {
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"",
                    MetricNumber(snapshot.bounds[i]), "\"} ",
                    snapshot.buckets[i], "\n");
  }
  const std::string braces =
      labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ",
                  snapshot.count, "\n", name, "_sum", braces, " ",
                  MetricNumber(snapshot.sum), "\n", name, "_count", braces, " ",
                  snapshot.count, "\n");
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value,
                                     std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  snapshot.buckets.reserve(bounds_.size());
  for (size_t i = 0; i < bounds_.size(); ++i) {
    snapshot.count += counts_[i].load(std::memory_order_relaxed);
    snapshot.buckets.push_back(snapshot.count);
  }
  snapshot.count += counts_[bounds_.size()].load(std::memory_order_relaxed);
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::pair<std::string, std::string> MethodLabels(absl::string_view path) {
  const std::pair<std::string, std::string> unknown = {"unknown", "unknown"};
  if (!absl::ConsumePrefix(&path, "/")) return unknown;
  size_t slash = path.find('/');
  if (slash == absl::string_view::npos) return unknown;
  const std::string service(path.substr(0, slash));
  const std::string method(path.substr(slash + 1));
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service);
  if (descriptor == nullptr ||
      descriptor->FindMethodByName(method) == nullptr) {
    return unknown;
  }
  return {service, method};
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

void Metrics::CallStarted() { in_flight_.fetch_add(1); }

void Metrics::CallFinished(absl::string_view method, grpc::StatusCode code,
                           absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  auto labels = MethodLabels(method);
  {
    absl::MutexLock lock(&mu_);
    MethodStats& stats = methods_[std::move(labels)];
    ++stats.handled[code];
    ++stats.count;
    stats.sum_seconds += seconds;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      if (seconds <= kLatencyBuckets[i]) ++stats.buckets[i];
    }
  }
  // Last: a scrape that sees no call in flight sees every call counted.
  in_flight_.fetch_sub(1);
}

void Metrics::AuditWriteFailed() { audit_failures_.fetch_add(1); }

void Metrics::AddCollector(std::function<void(std::string* out)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

void Metrics::AddFunction(std::string name, MetricType type, std::string help,
                          std::function<absl::optional<double>()> value) {
  absl::MutexLock lock(&mu_);
  functions_.push_back(
      {std::move(name), type, std::move(help), std::move(value)});
}

std::string Metrics::Render() const {
  std::string out;
  std::vector<const Function*> functions;
  std::vector<const std::function<void(std::string*)>*> collectors;
  // Before the counts: a call counted as finished here is in the counts
  // below (CallFinished counts, then leaves the in-flight gauge).
  const int64_t in_flight = in_flight_.load();
  {
    absl::MutexLock lock(&mu_);
    Header(&out, "grpc_server_handled_total", "counter",
           "RPCs completed on the server, by method and status code.");
    for (const auto& [labels, stats] : methods_) {
      for (const auto& [code, count] : stats.handled) {
        absl::StrAppend(&out, "grpc_server_handled_total{grpc_service=\"",
                        LabelValue(labels.first), "\",grpc_method=\"",
                        LabelValue(labels.second), "\",grpc_code=\"",
                        CodeName(code), "\"} ", count, "\n");
      }
    }
    Header(&out, "grpc_server_handling_seconds", "histogram",
           "Time from the start of an RPC to its end on the server.");
    for (const auto& [labels, stats] : methods_) {
      const std::string base =
          absl::StrCat("grpc_service=\"", LabelValue(labels.first),
                       "\",grpc_method=\"", LabelValue(labels.second), "\"");
      for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        absl::StrAppend(&out, "grpc_server_handling_seconds_bucket{", base,
                        ",le=\"", Number(kLatencyBuckets[i]), "\"} ",
                        stats.buckets[i], "\n");
      }
      absl::StrAppend(
          &out, "grpc_server_handling_seconds_bucket{", base, ",le=\"+Inf\"} ",
          stats.count, "\n", "grpc_server_handling_seconds_sum{", base, "} ",
          Number(stats.sum_seconds), "\n",
          "grpc_server_handling_seconds_count{", base, "} ", stats.count, "\n");
    }
    for (const Function& f : functions_) functions.push_back(&f);
    for (const auto& c : collectors_) collectors.push_back(&c);
  }
  Header(&out, "zlayer_secrets_calls_in_flight", "gauge",
         "RPCs being served right now.");
  absl::StrAppend(&out, "zlayer_secrets_calls_in_flight ", in_flight, "\n");
  Header(&out, "zlayer_secrets_audit_write_failures_total", "counter",
         "Audit records that could not be written.");
  absl::StrAppend(&out, "zlayer_secrets_audit_write_failures_total ",
                  audit_failures_.load(), "\n");
  // Outside the lock: these read other components (the store, a file).
  for (const Function* f : functions) {
    absl::optional<double> value = f->value();
    if (!value.has_value()) continue;
    Header(&out, f->name, f->type == MetricType::kCounter ? "counter" : "gauge",
           f->help);
    absl::StrAppend(&out, f->name, " ", Number(*value), "\n");
  }
  for (const auto* collect : collectors) (*collect)(&out);
  return out;
}

}  // namespace zlayer::secrets
