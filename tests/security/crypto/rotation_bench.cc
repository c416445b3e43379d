// Figures, not a test: GetSecret latency (in-process, one reader thread) on
// an idle store, during master-key rotations and during a rekey, for a store
// of --secrets x --versions versions. Prints p50/p99/max per phase and how
// long each operation took.
//
//   bazel run -c opt //tests/security/crypto:rotation_bench -- 10000 10
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zs = zlayer::secrets;
using Clock = std::chrono::steady_clock;

namespace {

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void Report(const char* phase, std::vector<double> us) {
  if (us.empty()) {
    std::printf("%-28s no reads\n", phase);
    return;
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<size_t>(q * (us.size() - 1))];
  };
  std::printf("%-28s reads=%zu p50=%.1fus p99=%.1fus max=%.1fus\n", phase,
              us.size(), at(0.5), at(0.99), us.back());
}

// Reads random secrets until `stop`; returns each read's latency.
std::vector<double> ReadUntil(zs::SqliteSecretStore& store, int secrets,
                              const std::atomic<bool>& stop) {
  std::vector<double> us;
  unsigned seed = 7;
  while (!stop.load()) {
    const int i = static_cast<int>(rand_r(&seed) % secrets);
    const auto t0 = Clock::now();
    auto v = store.GetSecret("bench", absl::StrCat("s", i));
    us.push_back(Micros(Clock::now() - t0));
    if (!v.ok()) {
      std::fprintf(stderr, "read failed: %s\n", v.status().ToString().c_str());
      std::exit(1);
    }
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  const int secrets = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int versions = argc > 2 ? std::atoi(argv[2]) : 10;
  char dir_template[] = "/tmp/zs-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  zs::FakeClock clock;
  zs::SqliteStoreOptions options;
  options.path = dir + "/secrets.db";
  options.synchronous = zs::SqliteStoreOptions::Synchronous::kFull;
  auto ring =
      zs::Keyring::Create(1, zs::SecretBytes::FromString(std::string(32, 'A')));
  auto opened = zs::SqliteSecretStore::Open(options, *std::move(ring), &clock);
  if (!opened.ok()) return 1;
  zs::SqliteSecretStore& store = **opened;

  // Fill with concurrent writers so group commit shares the fsyncs.
  const auto fill0 = Clock::now();
  {
    std::vector<std::thread> writers;
    for (int w = 0; w < 16; ++w) {
      writers.emplace_back([&, w] {
        zs::WriteOptions keep;
        keep.max_versions = static_cast<uint32_t>(versions);
        for (int v = 1; v <= versions; ++v) {
          for (int i = w; i < secrets; i += 16) {
            auto m = store.SetSecret(
                "bench", absl::StrCat("s", i),
                zs::SecretBytes::FromString(absl::StrCat("value-", i, "-", v)),
                keep);
            if (!m.ok()) std::exit(2);
          }
        }
      });
    }
    for (auto& t : writers) t.join();
  }
  std::printf("store: %d secrets x %d versions = %d versions (fill %.1f s)\n",
              secrets, versions, secrets * versions,
              Micros(Clock::now() - fill0) / 1e6);

  {
    std::atomic<bool> stop{false};
    std::vector<double> us;
    std::thread reader([&] { us = ReadUntil(store, secrets, stop); });
    std::this_thread::sleep_for(std::chrono::seconds(2));
    stop.store(true);
    reader.join();
    Report("idle", us);
  }
  {
    std::atomic<bool> stop{false};
    std::vector<double> us;
    std::thread reader([&] { us = ReadUntil(store, secrets, stop); });
    std::vector<double> rotation_ms;
    for (uint32_t id = 2; id < 2 + 20; ++id) {
      const auto t0 = Clock::now();
      auto s = store.RotateKey(
          id, zs::SecretBytes::FromString(std::string(32, 'A' + id % 20)));
      rotation_ms.push_back(Micros(Clock::now() - t0) / 1000);
      if (!s.ok()) return 3;
    }
    stop.store(true);
    reader.join();
    std::sort(rotation_ms.begin(), rotation_ms.end());
    std::printf("master-key rotation x20: median %.2f ms, max %.2f ms\n",
                rotation_ms[rotation_ms.size() / 2], rotation_ms.back());
    Report("during master-key rotations", us);
  }
  {
    std::atomic<bool> stop{false};
    std::vector<double> us;
    std::thread reader([&] { us = ReadUntil(store, secrets, stop); });
    const auto t0 = Clock::now();
    if (!store.StartRekey().ok()) return 4;
    if (!store.WaitForRekey().ok()) return 5;
    const double rekey_s = Micros(Clock::now() - t0) / 1e6;
    stop.store(true);
    reader.join();
    std::printf("rekey of %llu versions: %.2f s\n",
                static_cast<unsigned long long>(store.rekey_progress().done),
                rekey_s);
    Report("during rekey", us);
  }
  return 0;
}
