// Benchmark helpers that talk to a zlayer-secretsd subprocess: start it on a
// data directory and wait until it answers, and fill a store over the API.
#ifndef ZLAYER_SECRETS_BENCH_DAEMON_CLIENT_H_
#define ZLAYER_SECRETS_BENCH_DAEMON_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/bench_common.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::bench {

// The master key every benchmark daemon gets (ZLAYER_SECRETS_KEY), so that
// the scale generator can seal rows the daemon reads. Not a secret.
inline constexpr char kBenchKeyHex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct StartedDaemon {
  std::unique_ptr<Subprocess> process;
  std::string socket;
  // From fork() to the first answered call.
  absl::Duration start_time;
};

// Starts `daemon_path --data-dir DIR --socket DIR/d.sock` (plus `extra_args`)
// with kBenchKeyHex and waits (up to `timeout`) for an answered call.
absl::StatusOr<StartedDaemon> StartDaemon(
    const std::string& daemon_path, const std::string& data_dir,
    const std::vector<std::string>& extra_args = {},
    absl::Duration timeout = absl::Seconds(60));

// A 64-byte printable value, different per `i`.
std::string Value64(uint64_t i);

// A Target of a deployment scope ("D") or a service scope ("D/S").
v1::Target DeploymentTarget(const std::string& deployment,
                            const std::string& service = "");

}  // namespace zlayer::secrets::bench

#endif  // ZLAYER_SECRETS_BENCH_DAEMON_CLIENT_H_
