// A zlayer-secretsd child started the way systemd starts a service: with
// extra environment (NOTIFY_SOCKET, JOURNAL_STREAM, ...) and optionally a
// listening socket passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to
// the child's own pid, written in the child between fork() and exec() (the
// pid is not known before). stderr is captured; waits are on conditions
// with deadlines, never sleeps.
#ifndef ZLAYER_SECRETS_TESTS_SYSTEMD_SYSTEMD_CHILD_H_
#define ZLAYER_SECRETS_TESTS_SYSTEMD_SYSTEMD_CHILD_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zlayer::secrets::testing {

struct ChildOptions {
  std::vector<std::string> args;  // daemon flags
  std::string home;
  std::vector<std::string> env;  // extra "K=V" entries
  // >= 0: passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID=<child pid>.
  int listen_fd = -1;
  // With listen_fd: LISTEN_PID names this pid instead (another process).
  pid_t listen_pid_override = 0;
  // The JOURNAL_STREAM the child gets is "DEV:INO" of its stderr pipe.
  bool journal_stream = false;
};

class SystemdChild {
 public:
  static absl::StatusOr<std::unique_ptr<SystemdChild>> Start(
      const ChildOptions& options);
  ~SystemdChild();  // SIGKILL and reap if still running

  pid_t pid() const { return pid_; }
  // The first complete stderr line containing `text`; DeadlineExceeded at
  // the timeout, FailedPrecondition when stderr closes first.
  absl::StatusOr<std::string> WaitForLog(const std::string& text,
                                         absl::Duration timeout);
  // waitpid status.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  void Signal(int sig);
  const std::string& Stderr() const { return output_; }

 private:
  SystemdChild(pid_t pid, int stderr_fd) : pid_(pid), stderr_fd_(stderr_fd) {}
  bool ReadSome(absl::Duration timeout);

  pid_t pid_;
  int stderr_fd_;
  bool exited_ = false;
  int exit_status_ = 0;
  bool eof_ = false;
  std::string output_;
};

// A bound SOCK_DGRAM socket at `path` (what systemd listens on for
// notifications) and the datagrams it receives.
class NotifyReceiver {
 public:
  static absl::StatusOr<std::unique_ptr<NotifyReceiver>> Bind(
      const std::string& path);
  ~NotifyReceiver();
  // The next datagram; DeadlineExceeded at the timeout.
  absl::StatusOr<std::string> Next(absl::Duration timeout);
  // Datagrams until one contains `line` (a whole line of it); returns that
  // one. Everything received on the way is appended to `seen`.
  absl::StatusOr<std::string> WaitFor(const std::string& line,
                                      absl::Duration timeout,
                                      std::vector<std::string>* seen);

 private:
  explicit NotifyReceiver(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_SYSTEMD_SYSTEMD_CHILD_H_
