// zs_bench: the daemon against the machine's floor, side by side.
//
//   bazel build -c opt //bench/... && tools/run_bench.sh   (or ./x bench)
//   bazel-bin/bench/zs_bench --daemon bazel-bin/daemon/zlayer-secretsd
//       [--runs 5] [--seconds 1]
//
// Floors, measured in the same run:
//   echo         an Echo RPC (bench/echo.proto) served by a separate process
//                built like the daemon's server: same gRPC, sync API with a
//                ResourceQuota of 16 threads, no listening port, the Unix
//                socket accepted by the daemon's own UnixListener
//                (SO_PEERCRED, AddInsecureChannelFromFd). Its request and
//                reply carry as many bytes as the daemon call it stands for.
//   sqlite       raw single-row INSERTs, one transaction each, WAL mode,
//                synchronous=FULL, a 109-byte blob (a sealed 64-byte value).
//   aead         libsodium XChaCha20-Poly1305 seal + open of 64 bytes.
// Daemon: zlayer-secretsd as a subprocess on a fresh data directory with a
// 1,000-secret store, over its Unix socket; every client has its own
// connection. Each figure is the median of --runs runs; floor and daemon
// runs alternate, and every ratio is the median of the per-run ratios.
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_common.h"
#include "bench/daemon_client.h"
#include "bench/echo.grpc.pb.h"
#include "daemon/transport/unix_listener.h"
#include "grpcpp/client_context.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::bench {
namespace {

using EchoStub = zlayer::secrets::bench::Echo::Stub;

// ---------------------------------------------------------------------------
// The echo floor server (this binary with --echo-server SOCKET).

class EchoService final : public Echo::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const EchoRequest* request,
                    EchoReply* reply) override {
    reply->mutable_payload()->assign(request->reply_bytes(), 'x');
    return grpc::Status::OK;
  }
};

int ServeEcho(const std::string& socket, int max_threads) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  UnixListenerOptions options;
  options.path = socket;
  absl::StatusOr<std::unique_ptr<UnixListener>> listener =
      UnixListener::Create(options);
  if (!listener.ok()) {
    std::fprintf(stderr, "echo: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  EchoService service;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  grpc::ResourceQuota quota("zs-bench-echo");
  quota.SetMaxThreads(max_threads);
  builder.SetResourceQuota(quota);
  // The daemon's connection settings (idle and keepalive only matter for
  // idle connections; kept alike anyway).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 5 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 2 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  if (!(*listener)->Start(server.get()).ok()) return 1;
  int sig = 0;
  sigwait(&stop, &sig);
  (*listener)->Stop();
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

// ---------------------------------------------------------------------------
// Clients.

template <typename Stub>
std::vector<std::unique_ptr<Stub>> MakeStubs(
    const std::string& socket, int n,
    std::unique_ptr<Stub> (*make)(
        const std::shared_ptr<grpc::ChannelInterface>&,
        const grpc::StubOptions&)) {
  std::vector<std::unique_ptr<Stub>> stubs;
  for (int i = 0; i < n; ++i) {
    stubs.push_back(make(UnixChannel(socket), grpc::StubOptions()));
  }
  return stubs;
}

std::unique_ptr<EchoStub> NewEchoStub(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const grpc::StubOptions& options) {
  return Echo::NewStub(channel, options);
}
std::unique_ptr<v1::Secrets::Stub> NewSecretsStub(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const grpc::StubOptions& options) {
  return v1::Secrets::NewStub(channel, options);
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(10));
}

// A unary call as a benchmark Call: the request is built once, `vary` may
// change it per call (index i).
template <typename Stub, typename Req, typename Resp>
Call UnaryCall(Stub* stub,
               grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                            Resp*),
               Req request,
               std::function<void(Req*, uint64_t)> vary = nullptr) {
  auto req = std::make_shared<Req>(std::move(request));
  auto counter = std::make_shared<uint64_t>(0);
  return [stub, method, req, counter, vary]() {
    if (vary) vary(req.get(), (*counter)++);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    Resp resp;
    return (stub->*method)(&ctx, *req, &resp).ok();
  };
}

// ---------------------------------------------------------------------------
// The raw floors.

// Single-row durable inserts: the cost of one fsync'd WAL commit.
class SqliteInsertFloor {
 public:
  explicit SqliteInsertFloor(const std::string& path) {
    Check(sqlite3_open(path.c_str(), &db_), "open");
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = FULL");
    Exec(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT "
        "NULL)");
    Check(sqlite3_prepare_v2(db_, "INSERT INTO t (v) VALUES (?1)", -1, &insert_,
                             nullptr),
          "prepare");
    blob_.assign(109, '\x5a');
  }
  ~SqliteInsertFloor() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  bool Insert() {
    sqlite3_bind_blob(insert_, 1, blob_.data(), static_cast<int>(blob_.size()),
                      SQLITE_STATIC);
    const int rc = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    return rc == SQLITE_DONE;
  }

 private:
  void Check(int rc, const char* what) {
    if (rc != SQLITE_OK) {
      std::fprintf(stderr, "sqlite floor: %s: %s\n", what, sqlite3_errmsg(db_));
      std::exit(1);
    }
  }
  void Exec(const char* sql) {
    Check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql);
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string blob_;
};

Call AeadCall() {
  struct State {
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char plain[64];
    unsigned char sealed[64 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    unsigned char opened[64];
    unsigned char ad[48];
  };
  auto s = std::make_shared<State>();
  crypto_aead_xchacha20poly1305_ietf_keygen(s->key);
  randombytes_buf(s->plain, sizeof(s->plain));
  randombytes_buf(s->ad, sizeof(s->ad));
  return [s]() {
    // A fresh random nonce per seal, as the store does.
    randombytes_buf(s->nonce, sizeof(s->nonce));
    unsigned long long sealed_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        s->sealed, &sealed_len, s->plain, sizeof(s->plain), s->ad,
        sizeof(s->ad), nullptr, s->nonce, s->key);
    unsigned long long opened_len = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               s->opened, &opened_len, nullptr, s->sealed, sealed_len, s->ad,
               sizeof(s->ad), s->nonce, s->key) == 0;
  };
}

// ---------------------------------------------------------------------------
// The daemon's data.

struct Workload {
  v1::GetSecretRequest get;
  v1::GetSecretsRequest get_many;
  v1::ResolveEnvRequest resolve;
  // Serialized sizes of the requests and of typical responses.
  size_t get_req = 0, get_resp = 0;
  size_t many_req = 0, many_resp = 0;
  size_t resolve_req = 0, resolve_resp = 0;
};

std::string Name(const char* prefix, int i) {
  return absl::StrFormat("%s%04d", prefix, i);
}

bool Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %d %s\n", what.c_str(),
                 static_cast<int>(s.error_code()), s.error_message().c_str());
  }
  return s.ok();
}

// Fills the store: 1,000 secrets in deployment "bench", a service scope, two
// environments (one global, one in a project) and two JSON secrets.
bool Populate(const std::string& socket, Workload* w) {
  auto admin = v1::Admin::NewStub(UnixChannel(socket));
  for (const auto& [name, project] :
       std::vector<std::pair<std::string, std::string>>{{"staging", ""},
                                                        {"prod", "proj"}}) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::CreateEnvironmentRequest req;
    req.set_name(name);
    req.set_project(project);
    v1::Environment env;
    if (!Check(admin->CreateEnvironment(&ctx, req, &env),
               "CreateEnvironment " + name)) {
      return false;
    }
  }
  struct Item {
    v1::Target target;
    std::string name;
    std::string value;
  };
  std::vector<Item> items;
  for (int i = 0; i < 1000; ++i) {
    items.push_back({DeploymentTarget("bench"), Name("k", i), Value64(i)});
  }
  items.push_back({DeploymentTarget("bench"), "json1",
                   R"({"host":"db.internal","port":"5432","user":"app"})"});
  for (int i = 0; i < 10; ++i) {
    items.push_back(
        {DeploymentTarget("bench", "api"), Name("a", i), Value64(2000 + i)});
  }
  items.push_back({DeploymentTarget("bench", "api"), "json2",
                   R"({"host":"cache.internal","port":"6379"})"});
  v1::Target staging;
  staging.mutable_environment()->set_name_or_id("staging");
  v1::Target prod;
  prod.mutable_environment()->set_name_or_id("prod");
  prod.mutable_environment()->set_project("proj");
  for (int i = 0; i < 10; ++i) {
    items.push_back({staging, Name("e", i), Value64(3000 + i)});
    items.push_back({prod, Name("p", i), Value64(4000 + i)});
  }
  items.push_back({staging, "API_KEY", Value64(5000)});

  // Eight writers: the store's group commit keeps this short.
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto stub = v1::Secrets::NewStub(UnixChannel(socket));
      for (size_t i = next++; i < items.size(); i = next++) {
        grpc::ClientContext ctx;
        SetDeadline(&ctx);
        v1::SetSecretRequest req;
        *req.mutable_target() = items[i].target;
        req.set_name(items[i].name);
        req.set_value(items[i].value);
        v1::SetSecretResponse resp;
        if (!Check(stub->SetSecret(&ctx, req, &resp), "SetSecret")) ok = false;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (!ok) return false;

  *w->get.mutable_target() = DeploymentTarget("bench");
  w->get.set_name(Name("k", 42));
  *w->get_many.mutable_target() = DeploymentTarget("bench");
  for (int i = 0; i < 20; ++i) w->get_many.add_names(Name("k", 100 + i * 37));
  // 20 references of every form; two read one JSON field.
  auto& env = *w->resolve.mutable_env();
  int v = 0;
  auto add = [&](const std::string& ref) {
    env[absl::StrFormat("VAR_%02d", v++)] = ref;
  };
  for (int i = 0; i < 8; ++i) add("$S:" + Name("k", 200 + i * 91));
  for (int i = 0; i < 4; ++i) add("$S:@api/" + Name("a", i));
  for (int i = 0; i < 3; ++i) add("$S::staging/" + Name("e", i));
  for (int i = 0; i < 2; ++i) add("$S:proj:prod/" + Name("p", i));
  add("$secret://staging/API_KEY");
  add("$S:json1/host");
  add("$S:@api/json2/port");
  w->resolve.mutable_context()->set_deployment("bench");

  // Sizes of what actually crosses the socket.
  auto stub = v1::Secrets::NewStub(UnixChannel(socket));
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::GetSecretResponse resp;
    if (!Check(stub->GetSecret(&ctx, w->get, &resp), "GetSecret")) {
      return false;
    }
    w->get_req = w->get.ByteSizeLong();
    w->get_resp = resp.ByteSizeLong();
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::GetSecretsResponse resp;
    if (!Check(stub->GetSecrets(&ctx, w->get_many, &resp), "GetSecrets")) {
      return false;
    }
    if (resp.values_size() != 20) {
      std::fprintf(stderr, "GetSecrets returned %d values\n",
                   resp.values_size());
      return false;
    }
    w->many_req = w->get_many.ByteSizeLong();
    w->many_resp = resp.ByteSizeLong();
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::ResolveEnvResponse resp;
    if (!Check(stub->ResolveEnv(&ctx, w->resolve, &resp), "ResolveEnv")) {
      return false;
    }
    if (resp.env().at("VAR_18") != "db.internal" ||
        resp.env().at("VAR_19") != "6379") {
      std::fprintf(stderr, "ResolveEnv: JSON fields not resolved\n");
      return false;
    }
    w->resolve_req = w->resolve.ByteSizeLong();
    w->resolve_resp = resp.ByteSizeLong();
  }
  return true;
}

// An echo request standing for a daemon call of these sizes.
EchoRequest EchoOf(size_t request_bytes, size_t reply_bytes) {
  EchoRequest req;
  // The payload's tag and length take 2-3 bytes, reply_bytes another 2-3.
  req.set_reply_bytes(
      static_cast<uint32_t>(reply_bytes > 3 ? reply_bytes - 3 : 0));
  const size_t overhead = 3 + (reply_bytes > 127 ? 3 : 2);
  req.mutable_payload()->assign(
      request_bytes > overhead ? request_bytes - overhead : 0, 'r');
  return req;
}

// ---------------------------------------------------------------------------
// The run.

struct Pair {
  std::string name;
  int clients;
  std::string floor_name;
  std::function<std::vector<Call>()> floor;
  std::function<std::vector<Call>()> daemon;
  std::vector<Figure> floor_runs, daemon_runs;
};

struct Options {
  std::string daemon_path;
  int runs = 5;
  double seconds = 1.0;
};

int RunBench(const Options& options) {
  const std::string dir = MakeTempDir();
  std::printf(
      "zs_bench: %d runs of %.1f s per figure; load average %.2f at "
      "start (2 cores shared: figures are medians)\n",
      options.runs, options.seconds, LoadAverage1());
  // Floors first: the echo server.
  char self[4096];
  const ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (self_len <= 0) return 1;
  self[self_len] = '\0';
  const std::string echo_socket = dir + "/echo.sock";
  absl::StatusOr<std::unique_ptr<Subprocess>> echo = Subprocess::Start(
      {self, "--echo-server", echo_socket}, {}, dir + "/echo.log");
  if (!echo.ok()) return 1;

  const std::string data_dir = dir + "/data";
  const std::string daemon_dir = data_dir;
  absl::StatusOr<StartedDaemon> daemon =
      StartDaemon(options.daemon_path, daemon_dir);
  if (!daemon.ok()) {
    std::fprintf(stderr, "zs_bench: %s\n", daemon.status().ToString().c_str());
    return 1;
  }
  const pid_t daemon_pid = daemon->process->pid();
  // Let start-up allocations settle before calling the daemon idle.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t idle_rss_empty = VmRssKib(daemon_pid);
  Workload w;
  if (!Populate(daemon->socket, &w)) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t idle_rss_1k = VmRssKib(daemon_pid);

  // Wait until the echo server answers.
  std::vector<std::unique_ptr<EchoStub>> echo_stubs =
      MakeStubs<EchoStub>(echo_socket, 8, &NewEchoStub);
  for (int i = 0; i < 500; ++i) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    EchoReply reply;
    if (echo_stubs[0]->Echo(&ctx, EchoRequest(), &reply).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::unique_ptr<v1::Secrets::Stub>> stubs =
      MakeStubs<v1::Secrets::Stub>(daemon->socket, 8, &NewSecretsStub);

  auto echo_calls = [&](int n, EchoRequest req) {
    return [&, n, req]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        calls.push_back(UnaryCall(echo_stubs[c].get(), &EchoStub::Echo, req));
      }
      return calls;
    };
  };
  auto get_calls = [&](int n) {
    return [&, n]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        calls.push_back(UnaryCall<v1::Secrets::Stub, v1::GetSecretRequest,
                                  v1::GetSecretResponse>(
            stubs[c].get(), &v1::Secrets::Stub::GetSecret, w.get,
            [c](v1::GetSecretRequest* r, uint64_t i) {
              r->set_name(
                  Name("k", static_cast<int>((i * 7 + c * 131) % 1000)));
            }));
      }
      return calls;
    };
  };
  auto many_calls = [&](int n) {
    return [&, n]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        calls.push_back(UnaryCall<v1::Secrets::Stub, v1::GetSecretsRequest,
                                  v1::GetSecretsResponse>(
            stubs[c].get(), &v1::Secrets::Stub::GetSecrets, w.get_many));
      }
      return calls;
    };
  };
  auto resolve_calls = [&](int n) {
    return [&, n]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        calls.push_back(UnaryCall<v1::Secrets::Stub, v1::ResolveEnvRequest,
                                  v1::ResolveEnvResponse>(
            stubs[c].get(), &v1::Secrets::Stub::ResolveEnv, w.resolve));
      }
      return calls;
    };
  };
  auto set_calls = [&](int n) {
    return [&, n]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        v1::SetSecretRequest req;
        *req.mutable_target() = DeploymentTarget("bench");
        req.set_value(Value64(9000 + c));
        calls.push_back(UnaryCall<v1::Secrets::Stub, v1::SetSecretRequest,
                                  v1::SetSecretResponse>(
            stubs[c].get(), &v1::Secrets::Stub::SetSecret, req,
            [c](v1::SetSecretRequest* r, uint64_t i) {
              r->set_name(absl::StrFormat("w%d-%02d", c, i % 16));
            }));
      }
      return calls;
    };
  };
  SqliteInsertFloor sqlite_floor(dir + "/floor.sqlite");
  auto sqlite_calls = [&]() {
    return std::vector<Call>{[&]() { return sqlite_floor.Insert(); }};
  };

  const EchoRequest echo_get = EchoOf(w.get_req, w.get_resp);
  const EchoRequest echo_many = EchoOf(w.many_req, w.many_resp);
  const EchoRequest echo_resolve = EchoOf(w.resolve_req, w.resolve_resp);
  std::vector<Pair> pairs;
  for (int n : {1, 4}) {
    pairs.push_back({"get_secret",
                     n,
                     "echo_get_secret_bytes",
                     echo_calls(n, echo_get),
                     get_calls(n),
                     {},
                     {}});
  }
  for (int n : {1, 4}) {
    pairs.push_back({"get_secrets_20",
                     n,
                     "echo_get_secrets_bytes",
                     echo_calls(n, echo_many),
                     many_calls(n),
                     {},
                     {}});
  }
  for (int n : {1, 4}) {
    pairs.push_back({"resolve_env_20",
                     n,
                     "echo_resolve_env_bytes",
                     echo_calls(n, echo_resolve),
                     resolve_calls(n),
                     {},
                     {}});
  }
  // SetSecret against one raw durable insert at a time (the single-row
  // floor); the raw figure is measured next to each daemon figure.
  for (int n : {1, 4, 8}) {
    pairs.push_back({"set_secret_full",
                     n,
                     "sqlite_insert_full_1row",
                     sqlite_calls,
                     set_calls(n),
                     {},
                     {}});
  }
  Pair aead{"aead_seal_open_64b",
            1,
            "",
            [] { return std::vector<Call>{AeadCall()}; },
            nullptr,
            {},
            {}};

  const absl::Duration duration = absl::Seconds(options.seconds);
  std::vector<double> loads;
  for (int r = 0; r < options.runs; ++r) {
    loads.push_back(LoadAverage1());
    for (Pair& p : pairs) {
      // Alternate the order, so drifting background load hits both sides.
      if (r % 2 == 0) {
        p.floor_runs.push_back(RunClosedLoop(p.floor(), duration));
        p.daemon_runs.push_back(RunClosedLoop(p.daemon(), duration));
      } else {
        p.daemon_runs.push_back(RunClosedLoop(p.daemon(), duration));
        p.floor_runs.push_back(RunClosedLoop(p.floor(), duration));
      }
    }
    aead.floor_runs.push_back(
        RunClosedLoop(aead.floor(), absl::Milliseconds(300)));
    std::fprintf(stderr, "zs_bench: run %d/%d done (load %.2f)\n", r + 1,
                 options.runs, LoadAverage1());
  }
  const int64_t rss_after = VmRssKib(daemon_pid);
  const int64_t hwm_after = VmHwmKib(daemon_pid);

  // Per-run ratios, then their median.
  auto ratio = [](const Pair& p, bool latency) {
    std::vector<double> rs;
    for (size_t i = 0; i < p.floor_runs.size(); ++i) {
      const Figure& f = p.floor_runs[i];
      const Figure& d = p.daemon_runs[i];
      if (latency) {
        rs.push_back(f.p50_us > 0 ? d.p50_us / f.p50_us : 0);
      } else {
        rs.push_back(f.calls_per_s > 0 ? d.calls_per_s / f.calls_per_s : 0);
      }
    }
    return Median(rs);
  };

  PrintHeader(
      absl::StrFormat("floor vs daemon (medians of %d runs; load average %.1f)",
                      options.runs, Median(loads)));
  std::map<std::string, double> ratios;
  for (const Pair& p : pairs) {
    const Figure floor = Median(p.floor_runs);
    const Figure daemon_fig = Median(p.daemon_runs);
    const double lat = ratio(p, true);
    const double tput = ratio(p, false);
    ratios[absl::StrCat(p.name, "@", p.clients, ":p50")] = lat;
    ratios[absl::StrCat(p.name, "@", p.clients, ":tput")] = tput;
    // The raw insert floor is one writer, whatever the daemon's clients.
    const bool one_writer = absl::StartsWith(p.floor_name, "sqlite");
    PrintFigure(absl::StrCat("floor:", p.floor_name),
                one_writer ? 1 : p.clients, floor);
    PrintFigure(absl::StrCat("daemon:", p.name), p.clients, daemon_fig,
                absl::StrFormat("p50_ratio=%.2f tput_ratio=%.2f", lat, tput));
  }
  const Figure aead_fig = Median(aead.floor_runs);
  PrintFigure("floor:aead_seal_open_64b", 1, aead_fig);

  // SetSecret at 8 writers against the raw single-row insert rate measured
  // beside it (tput_ratio of that pair).
  const double set8 = ratios["set_secret_full@8:tput"];
  std::printf("\n== memory (daemon VmRSS)\n");
  std::printf("idle, empty store       %8.1f MiB\n", idle_rss_empty / 1024.0);
  std::printf("idle, 1,000 secrets     %8.1f MiB\n", idle_rss_1k / 1024.0);
  std::printf("after the runs          %8.1f MiB (peak %.1f MiB)\n",
              rss_after / 1024.0, hwm_after / 1024.0);
  AddBenchLine(absl::StrFormat(
      "name=daemon_rss idle_empty_kib=%d idle_1k_kib=%d after_kib=%d "
      "peak_kib=%d",
      idle_rss_empty, idle_rss_1k, rss_after, hwm_after));

  struct Target {
    std::string name;
    double value;
    std::string limit;
    bool met;
  };
  const double get1 = ratios["get_secret@1:p50"];
  const double get4 = ratios["get_secret@4:tput"];
  const double res1 = ratios["resolve_env_20@1:p50"];
  std::vector<Target> targets = {
      {"get_secret_p50_1c_vs_echo", get1, "<=1.15", get1 <= 1.15},
      {"get_secret_tput_4c_vs_echo", get4, ">=0.85", get4 >= 0.85},
      {"resolve_env_p50_1c_vs_echo", res1, "<=1.5", res1 <= 1.5},
      {"set_secret_8c_vs_raw_insert", set8, ">=2", set8 >= 2.0},
      {"idle_rss_mib", idle_rss_1k / 1024.0, "<30", idle_rss_1k < 30 * 1024},
  };
  std::printf("\n== targets\n");
  for (const Target& t : targets) {
    std::printf("%-34s %8.2f  %-7s %s\n", t.name.c_str(), t.value,
                t.limit.c_str(), t.met ? "met" : "MISSED");
    AddBenchLine(absl::StrFormat("target=%s value=%.2f limit=%s met=%s", t.name,
                                 t.value, t.limit, t.met ? "yes" : "no"));
  }
  PrintBenchLines();

  const int daemon_status = daemon->process->Stop();
  (*echo)->Stop();
  if (!WIFEXITED(daemon_status) || WEXITSTATUS(daemon_status) != 0) {
    std::fprintf(stderr, "zs_bench: daemon exit status %d (log kept in %s)\n",
                 daemon_status, dir.c_str());
    return 1;
  }
  RemoveTree(dir);
  return 0;
}

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--echo-server") {
      return ServeEcho(value(), 16);
    } else if (arg == "--daemon") {
      options.daemon_path = value();
    } else if (arg == "--runs") {
      if (!absl::SimpleAtoi(value(), &options.runs) || options.runs < 1) {
        return 2;
      }
    } else if (arg == "--seconds") {
      if (!absl::SimpleAtod(value(), &options.seconds)) return 2;
    } else {
      std::fprintf(stderr,
                   "usage: zs_bench --daemon PATH [--runs N] [--seconds S]\n");
      return 2;
    }
  }
  if (options.daemon_path.empty()) {
    std::fprintf(stderr, "zs_bench: --daemon PATH is required\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  return RunBench(options);
}

}  // namespace
}  // namespace zlayer::secrets::bench

int main(int argc, char** argv) {
  return zlayer::secrets::bench::Main(argc, argv);
}
