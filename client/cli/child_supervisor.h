// One child process of `zlayer-secret watch -- CMD`, supervised: started
// with a given environment, signalled, restarted (SIGTERM, a grace period,
// then SIGKILL), always reaped, and sent the signals this process receives.
//
//   absl::StatusOr<std::unique_ptr<ChildSupervisor>> s =
//   ChildSupervisor::Create(); RETURN_IF_ERROR((*s)->Start(argv, env)); for
//   (;;) {
//     switch ((*s)->Wait(notify_fd, deadline)) {
//       case ChildSupervisor::Wake::kChildExited: return (*s)->exit_code();
//       ...
//     }
//   }
//
// Signals: while a ChildSupervisor exists, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2 and SIGCHLD are caught (a handler writes them to a
// self-pipe, so any thread may take them). Wait() forwards each of the first
// six to the child, except those the kernel sent to the whole foreground
// process group (a terminal's Ctrl-C: the child got it already). SIGTERM,
// SIGINT and SIGQUIT also mark the supervisor terminating(): the caller
// stops restarting and waits for the child's exit. Nothing is left behind:
// the destructor kills (SIGKILL) and reaps a child still running.
//
// Thread safety: one thread uses the object; only one may exist at a time
// (the handlers are process-wide). Create() returns FailedPrecondition
// otherwise.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_CHILD_SUPERVISOR_H_
#define ZLAYER_SECRETS_CLIENT_CLI_CHILD_SUPERVISOR_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zlayer::secrets::cli {

class ChildSupervisor {
 public:
  // Installs the signal handlers. FailedPrecondition if another supervisor
  // exists; Internal if the self-pipe cannot be made.
  static absl::StatusOr<std::unique_ptr<ChildSupervisor>> Create();
  // Kills (SIGKILL) and reaps a running child; restores the handlers.
  ~ChildSupervisor();

  ChildSupervisor(const ChildSupervisor&) = delete;
  ChildSupervisor& operator=(const ChildSupervisor&) = delete;

  // Starts `argv` with exactly `env` ("K=V" entries), searching the PATH of
  // `env` when argv[0] has no '/'. FailedPrecondition if a child runs;
  // NotFound (no such program) or PermissionDenied (not executable) when
  // nothing could be executed, with the child already reaped.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Sends `sig` to the running child. FailedPrecondition if none runs.
  absl::Status Signal(int sig);

  // Ends the running child: SIGTERM, up to `grace` for it to exit, then
  // SIGKILL; reaps it and returns its exit_code(). Termination signals that
  // arrive meanwhile set terminating().
  int Stop(absl::Duration grace);

  enum class Wake {
    kChildExited,  // reaped; exit_code() holds its code
    kTerminate,    // SIGTERM/SIGINT/SIGQUIT arrived (already forwarded)
    kFd,           // `fd` is readable
    kTimeout,      // `deadline` passed
  };
  // Waits for the first of those. `fd` may be -1; `deadline` may be
  // absl::InfiniteFuture(). Other caught signals are forwarded on the way.
  Wake Wait(int fd, absl::Time deadline);

  // The last reaped child's code: its exit status, or 128 + the signal
  // that killed it.
  int exit_code() const { return exit_code_; }
  bool terminating() const { return terminating_; }

 private:
  ChildSupervisor(int read_fd, int write_fd)
      : read_fd_(read_fd), write_fd_(write_fd) {}
  // Reads the self-pipe: forwards signals, notes termination, reaps the
  // child on SIGCHLD. Returns true if a termination signal was read.
  bool DrainSignals();
  // waitpid(WNOHANG) on the child; true when it was reaped.
  bool Reap(bool block);

  int read_fd_;
  int write_fd_;
  pid_t pid_ = 0;
  int exit_code_ = 0;
  bool terminating_ = false;
  struct sigaction saved_[7];
};

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_CHILD_SUPERVISOR_H_
