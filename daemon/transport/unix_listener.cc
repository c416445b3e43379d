#include "daemon/transport/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "grpcpp/server.h"
#include "grpcpp/server_posix.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

absl::Status ErrnoStatus(absl::string_view what, absl::string_view path,
                         int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

absl::StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return absl::InvalidArgumentError("socket path is empty");
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path is ", path.size(), " bytes; at most ",
                     sizeof(addr.sun_path) - 1, " fit in sun_path: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string ParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Creates the socket's parent directory (one level) with `mode` if missing.
absl::Status EnsureParentDirectory(const std::string& path, mode_t mode) {
  std::string dir = ParentDirectory(path);
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket directory ", dir, " is not a directory"));
    }
    return absl::OkStatus();
  }
  if (errno != ENOENT) return ErrnoStatus("stat", dir, errno);
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", dir, errno);
  }
  // mkdir() applies the umask; the mode is part of the contract.
  if (chmod(dir.c_str(), mode) != 0) return ErrnoStatus("chmod", dir, errno);
  return absl::OkStatus();
}

// Removes a socket file nobody answers on. AlreadyExists when a server
// accepts connections on it.
absl::Status RemoveStaleSocket(const std::string& path,
                               const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus("lstat", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " exists and is not a socket; refusing to replace it"));
  }
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return ErrnoStatus("socket", path, errno);
  int rc =
      connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(probe);
  if (rc == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("another server is listening on ", path,
                     " (is zlayer-secretsd already running?)"));
  }
  if (err != ECONNREFUSED) {
    return ErrnoStatus("probing existing socket", path, err);
  }
  spdlog::info("event=stale_socket_removed path={}", path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink stale socket", path, errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Create(
    UnixListenerOptions options) {
  absl::StatusOr<sockaddr_un> addr = SocketAddress(options.path);
  if (!addr.ok()) return addr.status();
  absl::Status status =
      EnsureParentDirectory(options.path, options.directory_mode);
  if (!status.ok()) return status;
  status = RemoveStaleSocket(options.path, *addr);
  if (!status.ok()) return status;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", options.path, errno);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    int err = errno;
    close(fd);
    if (err == EADDRINUSE) {
      return absl::AlreadyExistsError(
          absl::StrCat("socket path ", options.path, " is in use"));
    }
    return ErrnoStatus("bind", options.path, err);
  }
  struct stat st;
  // The mode is set before listen(): until then nobody can connect.
  if (chmod(options.path.c_str(), options.socket_mode) != 0 ||
      lstat(options.path.c_str(), &st) != 0) {
    int err = errno;
    close(fd);
    unlink(options.path.c_str());
    return ErrnoStatus("chmod", options.path, err);
  }
  if (listen(fd, options.backlog) != 0) {
    int err = errno;
    close(fd);
    unlink(options.path.c_str());
    return ErrnoStatus("listen", options.path, err);
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    close(fd);
    unlink(options.path.c_str());
    return ErrnoStatus("eventfd for", options.path, err);
  }
  auto listener = std::unique_ptr<UnixListener>(
      new UnixListener(std::move(options), fd, wake));
  listener->socket_dev_ = st.st_dev;
  listener->socket_ino_ = st.st_ino;
  return listener;
}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Adopt(
    int fd, UnixListenerOptions options) {
  auto fail = [fd](absl::Status status) {
    close(fd);
    return status;
  };
  int domain = 0, type = 0, listening = 0;
  socklen_t len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    return fail(ErrnoStatus("getsockopt SO_DOMAIN", "inherited fd", errno));
  }
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    return fail(ErrnoStatus("getsockopt", "inherited fd", errno));
  }
  if (domain != AF_UNIX || type != SOCK_STREAM || listening == 0) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "inherited fd ", fd,
        " is not a listening Unix stream socket (ListenStream= must be a "
        "path in the .socket unit)")));
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return fail(ErrnoStatus("fcntl FD_CLOEXEC", "inherited fd", errno));
  }
  sockaddr_un addr{};
  socklen_t addr_len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    return fail(ErrnoStatus("getsockname", "inherited fd", errno));
  }
  const size_t path_bytes =
      addr_len > offsetof(sockaddr_un, sun_path)
          ? strnlen(addr.sun_path, addr_len - offsetof(sockaddr_un, sun_path))
          : 0;
  options.path = addr.sun_path[0] == '\0'
                     ? std::string("@abstract")
                     : std::string(addr.sun_path, path_bytes);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail(ErrnoStatus("eventfd for", options.path, errno));
  auto listener = std::unique_ptr<UnixListener>(
      new UnixListener(std::move(options), fd, wake));
  listener->owns_file_ = false;
  return listener;
}

UnixListener::UnixListener(UnixListenerOptions options, int listen_fd,
                           int wake_fd)
    : options_(std::move(options)), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

UnixListener::~UnixListener() { Stop(); }

absl::Status UnixListener::Start(grpc::Server* server) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError(
        "unix listener already started or stopped");
  }
  started_ = true;
  accept_thread_ = std::thread([this, server] { AcceptLoop(server); });
  spdlog::info("event=listening transport=unix path={} activated={}",
               options_.path, !owns_file_);
  return absl::OkStatus();
}

void UnixListener::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (accept_thread_.joinable()) {
    uint64_t one = 1;
    // A full eventfd counter still wakes poll(); the result needs no check.
    (void)!write(wake_fd_, &one, sizeof(one));
    accept_thread_.join();
  }
  CloseAndUnlink();
}

void UnixListener::CloseAndUnlink() {
  struct stat st;
  // Remove the file only if it is still the socket we bound (another
  // process may have replaced it after we stopped answering).
  if (owns_file_ && lstat(options_.path.c_str(), &st) == 0 &&
      st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
    unlink(options_.path.c_str());
  }
  close(listen_fd_);
  close(wake_fd_);
  listen_fd_ = -1;
  wake_fd_ = -1;
}

void UnixListener::AcceptLoop(grpc::Server* server) {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int poll_timeout_ms = -1;
  while (true) {
    int n = poll(fds, 2, poll_timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("event=accept_poll_failed error=\"{}\"",
                    std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // Stop()
    poll_timeout_ms = -1;
    if (n == 0 || (fds[0].revents & POLLIN) == 0) continue;

    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
          err == ECONNABORTED) {
        continue;
      }
      spdlog::warn("event=accept_failed path={} error=\"{}\"", options_.path,
                   std::strerror(err));
      // Out of fds or memory: back off briefly (the wake fd still ends the
      // wait at once) instead of spinning on a readable listening socket.
      poll_timeout_ms = 100;
      fds[0].events = 0;
      n = poll(&fds[1], 1, poll_timeout_ms);
      fds[0].events = POLLIN;
      if (n > 0) return;
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    struct stat st;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        fstat(fd, &st) != 0) {
      spdlog::warn("event=peercred_failed fd={} error=\"{}\"", fd,
                   std::strerror(errno));
      close(fd);
      continue;
    }
    const PeerCredentials peer{cred.uid, cred.gid, cred.pid};
    std::string refusal;
    uint64_t refused = 0;
    {
      absl::MutexLock lock(&peers_mu_);
      refusal = Admit(fd, peer, st.st_ino);
      if (refusal.empty()) {
        ++accepted_;
      } else {
        refused = ++refused_;
      }
    }
    if (!refusal.empty()) {
      close(fd);
      // Coalesced: a flood of refusals logs 1, 2, 4, 8, ... lines.
      if ((refused & (refused - 1)) == 0) {
        spdlog::warn(
            "event=connection_refused transport=unix uid={} pid={} "
            "reason={} refused_total={}",
            peer.uid, peer.pid, refusal, refused);
      }
      continue;
    }
    spdlog::debug("event=accepted transport=unix fd={} uid={} gid={} pid={}",
                  fd, cred.uid, cred.gid, cred.pid);
    grpc::AddInsecureChannelFromFd(server, fd);
  }
}

bool UnixListener::IsAdmin(uid_t uid) const {
  if (options_.is_admin) return options_.is_admin(uid);
  return uid == 0 || uid == geteuid();
}

void UnixListener::Forget(int fd) {
  auto it = peers_.find(fd);
  if (it == peers_.end()) return;
  auto count = per_uid_.find(it->second.peer.uid);
  if (count != per_uid_.end() && --count->second == 0) per_uid_.erase(count);
  peers_.erase(it);
}

void UnixListener::SweepClosed() {
  std::vector<int> closed;
  for (const auto& [fd, connection] : peers_) {
    struct stat st;
    // gRPC closed it (EBADF), or the number now names another file.
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        st.st_ino != connection.ino) {
      closed.push_back(fd);
    }
  }
  for (int fd : closed) Forget(fd);
}

std::string UnixListener::Admit(int fd, const PeerCredentials& peer,
                                ino_t ino) {
  // The number is ours again, so the connection that had it is closed.
  Forget(fd);
  auto over_cap = [&]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_) -> const char* {
    const size_t total = peers_.size();
    if (options_.max_connections != 0) {
      if (total >= options_.max_connections) return "max_connections";
      if (total + options_.admin_reserve >= options_.max_connections &&
          !IsAdmin(peer.uid)) {
        return "admin_reserve";
      }
    }
    if (options_.max_connections_per_uid != 0) {
      auto it = per_uid_.find(peer.uid);
      if (it != per_uid_.end() &&
          it->second >= options_.max_connections_per_uid) {
        return "max_connections_per_uid";
      }
    }
    return nullptr;
  };
  if (over_cap() != nullptr) {
    SweepClosed();
    if (const char* reason = over_cap()) return reason;
  }
  peers_[fd] = Connection{peer, ino};
  ++per_uid_[peer.uid];
  return "";
}

absl::optional<PeerCredentials> UnixListener::PeerOf(
    absl::string_view peer) const {
  if (!absl::ConsumePrefix(&peer, "fd:")) return absl::nullopt;
  int fd = -1;
  if (!absl::SimpleAtoi(peer, &fd) || fd < 0) return absl::nullopt;
  absl::MutexLock lock(&peers_mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return absl::nullopt;
  return it->second.peer;
}

uint64_t UnixListener::accepted_connections() const {
  absl::MutexLock lock(&peers_mu_);
  return accepted_;
}

uint64_t UnixListener::refused_connections() const {
  absl::MutexLock lock(&peers_mu_);
  return refused_;
}

}  // namespace zlayer::secrets
