// Measures what issue 18 item 5 is about (figures, never asserted in tests):
//
//   1. timing gap: median ApiKeyStore::Verify time for an unknown id vs the
//      known id with a wrong secret (in process, real SQLite file, default
//      cost settings, `--tries` of each, interleaved);
//   2. against a real daemon over TLS: `--clients` threads (one connection
//      each) sending wrong `admin` keys for `--seconds`: tries/s, status
//      codes, the daemon's RSS high-water (VmHWM), audit lines written, and
//      the latency of a valid admin call from another source ([::1]) during
//      the flood.
//
//   bazel run //tests/security/apikey:apikey_attack_bench --
//       --clients=64 --seconds=10 --tries=200
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/crypto/subkeys.h"
#include "core/identity/api_key_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "tests/security/apikey/apikey_attack_support.h"

namespace zlayer::secrets::apikey_attack {
namespace {

int IntFlag(int argc, char** argv, const std::string& name, int def) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    const std::string prefix = "--" + name + "=";
    int v = 0;
    if (absl::StartsWith(a, prefix) &&
        absl::SimpleAtoi(a.substr(prefix.size()), &v)) {
      return v;
    }
  }
  return def;
}

double MedianUs(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

ApiKeyStoreOptions BenchOptions() {
  ApiKeyStoreOptions o;
  o.hash_key = SecretBytes::Random(kSubkeyBytes);
  return o;
}

void TimingGap(int tries) {
  testing::TempDir dir;
  RealClock clock;
  SqliteStoreOptions options;
  options.path = dir.Sub("secrets.db");
  auto ring = Keyring::Create(1, SecretBytes::Random(kKeyBytes));
  auto store = SqliteSecretStore::Open(options, *std::move(ring), &clock);
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  auto keys = ApiKeyStore::Create(store->get(), &clock, BenchOptions());
  if (!keys.ok()) std::exit(1);
  if (!(*keys)->Create("admin", {"admin"}).ok()) std::exit(1);
  std::vector<double> unknown, known;
  for (int i = 0; i < tries; ++i) {
    std::string u = RandomKey(absl::StrCat("nobody", i % 7));
    std::string k = RandomKey("admin");
    absl::Time t0 = absl::Now();
    (void)(*keys)->Verify(u);
    absl::Time t1 = absl::Now();
    (void)(*keys)->Verify(k);
    absl::Time t2 = absl::Now();
    unknown.push_back(absl::ToDoubleMicroseconds(t1 - t0));
    known.push_back(absl::ToDoubleMicroseconds(t2 - t1));
  }
  const double mu = MedianUs(unknown), mk = MedianUs(known);
  std::printf(
      "timing (in process, %d tries each): unknown id median %.1f us, known id "
      "wrong secret median %.1f us, gap %.1f us\n",
      tries, mu, mk, mk - mu);
}

void Flood(int clients, int seconds) {
  auto daemon = TlsDaemon::Start({});
  if (!daemon.ok()) {
    std::fprintf(stderr, "daemon: %s\n", daemon.status().ToString().c_str());
    std::exit(1);
  }
  TlsDaemon& d = **daemon;
  // Warm the valid key (cache) before the flood.
  auto probe_channel = d.Channel("[::1]");
  grpc::Status warm = d.WhoAmI(probe_channel, d.admin_key());
  std::printf("valid admin before the flood: %s\n",
              warm.ok() ? "OK" : warm.error_message().c_str());
  struct stat st;
  const int64_t audit_before =
      stat(d.audit_path().c_str(), &st) == 0 ? st.st_size : 0;
  const int64_t rss_before = RssKib(d.pid());

  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::map<int, int64_t> codes;
  int64_t tries = 0;
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto channel = d.Channel("127.0.0.1");
      std::map<int, int64_t> mine;
      int64_t n = 0;
      while (!stop.load()) {
        grpc::Status s =
            d.WhoAmI(channel, RandomKey("admin"), nullptr, absl::Seconds(5));
        ++mine[s.error_code()];
        ++n;
      }
      absl::MutexLock lock(&mu);
      tries += n;
      for (auto& [k, v] : mine) codes[k] += v;
    });
  }
  std::vector<double> probe_ms;
  int probe_failures = 0;
  int64_t rss_peak = rss_before;
  while (absl::Now() - start < absl::Seconds(seconds)) {
    absl::Time t0 = absl::Now();
    grpc::Status s =
        d.WhoAmI(probe_channel, d.admin_key(), nullptr, absl::Seconds(10));
    probe_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!s.ok()) ++probe_failures;
    rss_peak = std::max(rss_peak, RssKib(d.pid()));
    absl::SleepFor(absl::Milliseconds(200));
  }
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t hwm = HighWaterKib(d.pid());
  d.process()->Signal(SIGTERM);
  (void)d.process()->WaitForExit(absl::Seconds(30));
  // Lines written since the flood began: failures (per call, or coalesced
  // "ApiKeyAuth" records) apart from the probe's successful calls.
  int64_t failure_lines = 0, coalesced_lines = 0;
  {
    std::ifstream in(d.audit_path());
    in.seekg(audit_before);
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StrContains(line, "\"rpc\":\"ApiKeyAuth\"")) {
        ++coalesced_lines;
      } else if (!absl::StrContains(line, "\"code\":\"OK\"")) {
        ++failure_lines;
      }
    }
  }
  std::printf(
      "flood: %d clients x %.1f s: %lld wrong-key tries, %.1f tries/s\n",
      clients, secs, static_cast<long long>(tries), tries / secs);
  for (auto& [k, v] : codes) {
    std::printf("  code %d: %lld\n", k, static_cast<long long>(v));
  }
  std::printf(
      "  daemon RSS before %lld KiB, sampled peak %lld KiB, VmHWM %lld KiB\n",
      static_cast<long long>(rss_before), static_cast<long long>(rss_peak),
      static_cast<long long>(hwm));
  std::printf("  audit lines for the failures: %lld per-call, %lld coalesced\n",
              static_cast<long long>(failure_lines),
              static_cast<long long>(coalesced_lines));
  std::printf(
      "  valid admin from [::1] during the flood: %zu calls, %d failed, "
      "median %.1f ms, max %.1f ms\n",
      probe_ms.size(), probe_failures, MedianUs(probe_ms),
      probe_ms.empty() ? 0.0
                       : *std::max_element(probe_ms.begin(), probe_ms.end()));
}

}  // namespace
}  // namespace zlayer::secrets::apikey_attack

int main(int argc, char** argv) {
  using namespace zlayer::secrets::apikey_attack;
  if (sodium_init() < 0) return 1;
  TimingGap(IntFlag(argc, argv, "tries", 200));
  Flood(IntFlag(argc, argv, "clients", 64), IntFlag(argc, argv, "seconds", 10));
  return 0;
}
