#include "tests/daemon/test_support.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace zlayer::secrets::testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path);
}

int RemainingMs(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// `stdin_fd` < 0 = /dev/null; `stderr_fd` < 0 = the same as `stdout_fd`.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args,
                            const std::vector<std::string>& env, int stdout_fd,
                            int stdin_fd = -1, int stderr_fd = -1) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd < 0) {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions,
                                   stderr_fd < 0 ? stdout_fd : stderr_fd, 2);
  // The test process blocks SIGTERM & co. when it hosts a Daemon; the child
  // must start with a clean mask and default dispositions.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(),
                       env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("posix_spawn ", args[0], ": ", std::strerror(rc)));
  }
  return pid;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/zs-XXXXXX";
  char* made = mkdtemp(tmpl);
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

absl::Status WriteFile(const std::string& path, const std::string& text,
                       mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path));
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fchmod(fd, mode) == 0 && ok;
  close(fd);
  return ok ? absl::OkStatus()
            : absl::InternalError(absl::StrCat("write ", path));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

grpc::Status TestingService::Identify(grpc::ServerContext* context,
                                      const IdentifyRequest*,
                                      IdentifyResponse* response) {
  response->set_peer(context->peer());
  if (identifier_ == nullptr) return grpc::Status::OK;
  absl::StatusOr<Principal> who = identifier_->Identify(*context);
  if (!who.ok()) {
    response->set_error(std::string(who.status().message()));
    return grpc::Status::OK;
  }
  response->set_identified(true);
  response->set_uid(who->uid);
  response->set_gid(who->gid);
  response->set_pid(who->pid);
  response->set_subject(who->Subject());
  response->set_api_key_id(who->api_key_id);
  return grpc::Status::OK;
}

grpc::Status TestingService::Hold(grpc::ServerContext* context,
                                  const HoldRequest*, HoldResponse* response) {
  absl::MutexLock lock(&mu_);
  ++holds_;
  // Wake up now and then to notice a cancelled call.
  while (!released_ && !context->IsCancelled()) {
    mu_.AwaitWithTimeout(absl::Condition(&released_), absl::Milliseconds(20));
  }
  response->set_released(released_);
  return released_ ? grpc::Status::OK
                   : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
}

bool TestingService::WaitForHolds(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return holds_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

void TestingService::Release() {
  absl::MutexLock lock(&mu_);
  released_ = true;
}

std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket_path) {
  grpc::ChannelArguments args;
  // A fresh connection per channel, never shared with other channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket_path,
                                   grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
            const std::string& service, absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.status();
}

absl::StatusOr<int> RunProgram(const std::vector<std::string>& args,
                               std::string* output) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  absl::StatusOr<pid_t> pid = Spawn(args, {}, fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 ||
         (n < 0 && errno == EINTR)) {
    if (n > 0 && output != nullptr) output->append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  if (waitpid(*pid, &status, 0) != *pid) return absl::InternalError("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

absl::StatusOr<TlsMaterial> MakeTlsMaterial(const std::string& dir,
                                            const std::string& prefix) {
  TlsMaterial m;
  std::string p = dir + "/" + prefix;
  m.ca_cert = p + "ca.pem";
  m.ca_key = p + "ca.key";
  m.server_cert = p + "server.pem";
  m.server_key = p + "server.key";
  m.client_cert = p + "client.pem";
  m.client_key = p + "client.key";
  std::string ext = p + "server.ext";
  absl::Status written =
      WriteFile(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n", 0600);
  if (!written.ok()) return written;
  const std::vector<std::string> ec = {
      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto req = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"/usr/bin/openssl", "req"};
    all.insert(all.end(), ec.begin(), ec.end());
    all.insert(all.end(), args.begin(), args.end());
    return all;
  };
  std::vector<std::vector<std::string>> steps = {
      req({"-x509", "-days", "2", "-subj", "/CN=" + prefix + "zs-test-ca",
           "-keyout", m.ca_key, "-out", m.ca_cert}),
      req({"-subj", "/CN=localhost", "-keyout", m.server_key, "-out",
           p + "server.csr"}),
      {"/usr/bin/openssl", "x509", "-req", "-in", p + "server.csr", "-CA",
       m.ca_cert, "-CAkey", m.ca_key, "-CAcreateserial", "-days", "2",
       "-extfile", ext, "-out", m.server_cert},
      req({"-subj", "/CN=zs-test-client", "-keyout", m.client_key, "-out",
           p + "client.csr"}),
      {"/usr/bin/openssl", "x509", "-req", "-in", p + "client.csr", "-CA",
       m.ca_cert, "-CAkey", m.ca_key, "-CAcreateserial", "-days", "2", "-out",
       m.client_cert},
  };
  for (const auto& step : steps) {
    std::string out;
    absl::StatusOr<int> rc = RunProgram(step, &out);
    if (!rc.ok()) return rc.status();
    if (*rc != 0) {
      return absl::InternalError(
          absl::StrCat("openssl ", step[1], " failed: ", out));
    }
  }
  return m;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& input,
                         const std::vector<std::string>& env) {
  ProcessResult result;
  // A child that exits without reading its stdin must not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe failed";
    return result;
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe failed";
    return result;
  }
  // An empty environment would mean "inherit" to Spawn.
  std::vector<std::string> child_env = env;
  if (child_env.empty()) child_env.push_back("ZS_EMPTY_ENV=1");
  absl::StatusOr<pid_t> pid =
      Spawn(argv, child_env, out_pipe[1], in_pipe[0], err_pipe[1]);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!pid.ok()) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = std::string(pid.status().message());
    return result;
  }
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (poll(fds, n, 60000) <= 0) {
      result.err += "\n[test: child silent for 60 s, killed]";
      kill(*pid, SIGKILL);
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w =
            write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else {
        close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int status = 0;
  waitpid(*pid, &status, 0);
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace ? workspace : "zlayer_secrets",
                      "/", path);
}

std::string DaemonBinaryPath() { return Runfile("daemon/zlayer-secretsd"); }

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::vector<std::string>& args, const std::string& home) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  std::vector<std::string> argv = {DaemonBinaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  // No ZLAYER_SECRETS_* from the test's environment: the key comes from the
  // data directory. A sanitizer run's LD_LIBRARY_PATH (tools/tsan_absl.sh
  // loads a TSan-built Abseil through it) and TSAN_OPTIONS pass through.
  std::vector<std::string> env = {"HOME=" + home, "PATH=/usr/bin:/bin"};
  for (const char* name : {"LD_LIBRARY_PATH", "TSAN_OPTIONS"}) {
    if (const char* value = getenv(name)) {
      env.push_back(absl::StrCat(name, "=", value));
    }
  }
  absl::StatusOr<pid_t> pid = Spawn(argv, env, fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, *pid, 0));
  if (pidfd < 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
    close(fds[0]);
    return absl::InternalError("pidfd_open");
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<DaemonProcess>(new DaemonProcess(*pid, fds[0], pidfd));
}

DaemonProcess::~DaemonProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(stderr_fd_);
  close(pidfd_);
}

bool DaemonProcess::ReadSome(absl::Duration timeout) {
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
    return true;  // EAGAIN
  }
}

absl::StatusOr<std::string> DaemonProcess::WaitForLog(const std::string& text,
                                                      absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  size_t scanned = 0;
  while (true) {
    // Complete lines only.
    size_t end;
    while ((end = output_.find('\n', scanned)) != std::string::npos) {
      std::string line = output_.substr(scanned, end - scanned);
      scanned = end + 1;
      if (line.find(text) != std::string::npos) return line;
    }
    if (eof_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "daemon closed stderr before logging '", text, "': ", output_));
    }
    int left = RemainingMs(deadline);
    if (left == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no log line with '", text, "' yet: ", output_));
    }
    ReadSome(absl::Milliseconds(left));
  }
}

absl::StatusOr<int> DaemonProcess::WaitForExit(absl::Duration timeout) {
  if (exited_) return exit_status_;
  pollfd p{pidfd_, POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n <= 0) {
    return absl::DeadlineExceededError("daemon still running");
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return absl::InternalError("waitpid");
  exited_ = true;
  exit_status_ = status;
  // The write end closed with the child: this ends at EOF.
  for (int i = 0; i < 100 && ReadSome(absl::Milliseconds(100)); ++i) {
  }
  return status;
}

void DaemonProcess::Signal(int sig) {
  if (!exited_) kill(pid_, sig);
}

}  // namespace zlayer::secrets::testing
