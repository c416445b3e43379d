// Socket activation (sd_listen_fds(3)): the service manager binds the Unix
// socket (zlayer-secretsd.socket) and passes it to the daemon as fd 3, with
// LISTEN_PID=<the daemon's pid> and LISTEN_FDS=1 in its environment.
//
// The daemon then takes that socket instead of binding its own (so the
// service can run with PrivateNetwork= and the socket exists before the
// daemon starts), and still identifies every caller by SO_PEERCRED: the
// accept loop is UnixListener's either way.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<UnixListener> listener,
//                    OpenUnixListener(listener_options));
//
// Not thread-safe (reads and edits the environment): call it once, early.
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_SOCKET_ACTIVATION_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_SOCKET_ACTIVATION_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/transport/unix_listener.h"

namespace zlayer::secrets {

// The first passed fd (SD_LISTEN_FDS_START).
inline constexpr int kListenFdsStart = 3;

// The fds passed to this process: {3, ..., 3 + LISTEN_FDS - 1}, or empty
// when LISTEN_PID is unset or names another process (the variables were
// meant for a parent). Removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES
// from the environment either way, as sd_listen_fds(1) does.
// InvalidArgument for a malformed LISTEN_FDS.
absl::StatusOr<std::vector<int>> TakeListenFds();

// The daemon's Unix listener: the inherited socket when the process was
// socket-activated (UnixListener::Adopt), else a socket bound at
// options.path (UnixListener::Create). FailedPrecondition when more than one
// socket was passed, or the passed one is not a listening Unix stream
// socket; otherwise the errors of Create()/Adopt().
absl::StatusOr<std::unique_ptr<UnixListener>> OpenUnixListener(
    UnixListenerOptions options);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_SOCKET_ACTIVATION_H_
