// SystemdNotifier: the service manager's readiness protocol (sd_notify(3)),
// spoken directly on $NOTIFY_SOCKET without libsystemd.
//
// The protocol (systemd's "sd_notify" documentation): one AF_UNIX SOCK_DGRAM
// datagram per notification, newline-separated VARIABLE=value lines, sent to
// the path in $NOTIFY_SOCKET ("/run/systemd/notify"), or to an abstract
// socket when the value starts with '@' (the '@' becomes a leading NUL). The
// daemon sends
//   READY=1                                   when it serves (event=ready)
//   RELOADING=1 + MONOTONIC_USEC=<now>        when SIGHUP starts a reload
//                                             (systemd 253+ wants the
//                                             timestamp; 252 ignores it)
//   READY=1                                   when the reload is done
//   STOPPING=1                                when the drain starts
//   WATCHDOG=1                                every WatchdogSec/2, while
//                                             the serving loop runs
//   STATUS=...                                a one-line human status
// Without $NOTIFY_SOCKET every call is a no-op that returns OK, so the
// daemon behaves the same outside systemd (Type=exec, containers, tests).
//
//   std::unique_ptr<SystemdNotifier> notifier =
//       SystemdNotifier::FromEnvironment();
//   notifier->Ready("serving");
//   if (auto every = notifier->watchdog_interval()) { ... Watchdog() ... }
//
// Thread-safe: each notification is one sendto() on a socket created once.
#ifndef ZLAYER_SECRETS_DAEMON_SYSTEMD_NOTIFY_H_
#define ZLAYER_SECRETS_DAEMON_SYSTEMD_NOTIFY_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace zlayer::secrets {

class SystemdNotifier {
 public:
  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, and removes them
  // from the environment (nothing the daemon starts should notify in its
  // name). Never fails: a missing or malformed variable disables the
  // corresponding feature (logged once).
  static std::unique_ptr<SystemdNotifier> FromEnvironment();

  // A notifier for `socket_path` ("" = disabled, "@name" = abstract) with
  // an optional watchdog interval (the full WatchdogSec=). For tests.
  static std::unique_ptr<SystemdNotifier> ForSocket(
      std::string socket_path, absl::optional<absl::Duration> watchdog);

  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // True when a notification socket is configured.
  bool enabled() const { return !socket_path_.empty(); }

  // The notifications below never fail the daemon: a failed send is logged
  // (event=systemd_notify_failed, the first failure only) and the
  // daemon goes on; the manager's own timeouts then say what is wrong.

  // READY=1 with STATUS=<status>.
  void Ready(absl::string_view status);
  // RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now>.
  void Reloading();
  // STOPPING=1 with STATUS=<status>.
  void Stopping(absl::string_view status);
  // WATCHDOG=1.
  void Watchdog();

  // RELOADING=1 on construction, READY=1 on destruction: wraps a reload
  // block whatever way it is left. `notifier` may be null (no-op).
  class ReloadScope {
   public:
    explicit ReloadScope(SystemdNotifier* notifier) : notifier_(notifier) {
      if (notifier_ != nullptr) notifier_->Reloading();
    }
    ~ReloadScope() {
      if (notifier_ != nullptr) notifier_->Ready("serving");
    }
    ReloadScope(const ReloadScope&) = delete;
    ReloadScope& operator=(const ReloadScope&) = delete;

   private:
    SystemdNotifier* const notifier_;
  };

  // How often to send WATCHDOG=1: half of WatchdogSec=, as sd_watchdog_enabled
  // advises; nullopt when the manager asked for no watchdog.
  absl::optional<absl::Duration> watchdog_interval() const;

  // Sends `state` (newline-separated assignments) as one datagram. OK and
  // nothing sent when disabled; Internal with errno text if sendto() fails.
  absl::Status Send(absl::string_view state);

 private:
  SystemdNotifier(std::string socket_path,
                  absl::optional<absl::Duration> watchdog);

  void SendOrLog(absl::string_view what, absl::string_view state);

  const std::string socket_path_;
  const absl::optional<absl::Duration> watchdog_;
  int fd_ = -1;
  std::atomic<bool> failure_logged_{false};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_SYSTEMD_NOTIFY_H_
