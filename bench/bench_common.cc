#include "bench/bench_common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

extern char** environ;

namespace zlayer::secrets::bench {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i =
      static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]);
}

absl::Mutex lines_mu;
std::vector<std::string>* BenchLines() {
  static auto* lines = new std::vector<std::string>();
  return lines;
}

int64_t ProcStatusKib(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field)) {
      std::vector<absl::string_view> parts =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      int64_t kib = -1;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return -1;
}

}  // namespace

Figure Summarize(std::vector<int64_t>* samples_ns, double seconds) {
  Figure f;
  std::sort(samples_ns->begin(), samples_ns->end());
  f.calls = samples_ns->size();
  f.calls_per_s = seconds > 0 ? static_cast<double>(f.calls) / seconds : 0;
  f.p50_us = Percentile(*samples_ns, 0.50) / 1e3;
  f.p99_us = Percentile(*samples_ns, 0.99) / 1e3;
  return f;
}

Figure RunClosedLoop(const std::vector<Call>& clients, absl::Duration duration,
                     absl::Duration warmup) {
  const size_t n = clients.size();
  std::vector<std::vector<int64_t>> samples(n);
  std::vector<uint64_t> errors(n, 0);
  std::vector<int64_t> ends(n, 0);
  absl::Barrier* start = new absl::Barrier(static_cast<int>(n) + 1);
  std::atomic<int64_t> begin_ns{0};
  const int64_t warmup_ns = absl::ToInt64Nanoseconds(warmup);
  const int64_t duration_ns = absl::ToInt64Nanoseconds(duration);
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      if (start->Block()) delete start;
      // Warm-up: connections, thread pools and caches settle.
      const int64_t warm_end = NowNs() + warmup_ns;
      while (NowNs() < warm_end) clients[c]();
      // Everyone measures the same window.
      int64_t b = begin_ns.load();
      if (b == 0) {
        int64_t expected = 0;
        b = NowNs();
        if (!begin_ns.compare_exchange_strong(expected, b)) b = expected;
      }
      const int64_t stop = b + duration_ns;
      samples[c].reserve(1 << 16);
      while (true) {
        const int64_t t0 = NowNs();
        if (t0 >= stop) break;
        const bool ok = clients[c]();
        const int64_t t1 = NowNs();
        if (ok) {
          samples[c].push_back(t1 - t0);
        } else {
          ++errors[c];
        }
      }
      ends[c] = NowNs();
    });
  }
  if (start->Block()) delete start;
  for (std::thread& t : threads) t.join();
  std::vector<int64_t> all;
  uint64_t errs = 0;
  int64_t last_end = 0;
  for (size_t c = 0; c < n; ++c) {
    all.insert(all.end(), samples[c].begin(), samples[c].end());
    errs += errors[c];
    last_end = std::max(last_end, ends[c]);
  }
  const double seconds = static_cast<double>(last_end - begin_ns.load()) / 1e9;
  Figure f = Summarize(&all, seconds);
  f.errors = errs;
  return f;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Figure Median(const std::vector<Figure>& runs) {
  std::vector<double> tput, p50, p99;
  Figure out;
  for (const Figure& f : runs) {
    tput.push_back(f.calls_per_s);
    p50.push_back(f.p50_us);
    p99.push_back(f.p99_us);
    out.calls += f.calls;
    out.errors += f.errors;
  }
  out.calls_per_s = Median(tput);
  out.p50_us = Median(p50);
  out.p99_us = Median(p99);
  return out;
}

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& path) {
  grpc::ChannelArguments args;
  // One connection per channel: each benchmark client is its own caller.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(absl::StrCat("unix:", path),
                                   grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv,
    const std::vector<std::string>& extra_env, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  for (const std::string& e : extra_env) env_strings.push_back(e);
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // The parent may block signals for its own reasons; the child starts
    // with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!log_path.empty()) {
      const int fd = open(log_path.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    execve(args[0], args.data(), env.data());
    _exit(127);
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid));
}

int Subprocess::Stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return status;
}

Subprocess::~Subprocess() { Stop(); }

int64_t VmRssKib(pid_t pid) { return ProcStatusKib(pid, "VmRSS:"); }
int64_t VmHwmKib(pid_t pid) { return ProcStatusKib(pid, "VmHWM:"); }

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  if (!(in >> load)) return -1;
  return load;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string templ = prefix + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return templ;
}

void RemoveTree(const std::string& path) {
  // Benchmark directories hold a handful of files; no recursion needed
  // beyond one level of subdirectories.
  if (path.size() < 8 || path.rfind("/tmp/", 0) != 0) return;
  const std::string cmd = absl::StrCat("rm -rf -- '", path, "'");
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "could not remove %s\n", path.c_str());
  }
}

void PrintHeader(const std::string& title) {
  std::printf("\n== %s\n", title.c_str());
  std::printf("%-34s %7s %12s %10s %10s  %s\n", "figure", "clients", "calls/s",
              "p50_us", "p99_us", "notes");
  std::fflush(stdout);
}

void PrintFigure(const std::string& name, int clients, const Figure& f,
                 const std::string& extra) {
  std::printf("%-34s %7d %12.0f %10.1f %10.1f  %s%s\n", name.c_str(), clients,
              f.calls_per_s, f.p50_us, f.p99_us, extra.c_str(),
              f.errors > 0 ? absl::StrCat(" errors=", f.errors).c_str() : "");
  std::fflush(stdout);
  AddBenchLine(absl::StrFormat(
      "name=%s clients=%d calls_per_s=%.0f p50_us=%.1f p99_us=%.1f "
      "errors=%d%s%s",
      name, clients, f.calls_per_s, f.p50_us, f.p99_us, f.errors,
      extra.empty() ? "" : " ", extra));
}

void AddBenchLine(const std::string& fields) {
  absl::MutexLock lock(&lines_mu);
  BenchLines()->push_back(absl::StrCat("BENCH ", fields));
}

void PrintBenchLines() {
  absl::MutexLock lock(&lines_mu);
  std::printf("\n");
  for (const std::string& line : *BenchLines()) {
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

}  // namespace zlayer::secrets::bench
