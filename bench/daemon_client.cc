#include "bench/daemon_client.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/client_context.h"

namespace zlayer::secrets::bench {

absl::StatusOr<StartedDaemon> StartDaemon(
    const std::string& daemon_path, const std::string& data_dir,
    const std::vector<std::string>& extra_args, absl::Duration timeout) {
  StartedDaemon out;
  out.socket = absl::StrCat(data_dir, "/d.sock");
  std::vector<std::string> argv = {daemon_path, "--data-dir",  data_dir,
                                   "--key-dir", data_dir,      "--socket",
                                   out.socket,  "--log-level", "warn"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      argv, {absl::StrCat("ZLAYER_SECRETS_KEY=", kBenchKeyHex)},
      data_dir + "/daemon.log");
  if (!process.ok()) return process.status();
  out.process = *std::move(process);
  // Poll with a cheap call until it is answered (any status but
  // UNAVAILABLE means the daemon is serving).
  const auto deadline = t0 + absl::ToChronoNanoseconds(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    std::shared_ptr<grpc::Channel> channel = UnixChannel(out.socket);
    auto stub = v1::Secrets::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(500));
    v1::SecretExistsRequest req;
    *req.mutable_target() = DeploymentTarget("bench-probe");
    req.set_name("probe");
    v1::SecretExistsResponse resp;
    grpc::Status s = stub->SecretExists(&ctx, req, &resp);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        return absl::FailedPreconditionError(
            "the daemon does not serve zlayer.secrets.v1.Secrets");
      }
      out.start_time = absl::FromChrono(std::chrono::steady_clock::now() - t0);
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "daemon did not answer within ", absl::FormatDuration(timeout), " (see ",
      data_dir, "/daemon.log)"));
}

std::string Value64(uint64_t i) {
  // 16 hex digits of a mixed counter, four times: printable, incompressible
  // enough, and exactly 64 bytes.
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  std::string out;
  for (int k = 0; k < 4; ++k) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    absl::StrAppendFormat(&out, "%016x", x);
  }
  return out;
}

v1::Target DeploymentTarget(const std::string& deployment,
                            const std::string& service) {
  v1::Target t;
  t.mutable_deployment()->set_deployment(deployment);
  if (!service.empty()) t.mutable_deployment()->set_service(service);
  return t;
}

}  // namespace zlayer::secrets::bench
