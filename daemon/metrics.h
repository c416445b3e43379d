// Metrics: what the daemon counts for Prometheus, and the text it serves.
//
// A small in-project exposition (text format 0.0.4) instead of
// prometheus-cpp: the daemon needs counters, gauges and one histogram
// family, all fixed at start-up; prometheus-cpp would add a library (and
// its civetweb HTTP server) to the link for ~300 lines of code here, and
// those ~300 lines are all this needs to get right (tests/metrics parses
// the live output, and promtool checks it where Debian's prometheus is
// installed).
//
// Families (no secret value and no secret name, ever):
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_code}  counter
//   grpc_server_handling_seconds{grpc_service,grpc_method}         histogram
//   zlayer_secrets_calls_in_flight                                  gauge
//   zlayer_secrets_audit_write_failures_total                       counter
//   + whatever the daemon adds with AddFunction() (connections, API-key
//     verifications and cache hits, TLS certificate expiry, key id, ...)
//     and with AddCollector() (store latency, group-commit sizes, ...);
//     docs/operating.md lists them all.
// The gRPC names and labels are those of go-grpc-prometheus, so existing
// dashboards work. Method labels come only from methods compiled into the
// binary (looked up in protobuf's generated pool); anything else a client
// sends is counted as grpc_service="unknown", so no client can grow the
// label set.
//
//   Metrics metrics;
//   interceptors.push_back(metrics.InterceptorFactory());
//   metrics.AddFunction("zlayer_secrets_unix_connections_total",
//                       MetricType::kCounter, "Unix connections accepted.",
//                       [&] { return listener->accepted_connections(); });
//   std::string text = metrics.Render();
//
// Thread-safe. Must outlive the server its interceptors are installed on.
#ifndef ZLAYER_SECRETS_DAEMON_METRICS_H_
#define ZLAYER_SECRETS_DAEMON_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"

namespace zlayer::secrets {

enum class MetricType { kCounter, kGauge };

// A histogram with fixed upper bounds, observed without a lock.
//
//   Histogram latency({0.001, 0.01, 0.1});
//   latency.Observe(0.004);
//   AppendHistogram(&out, "x_seconds", "op=\"get\"", latency.Read());
//
// Thread-safe.
class Histogram {
 public:
  // `bounds` ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // Cumulative, one per bound (the +Inf bucket is `count`).
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  // `count` is the sum of the buckets read, so the text always agrees
  // with itself even while observations land.
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  // Per bound plus one for +Inf; not cumulative.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Text-format helpers for collectors.
// "# HELP name help\n# TYPE name type\n".
void AppendHeader(std::string* out, absl::string_view name,
                  absl::string_view type, absl::string_view help);
// The _bucket/_sum/_count lines of one labelled histogram; `labels` is
// "" or `k="v",...` (already escaped, e.g. with LabelValue).
void AppendHistogram(std::string* out, absl::string_view name,
                     absl::string_view labels,
                     const Histogram::Snapshot& snapshot);
// A label value as the text format wants it (\\, \" and \n escaped).
std::string LabelValue(absl::string_view value);
// A sample value: integers without a fraction, +Inf/-Inf/NaN spelt so.
std::string MetricNumber(double value);

class Metrics {
 public:
  // Upper bounds of grpc_server_handling_seconds (seconds; +Inf implied).
  static constexpr std::array<double, 14> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // An interceptor factory that reports every call to this object.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // What the interceptors call. `method` is the gRPC path
  // "/package.Service/Method".
  void CallStarted();
  void CallFinished(absl::string_view method, grpc::StatusCode code,
                    absl::Duration latency);

  // One failed audit write.
  void AuditWriteFailed();

  // A family with one unlabelled sample read from `value` at each scrape;
  // nullopt leaves the sample out (e.g. no TLS, no certificate expiry).
  // `name` must be a valid metric name; counters should end in _total.
  // Call before the first Render() from another thread.
  void AddFunction(std::string name, MetricType type, std::string help,
                   std::function<absl::optional<double>()> value);

  // Appends whole families (HELP, TYPE and samples) at each scrape, after
  // the AddFunction() ones; called outside this object's lock. Call before
  // the first Render() from another thread.
  void AddCollector(std::function<void(std::string* out)> collect);

  // The whole exposition, families in a fixed order, ending in a newline.
  std::string Render() const;

 private:
  struct MethodStats {
    std::map<grpc::StatusCode, uint64_t> handled;
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  struct Function {
    std::string name;
    MetricType type;
    std::string help;
    std::function<absl::optional<double>()> value;
  };

  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> audit_failures_{0};

  mutable absl::Mutex mu_;
  // Keyed by (service, method) label values.
  std::map<std::pair<std::string, std::string>, MethodStats> methods_
      ABSL_GUARDED_BY(mu_);
  std::vector<Function> functions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(std::string*)>> collectors_
      ABSL_GUARDED_BY(mu_);
};

// Splits "/pkg.Service/Method" into its labels when the method is compiled
// into this binary; {"unknown", "unknown"} otherwise.
std::pair<std::string, std::string> MethodLabels(absl::string_view path);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_METRICS_H_
