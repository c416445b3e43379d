// --metrics-listen on the real daemon: scrape the live endpoint over HTTP
// (loopback TCP and unix:PATH), parse the Prometheus text, check the
// counts against the calls the test made, run `promtool check metrics` on
// it, and make sure no secret name or value (canaries) ever appears.
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

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
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

}  // namespace
}  // namespace zlayer::secrets
