// scale_bench: the daemon on a store of 1,000,000 secrets (opt-in:
// `./x bench --scale`, or tools/run_bench.sh --scale).
//
//   bazel-bin/bench/scale_bench --daemon bazel-bin/daemon/zlayer-secretsd
//       [--secrets 1000000] [--dir /tmp/zs-scale] [--runs 5] [--seconds 1]
//
// The store is generated once into --dir (reused while its marker file
// matches; never committed): the schema and key check come from
// SqliteSecretStore::Open itself, then rows are inserted with SQL in the
// store's format (docs/storage.md) in large transactions, each value sealed
// with the store's Keyring under its row's associated data, so the daemon
// reads real encrypted rows. Layout: scope "scale" holds 100,000 secrets (the
// export figure), scopes "d000".."dNNN" 1,000 each. A second, 1,000-secret
// store with the same layout ("d000" only) is the comparison for GetSecret.
//
// Figures: daemon start time (fork to first answered call, median of 3
// starts), VmRSS idle and after the workload, GetSecret p50 on random names
// (1M store vs 1k store, alternating runs), ListSecrets page time (100 and
// 1,000 per page, random positions in the 100k scope), and ExportSecrets of
// the 100k scope.
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_common.h"
#include "bench/daemon_client.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "core/store/store_common.h"
#include "grpcpp/client_context.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::bench {
namespace {

constexpr int kExportScopeSecrets = 100000;
constexpr int kPerScope = 1000;

struct Options {
  std::string daemon_path;
  std::string dir = "/tmp/zs-scale";
  int64_t secrets = 1000000;
  int runs = 5;
  double seconds = 1.0;
};

// Where secret i of a store lives.
void Place(int64_t i, bool with_export_scope, std::string* scope,
           std::string* name) {
  if (with_export_scope && i < kExportScopeSecrets) {
    *scope = "scale";
    *name = absl::StrFormat("s%06d", i);
    return;
  }
  const int64_t j = with_export_scope ? i - kExportScopeSecrets : i;
  *scope = absl::StrFormat("d%03d", j / kPerScope);
  *name = absl::StrFormat("n%04d", j % kPerScope);
}

void Die(const std::string& what) {
  std::fprintf(stderr, "scale_bench: %s\n", what.c_str());
  std::exit(1);
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Die(absl::StrCat(sql, ": ", err != nullptr ? err : "?"));
  }
}

std::unique_ptr<Keyring> BenchKeyring() {
  std::string key = absl::HexStringToBytes(kBenchKeyHex);
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, SecretBytes::FromString(key));
  sodium_memzero(key.data(), key.size());
  if (!ring.ok()) Die(ring.status().ToString());
  return *std::move(ring);
}

// Generates `count` secrets into data_dir/secrets.db unless a previous run
// left exactly that. Returns the seconds spent (0 when reused).
double Generate(const std::string& data_dir, int64_t count,
                bool with_export_scope) {
  const std::string marker = data_dir + "/generated";
  const std::string want = absl::StrCat(count, with_export_scope ? " x" : "");
  {
    std::ifstream in(marker);
    std::string have;
    if (std::getline(in, have) && have == want) return 0;
  }
  RemoveTree(data_dir);
  if (mkdir(data_dir.c_str(), 0700) != 0) Die("mkdir " + data_dir);
  const std::string path = data_dir + "/secrets.db";
  const auto t0 = std::chrono::steady_clock::now();
  RealClock clock;
  {
    // Schema, pragmas and key check exactly as the daemon makes them.
    SqliteStoreOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
        SqliteSecretStore::Open(options, BenchKeyring(), &clock);
    if (!store.ok()) Die(store.status().ToString());
  }
  std::unique_ptr<Keyring> ring = BenchKeyring();
  const uint32_t key_id = ring->active_key_id();
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("open " + path);
  // Bulk load: durability does not matter until the final checkpoint.
  Exec(db, "PRAGMA synchronous = OFF");
  Exec(db, "PRAGMA cache_size = -262144");
  sqlite3_stmt* secret = nullptr;
  sqlite3_stmt* version = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO secrets (scope, name, current_version, "
                         "created_at, updated_at, max_versions, deleted_at) "
                         "VALUES (?1, ?2, 1, ?3, ?3, 10, NULL)",
                         -1, &secret, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO secret_versions (scope, name, version, "
                         "key_id, created_at, ciphertext) "
                         "VALUES (?1, ?2, 1, ?3, ?4, ?5)",
                         -1, &version, nullptr) != SQLITE_OK) {
    Die(sqlite3_errmsg(db));
  }
  const int64_t now = clock.NowUnixSeconds();
  std::string scope, name;
  Exec(db, "BEGIN");
  for (int64_t i = 0; i < count; ++i) {
    Place(i, with_export_scope, &scope, &name);
    absl::StatusOr<std::string> blob =
        ring->Encrypt(SecretBytes::FromString(Value64(i)),
                      SecretAssociatedData(scope, name, 1, key_id));
    if (!blob.ok()) Die(blob.status().ToString());
    sqlite3_bind_text(secret, 1, scope.data(), static_cast<int>(scope.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(secret, 2, name.data(), static_cast<int>(name.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(secret, 3, now);
    sqlite3_bind_text(version, 1, scope.data(), static_cast<int>(scope.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(version, 2, name.data(), static_cast<int>(name.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(version, 3, key_id);
    sqlite3_bind_int64(version, 4, now);
    sqlite3_bind_blob(version, 5, blob->data(), static_cast<int>(blob->size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(secret) != SQLITE_DONE ||
        sqlite3_step(version) != SQLITE_DONE) {
      Die(sqlite3_errmsg(db));
    }
    sqlite3_reset(secret);
    sqlite3_reset(version);
    if ((i + 1) % 50000 == 0) {
      Exec(db, "COMMIT");
      Exec(db, "BEGIN");
      if ((i + 1) % 200000 == 0) {
        std::fprintf(stderr, "scale_bench: %lld secrets written\n",
                     static_cast<long long>(i + 1));
      }
    }
  }
  Exec(db, "COMMIT");
  sqlite3_finalize(secret);
  sqlite3_finalize(version);
  // The daemon starts from a checkpointed file, as after a clean shutdown.
  Exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(db);
  sync();
  std::ofstream(marker) << want << "\n";
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(120));
}

// GetSecret of random names of the store, one client.
Call RandomGet(const std::string& socket, int64_t count, bool with_export_scope,
               uint64_t seed) {
  auto stub = std::shared_ptr<v1::Secrets::Stub>(
      v1::Secrets::NewStub(UnixChannel(socket)));
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [stub, rng, count, with_export_scope]() {
    std::string scope, name;
    Place(static_cast<int64_t>((*rng)() % static_cast<uint64_t>(count)),
          with_export_scope, &scope, &name);
    v1::GetSecretRequest req;
    req.mutable_target()->set_scope(scope);
    req.set_name(name);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::GetSecretResponse resp;
    return stub->GetSecret(&ctx, req, &resp).ok() && resp.value().size() == 64;
  };
}

// ListSecrets pages at random positions of the 100k scope.
Call RandomPage(const std::string& socket, uint32_t page_size, uint64_t seed) {
  auto stub = std::shared_ptr<v1::Secrets::Stub>(
      v1::Secrets::NewStub(UnixChannel(socket)));
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [stub, rng, page_size]() {
    const uint64_t at = (*rng)() % (kExportScopeSecrets - page_size);
    v1::ListSecretsRequest req;
    req.mutable_target()->set_scope("scale");
    req.set_page_size(page_size);
    if (at > 0) {
      req.set_page_token(EncodePageToken(absl::StrFormat("s%06d", at)));
    }
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::ListSecretsResponse resp;
    return stub->ListSecrets(&ctx, req, &resp).ok() &&
           resp.secrets_size() == static_cast<int>(page_size);
  };
}

int Run(const Options& o) {
  std::printf("scale_bench: %lld secrets; load average %.2f at start\n",
              static_cast<long long>(o.secrets), LoadAverage1());
  if (mkdir(o.dir.c_str(), 0700) != 0 && errno != EEXIST) Die("mkdir " + o.dir);
  const std::string big_dir = o.dir + "/big";
  const std::string small_dir = o.dir + "/small";
  const double gen_big = Generate(big_dir, o.secrets, true);
  const double gen_small = Generate(small_dir, 1000, false);
  std::printf("store generation: %s (1k store: %.1f s)\n",
              gen_big > 0 ? absl::StrFormat("%.1f s", gen_big).c_str()
                          : "reused from an earlier run",
              gen_small);
  struct stat st;
  if (stat((big_dir + "/secrets.db").c_str(), &st) == 0) {
    std::printf("store file: %.1f MiB\n", st.st_size / 1048576.0);
  }
  const std::vector<std::string> daemon_args = {"--max-message-bytes",
                                                "134217728"};

  // Start time: three cold-ish starts each (the file stays in the page
  // cache, as on a running host).
  std::vector<double> start_big, start_small;
  for (int i = 0; i < 3; ++i) {
    for (bool big : {true, false}) {
      absl::StatusOr<StartedDaemon> d =
          StartDaemon(o.daemon_path, big ? big_dir : small_dir, daemon_args);
      if (!d.ok()) Die(d.status().ToString());
      (big ? start_big : start_small)
          .push_back(absl::ToDoubleMilliseconds(d->start_time));
      d->process->Stop();
    }
  }
  absl::StatusOr<StartedDaemon> big =
      StartDaemon(o.daemon_path, big_dir, daemon_args);
  absl::StatusOr<StartedDaemon> small =
      StartDaemon(o.daemon_path, small_dir, daemon_args);
  if (!big.ok()) Die(big.status().ToString());
  if (!small.ok()) Die(small.status().ToString());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t rss_big_idle = VmRssKib(big->process->pid());
  const int64_t rss_small_idle = VmRssKib(small->process->pid());

  // GetSecret, random names, alternating stores.
  const absl::Duration duration = absl::Seconds(o.seconds);
  std::vector<Figure> get_big, get_small;
  std::vector<double> get_ratio;
  for (int r = 0; r < o.runs; ++r) {
    Figure b, s;
    if (r % 2 == 0) {
      b = RunClosedLoop({RandomGet(big->socket, o.secrets, true, r)}, duration);
      s = RunClosedLoop({RandomGet(small->socket, 1000, false, r)}, duration);
    } else {
      s = RunClosedLoop({RandomGet(small->socket, 1000, false, r)}, duration);
      b = RunClosedLoop({RandomGet(big->socket, o.secrets, true, r)}, duration);
    }
    get_big.push_back(b);
    get_small.push_back(s);
    get_ratio.push_back(s.p50_us > 0 ? b.p50_us / s.p50_us : 0);
  }
  std::vector<Figure> list100, list1000;
  for (int r = 0; r < o.runs; ++r) {
    list100.push_back(
        RunClosedLoop({RandomPage(big->socket, 100, r)}, duration));
    list1000.push_back(
        RunClosedLoop({RandomPage(big->socket, 1000, r)}, duration));
  }
  const int64_t rss_big_reads = VmRssKib(big->process->pid());

  // Export of the 100k scope.
  std::vector<double> export_s;
  size_t export_bytes = 0;
  uint32_t export_count = 0;
  std::string export_error;
  {
    auto stub = v1::Secrets::NewStub(UnixChannel(big->socket));
    for (int r = 0; r < 3; ++r) {
      v1::ExportSecretsRequest req;
      req.mutable_target()->set_scope("scale");
      req.set_format(v1::SECRET_FORMAT_DOTENV);
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      v1::ExportSecretsResponse resp;
      const auto t0 = std::chrono::steady_clock::now();
      grpc::Status s = stub->ExportSecrets(&ctx, req, &resp);
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      if (!s.ok()) {
        export_error = absl::StrCat(static_cast<int>(s.error_code()), " ",
                                    s.error_message());
        break;
      }
      export_s.push_back(secs);
      export_bytes = resp.content().size();
      export_count = resp.count();
    }
  }
  const bool big_alive = kill(big->process->pid(), 0) == 0;
  const int64_t rss_big_after = big_alive ? VmRssKib(big->process->pid()) : -1;
  const int64_t hwm_big = big_alive ? VmHwmKib(big->process->pid()) : -1;

  PrintHeader(absl::StrFormat("1M-secret store (medians of %d runs)", o.runs));
  const Figure gb = Median(get_big), gs = Median(get_small);
  const double ratio = Median(get_ratio);
  PrintFigure("get_secret_random_1k_store", 1, gs);
  PrintFigure("get_secret_random_1m_store", 1, gb,
              absl::StrFormat("p50_ratio=%.3f", ratio));
  PrintFigure("list_secrets_page_100", 1, Median(list100));
  PrintFigure("list_secrets_page_1000", 1, Median(list1000));
  const double start_b = Median(start_big), start_s = Median(start_small);
  std::printf("\nstart time (fork to first answer): 1M %.1f ms, 1k %.1f ms\n",
              start_b, start_s);
  std::printf(
      "VmRSS 1M store: idle %.1f MiB, after reads %.1f MiB, after "
      "export %s (peak %s)\n",
      rss_big_idle / 1024.0, rss_big_reads / 1024.0,
      rss_big_after >= 0
          ? absl::StrFormat("%.1f MiB", rss_big_after / 1024.0).c_str()
          : "n/a (daemon died)",
      hwm_big >= 0 ? absl::StrFormat("%.1f MiB", hwm_big / 1024.0).c_str()
                   : "n/a");
  std::printf("VmRSS 1k store: idle %.1f MiB\n", rss_small_idle / 1024.0);
  if (export_error.empty() && !export_s.empty()) {
    std::printf("export of %u secrets: %.2f s (median of %zu), %.1f MiB\n",
                export_count, Median(export_s), export_s.size(),
                export_bytes / 1048576.0);
  } else {
    std::printf("export of 100k secrets FAILED: %s%s\n", export_error.c_str(),
                big_alive ? "" : " (the daemon process died)");
  }
  AddBenchLine(absl::StrFormat(
      "name=scale_start secrets=%d start_ms=%.1f start_1k_ms=%.1f", o.secrets,
      start_b, start_s));
  AddBenchLine(absl::StrFormat(
      "name=scale_rss secrets=%d idle_kib=%d after_reads_kib=%d "
      "after_export_kib=%d peak_kib=%d idle_1k_kib=%d",
      o.secrets, rss_big_idle, rss_big_reads, rss_big_after, hwm_big,
      rss_small_idle));
  AddBenchLine(absl::StrFormat(
      "name=scale_export secrets=%u seconds=%.3f bytes=%d ok=%s", export_count,
      export_s.empty() ? -1.0 : Median(export_s), export_bytes,
      export_error.empty() ? "yes" : "no"));

  const int64_t rss_worst = std::max(rss_big_reads, rss_big_after);
  struct Target {
    std::string name;
    double value;
    std::string limit;
    bool met;
  };
  std::vector<Target> targets = {
      {"scale_start_ms", start_b, "<1000", start_b < 1000},
      {"scale_rss_mib", rss_worst / 1024.0, "<100",
       big_alive && rss_worst < 100 * 1024},
      {"scale_get_p50_vs_1k", ratio, "<=1.10", ratio <= 1.10},
      {"scale_export_100k_ok", export_error.empty() ? 1.0 : 0.0, "=1",
       export_error.empty()},
  };
  std::printf("\n== targets\n");
  for (const Target& t : targets) {
    std::printf("%-34s %8.2f  %-7s %s\n", t.name.c_str(), t.value,
                t.limit.c_str(), t.met ? "met" : "MISSED");
    AddBenchLine(absl::StrFormat("target=%s value=%.2f limit=%s met=%s", t.name,
                                 t.value, t.limit, t.met ? "yes" : "no"));
  }
  PrintBenchLines();
  small->process->Stop();
  big->process->Stop();
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(arg + " needs a value");
      return argv[++i];
    };
    bool ok = true;
    if (arg == "--daemon") {
      o.daemon_path = value();
    } else if (arg == "--dir") {
      o.dir = value();
    } else if (arg == "--secrets") {
      ok = absl::SimpleAtoi(value(), &o.secrets) &&
           o.secrets > kExportScopeSecrets;
    } else if (arg == "--quick") {  // one short run (iterating; noisy)
      o.runs = 1;
      o.seconds = 0.3;
    } else if (arg == "--runs") {
      ok = absl::SimpleAtoi(value(), &o.runs) && o.runs > 0;
    } else if (arg == "--seconds") {
      ok = absl::SimpleAtod(value(), &o.seconds);
    } else {
      ok = false;
    }
    if (!ok) {
      Die("usage: scale_bench --daemon PATH [--secrets N>100000] [--dir DIR] "
          "[--quick] [--runs N] [--seconds S]");
    }
  }
  if (o.daemon_path.empty()) Die("--daemon PATH is required");
  if (o.dir.rfind("/tmp/", 0) != 0) Die("--dir must be under /tmp");
  if (sodium_init() < 0) return 1;
  return Run(o);
}

}  // namespace
}  // namespace zlayer::secrets::bench

int main(int argc, char** argv) {
  return zlayer::secrets::bench::Main(argc, argv);
}
