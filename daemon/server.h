// Daemon: the zlayer-secretsd process. Owns the store, the gRPC server, the
// Unix socket listener, the optional TLS TCP port, health, reflection and
// signal handling.
//
//   absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(options);
//   if (!daemon.ok()) return Fail(daemon.status());
//   return (*daemon)->Run().ok() ? 0 : 1;  // until SIGTERM/SIGINT
//
// Lifecycle
//   Create()  blocks SIGTERM/SIGINT/SIGHUP in the calling thread (threads
//             started later inherit the mask, so only the signal thread of
//             Run() ever sees them: no async handlers), disables core dumps
//             (RLIMIT_CORE 0, PR_SET_DUMPABLE 0), creates the data directory
//             0700, binds the Unix socket (refusing a live one), resolves the
//             master key, opens the store and the environment registry, and
//             starts the gRPC server with health NOT_SERVING.
//   Run()     starts accepting on the socket, sets health SERVING (overall
//             and per service) and waits for SIGTERM/SIGINT or
//             RequestShutdown(). Then drains: health NOT_SERVING for good
//             (each open health Watch stream is sent NOT_SERVING and then
//             ends with OK, daemon/rpc/health_service.h), the socket stops
//             accepting and is removed, Server::Shutdown(now +
//             drain_timeout) lets in-flight calls finish (and cancels what
//             is left after the deadline), the store is closed. Returns OK
//             after a drain.
//   SIGHUP    reopens the audit log (rotation) and reloads the TLS files
//             (see ReloadTls()).
//
// Identity (docs/identity.md): Unix-socket callers are known by SO_PEERCRED,
// TCP callers by an API key (core/identity/api_key_store.h; the bootstrap key
// "admin" is written to {data_dir}/admin.key 0600 on the first start with
// --listen, and by default removed after its first use); access is
// GrantAuthorizer's (administrators: root, the daemon's uid, --admin-uid,
// --admin-gid, role "admin"; everyone else by grants). Every call leaves
// one audit record; while the audit log cannot be written, health is
// NOT_SERVING and value-revealing calls fail UNAVAILABLE (retried every
// second, and on every call, until the file is writable again).
//
// Serving model (docs/reliability.md, "Serving model"): every service is on
// gRPC's callback API; calls that block run on the daemon's own workers.
//   reactor threads  gRPC's polling/callback threads read, deserialise and
//                    hand each Secrets/Admin call to the CallQueue
//                    (daemon/rpc/callback_services.h); they never touch SQLite,
//                    fsync or the audit file, except to audit a refusal.
//   worker pool      CallQueue (daemon/rpc/call_queue.h): --workers threads
//                    (default max(16, 4 x cores): workers block on fsync and
//                    SQLite's group commit wants concurrent writers) run the
//                    plain blocking handlers (daemon/rpc/secrets_service.h,
//                    daemon/rpc/admin_service.h) in arrival order and finish
//                    the call's reactor with the handler's status.
//   queue bound      at most --max-queued-calls (10,000) calls and 256 MiB
//                    of request bytes (+4 KiB per call) wait; past either a
//                    call is answered RESOURCE_EXHAUSTED "server overloaded
//                    ..." at once, and audited. Below it a burst waits, never
//                    refused (tests/reliability/burst_test.cc).
//   deadline/cancel  a dequeued call whose deadline passed is answered
//                    DEADLINE_EXCEEDED, a cancelled one CANCELLED, both
//                    audited and neither touching storage.
//   drain            Shutdown() stops new calls; queued and running calls
//                    keep their workers until they finish or the drain
//                    deadline cancels them (a cancelled queued call is then
//                    answered without running); then the pool is joined.
// Why the callback API: gRPC's sync server answers a call that finds no free
// thread RESOURCE_EXHAUSTED "Server Threadpool Exhausted" instead of queueing
// it (1,000 concurrent ResolveEnv calls: 584 refused at 64 threads). The
// callback API queues nothing itself and runs handlers on its reactor
// threads, so blocking work goes to a pool the daemon owns and bounds.
// grpc.health.v1.Health (HealthService) never blocks and runs on the
// reactor threads; reflection and embedders' extra_services stay on gRPC's
// sync pool (16 threads).
//
// Call Create() before starting other threads (so they inherit the blocked
// signals). One Daemon per process at a time.
#ifndef ZLAYER_SECRETS_DAEMON_SERVER_H_
#define ZLAYER_SECRETS_DAEMON_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "daemon/config.h"
#include "daemon/rpc/service_context.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace zlayer::secrets {

class TlsFiles;
struct DaemonState;

class Daemon {
 public:
  // Everything up to a started server (see above). InvalidArgument for bad
  // options; AlreadyExists when another daemon serves the socket;
  // FailedPrecondition / InvalidArgument / NotFound from the key manager
  // (wrong or unreadable key); Unavailable when the TCP port cannot be bound.
  static absl::StatusOr<std::unique_ptr<Daemon>> Create(DaemonOptions options);

  // Stops everything still running (as a drain with no grace).
  ~Daemon();

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until SIGTERM/SIGINT or RequestShutdown(), then drains. Call once.
  absl::Status Run();

  // Asks Run() to drain and return. Thread-safe; not async-signal-safe
  // (signals reach the daemon through its signal thread instead).
  void RequestShutdown();

  // Re-reads --tls-cert/--tls-key/--tls-client-ca (what SIGHUP does).
  // FailedPrecondition without TLS; the error of a missing or malformed file,
  // in which case the old files stay in use.
  absl::Status ReloadTls();

  // The bound TCP port (useful with --listen HOST:0); 0 without TCP.
  int tcp_port() const { return tcp_port_; }
  const std::string& socket_path() const { return options_.socket_path; }
  // True between the end of start-up and the start of the drain.
  bool serving() const { return serving_.load(); }

 private:
  // Cluster mode: follows etcd's Watch into the identity caches and the
  // change feed (daemon/cluster_change_relay.h).
  void StartClusterWatch();
  explicit Daemon(DaemonOptions options);

  absl::Status Init();
  // Health follows the audit log: NOT_SERVING while it cannot be written.
  void OnAuditWritten(bool written);
  void RetryAudit();
  absl::Status StartServer();
  void SetHealth(bool serving);
  void SignalLoop();
  void Drain();

  const DaemonOptions options_;
  std::unique_ptr<DaemonState> state_;
  std::unique_ptr<TlsFiles> tls_files_;
  std::unique_ptr<grpc::Server> server_;
  int tcp_port_ = 0;
  std::atomic<bool> serving_{false};
  // Written under audit_mu_ (with the health change it causes).
  std::atomic<bool> audit_healthy_{true};
  absl::Mutex audit_mu_;
  std::vector<std::string> service_names_;

  absl::Mutex mu_;
  bool shutdown_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool ran_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;

  std::thread signal_thread_;
  std::atomic<bool> signal_thread_exit_{false};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_SERVER_H_
