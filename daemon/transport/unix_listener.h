// UnixListener: the daemon's Unix socket, with the kernel-verified identity
// (SO_PEERCRED uid/gid/pid) of every connection.
//
// Why not a "unix:" listening port: with gRPC C++ 1.51 a handler on such a
// port learns nothing about its caller (ServerContext::peer() is "unix:" and
// the auth context carries no uid/gid/pid, even with LocalServerCredentials).
// So the gRPC server is built without this port, and UnixListener
//
//   1. creates the socket itself: the parent directory is created 0750 if it
//      is missing; an existing socket file is removed only when nothing
//      answers on it (a live one makes Create() fail: another daemon owns
//      it); bind(), chmod 0660 and only then listen(), so no client can
//      connect before the mode is right;
//   2. accepts in its own thread with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)
//      (a blocking fd would make gRPC calls on it hang until their deadline);
//   3. reads SO_PEERCRED and records it keyed by the accepted fd number,
//      replacing any record a previous connection left under that number;
//   4. hands the fd to the server with grpc::AddInsecureChannelFromFd().
//
// In a handler, ServerContext::peer() is then exactly "fd:N" (gRPC 1.51's
// format; tests/daemon/unix_listener_test.cc pins it), and PeerOf("fd:N")
// returns the recorded credentials. gRPC keeps the fd open while any call on
// the connection lives, so the number cannot be reused by another connection
// while a handler still runs, and recording before handing over is safe. A
// pid is only meaningful while that process lives.
//
// Connection caps (UnixListenerOptions): a uid already holding
// max_connections_per_uid open connections, or any uid once
// max_connections - admin_reserve connections are open, has its new
// connection closed at once (before gRPC sees it; logged, coalesced as
// event=connection_refused). Administrators (is_admin: by default uid 0 and
// the daemon's own uid) may use the reserve, up to max_connections. Only the
// uid is known at accept time (grants are looked up per call), so "admin"
// here means those uids, not callers holding an admin grant. The listener
// does not learn when gRPC closes a connection; it finds closed ones by
// checking (fstat) that each recorded fd is still the socket it accepted,
// when a cap is reached and whenever an fd number is reused.
//
// The server must set GRPC_ARG_MAX_CONNECTION_IDLE_MS or keepalive with
// permit-without-calls (see Daemon): connections added from an fd are not
// covered by the handshake timeout.
//
//   UnixListenerOptions options;
//   options.path = "/run/zs/zs.sock";
//   ASSIGN_OR_RETURN(std::unique_ptr<UnixListener> listener,
//                    UnixListener::Create(options));
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   RETURN_IF_ERROR(listener->Start(server.get()));
//   ...
//   listener->Stop();  // before server->Shutdown()
//   server->Shutdown(deadline);
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_UNIX_LISTENER_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_UNIX_LISTENER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace zlayer::secrets {

// What the kernel says about the process at the other end of a connection,
// as of connect() time.
struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

struct UnixListenerOptions {
  // Socket path; at most 107 bytes (sun_path). Required.
  std::string path;
  // Mode of the socket file: owner and group may connect.
  mode_t socket_mode = 0660;
  // Mode of the parent directory when the listener has to create it.
  mode_t directory_mode = 0750;
  // listen() backlog.
  int backlog = 128;
  // Connection caps (see above); 0 = no cap.
  size_t max_connections_per_uid = 0;
  size_t max_connections = 0;
  size_t admin_reserve = 0;  // of max_connections
  // Who may use the reserve; unset = uid 0 and this process's euid.
  std::function<bool(uid_t)> is_admin;
};

class UnixListener {
 public:
  // Creates, binds and listens (see above); accepting starts with Start().
  // Returns InvalidArgument for an empty or too long path; AlreadyExists
  // when a live server answers on `path`; FailedPrecondition when `path`
  // exists and is not a socket; Internal (with errno text) for system call
  // failures.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Create(
      UnixListenerOptions options);

  // Takes over `fd`, a listening AF_UNIX SOCK_STREAM socket made by someone
  // else (systemd socket activation, daemon/transport/socket_activation.h): no
  // bind, no chmod (the .socket unit's SocketMode= decides), and the socket
  // file is left in place at Stop() (its owner removes it). Takes ownership of
  // `fd` in every case. options.path is ignored: path() is the address the
  // socket is bound to. FailedPrecondition when `fd` is not a listening
  // Unix stream socket; Internal for system call failures.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Adopt(
      int fd, UnixListenerOptions options);

  // Stops accepting (if started), closes the listening socket and removes
  // the socket file.
  ~UnixListener();

  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Starts the accept thread, handing connections to `server` (not owned;
  // must be started and outlive Stop()). FailedPrecondition if already
  // started or stopped.
  absl::Status Start(grpc::Server* server);

  // Stops the accept thread, closes the listening socket and removes the
  // socket file (unless adopted). Connections already handed to the server are
  // untouched. Idempotent. Call it before grpc::Server::Shutdown().
  void Stop();

  // The credentials recorded for `peer`, which must be a
  // ServerContext::peer() string of the form "fd:N"; nullopt for any other
  // peer or an fd this listener never accepted. Thread-safe.
  absl::optional<PeerCredentials> PeerOf(absl::string_view peer) const;

  // Connections accepted so far. Thread-safe.
  uint64_t accepted_connections() const;
  // Connections closed at accept time by a cap. Thread-safe.
  uint64_t refused_connections() const;

  const std::string& path() const { return options_.path; }

 private:
  UnixListener(UnixListenerOptions options, int listen_fd, int wake_fd);

  void AcceptLoop(grpc::Server* server);
  void CloseAndUnlink();
  // Records a new connection, or says why a cap refuses it ("" = admitted).
  std::string Admit(int fd, const PeerCredentials& peer, ino_t ino)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_);
  // Drops records whose fd is no longer the socket that was accepted.
  void SweepClosed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_);
  void Forget(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_);
  bool IsAdmin(uid_t uid) const;

  const UnixListenerOptions options_;
  int listen_fd_;
  // False for an adopted socket: its file is not ours to remove.
  bool owns_file_ = true;
  int wake_fd_;  // eventfd: Stop() writes to it to wake the accept thread
  // Identity of the socket file we created, so we unlink only our own.
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;

  absl::Mutex lifecycle_mu_;
  std::thread accept_thread_ ABSL_GUARDED_BY(lifecycle_mu_);
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;

  struct Connection {
    PeerCredentials peer;
    ino_t ino = 0;  // the accepted socket's inode: tells a reused fd number
  };
  mutable absl::Mutex peers_mu_;
  absl::flat_hash_map<int, Connection> peers_ ABSL_GUARDED_BY(peers_mu_);
  absl::flat_hash_map<uid_t, size_t> per_uid_ ABSL_GUARDED_BY(peers_mu_);
  uint64_t accepted_ ABSL_GUARDED_BY(peers_mu_) = 0;
  uint64_t refused_ ABSL_GUARDED_BY(peers_mu_) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_UNIX_LISTENER_H_
