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
#include "daemon/rpc/call_queue.h"
#include "daemon/transport/unix_listener.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
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

// The callback API, answered on the reactor thread (the fastest callback
// configuration).
class CallbackEchoService final : public Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* call,
                                 const EchoRequest* request,
                                 EchoReply* reply) override {
    reply->mutable_payload()->assign(request->reply_bytes(), 'x');
    grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// The daemon's serving model (daemon/callback_services.h): the callback API,
// each call handed to a CallQueue worker that builds the reply and finishes
// the reactor.
class QueuedEchoService final : public Echo::CallbackService {
 public:
  explicit QueuedEchoService(CallQueue* queue) : queue_(queue) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* call,
                                 const EchoRequest* request,
                                 EchoReply* reply) override {
    grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
    absl::Status queued =
        queue_->Submit(request->ByteSizeLong(), [request, reply, reactor] {
          reply->mutable_payload()->assign(request->reply_bytes(), 'x');
          reactor->Finish(grpc::Status::OK);
        });
    if (!queued.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   std::string(queued.message())));
    }
    return reactor;
  }

 private:
  CallQueue* const queue_;
};

// How the echo floor server serves (--echo-mode).
enum class EchoMode { kSync, kCallback, kQueued };

int ServeEcho(const std::string& socket, EchoMode mode, int max_threads) {
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
  EchoService sync_service;
  CallbackEchoService callback_service;
  CallQueue queue(CallQueueOptions{});
  QueuedEchoService queued_service(&queue);
  grpc::ServerBuilder builder;
  switch (mode) {
    case EchoMode::kSync:
      builder.RegisterService(&sync_service);
      break;
    case EchoMode::kCallback:
      builder.RegisterService(&callback_service);
      break;
    case EchoMode::kQueued:
      builder.RegisterService(&queued_service);
      break;
  }
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
  queue.Stop();
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
// Raw batched commits: what group commit can at best reach. Each commit
// carries `writes` writes of the rows a SetSecret writes (an upserted secret
// row and an inserted 109-byte version row), WAL, synchronous=FULL.
class SqliteBatchFloor {
 public:
  SqliteBatchFloor(const std::string& path, int writes) : writes_(writes) {
    sqlite3_open(path.c_str(), &db_);
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = FULL");
    Exec("CREATE TABLE IF NOT EXISTS s (name TEXT PRIMARY KEY, v INTEGER)");
    Exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)");
    sqlite3_prepare_v2(db_,
                       "INSERT INTO s (name, v) VALUES (?1, 1) ON CONFLICT "
                       "(name) DO UPDATE SET v = v + 1",
                       -1, &upsert_, nullptr);
    sqlite3_prepare_v2(db_, "INSERT INTO t (v) VALUES (?1)", -1, &insert_,
                       nullptr);
    blob_.assign(109, '\x5a');
  }
  ~SqliteBatchFloor() {
    sqlite3_finalize(upsert_);
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  // One commit of `writes` writes.
  bool Commit() {
    bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) ==
              SQLITE_OK;
    for (int i = 0; ok && i < writes_; ++i) {
      const std::string name = absl::StrFormat("w%d-%02d", i, n_++ % 16);
      sqlite3_bind_text(upsert_, 1, name.data(), static_cast<int>(name.size()),
                        SQLITE_TRANSIENT);
      ok = sqlite3_step(upsert_) == SQLITE_DONE;
      sqlite3_reset(upsert_);
      sqlite3_bind_blob(insert_, 1, blob_.data(),
                        static_cast<int>(blob_.size()), SQLITE_STATIC);
      ok = ok && sqlite3_step(insert_) == SQLITE_DONE;
      sqlite3_reset(insert_);
    }
    const char* end = ok ? "COMMIT" : "ROLLBACK";
    return sqlite3_exec(db_, end, nullptr, nullptr, nullptr) == SQLITE_OK && ok;
  }

 private:
  void Exec(const char* sql) {
    sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  }
  const int writes_;
  uint64_t n_ = 0;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string blob_;
};

// ---------------------------------------------------------------------------
// The burst: `calls` concurrent ResolveEnv calls over `connections`
// connections, all started at once (async API); errors counted, latencies
// from start to answer.
struct BurstResult {
  int calls = 0;
  int errors = 0;
  std::string first_error;
  double p50_ms = 0, p99_ms = 0, seconds = 0;
};

BurstResult RunBurst(const std::string& socket,
                     const v1::ResolveEnvRequest& request, int calls,
                     int connections) {
  struct Pending {
    grpc::ClientContext ctx;
    v1::ResolveEnvResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ResolveEnvResponse>>
        reader;
    int64_t start_ns = 0;
  };
  std::vector<std::unique_ptr<v1::Secrets::Stub>> stubs;
  for (int i = 0; i < connections; ++i) {
    stubs.push_back(v1::Secrets::NewStub(UnixChannel(socket)));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Pending>> pending;
  const auto t0 = std::chrono::steady_clock::now();
  auto now_ns = [t0] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now() - t0)
        .count();
  };
  for (int i = 0; i < calls; ++i) {
    auto p = std::make_unique<Pending>();
    p->ctx.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
    p->start_ns = now_ns();
    p->reader = stubs[i % connections]->AsyncResolveEnv(&p->ctx, request, &cq);
    p->reader->Finish(&p->resp, &p->status, p.get());
    pending.push_back(std::move(p));
  }
  BurstResult out;
  out.calls = calls;
  std::vector<int64_t> lat;
  for (int done = 0; done < calls; ++done) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    Pending* p = static_cast<Pending*>(tag);
    lat.push_back(now_ns() - p->start_ns);
    if (!ok || !p->status.ok()) {
      if (out.errors++ == 0) {
        out.first_error = absl::StrCat(p->status.error_code(), " ",
                                       p->status.error_message());
      }
    }
  }
  out.seconds = static_cast<double>(now_ns()) / 1e9;
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  Figure f = Summarize(&lat, out.seconds);
  out.p50_ms = f.p50_us / 1e3;
  out.p99_ms = f.p99_us / 1e3;
  return out;
}

// ---------------------------------------------------------------------------
// The run.

// One measured side of a comparison: a floor or the daemon.
struct Side {
  std::string name;
  int clients;
  std::function<std::vector<Call>()> calls;
  std::vector<Figure> runs;
};

// The daemon figure and the floors measured next to it, run after run.
struct Group {
  std::string name;  // the daemon figure
  int clients;
  std::vector<Side> floors;
  Side daemon;
};

struct Options {
  std::string daemon_path;
  int runs = 5;
  double seconds = 1.0;
  bool quick = false;
};

// The echo server modes, in the order their stubs are kept.
constexpr int kEchoSync = 0, kEchoCallback = 1, kEchoQueued = 2;
const char* const kEchoModeNames[] = {"sync", "callback", "queued"};

int RunBench(const Options& options) {
  const std::string dir = MakeTempDir();
  std::printf(
      "zs_bench: %d runs of %.1f s per figure%s; load average %.2f at "
      "start (2 cores shared: figures are medians)\n",
      options.runs, options.seconds, options.quick ? " (quick)" : "",
      LoadAverage1());
  // Floors first: the echo servers (sync, callback, callback + CallQueue).
  char self[4096];
  const ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (self_len <= 0) return 1;
  self[self_len] = '\0';
  std::vector<std::unique_ptr<Subprocess>> echo_servers;
  std::vector<std::string> echo_sockets;
  for (const char* mode : kEchoModeNames) {
    const std::string socket = absl::StrCat(dir, "/echo-", mode, ".sock");
    absl::StatusOr<std::unique_ptr<Subprocess>> echo =
        Subprocess::Start({self, "--echo-server", socket, "--echo-mode", mode},
                          {}, absl::StrCat(dir, "/echo-", mode, ".log"));
    if (!echo.ok()) return 1;
    echo_servers.push_back(*std::move(echo));
    echo_sockets.push_back(socket);
  }

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

  // Wait until every echo server answers.
  std::vector<std::vector<std::unique_ptr<EchoStub>>> echo_stubs;
  for (const std::string& socket : echo_sockets) {
    echo_stubs.push_back(MakeStubs<EchoStub>(socket, 8, &NewEchoStub));
    for (int i = 0; i < 500; ++i) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      EchoReply reply;
      if (echo_stubs.back()[0]->Echo(&ctx, EchoRequest(), &reply).ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::vector<std::unique_ptr<v1::Secrets::Stub>> stubs =
      MakeStubs<v1::Secrets::Stub>(daemon->socket, 8, &NewSecretsStub);

  auto echo_calls = [&](int mode, int n, EchoRequest req) {
    return [&, mode, n, req]() {
      std::vector<Call> calls;
      for (int c = 0; c < n; ++c) {
        calls.push_back(
            UnaryCall(echo_stubs[mode][c].get(), &EchoStub::Echo, req));
      }
      return calls;
    };
  };
  // The echo floors of one daemon call shape: sync, callback, queued.
  auto echo_floors = [&](const std::string& what, int n, EchoRequest req) {
    std::vector<Side> floors;
    for (int mode : {kEchoSync, kEchoCallback, kEchoQueued}) {
      floors.push_back({absl::StrCat("echo_", kEchoModeNames[mode], "_", what),
                        n,
                        echo_calls(mode, n, req),
                        {}});
    }
    return floors;
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
  v1::SetSecretRequest set_shape;
  *set_shape.mutable_target() = DeploymentTarget("bench");
  set_shape.set_name("w0-00");
  set_shape.set_value(Value64(9000));
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
  constexpr int kBatchWrites = 8;
  SqliteBatchFloor batch_floor(dir + "/batch.sqlite", kBatchWrites);
  auto batch_calls = [&]() {
    return std::vector<Call>{[&]() { return batch_floor.Commit(); }};
  };

  // SetSecret's serialized sizes (the reply: metadata of a few fields).
  v1::SetSecretResponse set_reply;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    if (!Check(stubs[0]->SetSecret(&ctx, set_shape, &set_reply), "SetSecret")) {
      return 1;
    }
  }
  const EchoRequest echo_get = EchoOf(w.get_req, w.get_resp);
  const EchoRequest echo_many = EchoOf(w.many_req, w.many_resp);
  const EchoRequest echo_resolve = EchoOf(w.resolve_req, w.resolve_resp);
  const EchoRequest echo_set =
      EchoOf(set_shape.ByteSizeLong(), set_reply.ByteSizeLong());
  std::vector<Group> groups;
  for (int n : {1, 4}) {
    groups.push_back({"get_secret",
                      n,
                      echo_floors("get_secret_bytes", n, echo_get),
                      {"get_secret", n, get_calls(n), {}}});
  }
  for (int n : {1, 4}) {
    groups.push_back({"get_secrets_20",
                      n,
                      echo_floors("get_secrets_bytes", n, echo_many),
                      {"get_secrets_20", n, many_calls(n), {}}});
  }
  for (int n : {1, 4}) {
    groups.push_back({"resolve_env_20",
                      n,
                      echo_floors("resolve_env_bytes", n, echo_resolve),
                      {"resolve_env_20", n, resolve_calls(n), {}}});
  }
  // SetSecret: the raw single-row commit at every width; at 1 and 8 writers
  // the echo of the same bytes, and at 8 the raw batched commits.
  for (int n : {1, 4, 8}) {
    Group g{"set_secret_full",
            n,
            {{"sqlite_insert_full_1row", 1, sqlite_calls, {}}},
            {"set_secret_full", n, set_calls(n), {}}};
    if (n != 4) {
      for (Side& s : echo_floors("set_secret_bytes", n, echo_set)) {
        if (!absl::StrContains(s.name, "queued")) g.floors.push_back(s);
      }
    }
    if (n == 8) {
      g.floors.push_back({absl::StrCat("sqlite_batch_full_", kBatchWrites,
                                       "writes_per_commit"),
                          1,
                          batch_calls,
                          {}});
    }
    groups.push_back(std::move(g));
  }
  Side aead{"aead_seal_open_64b",
            1,
            [] { return std::vector<Call>{AeadCall()}; },
            {}};

  const absl::Duration duration = absl::Seconds(options.seconds);
  const absl::Duration warmup =
      options.quick ? absl::Milliseconds(100) : absl::Milliseconds(200);
  std::vector<double> loads;
  for (int r = 0; r < options.runs; ++r) {
    loads.push_back(LoadAverage1());
    for (Group& g : groups) {
      // Alternate the order, so drifting background load hits both sides.
      auto run = [&](Side& s) {
        s.runs.push_back(RunClosedLoop(s.calls(), duration, warmup));
      };
      if (r % 2 == 0) {
        for (Side& f : g.floors) run(f);
        run(g.daemon);
      } else {
        run(g.daemon);
        for (auto f = g.floors.rbegin(); f != g.floors.rend(); ++f) run(*f);
      }
    }
    aead.runs.push_back(
        RunClosedLoop(aead.calls(), absl::Milliseconds(300), warmup));
    std::fprintf(stderr, "zs_bench: run %d/%d done (load %.2f)\n", r + 1,
                 options.runs, LoadAverage1());
  }
  const int64_t rss_after = VmRssKib(daemon_pid);
  const int64_t hwm_after = VmHwmKib(daemon_pid);

  // The burst, last (its connections and queue only add memory).
  const BurstResult burst = RunBurst(daemon->socket, w.resolve, 1000, 50);
  const int64_t rss_burst = VmRssKib(daemon_pid);
  const int64_t hwm_burst = VmHwmKib(daemon_pid);

  // Per-run ratios, then their median. `floor_of(group, run)` picks the
  // floor figure of that run.
  auto find = [](const Group& g, const std::string& part) -> const Side* {
    for (const Side& s : g.floors) {
      if (absl::StrContains(s.name, part)) return &s;
    }
    return nullptr;
  };
  // The honest echo floor of a run: the faster of sync and callback.
  auto best_echo = [&](const Group& g, size_t r, bool latency) {
    const Side* s = find(g, "echo_sync");
    const Side* c = find(g, "echo_callback");
    if (latency) return std::min(s->runs[r].p50_us, c->runs[r].p50_us);
    return std::max(s->runs[r].calls_per_s, c->runs[r].calls_per_s);
  };
  auto median_over_runs = [&](const Group& g,
                              const std::function<double(size_t)>& f) {
    std::vector<double> rs;
    for (size_t r = 0; r < g.daemon.runs.size(); ++r) rs.push_back(f(r));
    return Median(rs);
  };
  auto p50_vs_best = [&](const Group& g) {
    return median_over_runs(g, [&](size_t r) {
      return g.daemon.runs[r].p50_us / best_echo(g, r, true);
    });
  };
  auto tput_vs_best = [&](const Group& g) {
    return median_over_runs(g, [&](size_t r) {
      return g.daemon.runs[r].calls_per_s / best_echo(g, r, false);
    });
  };
  auto vs_side = [&](const Group& g, const Side* s, bool latency) {
    return median_over_runs(g, [&](size_t r) {
      return latency ? g.daemon.runs[r].p50_us / s->runs[r].p50_us
                     : g.daemon.runs[r].calls_per_s / s->runs[r].calls_per_s;
    });
  };

  PrintHeader(
      absl::StrFormat("floor vs daemon (medians of %d runs; load average %.1f)",
                      options.runs, Median(loads)));
  std::map<std::string, double> values;
  for (const Group& g : groups) {
    for (const Side& f : g.floors) {
      PrintFigure(absl::StrCat("floor:", f.name), f.clients, Median(f.runs));
    }
    std::string notes;
    const std::string key = absl::StrCat(g.name, "@", g.clients);
    if (find(g, "echo_sync") != nullptr) {
      values[key + ":p50"] = p50_vs_best(g);
      values[key + ":tput"] = tput_vs_best(g);
      notes = absl::StrFormat("p50_ratio=%.2f tput_ratio=%.2f",
                              values[key + ":p50"], values[key + ":tput"]);
      if (const Side* q = find(g, "echo_queued")) {
        absl::StrAppendFormat(&notes, " p50_vs_queued=%.2f tput_vs_queued=%.2f",
                              vs_side(g, q, true), vs_side(g, q, false));
      }
    }
    if (const Side* raw = find(g, "sqlite_insert")) {
      values[key + ":tput_vs_raw1"] = vs_side(g, raw, false);
      absl::StrAppendFormat(&notes, "%stput_vs_raw_1row=%.2f",
                            notes.empty() ? "" : " ",
                            values[key + ":tput_vs_raw1"]);
    }
    PrintFigure(absl::StrCat("daemon:", g.name), g.clients,
                Median(g.daemon.runs), notes);
  }
  PrintFigure("floor:aead_seal_open_64b", 1, Median(aead.runs));

  // The write targets. 1 writer: p50 against echo p50 + raw commit p50.
  const Group& set1 = groups[6];
  const Group& set8 = groups[8];
  const double set1_ratio = median_over_runs(set1, [&](size_t r) {
    return set1.daemon.runs[r].p50_us /
           (best_echo(set1, r, true) +
            find(set1, "sqlite_insert")->runs[r].p50_us);
  });
  // 8 writers: calls/s against min(echo at 8 clients, raw batched commits
  // of the same rows, in writes/s).
  const Side* batch = find(set8, "sqlite_batch");
  const double set8_ratio = median_over_runs(set8, [&](size_t r) {
    const double floor = std::min(best_echo(set8, r, false),
                                  batch->runs[r].calls_per_s * kBatchWrites);
    return set8.daemon.runs[r].calls_per_s / floor;
  });
  std::printf("raw batched commits: %.0f writes/s (%d writes per commit)\n",
              Median(batch->runs).calls_per_s * kBatchWrites, kBatchWrites);

  std::printf(
      "\n== burst: 1,000 concurrent ResolveEnv(20) over 50 connections\n");
  std::printf(
      "errors %d of %d; p50 %.1f ms, p99 %.1f ms, all answered in %.2f s%s%s\n",
      burst.errors, burst.calls, burst.p50_ms, burst.p99_ms, burst.seconds,
      burst.errors ? "; first error: " : "", burst.first_error.c_str());
  AddBenchLine(absl::StrFormat(
      "name=burst_resolve_env calls=%d connections=50 errors=%d p50_ms=%.1f "
      "p99_ms=%.1f seconds=%.2f",
      burst.calls, burst.errors, burst.p50_ms, burst.p99_ms, burst.seconds));

  std::printf("\n== memory (daemon VmRSS)\n");
  std::printf("idle, empty store       %8.1f MiB\n", idle_rss_empty / 1024.0);
  std::printf("idle, 1,000 secrets     %8.1f MiB\n", idle_rss_1k / 1024.0);
  std::printf("after the runs          %8.1f MiB (peak %.1f MiB)\n",
              rss_after / 1024.0, hwm_after / 1024.0);
  std::printf("after the burst         %8.1f MiB (peak %.1f MiB)\n",
              rss_burst / 1024.0, hwm_burst / 1024.0);
  AddBenchLine(absl::StrFormat(
      "name=daemon_rss idle_empty_kib=%d idle_1k_kib=%d after_kib=%d "
      "peak_kib=%d after_burst_kib=%d peak_burst_kib=%d",
      idle_rss_empty, idle_rss_1k, rss_after, hwm_after, rss_burst, hwm_burst));

  struct Target {
    std::string name;
    std::string figure;
    double value;
    std::string limit;
    bool met;
  };
  const double get1 = values["get_secret@1:p50"];
  const double get4 = values["get_secret@4:tput"];
  const double res1 = values["resolve_env_20@1:p50"];
  const double many1 = values["get_secrets_20@1:p50"];
  std::vector<Target> targets = {
      {"get_secret_p50_1c_vs_echo", "GetSecret 1 client p50 / echo p50", get1,
       "<=1.15", get1 <= 1.15},
      {"get_secret_tput_4c_vs_echo", "GetSecret 4 clients calls/s / echo", get4,
       ">=0.85", get4 >= 0.85},
      {"resolve_env_p50_1c_vs_echo", "ResolveEnv(20) 1 client p50 / echo", res1,
       "<=1.5", res1 <= 1.5},
      {"get_secrets_p50_1c_vs_echo", "GetSecrets(20) 1 client p50 / echo",
       many1, "<=1.5", many1 <= 1.5},
      {"burst_1000_resolve_env_errors",
       absl::StrFormat("1,000 concurrent ResolveEnv errors (p99 %.0f ms)",
                       burst.p99_ms),
       static_cast<double>(burst.errors), "=0", burst.errors == 0},
      {"set_secret_8w_vs_min_echo_batch",
       "SetSecret 8 writers / min(echo 8c, raw batched)", set8_ratio, ">=0.7",
       set8_ratio >= 0.7},
      {"set_secret_p50_1w_vs_echo_plus_raw",
       "SetSecret 1 writer p50 / (echo + raw commit)", set1_ratio, "<=1.3",
       set1_ratio <= 1.3},
      {"idle_rss_mib", "idle RSS, 1,000 secrets (MiB)", idle_rss_1k / 1024.0,
       "<30", idle_rss_1k < 30 * 1024},
  };
  std::printf(
      "\n== targets (issue 15; ratios are medians of per-run ratios; echo = "
      "faster of sync/callback)\n");
  std::printf("%-52s %8s  %-7s %s\n", "metric", "measured", "target", "");
  for (const Target& t : targets) {
    std::printf("%-52s %8.2f  %-7s %s\n", t.figure.c_str(), t.value,
                t.limit.c_str(), t.met ? "met" : "MISSED");
    AddBenchLine(absl::StrFormat("target=%s value=%.2f limit=%s met=%s", t.name,
                                 t.value, t.limit, t.met ? "yes" : "no"));
  }
  std::printf(
      "(1M-store and export-RSS targets: tools/run_bench.sh --scale)\n");
  PrintBenchLines();

  const int daemon_status = daemon->process->Stop();
  for (auto& echo : echo_servers) echo->Stop();
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
  std::string echo_socket;
  std::string echo_mode = "sync";
  bool runs_given = false, seconds_given = false;
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
      echo_socket = value();
    } else if (arg == "--echo-mode") {
      echo_mode = value();
    } else if (arg == "--daemon") {
      options.daemon_path = value();
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--runs") {
      runs_given = true;
      if (!absl::SimpleAtoi(value(), &options.runs) || options.runs < 1) {
        return 2;
      }
    } else if (arg == "--seconds") {
      seconds_given = true;
      if (!absl::SimpleAtod(value(), &options.seconds)) return 2;
    } else {
      std::fprintf(stderr,
                   "usage: zs_bench --daemon PATH [--quick] [--runs N] "
                   "[--seconds S]\n");
      return 2;
    }
  }
  if (!echo_socket.empty()) {
    EchoMode mode = EchoMode::kSync;
    if (echo_mode == "callback") {
      mode = EchoMode::kCallback;
    } else if (echo_mode == "queued") {
      mode = EchoMode::kQueued;
    } else if (echo_mode != "sync") {
      std::fprintf(stderr, "--echo-mode sync|callback|queued\n");
      return 2;
    }
    return ServeEcho(echo_socket, mode, 16);
  }
  // Quick: one short run of everything, for iterating (figures are noisy).
  if (options.quick) {
    if (!runs_given) options.runs = 1;
    if (!seconds_given) options.seconds = 0.3;
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
