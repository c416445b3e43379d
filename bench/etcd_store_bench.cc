// Cluster mode's cost, store level, in one run: SqliteSecretStore (FULL) vs
// EtcdSecretStore on a 1-member and on a 3-member etcd (real /usr/bin/etcd
// on loopback, started here), next to the floor: raw etcd Range
// (linearizable and serializable) and Put through the same generated client.
// Figures: p50/p99 latency at 1 client and throughput at 8 clients, plus the
// ratios etcd/sqlite and store/raw. No daemon and no RPC to it are involved
// (the daemon adds the same Unix-socket RPC cost to both backends).
//
//   bazel run -c opt //bench:etcd_store_bench -- [--seconds S]
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_common.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::bench {
namespace {

std::unique_ptr<Keyring> Ring() {
  return *Keyring::Create(1, SecretBytes::FromString(std::string(32, 'B')));
}

struct Row {
  std::string name;
  Figure one;
  Figure eight;
};

void Print(const Row& r) {
  std::printf("%-34s p50 %8.0f us  p99 %8.0f us | 8 clients %8.0f calls/s\n",
              r.name.c_str(), r.one.p50_us, r.one.p99_us, r.eight.calls_per_s);
  std::printf(
      "BENCH name=%s clients=1 p50_us=%.0f p99_us=%.0f errors=%llu\n"
      "BENCH name=%s clients=8 calls_per_s=%.0f errors=%llu\n",
      r.name.c_str(), r.one.p50_us, r.one.p99_us,
      static_cast<unsigned long long>(r.one.errors), r.name.c_str(),
      r.eight.calls_per_s, static_cast<unsigned long long>(r.eight.errors));
}

Row Measure(const std::string& name, const std::function<Call(int)>& make,
            absl::Duration d) {
  Row r;
  r.name = name;
  r.one = RunClosedLoop({make(0)}, d);
  std::vector<Call> eight;
  for (int i = 0; i < 8; ++i) eight.push_back(make(i));
  r.eight = RunClosedLoop(eight, d);
  Print(r);
  return r;
}

// GetSecret and SetSecret on `store` (each client its own secret for Set).
std::vector<Row> MeasureStore(const std::string& label, SecretStore* store,
                              absl::Duration d) {
  const SecretBytes value = SecretBytes::FromString(std::string(64, 'v'));
  for (int i = 0; i < 8; ++i) {
    (void)store->SetSecret("bench", absl::StrCat("k", i), value, {});
  }
  std::vector<Row> out;
  out.push_back(Measure(
      label + "_get_secret",
      [store](int i) -> Call {
        const std::string name = absl::StrCat("k", i);
        return [store, name] { return store->GetSecret("bench", name).ok(); };
      },
      d));
  out.push_back(Measure(
      label + "_set_secret",
      [store, &value](int i) -> Call {
        const std::string name = absl::StrCat("w", i);
        return [store, name, &value] {
          return store->SetSecret("bench", name, value, {}).ok();
        };
      },
      d));
  return out;
}

std::vector<Row> MeasureRaw(const std::string& label, EtcdClient* client,
                            absl::Duration d) {
  std::vector<Row> out;
  for (bool serializable : {false, true}) {
    out.push_back(Measure(
        absl::StrCat(label, serializable ? "_raw_range_serializable"
                                         : "_raw_range_linearizable"),
        [client, serializable](int) -> Call {
          return [client, serializable] {
            etcdserverpb::RangeRequest r;
            r.set_key("/bench-raw/k");
            r.set_serializable(serializable);
            return client->Range(r).ok();
          };
        },
        d));
  }
  out.push_back(Measure(
      label + "_raw_put",
      [client](int i) -> Call {
        const std::string key = absl::StrCat("/bench-raw/p", i);
        return [client, key] {
          etcdserverpb::PutRequest p;
          p.set_key(key);
          p.set_value(std::string(120, 'x'));
          return client->Put(p).ok();
        };
      },
      d));
  return out;
}

int Main(int argc, char** argv) {
  absl::Duration d = absl::Seconds(3);
  for (int i = 1; i + 1 < argc; ++i) {
    int64_t s = 0;
    if (std::strcmp(argv[i], "--seconds") == 0 &&
        absl::SimpleAtoi(argv[i + 1], &s)) {
      d = absl::Seconds(s);
    }
  }
  if (!testing::EtcdCluster::Available()) {
    std::fprintf(stderr, "%s\n", testing::EtcdCluster::kMissing);
    return 2;
  }
  RealClock clock;
  SqliteStoreOptions sqlite_options;
  sqlite_options.path = testing::MakeTempDir() + "/bench.db";
  auto sqlite = SqliteSecretStore::Open(sqlite_options, Ring(), &clock);
  if (!sqlite.ok()) {
    std::fprintf(stderr, "sqlite: %s\n", sqlite.status().ToString().c_str());
    return 1;
  }
  std::vector<Row> rows = MeasureStore("sqlite", sqlite->get(), d);
  for (int members : {1, 3}) {
    auto etcd = testing::EtcdCluster::Start(members);
    if (!etcd.ok()) {
      std::fprintf(stderr, "etcd: %s\n", etcd.status().ToString().c_str());
      return 1;
    }
    EtcdStoreOptions options;
    options.client.endpoints = (*etcd)->ClientEndpoints();
    auto store = EtcdSecretStore::Open(options, Ring(), &clock);
    if (!store.ok()) {
      std::fprintf(stderr, "etcd store: %s\n",
                   store.status().ToString().c_str());
      return 1;
    }
    const std::string label = absl::StrCat("etcd", members);
    std::vector<Row> raw = MeasureRaw(label, &(*store)->client(), d);
    std::vector<Row> ours = MeasureStore(label, store->get(), d);
    // Ratios within this run.
    std::printf(
        "RATIO %s get_secret_p50/sqlite=%.2f set_secret_p50/sqlite=%.2f "
        "get_secret_p50/raw_range_lin_p50=%.2f "
        "set_secret_p50/raw_put_p50=%.2f "
        "get_secret_8c_tput/raw_range_lin_8c_tput=%.2f "
        "set_secret_8c_tput/raw_put_8c_tput=%.2f\n",
        label.c_str(), ours[0].one.p50_us / rows[0].one.p50_us,
        ours[1].one.p50_us / rows[1].one.p50_us,
        ours[0].one.p50_us / raw[0].one.p50_us,
        ours[1].one.p50_us / raw[2].one.p50_us,
        ours[0].eight.calls_per_s / raw[0].eight.calls_per_s,
        ours[1].eight.calls_per_s / raw[2].eight.calls_per_s);
  }
  return 0;
}

}  // namespace
}  // namespace zlayer::secrets::bench

int main(int argc, char** argv) {
  return zlayer::secrets::bench::Main(argc, argv);
}
