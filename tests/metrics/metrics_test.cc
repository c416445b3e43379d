// --metrics-listen on the real daemon: scrape the live endpoint over HTTP
// (loopback TCP and unix:PATH), parse the Prometheus text, check the
// counts against the calls the test made, run `promtool check metrics` on
// it, and make sure no secret name or value (canaries) ever appears.
//
// After real traffic (concurrent writes, reads, a denied call, a queued
// burst): the call queue's gauges and rejected counter, store operation
// latency per op (SQLite and, where /usr/bin/etcd is installed, etcd),
// SQLite's group-commit sizes and sealed-row cache; --metrics-name-labels
// (per-secret reads, capped), --channelz, open TCP connections (from
// channelz), the environment registry and the grant store timings.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/etcd_cluster.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::MakeTlsMaterial;
using ::zlayer::secrets::testing::ProcessResult;
using ::zlayer::secrets::testing::RunProcess;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kCanaryName[] = "canary-name-5d1e";
constexpr char kCanaryValue[] = "CANARY-metrics-value-91b0";

std::unique_ptr<DaemonProcess> Start(const TempDir& dir,
                                     std::vector<std::string> extra) {
  std::vector<std::string> args = {"--data-dir", dir.Sub("data"), "--socket",
                                   dir.Sub("d.sock")};
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::StartReadyDaemon(dir, args, kWait);
}

int MetricsPort(DaemonProcess* daemon) {
  auto line = daemon->WaitForLog("event=metrics_listening", kWait);
  return line.ok() ? testing::LogFieldInt(*line, "port=") : 0;
}

// One HTTP/1.1 exchange on `fd`: the whole response (the server closes).
std::string Exchange(int fd, const std::string& request) {
  std::string response;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  char buf[8192];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

std::string HttpTcp(int port, const std::string& path,
                    const std::string& method = "GET") {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  return Exchange(fd, absl::StrCat(method, " ", path,
                                   " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
}

std::string HttpUnix(const std::string& socket_path, const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  return Exchange(
      fd, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
}

std::string Body(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// The text format, parsed strictly enough to catch a malformed line: every
// sample is `name{labels} value` or `name value`, its family (the name
// without _bucket/_sum/_count for histograms) has a # TYPE line before it.
struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, double> samples;     // "name{labels}" -> value
  std::vector<std::string> errors;
};

Exposition Parse(const std::string& text) {
  Exposition e;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2)
        e.errors.push_back(std::string(line));
      else
        e.types[parts[0]] = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      e.errors.push_back(std::string(line));
      continue;
    }
    std::string key(line.substr(0, space));
    double value = 0;
    absl::string_view value_text = line.substr(space + 1);
    if (value_text == "+Inf") {
      value = 1e308;
    } else if (!absl::SimpleAtod(value_text, &value)) {
      e.errors.push_back(std::string(line));
      continue;
    }
    std::string name = key.substr(0, key.find('{'));
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix) &&
          e.types.count(name.substr(0, name.size() - strlen(suffix))) &&
          e.types[name.substr(0, name.size() - strlen(suffix))] ==
              "histogram") {
        family = name.substr(0, name.size() - strlen(suffix));
      }
    }
    if (!e.types.count(family)) e.errors.push_back("no TYPE: " + key);
    if (key.find('{') != std::string::npos && !absl::EndsWith(key, "}")) {
      e.errors.push_back("labels: " + key);
    }
    if (!e.samples.emplace(key, value).second) {
      e.errors.push_back("duplicate: " + key);
    }
  }
  return e;
}

std::string Labels(const std::string& method, const std::string& code) {
  return absl::StrCat(
      "{grpc_service=\"zlayer.secrets.v1.Secrets\",grpc_method=\"", method,
      "\",grpc_code=\"", code, "\"}");
}

void MakeCalls(const std::string& socket) {
  auto channel = UnixChannel(socket);
  auto stub = v1::Secrets::NewStub(channel);
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope("metrics");
    request.set_name(kCanaryName);
    request.set_value(kCanaryValue);
    v1::SetSecretResponse response;
    ASSERT_TRUE(stub->SetSecret(&context, request, &response).ok());
  }
  for (const char* name : {kCanaryName, "missing", "missing-too"}) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope("metrics");
    request.set_name(name);
    v1::GetSecretResponse response;
    (void)stub->GetSecret(&context, request, &response);
  }
  // A method no binary knows, named after the canary: must not become a
  // label.
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  grpc::Slice slice(std::string(""));
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context,
                    absl::StrCat("/zlayer.secrets.v1.Secrets/", kCanaryName),
                    grpc::StubOptions(), &request, &response,
                    [&done](grpc::Status s) { done.set_value(std::move(s)); });
  EXPECT_EQ(done.get_future().get().error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST(MetricsTest, OffByDefault) {
  TempDir dir;
  auto daemon = Start(dir, {});
  ASSERT_NE(daemon, nullptr);
  EXPECT_FALSE(absl::StrContains(daemon->Stderr(), "metrics_listening"));
}

TEST(MetricsTest, LiveEndpointCountsCallsAndNeverNamesSecrets) {
  TempDir dir;
  auto daemon = Start(dir, {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();
  MakeCalls(dir.Sub("d.sock"));

  const std::string response = HttpTcp(port, "/metrics");
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(absl::StrContains(
      response, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  const std::string text = Body(response);
  EXPECT_FALSE(absl::StrContains(text, kCanaryName)) << text;
  EXPECT_FALSE(absl::StrContains(text, kCanaryValue)) << text;
  EXPECT_FALSE(absl::StrContains(text, "missing")) << text;

  Exposition e = Parse(text);
  EXPECT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  EXPECT_EQ(e.types["grpc_server_handled_total"], "counter");
  EXPECT_EQ(e.types["grpc_server_handling_seconds"], "histogram");
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("SetSecret", "OK"))],
            1);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("GetSecret", "OK"))],
            1);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("GetSecret", "NotFound"))],
            2);
  // The unknown method is counted without its (client-chosen) name.
  EXPECT_EQ(e.samples["grpc_server_handled_total{grpc_service=\"unknown\","
                      "grpc_method=\"unknown\",grpc_code=\"Unimplemented\"}"],
            1)
      << text;
  const std::string get =
      "grpc_service=\"zlayer.secrets.v1.Secrets\",grpc_method=\"GetSecret\"";
  EXPECT_EQ(
      e.samples[absl::StrCat("grpc_server_handling_seconds_count{", get, "}")],
      3);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handling_seconds_bucket{", get,
                                   ",le=\"+Inf\"}")],
            3);
  // Buckets never decrease.
  double previous = 0;
  for (double bound : {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                       0.25, 0.5, 1.0, 2.5, 5.0, 10.0}) {
    const std::string key = absl::StrCat("grpc_server_handling_seconds_bucket{",
                                         get, ",le=\"", bound, "\"}");
    ASSERT_EQ(e.samples.count(key), 1u) << key << text;
    EXPECT_GE(e.samples[key], previous) << key;
    previous = e.samples[key];
  }
  EXPECT_GE(e.samples[absl::StrCat("grpc_server_handling_seconds_bucket{", get,
                                   ",le=\"10\"}")],
            e.samples[absl::StrCat("grpc_server_handling_seconds_bucket{", get,
                                   ",le=\"0.0005\"}")]);
  EXPECT_GT(
      e.samples[absl::StrCat("grpc_server_handling_seconds_sum{", get, "}")],
      0);
  EXPECT_EQ(e.samples["zlayer_secrets_calls_in_flight"], 0);
  EXPECT_GE(e.samples["zlayer_secrets_unix_connections_total"], 1);
  EXPECT_EQ(e.samples["zlayer_secrets_audit_write_failures_total"], 0);
  EXPECT_EQ(e.samples["zlayer_secrets_serving"], 1);
  EXPECT_EQ(e.samples["zlayer_secrets_master_key_id"], 1);
  EXPECT_EQ(e.types.count("zlayer_secrets_api_key_verifications_total"), 1u);
  EXPECT_EQ(e.types.count("zlayer_secrets_api_key_cache_hits_total"), 1u);
  // No TLS, no certificate expiry.
  EXPECT_EQ(e.types.count("zlayer_secrets_tls_certificate_expiry_seconds"), 0u);

  // promtool (Debian's prometheus package) on the same live text.
  if (access("/usr/bin/promtool", X_OK) == 0) {
    ProcessResult check =
        RunProcess({"/usr/bin/promtool", "check", "metrics"}, text, {});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  } else {
    GTEST_LOG_(INFO) << "promtool not installed (apt-get install prometheus; "
                        "./x setup does): promtool check skipped";
  }

  // Anything but GET/HEAD /metrics.
  EXPECT_TRUE(absl::StartsWith(HttpTcp(port, "/"), "HTTP/1.1 404"));
  EXPECT_TRUE(
      absl::StartsWith(HttpTcp(port, "/metrics", "POST"), "HTTP/1.1 405"));
  const std::string head = HttpTcp(port, "/metrics", "HEAD");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200")) << head;
  EXPECT_EQ(Body(head), "");
}

TEST(MetricsTest, UnixSocketEndpointAndTlsExpiry) {
  TempDir dir;
  auto tls = MakeTlsMaterial(dir.path(), "m-");
  ASSERT_TRUE(tls.ok()) << tls.status();
  const std::string metrics_socket = dir.Sub("m.sock");
  auto daemon = Start(dir, {"--metrics-listen", "unix:" + metrics_socket,
                            "--listen", "127.0.0.1:0", "--tls-cert",
                            tls->server_cert, "--tls-key", tls->server_key});
  ASSERT_NE(daemon, nullptr);
  ASSERT_TRUE(daemon->WaitForLog("event=metrics_listening", kWait).ok());
  const std::string response = HttpUnix(metrics_socket, "/metrics");
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK")) << response;
  Exposition e = Parse(Body(response));
  EXPECT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n");
  // The test CA signs for 2 days.
  const double expiry =
      e.samples["zlayer_secrets_tls_certificate_expiry_seconds"];
  EXPECT_GT(expiry, 86400) << Body(response);
  EXPECT_LE(expiry, 2 * 86400 + 60) << Body(response);

  daemon->Signal(SIGTERM);
  ASSERT_TRUE(daemon->WaitForExit(kWait).ok());
  EXPECT_NE(access(metrics_socket.c_str(), F_OK), 0) << "socket left behind";
}

TEST(MetricsTest, NonLoopbackAddressIsRefused) {
  TempDir dir;
  auto process = DaemonProcess::Start(
      {"--data-dir", dir.Sub("data"), "--socket", dir.Sub("d.sock"),
       "--metrics-listen", "0.0.0.0:9464"},
      dir.path());
  ASSERT_TRUE(process.ok());
  auto status = (*process)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(WEXITSTATUS(*status), 2) << (*process)->Stderr();
  EXPECT_TRUE(absl::StrContains((*process)->Stderr(), "--metrics-listen"));
}

// promtool (Debian's prometheus package) on live text; skipped (logged)
// where it is not installed.
void ExpectPromtoolAccepts(const std::string& text) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_LOG_(INFO) << "promtool not installed: promtool check skipped";
    return;
  }
  ProcessResult check =
      RunProcess({"/usr/bin/promtool", "check", "metrics"}, text, {});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << text;
}

// A scrape once every call has finished on the server too: a client can
// see its answer just before the server's interceptors count the call, so
// this scrapes again until no call is in flight (bounded by kWait).
std::string ScrapeText(int port) {
  const absl::Time deadline = absl::Now() + kWait;
  std::string text;
  do {
    text = Body(HttpTcp(port, "/metrics"));
  } while (!absl::StrContains(text, "\nzlayer_secrets_calls_in_flight 0\n") &&
           absl::Now() < deadline);
  return text;
}

std::string StoreOp(const std::string& backend, const std::string& op,
                    const std::string& suffix) {
  return absl::StrCat("zlayer_secrets_store_operation_seconds", suffix,
                      "{backend=\"", backend, "\",op=\"", op, "\"}");
}

// Sum of the _count of every store op whose name is in `ops`.
double StoreCount(Exposition& e, const std::string& backend,
                  std::initializer_list<const char*> ops) {
  double total = 0;
  for (const char* op : ops) total += e.samples[StoreOp(backend, op, "_count")];
  return total;
}

constexpr char kCanaryPrefix[] = "canary-metrics-n";

grpc::Status Set(v1::Secrets::Stub* stub, const std::string& scope,
                 const std::string& name, const std::string& value) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  v1::SetSecretRequest request;
  request.mutable_target()->set_scope(scope);
  request.set_name(name);
  request.set_value(value);
  v1::SetSecretResponse response;
  return stub->SetSecret(&context, request, &response);
}

grpc::Status Get(v1::Secrets::Stub* stub, const std::string& scope,
                 const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  v1::GetSecretRequest request;
  request.mutable_target()->set_scope(scope);
  request.set_name(name);
  v1::GetSecretResponse response;
  return stub->GetSecret(&context, request, &response);
}

// `writers` threads, each writing `per_writer` secrets named
// kCanaryPrefix<i> with values kCanaryValue<i>, all at once. Returns the
// number written OK.
int ConcurrentWrites(const std::string& socket, const std::string& scope,
                     int writers, int per_writer) {
  auto stub = v1::Secrets::NewStub(UnixChannel(socket));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        const int n = w * per_writer + i;
        if (Set(stub.get(), scope, absl::StrCat(kCanaryPrefix, n),
                absl::StrCat(kCanaryValue, n))
                .ok()) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return ok.load();
}

void ExpectNoCanaries(const std::string& text) {
  EXPECT_FALSE(absl::StrContains(text, kCanaryValue)) << text;
  EXPECT_FALSE(absl::StrContains(text, "CANARY")) << text;
  EXPECT_FALSE(absl::StrContains(text, kCanaryPrefix)) << text;
  EXPECT_FALSE(absl::StrContains(text, kCanaryName)) << text;
  EXPECT_FALSE(absl::StrContains(text, "metrics-scope")) << text;
}

TEST(MetricsTest, TrafficFillsStoreCommitCacheAndQueueFamilies) {
  TempDir dir;
  auto daemon = Start(dir, {"--metrics-listen", "127.0.0.1:0", "--listen",
                            "127.0.0.1:0", "--insecure-loopback"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();
  auto ready = daemon->WaitForLog("event=ready", kWait);
  ASSERT_TRUE(ready.ok());
  const int tcp_port = testing::LogFieldInt(*ready, "tcp_port=");
  ASSERT_GT(tcp_port, 0) << *ready;

  Exposition before = Parse(ScrapeText(port));
  ASSERT_TRUE(before.errors.empty()) << absl::StrJoin(before.errors, "\n");

  // Writes: 8 writers x 5 secrets at once, so SQLite groups some commits.
  constexpr int kWrites = 40;
  ASSERT_EQ(ConcurrentWrites(dir.Sub("d.sock"), "metrics-scope", 8, 5),
            kWrites);
  // Reads: each secret twice (the second may come from the cache), and
  // one that does not exist.
  auto stub = v1::Secrets::NewStub(UnixChannel(dir.Sub("d.sock")));
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kWrites; ++i) {
      ASSERT_TRUE(
          Get(stub.get(), "metrics-scope", absl::StrCat(kCanaryPrefix, i))
              .ok());
    }
  }
  EXPECT_EQ(Get(stub.get(), "metrics-scope", "missing").error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A denied call: over TCP with an API key the daemon never issued.
  {
    auto tcp = v1::Secrets::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", tcp_port),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    context.AddMetadata("authorization", "Bearer zsk_bogus.bogus");
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope("metrics-scope");
    request.set_name(absl::StrCat(kCanaryPrefix, 0));
    v1::GetSecretResponse response;
    EXPECT_EQ(tcp->GetSecret(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }

  const std::string text = ScrapeText(port);
  ExpectNoCanaries(text);
  Exposition e = Parse(text);
  ASSERT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  ExpectPromtoolAccepts(text);

  // Calls by RPC and code, the denied one included.
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("SetSecret", "OK"))],
            kWrites);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("GetSecret", "OK"))],
            2 * kWrites);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("GetSecret", "Unauthenticated"))],
            1)
      << text;
  EXPECT_EQ(e.samples[absl::StrCat(
                "grpc_server_handling_seconds_count{grpc_service=\"zlayer."
                "secrets.v1.Secrets\",grpc_method=\"SetSecret\"}")],
            kWrites);

  // Store latency: every write went through the store's set, and every
  // read through one of its value reads.
  EXPECT_EQ(e.types["zlayer_secrets_store_operation_seconds"], "histogram");
  const double sets = e.samples[StoreOp("sqlite", "set", "_count")] -
                      before.samples[StoreOp("sqlite", "set", "_count")];
  EXPECT_GE(sets, kWrites) << text;
  const std::initializer_list<const char*> reads = {
      "get", "get_versioned", "get_with_metadata", "read_batch",
      "read_versions"};
  EXPECT_GE(
      StoreCount(e, "sqlite", reads) - StoreCount(before, "sqlite", reads),
      2 * kWrites + 1)
      << text;
  EXPECT_EQ(e.samples[StoreOp("sqlite", "set", "_count")],
            e.samples[absl::StrCat(
                "zlayer_secrets_store_operation_seconds_bucket{backend="
                "\"sqlite\",op=\"set\",le=\"+Inf\"}")]);
  EXPECT_GT(e.samples[StoreOp("sqlite", "set", "_sum")], 0);

  // Group commit: every write committed in some group.
  EXPECT_EQ(e.types["zlayer_secrets_sqlite_commit_group_size"], "histogram");
  const double groups =
      e.samples["zlayer_secrets_sqlite_commit_group_size_count"] -
      before.samples["zlayer_secrets_sqlite_commit_group_size_count"];
  const double grouped_writes =
      e.samples["zlayer_secrets_sqlite_commit_group_size_sum"] -
      before.samples["zlayer_secrets_sqlite_commit_group_size_sum"];
  EXPECT_GT(groups, 0) << text;
  EXPECT_LE(groups, grouped_writes);
  EXPECT_GE(grouped_writes, kWrites) << text;
  EXPECT_EQ(e.samples["zlayer_secrets_sqlite_commit_group_size_bucket{le="
                      "\"64\"}"],
            e.samples["zlayer_secrets_sqlite_commit_group_size_count"]);

  // The sealed-row cache saw the reads.
  EXPECT_GE(e.samples["zlayer_secrets_sqlite_sealed_cache_hits_total"] +
                e.samples["zlayer_secrets_sqlite_sealed_cache_misses_total"],
            2 * kWrites)
      << text;
  EXPECT_GT(e.samples["zlayer_secrets_sqlite_sealed_cache_hits_total"], 0)
      << text;
  EXPECT_GT(e.samples["zlayer_secrets_sqlite_sealed_cache_entries"], 0);
  EXPECT_GT(e.samples["zlayer_secrets_sqlite_sealed_cache_bytes"], 0);

  // Nothing queued now, nothing refused.
  EXPECT_EQ(e.samples["zlayer_secrets_calls_queued"], 0);
  EXPECT_EQ(e.types["zlayer_secrets_calls_queued"], "gauge");
  EXPECT_EQ(e.samples["zlayer_secrets_calls_rejected_total"], 0);
  // No name labels unless asked for.
  EXPECT_EQ(e.types.count("zlayer_secrets_secret_reads_total"), 0u);
}

// One TCP channel of its own (no subchannel shared with another channel),
// connected.
std::shared_ptr<grpc::Channel> OwnTcpChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                grpc::InsecureChannelCredentials(), args);
  EXPECT_TRUE(
      channel->WaitForConnected(absl::ToChronoTime(absl::Now() + kWait)));
  return channel;
}

// Scrapes until `sample` reads `want` (bounded by kWait); the last value.
double WaitForSample(int port, const std::string& sample, double want) {
  const absl::Time deadline = absl::Now() + kWait;
  double value = -1;
  do {
    value = Parse(ScrapeText(port)).samples[sample];
  } while (value != want && absl::Now() < deadline);
  return value;
}

std::string RegistryOp(const std::string& op) {
  return absl::StrCat(
      "zlayer_secrets_environment_registry_seconds_count{backend=\"sqlite\","
      "op=\"",
      op, "\"}");
}

TEST(MetricsTest, TcpConnectionsRegistryAndGrantStoreAreCounted) {
  TempDir dir;
  auto daemon = Start(dir, {"--metrics-listen", "127.0.0.1:0", "--listen",
                            "127.0.0.1:0", "--insecure-loopback"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();
  auto ready = daemon->WaitForLog("event=ready", kWait);
  ASSERT_TRUE(ready.ok());
  const int tcp_port = testing::LogFieldInt(*ready, "tcp_port=");
  ASSERT_GT(tcp_port, 0) << *ready;

  // TCP connections: open now, as gRPC's channelz registry lists them.
  const std::string kTcp = "zlayer_secrets_tcp_connections";
  Exposition idle = Parse(ScrapeText(port));
  EXPECT_EQ(idle.types[kTcp], "gauge");
  EXPECT_EQ(idle.samples.count(kTcp), 1u);
  EXPECT_EQ(idle.samples[kTcp], 0);
  {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int i = 0; i < 3; ++i) channels.push_back(OwnTcpChannel(tcp_port));
    EXPECT_EQ(WaitForSample(port, kTcp, 3), 3);
  }  // the channels close
  EXPECT_EQ(WaitForSample(port, kTcp, 0), 0);

  // The environment registry (its own table, not the SecretStore).
  Exposition before = Parse(ScrapeText(port));
  auto admin = v1::Admin::NewStub(UnixChannel(dir.Sub("d.sock")));
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::CreateEnvironmentRequest request;
    request.set_name("metrics-env");
    v1::Environment env;
    ASSERT_TRUE(admin->CreateEnvironment(&context, request, &env).ok());
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::ListEnvironmentsRequest request;
    v1::ListEnvironmentsResponse response;
    ASSERT_TRUE(admin->ListEnvironments(&context, request, &response).ok());
    ASSERT_EQ(response.environments_size(), 1);
  }
  // The grant store writes below the change feed, through the timer.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::GrantRequest request;
    request.set_subject("uid:4242");
    request.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
    request.mutable_resource()->set_id("metrics-scope");
    request.set_level(v1::ACCESS_LEVEL_READ);
    v1::AccessGrant grant;
    ASSERT_TRUE(admin->Grant(&context, request, &grant).ok());
  }
  const std::string text = ScrapeText(port);
  Exposition e = Parse(text);
  ASSERT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  ExpectPromtoolAccepts(text);
  EXPECT_EQ(e.types["zlayer_secrets_environment_registry_seconds"],
            "histogram");
  EXPECT_GE(
      e.samples[RegistryOp("create")] - before.samples[RegistryOp("create")], 1)
      << text;
  EXPECT_GE(e.samples[RegistryOp("list")] - before.samples[RegistryOp("list")],
            1)
      << text;
  EXPECT_GE(e.samples[StoreOp("sqlite", "set", "_count")] -
                before.samples[StoreOp("sqlite", "set", "_count")],
            1)
      << text;
}

TEST(MetricsTest, QueuedBurstIsCountedAndRejectionsMatchTheClients) {
  TempDir dir;
  auto daemon =
      Start(dir, {"--metrics-listen", "127.0.0.1:0", "--workers", "1",
                  "--max-queued-calls", "2", "--synchronous", "full"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();

  // Bursts of writes, all issued before any is awaited, until the queue
  // (one worker, two waiting) has refused some: bounded rounds, no sleep.
  constexpr int kBurst = 128;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < 4; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("zs-channel", c);  // four separate connections
    channels.push_back(grpc::CreateCustomChannel(
        "unix:" + dir.Sub("d.sock"), grpc::InsecureChannelCredentials(), args));
  }
  int refused = 0, ok = 0, calls = 0;
  for (int round = 0; round < 20 && refused == 0; ++round) {
    grpc::CompletionQueue cq;
    struct Call {
      grpc::ClientContext context;
      v1::SetSecretResponse response;
      grpc::Status status;
      std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SetSecretResponse>>
          reader;
    };
    std::vector<std::unique_ptr<Call>> burst;
    for (int i = 0; i < kBurst; ++i) {
      auto stub = v1::Secrets::NewStub(channels[i % channels.size()]);
      auto call = std::make_unique<Call>();
      call->context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
      v1::SetSecretRequest request;
      request.mutable_target()->set_scope("metrics-scope");
      request.set_name(absl::StrCat(kCanaryPrefix, i));
      request.set_value(absl::StrCat(kCanaryValue, i));
      call->reader = stub->AsyncSetSecret(&call->context, request, &cq);
      call->reader->Finish(&call->response, &call->status, call.get());
      burst.push_back(std::move(call));
    }
    for (int i = 0; i < kBurst; ++i) {
      void* tag = nullptr;
      bool event_ok = false;
      ASSERT_TRUE(cq.Next(&tag, &event_ok));
      const grpc::Status& status = static_cast<Call*>(tag)->status;
      ++calls;
      if (status.ok()) {
        ++ok;
      } else {
        ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
            << status.error_message();
        ++refused;
      }
    }
  }
  ASSERT_GT(refused, 0) << "no burst ever filled a queue of two";

  const std::string text = ScrapeText(port);
  ExpectNoCanaries(text);
  Exposition e = Parse(text);
  ASSERT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  ExpectPromtoolAccepts(text);
  // Every refusal the clients saw, and no other, is counted.
  EXPECT_EQ(e.samples["zlayer_secrets_calls_rejected_total"], refused) << text;
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("SetSecret", "ResourceExhausted"))],
            refused);
  EXPECT_EQ(e.samples[absl::StrCat("grpc_server_handled_total",
                                   Labels("SetSecret", "OK"))],
            ok);
  // A refusal means the queue was full: two calls waited at once.
  EXPECT_EQ(e.samples["zlayer_secrets_calls_queued_peak"], 2) << text;
  // All answered: none waiting, none in flight.
  EXPECT_EQ(e.samples["zlayer_secrets_calls_queued"], 0);
  EXPECT_EQ(e.samples["zlayer_secrets_calls_in_flight"], 0);
  EXPECT_EQ(e.samples[StoreOp("sqlite", "set", "_count")], ok);
  GTEST_LOG_(INFO) << calls << " calls, " << ok << " written, " << refused
                   << " refused";
}

TEST(MetricsTest, NameLabelsOnlyWhenTurnedOnAndCapped) {
  TempDir dir;
  auto daemon =
      Start(dir, {"--metrics-listen", "127.0.0.1:0", "--metrics-name-labels"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();
  // More secrets than the cap, each read once; the first one three times.
  constexpr int kSecrets = 110;
  ASSERT_EQ(ConcurrentWrites(dir.Sub("d.sock"), "metrics-scope", 10, 11),
            kSecrets);
  auto stub = v1::Secrets::NewStub(UnixChannel(dir.Sub("d.sock")));
  ASSERT_TRUE(Get(stub.get(), "metrics-scope", "canary-metrics-n0").ok());
  ASSERT_TRUE(Get(stub.get(), "metrics-scope", "canary-metrics-n0").ok());
  for (int i = 0; i < kSecrets; ++i) {
    ASSERT_TRUE(
        Get(stub.get(), "metrics-scope", absl::StrCat(kCanaryPrefix, i)).ok());
  }
  const std::string text = ScrapeText(port);
  // Names now, values never.
  EXPECT_FALSE(absl::StrContains(text, kCanaryValue)) << text;
  EXPECT_FALSE(absl::StrContains(text, "CANARY")) << text;
  Exposition e = Parse(text);
  ASSERT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  ExpectPromtoolAccepts(text);
  EXPECT_EQ(e.types["zlayer_secrets_secret_reads_total"], "counter");
  EXPECT_EQ(e.samples["zlayer_secrets_secret_reads_total{scope=\"metrics-"
                      "scope\",name=\"canary-metrics-n0\"}"],
            3)
      << text;
  // At most 100 secrets have their own series; the other reads land in
  // the one with empty labels.
  int named = 0;
  double total = 0;
  for (const auto& [key, value] : e.samples) {
    if (!absl::StartsWith(key, "zlayer_secrets_secret_reads_total{")) continue;
    total += value;
    if (!absl::StrContains(key, "name=\"\"")) ++named;
  }
  EXPECT_LE(named, 100);
  EXPECT_GE(e.samples["zlayer_secrets_secret_reads_total{scope=\"\",name="
                      "\"\"}"],
            kSecrets - 100);
  EXPECT_GE(total, kSecrets + 2);
}

TEST(MetricsTest, NameLabelsNeedTheEndpoint) {
  TempDir dir;
  auto process =
      DaemonProcess::Start({"--data-dir", dir.Sub("data"), "--socket",
                            dir.Sub("d.sock"), "--metrics-name-labels"},
                           dir.path());
  ASSERT_TRUE(process.ok());
  auto status = (*process)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(WEXITSTATUS(*status), 2) << (*process)->Stderr();
  EXPECT_TRUE(absl::StrContains((*process)->Stderr(), "--metrics-name-labels"));
}

// grpc.channelz.v1.Channelz/GetServers with an empty request (all
// defaults): its status.
grpc::Status CallChannelz(const std::string& socket, std::string* response) {
  grpc::GenericStub generic(UnixChannel(socket));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  grpc::Slice slice(std::string(""));
  grpc::ByteBuffer request(&slice, 1), reply;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.channelz.v1.Channelz/GetServers",
                    grpc::StubOptions(), &request, &reply,
                    [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  if (status.ok() && reply.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

TEST(MetricsTest, ChannelzOnlyWhenTurnedOn) {
  TempDir off_dir;
  auto off = Start(off_dir, {});
  ASSERT_NE(off, nullptr);
  std::string unused;
  EXPECT_EQ(CallChannelz(off_dir.Sub("d.sock"), &unused).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  TempDir dir;
  auto daemon = Start(dir, {"--channelz"});
  ASSERT_NE(daemon, nullptr);
  std::string response;
  grpc::Status status = CallChannelz(dir.Sub("d.sock"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // One server listed (a non-empty GetServersResponse).
  EXPECT_FALSE(response.empty());
}

TEST(MetricsTest, ChannelzIsRefusedWithTcp) {
  TempDir dir;
  auto process = DaemonProcess::Start(
      {"--data-dir", dir.Sub("data"), "--socket", dir.Sub("d.sock"),
       "--channelz", "--listen", "127.0.0.1:0", "--insecure-loopback"},
      dir.path());
  ASSERT_TRUE(process.ok());
  auto status = (*process)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(WEXITSTATUS(*status), 2) << (*process)->Stderr();
  EXPECT_TRUE(absl::StrContains((*process)->Stderr(), "--channelz"));
}

TEST(MetricsTest, EtcdBackendStoreLatency) {
  if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
  auto etcd = EtcdCluster::Start(1);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  TempDir dir;
  auto daemon =
      Start(dir, {"--metrics-listen", "127.0.0.1:0", "--store", "etcd",
                  "--etcd-endpoints", (*etcd)->JoinedEndpoints(),
                  "--etcd-prefix", "/zs-metrics-test"});
  ASSERT_NE(daemon, nullptr);
  const int port = MetricsPort(daemon.get());
  ASSERT_GT(port, 0) << daemon->Stderr();
  Exposition before = Parse(ScrapeText(port));
  ASSERT_EQ(ConcurrentWrites(dir.Sub("d.sock"), "metrics-scope", 4, 3), 12);
  auto stub = v1::Secrets::NewStub(UnixChannel(dir.Sub("d.sock")));
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(
        Get(stub.get(), "metrics-scope", absl::StrCat(kCanaryPrefix, i)).ok());
  }
  const std::string text = ScrapeText(port);
  ExpectNoCanaries(text);
  Exposition e = Parse(text);
  ASSERT_TRUE(e.errors.empty()) << absl::StrJoin(e.errors, "\n") << text;
  ExpectPromtoolAccepts(text);
  EXPECT_GE(e.samples[StoreOp("etcd", "set", "_count")] -
                before.samples[StoreOp("etcd", "set", "_count")],
            12)
      << text;
  const std::initializer_list<const char*> reads = {
      "get", "get_versioned", "get_with_metadata", "read_batch",
      "read_versions"};
  EXPECT_GE(StoreCount(e, "etcd", reads) - StoreCount(before, "etcd", reads),
            12);
  // The master key id comes from etcd's key check value in cluster mode.
  EXPECT_EQ(e.samples["zlayer_secrets_master_key_id"], 1) << text;
  // No SQLite families in cluster mode.
  EXPECT_EQ(e.types.count("zlayer_secrets_sqlite_commit_group_size"), 0u);
  EXPECT_EQ(e.types.count(StoreOp("sqlite", "set", "_count")), 0u);
}

}  // namespace
}  // namespace zlayer::secrets
