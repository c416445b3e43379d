// Whether a Unix socket path may be trusted to lead to the real daemon,
// checked by the client before it dials (issue 18, item 1: a planted
// socket receives every value a client sends and answers with its own).
//
// A socket is trusted when
//   * it is owned by root, by the invoking user (euid), or by the daemon's
//     configured user (`zlayer-secrets` unless overridden), and
//   * every directory from its parent up to "/" is owned by one of those
//     users and is not writable by other users, unless that directory has
//     the sticky bit (then others may add entries but may not rename or
//     remove ours, and a socket they add fails the owner check).
// Symlinks anywhere in the path are resolved first and the real path is
// checked and returned: the caller dials what was checked, so a symlink
// swapped after the check changes nothing.
//
// When the socket does not exist yet (a client started before the daemon),
// the nearest existing ancestor and the directories above it are checked:
// only a trusted user can then create the socket there.
//
//   ASSIGN_OR_RETURN(std::string real,
//                    VerifyUnixSocket(path, TrustedSocketOwners("")));
//   grpc::CreateChannel("unix:" + real, ...);
//
// Group-writable directories are trusted: their group's members are
// trusted with the socket. Abstract sockets (unix-abstract:) have no owner
// and are refused by SecretsClient::Connect.
//
// Thread-safe (no state); reads the file system and the user database.
#ifndef ZLAYER_SECRETS_CLIENT_SOCKET_TRUST_H_
#define ZLAYER_SECRETS_CLIENT_SOCKET_TRUST_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets {

// The environment variable that names the daemon's user when it is not
// `kDefaultDaemonUser` (a user name or a numeric uid).
inline constexpr absl::string_view kDaemonUserEnvVar =
    "ZLAYER_SECRETS_DAEMON_USER";
// The user deploy/zlayer-secretsd.service runs the daemon as.
inline constexpr absl::string_view kDefaultDaemonUser = "zlayer-secrets";

struct SocketOwners {
  std::vector<uid_t> uids;  // root, euid and the daemon user (if known)
  std::string daemon_user;  // as configured, for error messages
};

// Root, the process's euid, and `daemon_user` ("" = $ZLAYER_SECRETS_DAEMON_USER
// when set, else "zlayer-secrets"). A daemon user that is neither a known
// name nor a number adds no uid.
SocketOwners TrustedSocketOwners(absl::string_view daemon_user);

// Checks `path` as described above and returns its real path (absolute,
// symlinks resolved) to dial. Errors:
//   PermissionDenied    the socket or a directory above it is owned by an
//                       untrusted user, or a directory is writable by others
//                       without the sticky bit;
//   FailedPrecondition  the path exists and is not a socket;
//   InvalidArgument     an empty path;
//   Internal            a directory could not be examined.
// Messages name the path, the owner uid and the mode, never file contents.
absl::StatusOr<std::string> VerifyUnixSocket(absl::string_view path,
                                             const SocketOwners& owners);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_SOCKET_TRUST_H_
