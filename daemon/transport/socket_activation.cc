#include "daemon/transport/socket_activation.h"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

std::string TakeEnvironment(const char* name) {
  const char* value = std::getenv(name);
  std::string out = value != nullptr ? value : "";
  unsetenv(name);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<int>> TakeListenFds() {
  const std::string pid_text = TakeEnvironment("LISTEN_PID");
  const std::string fds_text = TakeEnvironment("LISTEN_FDS");
  TakeEnvironment("LISTEN_FDNAMES");
  if (pid_text.empty()) return std::vector<int>();
  pid_t pid = 0;
  if (!absl::SimpleAtoi(pid_text, &pid) || pid != getpid()) {
    return std::vector<int>();
  }
  int count = 0;
  if (!absl::SimpleAtoi(fds_text, &count) || count < 0 || count > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("LISTEN_FDS is not a count of sockets: '", fds_text, "'"));
  }
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) fds.push_back(kListenFdsStart + i);
  return fds;
}

absl::StatusOr<std::unique_ptr<UnixListener>> OpenUnixListener(
    UnixListenerOptions options) {
  absl::StatusOr<std::vector<int>> fds = TakeListenFds();
  if (!fds.ok()) return fds.status();
  if (fds->empty()) return UnixListener::Create(std::move(options));
  if (fds->size() != 1) {
    for (int fd : *fds) close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "socket activation passed ", fds->size(),
        " sockets; zlayer-secretsd takes exactly one (one ListenStream=)"));
  }
  const std::string configured = options.path;
  absl::StatusOr<std::unique_ptr<UnixListener>> listener =
      UnixListener::Adopt(fds->front(), std::move(options));
  if (listener.ok() && (*listener)->path() != configured) {
    // Clients are told --socket; the unit's ListenStream= should agree.
    spdlog::warn(
        "event=activated_socket_differs socket={} configured={} "
        "advice=\"make --socket match ListenStream=\"",
        (*listener)->path(), configured);
  }
  return listener;
}

}  // namespace zlayer::secrets
