// Socket activation through the real protocol: the test binds and listens
// on a Unix socket, passes it to the real daemon as fd 3 with LISTEN_FDS=1
// and LISTEN_PID=<the child's pid> (set between fork and exec, as systemd
// does), and calls the daemon through that socket. Callers are still known
// by SO_PEERCRED.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/systemd/systemd_child.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::ChildOptions;
using ::zlayer::secrets::testing::SystemdChild;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);
// Any uid other than the test's: the kernel reports whatever uid connects.
constexpr uid_t kOtherUid = 65534;

// What a .socket unit does: socket, bind, chmod, listen.
int ListeningSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (fd < 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      chmod(path.c_str(), 0666) != 0 || listen(fd, 16) != 0) {
    ADD_FAILURE() << "listening socket " << path << ": "
                  << std::strerror(errno);
    return -1;
  }
  return fd;
}

ChildOptions Options(const TempDir& dir, int listen_fd) {
  ChildOptions options;
  options.args = {"--data-dir",      dir.Sub("data"), "--socket",
                  dir.Sub("a.sock"), "--log-level",   "debug"};
  options.home = dir.path();
  options.listen_fd = listen_fd;
  return options;
}

absl::StatusOr<v1::WhoAmIResponse> WhoAmI(const std::string& socket) {
  auto stub = v1::Admin::NewStub(UnixChannel(socket));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  v1::WhoAmIResponse response;
  grpc::Status status = stub->WhoAmI(&context, v1::WhoAmIRequest(), &response);
  if (!status.ok()) return absl::UnknownError(status.error_message());
  return response;
}

// Connects to `path` as kOtherUid from a forked child (raw syscalls only:
// safe after fork in a threaded process). Returns the child's exit code.
int ConnectAsOtherUid(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(kOtherUid, kOtherUid, kOtherUid) != 0 ||
        setresuid(kOtherUid, kOtherUid, kOtherUid) != 0) {
      _exit(2);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) _exit(3);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      _exit(4);
    }
    // Wait for the daemon to drop the connection (no HTTP/2 preface comes),
    // or be killed: either way it was accepted first.
    char c;
    (void)!read(fd, &c, 1);
    _exit(0);
  }
  return pid;
}

TEST(SocketActivationTest, ServesOnTheInheritedSocketAndKnowsTheCaller) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const std::string path = dir.Sub("a.sock");
  int listen_fd = ListeningSocket(path);
  ASSERT_GE(listen_fd, 0);
  struct stat before;
  ASSERT_EQ(stat(path.c_str(), &before), 0);

  auto child = SystemdChild::Start(Options(dir, listen_fd));
  ASSERT_TRUE(child.ok()) << child.status();
  auto listening =
      (*child)->WaitForLog("event=listening transport=unix", kWait);
  ASSERT_TRUE(listening.ok()) << listening.status();
  EXPECT_TRUE(absl::StrContains(*listening, "activated=true")) << *listening;
  ASSERT_TRUE((*child)->WaitForLog("event=ready", kWait).ok());

  // The daemon did not replace the socket file: same inode as ours.
  struct stat after;
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);

  // A real gRPC call through the inherited socket, identified by SO_PEERCRED.
  auto me = WhoAmI(path);
  ASSERT_TRUE(me.ok()) << me.status() << (*child)->Stderr();
  EXPECT_EQ(me->subject(), absl::StrCat("uid:", getuid()));
  EXPECT_EQ(me->transport(), "unix");

  if (geteuid() == 0) {
    // Another uid connecting: the kernel's credentials reach the daemon.
    pid_t other = ConnectAsOtherUid(path);
    ASSERT_GT(other, 0);
    const std::string want = absl::StrCat("uid=", kOtherUid, " ");
    absl::StatusOr<std::string> line = absl::DeadlineExceededError("");
    bool cannot_switch = false;
    for (absl::Time end = absl::Now() + kWait; absl::Now() < end;) {
      line = (*child)->WaitForLog(want, absl::Milliseconds(200));
      if (line.ok()) break;
      int status = 0;
      if (waitpid(other, &status, WNOHANG) == other) {
        other = 0;
        cannot_switch = WIFEXITED(status) && WEXITSTATUS(status) == 2;
        break;
      }
    }
    if (cannot_switch) {
      GTEST_LOG_(INFO) << "cannot switch to uid " << kOtherUid
                       << " here (user namespace?): second-uid check skipped";
    } else {
      EXPECT_TRUE(line.ok()) << line.status();
    }
    if (other > 0) {
      kill(other, SIGKILL);
      waitpid(other, nullptr, 0);
    }
  } else {
    GTEST_LOG_(INFO) << "not root: the second-uid connection is skipped";
  }

  (*child)->Signal(SIGTERM);
  auto status = (*child)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << (*child)->Stderr();
  // The socket belongs to the service manager: still there, still ours.
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  close(listen_fd);
}

TEST(SocketActivationTest, ListenPidOfAnotherProcessIsIgnored) {
  TempDir dir;
  int listen_fd = ListeningSocket(dir.Sub("other.sock"));
  ASSERT_GE(listen_fd, 0);
  ChildOptions options = Options(dir, listen_fd);
  options.listen_pid_override = getpid();  // meant for the parent
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  auto listening =
      (*child)->WaitForLog("event=listening transport=unix", kWait);
  ASSERT_TRUE(listening.ok()) << listening.status();
  EXPECT_TRUE(absl::StrContains(*listening, "activated=false")) << *listening;
  // It bound --socket itself and serves there.
  auto me = WhoAmI(dir.Sub("a.sock"));
  ASSERT_TRUE(me.ok()) << me.status() << (*child)->Stderr();
  close(listen_fd);
}

TEST(SocketActivationTest, APassedDatagramSocketIsRefused) {
  TempDir dir;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto child = SystemdChild::Start(Options(dir, fd));
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = (*child)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1)
      << (*child)->Stderr();
  EXPECT_TRUE(absl::StrContains((*child)->Stderr(),
                                "is not a listening Unix stream socket"))
      << (*child)->Stderr();
  close(fd);
}

}  // namespace
}  // namespace zlayer::secrets
