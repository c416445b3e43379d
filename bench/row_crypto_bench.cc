// row_crypto_bench: the per-read CPU cost of the store's row crypto (what
// every SQLite read does besides SQL): the row MAC check (SecretRowMac) and
// the value's associated data (ValueAssociatedData). ns per call, best of 5.
//
//   bazel build -c opt //bench:row_crypto_bench &&
//   bazel-bin/bench/row_crypto_bench
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "core/base/secret_bytes.h"
#include "core/crypto/store_crypto.h"

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
  if (sodium_init() < 0) return 1;
  const SecretBytes mac_key = SecretBytes::Random(32);
  const std::string store_id(16, 's');
  const std::string incarnation(16, 'i');
  SecretRowFields row;
  row.scope = "bench/api";
  row.name = "k0042";
  row.incarnation = incarnation;
  row.current_version = 3;
  row.created_at = 1700000000;
  row.updated_at = 1700000100;
  row.max_versions = 10;
  const double mac = NsPerCall(
      [&] { return SecretRowMac(mac_key, store_id, row)->size(); }, 200000);
  ValueBinding b{store_id, "bench/api", "k0042", 3, incarnation, 1};
  const double ad =
      NsPerCall([&] { return ValueAssociatedData(b).size(); }, 1000000);
  std::printf("secret_row_mac_ns %.1f\nvalue_associated_data_ns %.1f\n", mac,
              ad);
  return 0;
}
