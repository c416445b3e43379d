#include "daemon/systemd_notify.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
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

// STATUS= is one line: anything that would start a new assignment goes.
std::string OneLine(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::unique_ptr<SystemdNotifier> SystemdNotifier::FromEnvironment() {
  std::string socket_path = TakeEnvironment("NOTIFY_SOCKET");
  std::string usec_text = TakeEnvironment("WATCHDOG_USEC");
  std::string pid_text = TakeEnvironment("WATCHDOG_PID");
  absl::optional<absl::Duration> watchdog;
  if (!usec_text.empty()) {
    uint64_t usec = 0;
    pid_t pid = 0;
    // WATCHDOG_PID, when set, names the process that must ping: a daemon
    // forked under another's watchdog must stay silent.
    const bool ours = pid_text.empty() ||
                      (absl::SimpleAtoi(pid_text, &pid) && pid == getpid());
    if (!absl::SimpleAtoi(usec_text, &usec) || usec == 0) {
      spdlog::warn("event=systemd_watchdog_ignored reason=bad_watchdog_usec");
    } else if (ours) {
      watchdog = absl::Microseconds(usec);
    }
  }
  return ForSocket(std::move(socket_path), watchdog);
}

std::unique_ptr<SystemdNotifier> SystemdNotifier::ForSocket(
    std::string socket_path, absl::optional<absl::Duration> watchdog) {
  auto notifier = std::unique_ptr<SystemdNotifier>(
      new SystemdNotifier(std::move(socket_path), watchdog));
  if (notifier->enabled()) {
    notifier->fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notifier->fd_ < 0) {
      spdlog::warn("event=systemd_notify_unavailable error=\"{}\"",
                   std::strerror(errno));
    }
  }
  return notifier;
}

SystemdNotifier::SystemdNotifier(std::string socket_path,
                                 absl::optional<absl::Duration> watchdog)
    : socket_path_(std::move(socket_path)),
      watchdog_(socket_path_.empty() ? absl::nullopt : watchdog) {}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) close(fd_);
}

void SystemdNotifier::Ready(absl::string_view status) {
  SendOrLog("ready", absl::StrCat("READY=1\nSTATUS=", OneLine(status)));
}

void SystemdNotifier::Reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1000000u +
                        static_cast<uint64_t>(now.tv_nsec) / 1000u;
  SendOrLog(
      "reloading",
      absl::StrCat("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=", usec));
}

void SystemdNotifier::Stopping(absl::string_view status) {
  SendOrLog("stopping", absl::StrCat("STOPPING=1\nSTATUS=", OneLine(status)));
}

void SystemdNotifier::Watchdog() { SendOrLog("watchdog", "WATCHDOG=1"); }

void SystemdNotifier::SendOrLog(absl::string_view what,
                                absl::string_view state) {
  absl::Status sent = Send(state);
  if (sent.ok() || failure_logged_.exchange(true)) return;
  // Once: a watchdog ping every few seconds must not flood the log.
  spdlog::warn("event=systemd_notify_failed notification={} error=\"{}\"",
               std::string(what), std::string(sent.message()));
}

absl::optional<absl::Duration> SystemdNotifier::watchdog_interval() const {
  if (!watchdog_.has_value()) return absl::nullopt;
  return *watchdog_ / 2;
}

absl::Status SystemdNotifier::Send(absl::string_view state) {
  if (!enabled()) return absl::OkStatus();
  if (fd_ < 0) return absl::InternalError("no notification socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path) ||
      (socket_path_[0] != '/' && socket_path_[0] != '@')) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET is not a usable address: ", socket_path_));
  }
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                         socket_path_.size());
  if (socket_path_[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace; the length is exact
  } else {
    len += 1;  // the terminating NUL of a path name
  }
  ssize_t sent;
  do {
    sent = sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return absl::InternalError(absl::StrCat(
        "sendto NOTIFY_SOCKET ", socket_path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
