// Shared pieces of the benchmarks (bench/): closed-loop load with latency
// percentiles, medians over repeated runs, subprocesses (the daemon and the
// echo floor server run as their own processes), /proc memory figures, Unix
// socket channels, and the output format:
//
//   a table for people, and one machine-readable line per figure:
//   BENCH name=get_secret clients=1 calls_per_s=... p50_us=... p99_us=...
//
// Benchmarks only: nothing here is used by the daemon or by tests.
#ifndef ZLAYER_SECRETS_BENCH_BENCH_COMMON_H_
#define ZLAYER_SECRETS_BENCH_BENCH_COMMON_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace zlayer::secrets::bench {

// One measured figure.
struct Figure {
  double calls_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t calls = 0;
  uint64_t errors = 0;
};

// One call of one client; returns false on failure (counted, not timed
// differently). Each client owns its own callable (and its own connection).
using Call = std::function<bool()>;

// Runs every callable of `clients` on its own thread in a closed loop for
// `duration` (after `warmup` unmeasured), and summarises the latencies of
// all calls. Throughput = completed calls / measured wall time.
Figure RunClosedLoop(const std::vector<Call>& clients, absl::Duration duration,
                     absl::Duration warmup = absl::Milliseconds(200));

// Latency percentiles of `samples_ns` (sorted in place).
Figure Summarize(std::vector<int64_t>* samples_ns, double seconds);

// The median of each field over several runs.
Figure Median(const std::vector<Figure>& runs);
double Median(std::vector<double> values);

// A channel over the Unix socket `path` with its own connection (no
// subchannel sharing between channels), no message size limit on receive.
std::shared_ptr<grpc::Channel> UnixChannel(const std::string& path);

// A child process; SIGTERM and wait on destruction.
class Subprocess {
 public:
  // Starts argv[0] with `argv`, adding `extra_env` ("NAME=value") to the
  // environment. stdout/stderr go to `log_path` ("" = inherit).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv,
      const std::vector<std::string>& extra_env, const std::string& log_path);
  ~Subprocess();
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits; returns the exit status (as waitpid reports it).
  int Stop();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

// VmRSS / VmHWM of `pid` from /proc, in KiB (-1 if unreadable).
int64_t VmRssKib(pid_t pid);
int64_t VmHwmKib(pid_t pid);

// The one-minute load average (/proc/loadavg), -1 if unreadable.
double LoadAverage1();

// Makes a fresh directory "/tmp/zs-bench-XXXXXX" (short: socket paths).
std::string MakeTempDir(const std::string& prefix = "/tmp/zs-bench-");

// Removes a directory tree (best effort).
void RemoveTree(const std::string& path);

// Output: a table row for people now, and a BENCH line for machines kept
// for PrintBenchLines(). `extra` is appended to both ("key=value ...").
void PrintFigure(const std::string& name, int clients, const Figure& f,
                 const std::string& extra = "");
// A section title and the table's column names.
void PrintHeader(const std::string& title);
// A free-form BENCH line ("BENCH " + fields), kept for PrintBenchLines().
void AddBenchLine(const std::string& fields);
// Prints every BENCH line collected so far, in order.
void PrintBenchLines();

}  // namespace zlayer::secrets::bench

#endif  // ZLAYER_SECRETS_BENCH_BENCH_COMMON_H_
