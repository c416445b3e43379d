#include "daemon/metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/config.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kMaxRequestBytes = 8 * 1024;
constexpr auto kConnectionDeadline = std::chrono::seconds(2);

absl::Status ErrnoStatus(absl::string_view what, absl::string_view where,
                         int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", where, ": ", std::strerror(err)));
}

struct Bound {
  int fd = -1;
  int port = 0;
  std::string unix_path;
};

absl::StatusOr<Bound> BindUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path[0] != '/' || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen unix:", path, ": need an absolute path of at most ",
        sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", path, errno);
  struct stat st;
  // A socket file left by a previous run; a live one makes bind() fail.
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr),
                                      sizeof(addr)) == 0;
    if (probe >= 0) close(probe);
    if (!live) unlink(path.c_str());
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen unix:", path, ": ", std::strerror(err)));
  }
  if (chmod(path.c_str(), 0660) != 0 || listen(fd, 16) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return ErrnoStatus("listen", path, err);
  }
  return Bound{fd, 0, path};
}

absl::StatusOr<Bound> BindLoopback(absl::string_view address) {
  absl::StatusOr<HostPort> hp = ParseHostPort(address);
  if (!hp.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: expected HOST:PORT or unix:PATH, got '",
                     address, "'"));
  }
  if (!IsLoopbackHost(hp->host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", address,
                     ": only loopback addresses (or unix:PATH) are served"));
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host = hp->host == "localhost" ? "127.0.0.1" : hp->host;
  const std::string port = absl::StrCat(hp->port);
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", address, ": bad address"));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(found);
    return ErrnoStatus("socket", address, errno);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = bind(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0 || listen(fd, 16) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", address, ": ", std::strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port =
      bound.ss_family == AF_INET6
          ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Bound{fd, bound_port, ""};
}

int RemainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Writes all of `data` before `deadline`; false if the peer is too slow or
// gone.
bool WriteAll(int fd, absl::string_view data,
              std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int left = RemainingMs(deadline);
      if (left == 0 || poll(&p, 1, left) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

std::string Response(absl::string_view status, absl::string_view type,
                     absl::string_view body, bool head) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", head ? "" : body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view listen, const Metrics* metrics) {
  absl::StatusOr<Bound> bound = absl::StartsWith(listen, "unix:")
                                    ? BindUnix(std::string(listen.substr(5)))
                                    : BindLoopback(listen);
  if (!bound.ok()) return bound.status();
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    close(bound->fd);
    if (!bound->unix_path.empty()) unlink(bound->unix_path.c_str());
    return ErrnoStatus("eventfd", "metrics", err);
  }
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer(
      metrics, bound->fd, wake, bound->port, bound->unix_path));
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  spdlog::info("event=metrics_listening address={} port={}",
               bound->unix_path.empty() ? std::string(listen)
                                        : "unix:" + bound->unix_path,
               bound->port);
  return server;
}

MetricsServer::MetricsServer(const Metrics* metrics, int listen_fd, int wake_fd,
                             int port, std::string unix_path)
    : metrics_(metrics),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      unix_path_(std::move(unix_path)) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

void MetricsServer::Serve() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    HandleConnection(fd);
    close(fd);
  }
}

void MetricsServer::HandleConnection(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kConnectionDeadline;
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos) {
    if (request.size() > kMaxRequestBytes) return;
    pollfd p{fd, POLLIN, 0};
    int left = RemainingMs(deadline);
    if (left == 0 || poll(&p, 1, left) <= 0) return;
    char buf[1024];
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return;
    request.append(buf, static_cast<size_t>(r));
  }
  absl::string_view line(request);
  line = line.substr(0, line.find('\n'));
  line = absl::StripSuffix(line, "\r");
  // "METHOD TARGET HTTP/x.y"
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == absl::string_view::npos || sp2 == sp1) {
    WriteAll(fd,
             Response("400 Bad Request", "text/plain", "bad request\n", false),
             deadline);
    return;
  }
  absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    WriteAll(fd,
             Response("405 Method Not Allowed", "text/plain",
                      "only GET and HEAD\n", false),
             deadline);
    return;
  }
  if (target != "/metrics") {
    WriteAll(fd,
             Response("404 Not Found", "text/plain", "try /metrics\n", head),
             deadline);
    return;
  }
  WriteAll(fd,
           Response("200 OK", "text/plain; version=0.0.4; charset=utf-8",
                    metrics_->Render(), head),
           deadline);
}

}  // namespace zlayer::secrets
