// metered_store_bench: what --metrics-listen costs a store read and a
// scrape. GetSecret on MemorySecretStore directly and through
// MeteredSecretStore (name labels off and on), ns per call, best of 5; and
// the time and size of one Collect() of the store families.
//
//   bazel build -c opt //bench:metered_store_bench &&
//   bazel-bin/bench/metered_store_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/store/memory_secret_store.h"
#include "daemon/metered_secret_store.h"

namespace {

double NsPerCall(const std::function<size_t()>& fn, int n) {
  double best = 1e18;
  size_t sink = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) sink += fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(
        best, std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
  }
  if (sink == 42) std::printf(" ");
  return best;
}

}  // namespace

int main() {
  using namespace zlayer::secrets;
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  MemorySecretStore memory(&clock);
  for (int i = 0; i < 200; ++i) {
    if (!memory
             .SetSecret("s", absl::StrCat("n", i),
                        SecretBytes::FromString("value"), WriteOptions{})
             .ok()) {
      return 1;
    }
  }
  MeteredSecretStore off(&memory, "memory", false);
  MeteredSecretStore on(&memory, "memory", true);
  constexpr int kCalls = 200000;
  auto reader = [](SecretStore* store) {
    return [store, i = 0]() mutable -> size_t {
      return store->GetSecret("s", absl::StrCat("n", i++ % 200)).ok();
    };
  };
  std::printf("GetSecret direct:               %.0f ns\n",
              NsPerCall(reader(&memory), kCalls));
  std::printf("GetSecret metered (names off):  %.0f ns\n",
              NsPerCall(reader(&off), kCalls));
  std::printf("GetSecret metered (names on):   %.0f ns\n",
              NsPerCall(reader(&on), kCalls));
  std::string out;
  const double collect_ns = NsPerCall(
      [&]() -> size_t {
        out.clear();
        on.Collect(&out);
        return out.size();
      },
      200);
  std::printf("Collect (17 ops + 101 name series): %.0f us, %zu bytes\n",
              collect_ns / 1000, out.size());
  return 0;
}
