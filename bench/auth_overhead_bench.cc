// auth_overhead_bench: what caller identification and access checks cost a
// GetSecret, against the same server with both switched off.
//
// One in-process gRPC server (SecretsService over a SqliteSecretStore, sync
// API as in the daemon) listens on a Unix socket (UnixListener, SO_PEERCRED)
// and on a TLS port (self-signed certificate made with the openssl CLI).
// Each pair of figures runs on the same server and the same connection,
// alternating a mode switch between runs, so the only difference is auth:
//
//   unix  baseline: a fixed administrator principal, allow-all authorizer
//         (no peer lookup, no grant check)
//         vs peer:    UnixPeerIdentifier (the fd's SO_PEERCRED record) +
//                     GrantAuthorizer with NO admin uids, so this process is
//                     an ordinary caller allowed by a grant (uid:<me> read
//                     on the scope): the full non-admin path
//   tls   baseline: the same fixed principal, allow-all
//         vs apikey:  ApiKeyIdentifier + ApiKeyStoreVerifier (one keyed hash,
//                     then the verified-key cache) + GrantAuthorizer with a
//                     grant to apikey:<id>
// Then, for information, the unix/peer mode with the audit log on (a file,
// fdatasync per record as the daemon does by default, and without sync).
//
// Prints one table row and one BENCH line per figure and the ratios
// (authenticated / baseline calls per second); the target is >= 0.80.
//
//   bazel build -c opt //bench:auth_overhead_bench
//   bazel-bin/bench/auth_overhead_bench [--seconds 2] [--runs 3] [--clients
//   1,4]
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_common.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/identity/api_key_store.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/callback_services.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "daemon/transport/api_key_store_verifier.h"
#include "daemon/transport/caller_identity.h"
#include "daemon/transport/unix_listener.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "auth_overhead_bench: " << what << "\n";
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(absl::StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The mode of the switches below; changed only between runs.
enum class Mode { kBaseline, kAuthenticated };

// Baseline: one fixed administrator, no lookup. Authenticated: `real`.
class SwitchIdentifier final : public CallerIdentifier {
 public:
  explicit SwitchIdentifier(const CallerIdentifier* real) : real_(real) {
    admin_.roles = {"admin"};
  }
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const override {
    if (mode.load() == Mode::kBaseline) return admin_;
    return real_->Identify(context);
  }
  std::atomic<Mode> mode{Mode::kBaseline};

 private:
  const CallerIdentifier* real_;
  Principal admin_;
};

class SwitchAuthorizer final : public Authorizer {
 public:
  explicit SwitchAuthorizer(const Authorizer* real) : real_(real) {}
  absl::Status Check(const Principal& p, const Resource& r,
                     AccessLevel level) const override {
    if (mode->load() == Mode::kBaseline) return absl::OkStatus();
    return real_->Check(p, r, level);
  }
  absl::Status CheckAdmin(const Principal& p) const override {
    if (mode->load() == Mode::kBaseline) return absl::OkStatus();
    return real_->CheckAdmin(p);
  }
  const std::atomic<Mode>* mode = nullptr;

 private:
  const Authorizer* real_;
};

struct Options {
  absl::Duration seconds = absl::Seconds(2);
  int runs = 3;
  std::vector<int> clients = {1, 4};
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    int n = 0;
    if (flag == "--seconds" && absl::SimpleAtoi(value, &n) && n > 0) {
      o.seconds = absl::Seconds(n);
    } else if (flag == "--runs" && absl::SimpleAtoi(value, &n) && n > 0) {
      o.runs = n;
    } else if (flag == "--clients") {
      o.clients.clear();
      for (absl::string_view c : absl::StrSplit(value, ',')) {
        if (!absl::SimpleAtoi(c, &n) || n <= 0) Die("bad --clients");
        o.clients.push_back(n);
      }
    } else {
      Die(absl::StrCat("unknown flag ", flag,
                       " (--seconds N --runs N --clients 1,4)"));
    }
  }
  return o;
}

// `n` GetSecret callers, each with its own channel from `make_channel`.
std::vector<Call> GetSecretCallers(
    int n, const std::function<std::shared_ptr<grpc::Channel>()>& make_channel,
    const std::string& bearer) {
  std::vector<Call> calls;
  for (int i = 0; i < n; ++i) {
    auto stub = std::shared_ptr<v1::Secrets::Stub>(
        v1::Secrets::NewStub(make_channel()));
    calls.push_back([stub, bearer]() {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
      if (!bearer.empty()) ctx.AddMetadata("authorization", bearer);
      v1::GetSecretRequest req;
      req.mutable_target()->set_scope("bench");
      req.set_name("db");
      v1::GetSecretResponse resp;
      return stub->GetSecret(&ctx, req, &resp).ok() &&
             resp.value().size() == 64;
    });
  }
  return calls;
}

int Main(int argc, char** argv) {
  const Options options = ParseArgs(argc, argv);
  const std::string dir = MakeTempDir();
  RealClock clock;

  // Store and identity stores, as the daemon builds them.
  SqliteStoreOptions store_options;
  store_options.path = dir + "/secrets.db";
  store_options.synchronous = SqliteStoreOptions::Synchronous::kNormal;
  auto ring = Must(Keyring::Create(1, SecretBytes::Random(32)), "keyring");
  auto store = Must(
      SqliteSecretStore::Open(store_options, std::move(ring), &clock), "store");
  Must(store->SetSecret("bench", "db",
                        SecretBytes::FromString(std::string(64, 'v')), {}),
       "seed");
  auto grants = Must(GrantStore::Open(store.get(), &clock), "grants");
  ApiKeyStoreOptions key_options;
  key_options.hash_key = SecretBytes::Random(32);
  auto keys =
      Must(ApiKeyStore::Create(store.get(), &clock, std::move(key_options)),
           "api keys");
  NewApiKey key = Must(keys->Create("bench", {"reader"}), "api key");
  const std::string bearer =
      absl::StrCat("Bearer ", key.presentable_key.InsecureView());
  Must(grants->Grant(absl::StrCat("uid:", geteuid()),
                     GrantResource::Scope("bench"), AccessLevel::kRead),
       "grant uid");
  Must(grants->Grant("apikey:bench", GrantResource::Scope("bench"),
                     AccessLevel::kRead),
       "grant key");
  GrantAuthorizerOptions no_admins;  // empty: this process is not an admin
  GrantAuthorizer grant_authorizer(grants.get(), no_admins);

  // Transports.
  UnixListenerOptions listener_options;
  listener_options.path = dir + "/b.sock";
  auto listener = Must(UnixListener::Create(listener_options), "listener");
  UnixPeerIdentifier unix_ids(listener.get());
  ApiKeyStoreVerifier verifier(keys.get(), &clock, nullptr, nullptr);
  ApiKeyIdentifier tls_ids(&verifier, Transport::kTls);
  TransportIdentifier real_ids(&unix_ids, &tls_ids);
  SwitchIdentifier identifier(&real_ids);
  SwitchAuthorizer authorizer(&grant_authorizer);
  authorizer.mode = &identifier.mode;

  ServiceContext context;
  context.store = store.get();
  context.authorizer = &authorizer;
  context.identifier = &identifier;
  context.clock = &clock;
  SecretsService handlers(&context);
  CallQueue queue(CallQueueOptions{});
  std::unique_ptr<grpc::Service> service =
      MakeQueuedSecretsService(&handlers, &queue, &context);

  const std::string cert = dir + "/cert.pem", pkey = dir + "/key.pem";
  const std::string openssl = absl::StrCat(
      "/usr/bin/openssl req -x509 -newkey ec -pkeyopt "
      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost -keyout ",
      pkey, " -out ", cert, " 2>/dev/null");
  if (std::system(openssl.c_str()) != 0) Die("openssl req failed");
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({ReadAll(pkey), ReadAll(cert)});
  grpc::ServerBuilder builder;
  builder.RegisterService(service.get());
  int tls_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl),
                           &tls_port);
  grpc::ResourceQuota quota("auth-bench");
  quota.SetMaxThreads(16);
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || tls_port == 0) Die("server did not start");
  if (!listener->Start(server.get()).ok()) Die("listener did not start");

  const std::string socket = listener_options.path;
  auto unix_channel = [socket] { return UnixChannel(socket); };
  const std::string ca = ReadAll(cert);
  auto tls_channel = [ca, tls_port] {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ca;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt("zs_bench_channel", rand());  // own connection per client
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", tls_port),
                                     grpc::SslCredentials(o), args);
  };

  // Alternating runs, median of each mode.
  auto pair = [&](const std::string& transport, const std::vector<Call>& calls,
                  int clients, const std::string& auth_name) {
    std::vector<Figure> base, auth;
    for (int r = 0; r < options.runs; ++r) {
      identifier.mode = Mode::kBaseline;
      base.push_back(RunClosedLoop(calls, options.seconds));
      identifier.mode = Mode::kAuthenticated;
      auth.push_back(RunClosedLoop(calls, options.seconds));
    }
    Figure b = Median(base), a = Median(auth);
    PrintFigure(absl::StrCat("get_secret_", transport, "_baseline"), clients,
                b);
    PrintFigure(absl::StrCat("get_secret_", transport, "_", auth_name), clients,
                a);
    double ratio = b.calls_per_s > 0 ? a.calls_per_s / b.calls_per_s : 0;
    std::cout << absl::StrFormat("  ratio %s/%s clients=%d: %.3f (%s)\n",
                                 auth_name, "baseline", clients, ratio,
                                 ratio >= 0.8 ? "within 20%" : "MISSED");
    AddBenchLine(absl::StrFormat(
        "name=auth_ratio transport=%s auth=%s clients=%d ratio=%.3f", transport,
        auth_name, clients, ratio));
    return a;
  };

  PrintHeader("GetSecret: auth off (baseline) vs on, same server");
  for (int clients : options.clients) {
    pair("unix", GetSecretCallers(clients, unix_channel, ""), clients, "peer");
    pair("tls", GetSecretCallers(clients, tls_channel, bearer), clients,
         "apikey");
  }

  // The audit log's cost on top (unix/peer, authenticated mode).
  PrintHeader("GetSecret unix/peer with the audit log");
  identifier.mode = Mode::kAuthenticated;
  for (bool sync : {true, false}) {
    FileAuditSinkOptions sink_options;
    sink_options.sync_every_record = sync;
    auto sink = Must(
        FileAuditSink::Open(dir + (sync ? "/a1.log" : "/a2.log"), sink_options),
        "audit sink");
    auto audit = Must(AuditLog::Create(sink.get(), &clock, {}), "audit");
    context.audit = audit.get();
    for (int clients : options.clients) {
      std::vector<Figure> runs;
      auto calls = GetSecretCallers(clients, unix_channel, "");
      for (int r = 0; r < options.runs; ++r) {
        runs.push_back(RunClosedLoop(calls, options.seconds));
      }
      PrintFigure(sync ? "get_secret_unix_peer_audit_fdatasync"
                       : "get_secret_unix_peer_audit_nosync",
                  clients, Median(runs));
    }
    context.audit = nullptr;
  }
  std::cout << "  keyed-hash verifications: "
            << keys->stats().keyed_verifications
            << ", cache hits: " << keys->stats().cache_hits << "\n";

  listener->Stop();
  server->Shutdown();
  server->Wait();
  PrintBenchLines();
  RemoveTree(dir);
  return 0;
}

}  // namespace
}  // namespace zlayer::secrets::bench

int main(int argc, char** argv) {
  return zlayer::secrets::bench::Main(argc, argv);
}
