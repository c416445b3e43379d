#include "tests/e2e/e2e_daemon.h"

#include <fcntl.h>
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
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/secret_bytes.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

extern char** environ;

namespace zlayer::secrets::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);

std::vector<std::string> EnvironWith(
    const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (extra.count(entry.substr(0, entry.find('='))) == 0) {
      env.push_back(entry);
    }
  }
  for (const auto& [k, v] : extra) env.push_back(absl::StrCat(k, "=", v));
  return env;
}

std::string Slurp(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  return text.ok() ? *text : "";
}

// Waits for `pid` to exit within `timeout` (a pidfd, so no polling loop);
// the wait status, or nullopt when it is still running.
absl::optional<int> WaitForExit(pid_t pid, absl::Duration timeout) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    ::close(pidfd);
  }
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return status;
  return absl::nullopt;
}

}  // namespace

std::string TransportName(Transport transport) {
  return transport == Transport::kUnix ? "unix" : "tls";
}

ProcessResult RunWithEnvironment(
    const std::vector<std::string>& argv, const std::string& input,
    const std::map<std::string, std::string>& extra_env) {
  ProcessResult r = RunProcess(argv, input, EnvironWith(extra_env));
  if (r.exit_code < 0) ADD_FAILURE() << argv[0] << ": " << r.err;
  return r;
}

absl::StatusOr<std::unique_ptr<E2eDaemon>> E2eDaemon::Start(
    Transport transport) {
  std::unique_ptr<E2eDaemon> d(new E2eDaemon(transport));
  char dir[] = "/tmp/zs-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp");
  d->dir_ = dir;
  if (::mkdir(d->data_dir().c_str(), 0700) != 0) {
    return absl::InternalError("mkdir data");
  }
  d->args_ = {Runfile("daemon/zlayer-secretsd"),
              "--data-dir",
              d->data_dir(),
              "--key-dir",
              d->data_dir(),
              "--bootstrap-admin-key",
              "keep",
              "--socket",
              d->Path("d.sock")};
  if (transport == Transport::kTls) {
    absl::StatusOr<TlsMaterial> tls = MakeTlsMaterial(d->dir_, "");
    if (!tls.ok()) return tls.status();
    d->tls_ca_ = tls->ca_cert;
    d->args_.insert(d->args_.end(),
                    {"--listen", "127.0.0.1:0", "--tls-cert", tls->server_cert,
                     "--tls-key", tls->server_key});
  }
  absl::Status launched = d->Launch();
  if (!launched.ok()) return launched;
  return d;
}

absl::Status E2eDaemon::Restart() {
  absl::Status stopped = Stop();
  if (!stopped.ok()) return stopped;
  return Launch();
}

absl::Status E2eDaemon::Stop() {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  ::kill(pid_, SIGTERM);
  absl::optional<int> status = WaitForExit(pid_, kStopTimeout);
  if (!status.has_value()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    return absl::DeadlineExceededError(
        "zlayer-secretsd did not stop at SIGTERM");
  }
  pid_ = 0;
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(
        absl::StrCat("zlayer-secretsd exit status ", *status, "\n", Log()));
  }
  return absl::OkStatus();
}

absl::Status E2eDaemon::Launch() {
  // The log goes to a file, not a pipe: a pipe nobody drains would stall
  // the daemon's logging once it fills. A restart starts a new one (the
  // previous run's is kept as daemon.log.1).
  const std::string log = Path("daemon.log");
  ::rename(log.c_str(), Path("daemon.log.1").c_str());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args = args_;
  std::vector<char*> c_argv;
  for (std::string& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  int rc =
      posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = 0;
    return absl::InternalError(
        absl::StrCat("cannot start ", args[0], ": ", std::strerror(rc)));
  }

  // The ready line carries the TCP port the kernel chose. It is written
  // after the listeners are up, so gRPC's own connect below (with a
  // deadline) is what actually waits.
  absl::Time deadline = absl::Now() + kStartTimeout;
  std::string ready;
  while (ready.empty()) {
    if (!Running()) {
      return absl::FailedPreconditionError(
          absl::StrCat("zlayer-secretsd exited during start:\n", Log()));
    }
    std::string text = Log();
    size_t at = text.find("event=ready");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      ready = text.substr(at, text.find('\n', at) - at);
      break;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("zlayer-secretsd did not log ready:\n", text));
    }
    absl::SleepFor(absl::Milliseconds(20));  // a log file has no wakeup
  }

  // Calls get a generous deadline: these tests check outcomes, and a TLS
  // handshake on a loaded CI machine can take longer than the 5 s default.
  if (transport_ == Transport::kUnix) {
    address_ = Path("d.sock");
    cli_args_ = {"--socket", address_, "--timeout", "30s"};
  } else {
    size_t at = ready.find("tcp_port=");
    int port = 0;
    if (at == std::string::npos ||
        !absl::SimpleAtoi(ready.substr(at + 9, ready.find(' ', at) - at - 9),
                          &port) ||
        port <= 0) {
      return absl::InternalError(absl::StrCat("no tcp_port in: ", ready));
    }
    address_ = absl::StrCat("127.0.0.1:", port);
    cli_args_ = {"--address",         address_,
                 "--tls-ca",          tls_ca_,
                 "--tls-server-name", "localhost",
                 "--api-key-file",    data_dir() + "/admin.key",
                 "--timeout",         "30s"};
  }

  ClientOptions options = client_options();
  options.wait_for_ready = true;
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(std::move(options));
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::WhoAmIResponse> who = (*client)->WhoAmI({});
  if (!who.ok()) {
    return absl::Status(
        who.status().code(),
        absl::StrCat("WhoAmI: ", who.status().message(), "\n", Log()));
  }
  if (who->transport() != TransportName(transport_)) {
    return absl::InternalError(
        absl::StrCat("WhoAmI says transport ", who->transport()));
  }
  return absl::OkStatus();
}

E2eDaemon::~E2eDaemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    absl::optional<int> status = WaitForExit(pid_, kStopTimeout);
    if (!status.has_value()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      ADD_FAILURE() << "zlayer-secretsd did not stop at SIGTERM";
    } else {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "zlayer-secretsd exit status " << *status << "\n"
          << Log();
    }
  }
  if (!dir_.empty()) {
    EXPECT_EQ(std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()), 0);
  }
}

std::string E2eDaemon::Path(const std::string& name) const {
  return absl::StrCat(dir_, "/", name);
}

ClientOptions E2eDaemon::client_options() const {
  ClientOptions options;
  options.address = address_;
  options.default_deadline = absl::Seconds(30);
  if (transport_ == Transport::kTls) {
    options.tls_ca_file = tls_ca_;
    options.tls_server_name = "localhost";
    std::string key(
        absl::StripTrailingAsciiWhitespace(Slurp(data_dir() + "/admin.key")));
    options.api_key = SecretBytes::FromString(key);
  }
  return options;
}

std::string E2eDaemon::Log() const { return Slurp(Path("daemon.log")); }

bool E2eDaemon::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = 0;
    ADD_FAILURE() << "zlayer-secretsd exited (status " << status << "):\n"
                  << Log();
    return false;
  }
  return true;
}

namespace {
// One daemon per transport for the running suite.
std::map<Transport, std::unique_ptr<E2eDaemon>>& SharedDaemons() {
  static auto* daemons = new std::map<Transport, std::unique_ptr<E2eDaemon>>();
  return *daemons;
}
}  // namespace

void TransportTest::TearDownTestSuite() { SharedDaemons().clear(); }

void TransportTest::SetUp() {
  std::unique_ptr<E2eDaemon>& d = SharedDaemons()[GetParam()];
  if (d == nullptr) {
    absl::StatusOr<std::unique_ptr<E2eDaemon>> started =
        E2eDaemon::Start(GetParam());
    ASSERT_TRUE(started.ok()) << started.status();
    d = *std::move(started);
  }
  daemon_ = d.get();
  ASSERT_TRUE(daemon_->Running());
}

std::string TransportParamName(
    const ::testing::TestParamInfo<Transport>& info) {
  return TransportName(info.param);
}

}  // namespace zlayer::secrets::testing
