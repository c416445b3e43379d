#include "tests/systemd/systemd_child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::testing {
namespace {

int RemainingMs(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// Writes `value` as decimal into `out` (async-signal-safe: no snprintf).
void WriteDecimal(long value, char* out) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) *out++ = digits[--n];
  *out = '\0';
}

}  // namespace

absl::StatusOr<std::unique_ptr<SystemdChild>> SystemdChild::Start(
    const ChildOptions& options) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  std::vector<std::string> argv = {DaemonBinaryPath()};
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env = {"HOME=" + options.home, "PATH=/usr/bin:/bin"};
  for (const char* name : {"LD_LIBRARY_PATH", "TSAN_OPTIONS"}) {
    if (const char* value = getenv(name)) {
      env.push_back(absl::StrCat(name, "=", value));
    }
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  if (options.journal_stream) {
    struct stat st;
    if (fstat(fds[1], &st) != 0) return absl::InternalError("fstat pipe");
    env.push_back(absl::StrCat("JOURNAL_STREAM=", st.st_dev, ":", st.st_ino));
  }
  // LISTEN_PID's digits are filled in by the child, in this buffer's copy.
  constexpr char kListenPid[] = "LISTEN_PID=";
  int listen_pid_index = -1;
  if (options.listen_fd >= 0) {
    env.push_back("LISTEN_FDS=1");
    env.push_back(std::string(kListenPid) + std::string(24, '0'));
    listen_pid_index = static_cast<int>(env.size()) - 1;
  }
  std::vector<char*> argv_c, env_c;
  for (std::string& a : argv) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  for (std::string& e : env) env_c.push_back(e.data());
  env_c.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here to execve().
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0) _exit(126);
    if (dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0) _exit(126);
    if (options.listen_fd >= 0) {
      // dup2 clears FD_CLOEXEC on fd 3; if the socket already is fd 3,
      // clear it by hand.
      if (options.listen_fd == 3) {
        fcntl(3, F_SETFD, 0);
      } else if (dup2(options.listen_fd, 3) < 0) {
        _exit(126);
      }
      WriteDecimal(options.listen_pid_override != 0
                       ? options.listen_pid_override
                       : getpid(),
                   env_c[listen_pid_index] + sizeof(kListenPid) - 1);
    }
    execve(argv_c[0], argv_c.data(), env_c.data());
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<SystemdChild>(new SystemdChild(pid, fds[0]));
}

SystemdChild::~SystemdChild() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(stderr_fd_);
}

bool SystemdChild::ReadSome(absl::Duration timeout) {
  if (eof_) return false;
  pollfd p{stderr_fd_, POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n <= 0) return true;
  char buf[4096];
  while (true) {
    ssize_t r = read(stderr_fd_, buf, sizeof(buf));
    if (r > 0) {
      output_.append(buf, static_cast<size_t>(r));
      continue;
    }
    if (r == 0) {
      eof_ = true;
      return false;
    }
    return true;
  }
}

absl::StatusOr<std::string> SystemdChild::WaitForLog(const std::string& text,
                                                     absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  size_t scanned = 0;
  while (true) {
    size_t end;
    while ((end = output_.find('\n', scanned)) != std::string::npos) {
      std::string line = output_.substr(scanned, end - scanned);
      scanned = end + 1;
      if (line.find(text) != std::string::npos) return line;
    }
    if (eof_) {
      return absl::FailedPreconditionError(
          absl::StrCat("stderr closed before '", text, "': ", output_));
    }
    int left = RemainingMs(deadline);
    if (left == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no line with '", text, "': ", output_));
    }
    ReadSome(absl::Milliseconds(std::min(left, 200)));
  }
}

absl::StatusOr<int> SystemdChild::WaitForExit(absl::Duration timeout) {
  if (exited_) return exit_status_;
  absl::Time deadline = absl::Now() + timeout;
  // Reading stderr to its end is the wait: it closes when the child exits.
  while (ReadSome(absl::Milliseconds(std::min(RemainingMs(deadline), 200)))) {
    if (RemainingMs(deadline) == 0) {
      return absl::DeadlineExceededError("daemon still running");
    }
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return absl::InternalError("waitpid");
  exited_ = true;
  exit_status_ = status;
  return status;
}

void SystemdChild::Signal(int sig) {
  if (!exited_) kill(pid_, sig);
}

absl::StatusOr<std::unique_ptr<NotifyReceiver>> NotifyReceiver::Bind(
    const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len;
  if (!path.empty() && path[0] == '@') {
    std::memcpy(addr.sun_path + 1, path.data() + 1, path.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    std::memcpy(addr.sun_path, path.data(), path.size());
    len = sizeof(addr);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return absl::InternalError(
        absl::StrCat("bind ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<NotifyReceiver>(new NotifyReceiver(fd));
}

NotifyReceiver::~NotifyReceiver() { close(fd_); }

absl::StatusOr<std::string> NotifyReceiver::Next(absl::Duration timeout) {
  pollfd p{fd_, POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n <= 0) return absl::DeadlineExceededError("no notification");
  char buf[4096];
  ssize_t r = recv(fd_, buf, sizeof(buf), 0);
  if (r < 0) return absl::InternalError("recv");
  return std::string(buf, static_cast<size_t>(r));
}

absl::StatusOr<std::string> NotifyReceiver::WaitFor(
    const std::string& line, absl::Duration timeout,
    std::vector<std::string>* seen) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int left = RemainingMs(deadline);
    if (left == 0) {
      return absl::DeadlineExceededError(absl::StrCat("no ", line));
    }
    absl::StatusOr<std::string> next = Next(absl::Milliseconds(left));
    if (!next.ok()) return next.status();
    seen->push_back(*next);
    for (absl::string_view l : absl::StrSplit(*next, '\n')) {
      if (l == line) return *next;
    }
  }
}

}  // namespace zlayer::secrets::testing
