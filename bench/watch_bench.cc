// Watch streams (docs/watch.md): the daemon's RSS per open WatchEnv stream,
// and rotation-to-notification latency at 1 and N watchers.
//
//   bazel build -c opt //bench:watch_bench //daemon:zlayer-secretsd
//   bazel-bin/bench/watch_bench --daemon bazel-bin/daemon/zlayer-secretsd
//       --streams 1000 --rotations 50
//
// Latency is measured from the moment the client sends RotateSecret (so it
// includes that durable write) until a watcher has read the message
// carrying the new version; every
// watcher is a thread blocked in Read() (so at N watchers the client's own
// N threads share the machine's cores with the daemon).
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_common.h"
#include "bench/daemon_client.h"
#include "grpcpp/grpcpp.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::bench {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "watch_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Watcher {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::WatchEnvResponse>> reader;
};

v1::WatchEnvRequest EnvRequest() {
  v1::WatchEnvRequest req;
  (*req.mutable_env())["DB"] = "$S:db";
  req.mutable_context()->set_deployment("bench");
  return req;
}

// Rotation-to-notification latencies of `watchers` over `rotations`.
void MeasureLatency(v1::Secrets::Stub* writer, std::vector<Watcher>* watchers,
                    int rotations, const std::string& label,
                    uint32_t* version) {
  absl::Mutex mu;
  uint32_t target = 0;
  absl::Time rotated;
  size_t arrived = 0;
  std::vector<int64_t> samples;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  for (Watcher& w : *watchers) {
    threads.emplace_back([&, reader = w.reader.get()] {
      v1::WatchEnvResponse m;
      while (!stop.load() && reader->Read(&m)) {
        const absl::Time now = absl::Now();
        absl::MutexLock lock(&mu);
        if (m.receipt_size() == 1 && m.receipt(0).version() == target) {
          samples.push_back(absl::ToInt64Nanoseconds(now - rotated));
          ++arrived;
        }
      }
    });
  }
  for (int r = 0; r < rotations; ++r) {
    v1::RotateSecretRequest rotate;
    *rotate.mutable_target() = DeploymentTarget("bench");
    rotate.set_name("db");
    rotate.set_value(Value64(r));
    v1::RotateSecretResponse response;
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu);
      arrived = 0;
      target = *version + 1;
      rotated = absl::Now();
    }
    grpc::Status status = writer->RotateSecret(&context, rotate, &response);
    if (!status.ok()) Fail("rotate: " + status.error_message());
    if (response.new_version() != *version + 1) Fail("unexpected version");
    *version = response.new_version();
    absl::MutexLock lock(&mu);
    auto all = [&] { return arrived == watchers->size(); };
    if (!mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30))) {
      Fail(absl::StrCat("rotation ", r, ": only ", arrived, " of ",
                        watchers->size(), " watchers notified"));
    }
  }
  stop = true;
  for (Watcher& w : *watchers) w.context->TryCancel();
  for (std::thread& t : threads) t.join();
  Figure f = Summarize(&samples, 1.0);
  std::printf("%-28s watchers=%-5zu p50=%8.0f us  p99=%8.0f us  samples=%zu\n",
              label.c_str(), watchers->size(), f.p50_us, f.p99_us,
              static_cast<size_t>(f.calls));
  AddBenchLine(absl::StrCat("watch_notify watchers=", watchers->size(),
                            " p50_us=", f.p50_us, " p99_us=", f.p99_us));
}

int Main(int argc, char** argv) {
  std::string daemon;
  int streams = 1000;
  int rotations = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--daemon") {
      daemon = argv[i + 1];
    } else if (flag == "--streams") {
      if (!absl::SimpleAtoi(argv[i + 1], &streams)) Fail("bad --streams");
    } else if (flag == "--rotations") {
      if (!absl::SimpleAtoi(argv[i + 1], &rotations)) Fail("bad --rotations");
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (daemon.empty()) Fail("--daemon PATH is required");
  char tmpl[] = "/tmp/zs-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
  const std::string dir = tmpl;
  const std::string limit = std::to_string(streams + 10);
  absl::StatusOr<StartedDaemon> started = StartDaemon(
      daemon, dir,
      {"--max-watch-streams", limit, "--max-watch-streams-per-caller", limit});
  if (!started.ok()) Fail(started.status().ToString());
  const pid_t pid = started->process->pid();

  auto writer = v1::Secrets::NewStub(UnixChannel(started->socket));
  {
    v1::SetSecretRequest set;
    *set.mutable_target() = DeploymentTarget("bench");
    set.set_name("db");
    set.set_value(Value64(0));
    v1::SetSecretResponse response;
    grpc::ClientContext context;
    grpc::Status status = writer->SetSecret(&context, set, &response);
    if (!status.ok()) Fail("set: " + status.error_message());
  }

  uint32_t version = 1;
  // 1 watcher first.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::Secrets::Stub>> stubs;
  constexpr int kChannels = 8;
  for (int i = 0; i < kChannels; ++i) {
    channels.push_back(UnixChannel(started->socket));
    stubs.push_back(v1::Secrets::NewStub(channels.back()));
  }
  auto open = [&](int n) {
    std::vector<Watcher> out(n);
    for (int i = 0; i < n; ++i) {
      out[i].context = std::make_unique<grpc::ClientContext>();
      out[i].reader =
          stubs[i % kChannels]->WatchEnv(out[i].context.get(), EnvRequest());
      v1::WatchEnvResponse first;
      if (!out[i].reader->Read(&first)) Fail("stream did not open");
    }
    return out;
  };

  PrintHeader("watch streams");
  {
    std::vector<Watcher> one = open(1);
    MeasureLatency(writer.get(), &one, rotations, "rotate->notify", &version);
    for (Watcher& w : one) w.reader->Finish();
  }
  // Settle the allocator's view before the baseline: one stream opened and
  // closed already.
  const int64_t before = VmRssKib(pid);
  std::vector<Watcher> many = open(streams);
  const int64_t after = VmRssKib(pid);
  std::printf(
      "daemon RSS: %lld KiB before, %lld KiB with %d open streams: "
      "%.1f KiB per stream\n",
      static_cast<long long>(before), static_cast<long long>(after), streams,
      static_cast<double>(after - before) / streams);
  AddBenchLine(absl::StrCat(
      "watch_rss streams=", streams, " rss_before_kib=", before,
      " rss_after_kib=", after,
      " kib_per_stream=", static_cast<double>(after - before) / streams));
  MeasureLatency(writer.get(), &many, rotations, "rotate->notify", &version);
  for (Watcher& w : many) w.reader->Finish();
  const int exit_status = started->process->Stop();
  std::printf("daemon exit status %d\n", exit_status);
  RemoveTree(dir);
  PrintBenchLines();
  return 0;
}

}  // namespace
}  // namespace zlayer::secrets::bench

int main(int argc, char** argv) {
  return zlayer::secrets::bench::Main(argc, argv);
}
