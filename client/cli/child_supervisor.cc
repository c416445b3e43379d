#include "client/cli/child_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace zlayer::secrets::cli {
namespace {

constexpr int kCaught[] = {SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                           SIGUSR1, SIGUSR2, SIGCHLD};
static_assert(sizeof(kCaught) / sizeof(kCaught[0]) == 7,
              "ChildSupervisor::saved_ holds one entry per caught signal");

// The self-pipe's write end while a supervisor exists (-1 otherwise).
std::atomic<int> g_signal_pipe{-1};

// Async-signal-safe: two bytes, the signal and whether the kernel sent it
// (to a whole process group: a terminal's Ctrl-C or hangup).
void OnSignal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  const int fd = g_signal_pipe.load();
  if (fd >= 0) {
    const unsigned char message[2] = {
        static_cast<unsigned char>(sig),
        static_cast<unsigned char>(info != nullptr &&
                                   info->si_code == SI_KERNEL)};
    // A full pipe drops the byte: SIGCHLD is re-checked on every wake.
    [[maybe_unused]] ssize_t n = ::write(fd, message, sizeof(message));
  }
  errno = saved_errno;
}

bool IsTermination(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
}

int CodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

// The files execve should try for argv[0]: itself when it has a '/', else
// each directory of the child's PATH.
std::vector<std::string> Candidates(const std::string& program,
                                    const std::vector<std::string>& env) {
  if (absl::StrContains(program, '/')) return {program};
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& e : env) {
    if (absl::StartsWith(e, "PATH=")) path = e.substr(5);
  }
  std::vector<std::string> out;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    out.push_back(absl::StrCat(dir.empty() ? "." : dir, "/", program));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildSupervisor>> ChildSupervisor::Create() {
  if (g_signal_pipe.load() >= 0) {
    return absl::FailedPreconditionError("a child supervisor already exists");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  std::unique_ptr<ChildSupervisor> s(new ChildSupervisor(fds[0], fds[1]));
  g_signal_pipe.store(fds[1]);
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_sigaction = OnSignal;
  action.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < std::size(kCaught); ++i) {
    ::sigaction(kCaught[i], &action, &s->saved_[i]);
  }
  return s;
}

ChildSupervisor::~ChildSupervisor() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Reap(/*block=*/true);
  }
  for (size_t i = 0; i < std::size(kCaught); ++i) {
    ::sigaction(kCaught[i], &saved_[i], nullptr);
  }
  g_signal_pipe.store(-1);
  ::close(read_fd_);
  ::close(write_fd_);
}

absl::Status ChildSupervisor::Start(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env) {
  if (pid_ > 0) return absl::FailedPreconditionError("a child is running");
  // Everything the child needs is built before fork: between fork and
  // execve only async-signal-safe calls are allowed (gRPC's threads exist).
  const std::vector<std::string> files = Candidates(argv[0], env);
  std::vector<char*> c_argv;
  for (const std::string& a : argv) {
    c_argv.push_back(const_cast<char*>(a.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (const std::string& e : env)
    c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);
  // The child reports an execve failure's errno here; a successful execve
  // closes it (O_CLOEXEC).
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  // Signals stay blocked across fork so the child cannot run our handlers
  // (and write into our self-pipe) before it resets them.
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig : kCaught) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    int err = ENOENT;
    for (const std::string& file : files) {
      ::execve(file.c_str(), c_argv.data(), c_env.data());
      if (errno == EACCES) err = EACCES;
      if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
        err = errno;
        break;
      }
    }
    [[maybe_unused]] ssize_t n = ::write(report[1], &err, sizeof(err));
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return absl::InternalError(
        absl::StrCat("fork: ", std::strerror(fork_errno)));
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    Reap(/*block=*/true);
    const std::string message = absl::StrCat("cannot execute '", argv[0],
                                             "': ", std::strerror(child_errno));
    return child_errno == ENOENT ? absl::NotFoundError(message)
                                 : absl::PermissionDeniedError(message);
  }
  return absl::OkStatus();
}

absl::Status ChildSupervisor::Signal(int sig) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no child is running");
  if (::kill(pid_, sig) != 0) {
    return absl::InternalError(absl::StrCat("kill: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

int ChildSupervisor::Stop(absl::Duration grace) {
  if (pid_ <= 0) return exit_code_;
  ::kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (pid_ > 0) {
    if (Wait(-1, deadline) == Wake::kTimeout) {
      ::kill(pid_, SIGKILL);
      Reap(/*block=*/true);
    }
  }
  return exit_code_;
}

ChildSupervisor::Wake ChildSupervisor::Wait(int fd, absl::Time deadline) {
  for (;;) {
    const bool terminate = DrainSignals();
    // SIGCHLD bytes can be lost to a full pipe: ask waitpid every time.
    if (pid_ > 0 && Reap(/*block=*/false)) return Wake::kChildExited;
    if (terminate) return Wake::kTerminate;
    pollfd fds[2] = {{read_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return Wake::kTimeout;
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
          60 * 60 * 1000));
    }
    const int ready = ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    if (ready > 0 && fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0 &&
        (fds[0].revents & POLLIN) == 0) {
      return Wake::kFd;
    }
  }
}

bool ChildSupervisor::DrainSignals() {
  bool terminate = false;
  unsigned char message[2];
  while (::read(read_fd_, message, sizeof(message)) ==
         static_cast<ssize_t>(sizeof(message))) {
    const int sig = message[0];
    const bool from_kernel = message[1] != 0;
    if (sig == SIGCHLD) continue;  // Wait() reaps after draining
    if (pid_ > 0 && !from_kernel) ::kill(pid_, sig);
    if (IsTermination(sig)) {
      terminating_ = true;
      terminate = true;
    }
  }
  return terminate;
}

bool ChildSupervisor::Reap(bool block) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  exit_code_ = CodeOf(status);
  pid_ = 0;
  return true;
}

}  // namespace zlayer::secrets::cli
