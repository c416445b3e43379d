// Type=notify through the real protocol: the test binds the SOCK_DGRAM
// socket systemd would listen on, starts the real daemon with NOTIFY_SOCKET
// pointing at it and reads the datagrams: READY=1 once it serves,
// RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around SIGHUP, STOPPING=1
// at SIGTERM, WATCHDOG=1 at half of WATCHDOG_USEC.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/systemd/systemd_child.h"

namespace zlayer::secrets {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::zlayer::secrets::testing::CheckHealth;
using ::zlayer::secrets::testing::ChildOptions;
using ::zlayer::secrets::testing::NotifyReceiver;
using ::zlayer::secrets::testing::SystemdChild;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);

ChildOptions Options(const TempDir& dir, const std::string& notify_socket) {
  ChildOptions options;
  options.args = {"--data-dir", dir.Sub("data"), "--socket", dir.Sub("d.sock")};
  options.home = dir.path();
  options.env = {"NOTIFY_SOCKET=" + notify_socket};
  return options;
}

bool HasLine(const std::string& datagram, absl::string_view line) {
  for (absl::string_view l : absl::StrSplit(datagram, '\n')) {
    if (l == line) return true;
  }
  return false;
}

int Count(const std::vector<std::string>& seen, absl::string_view line) {
  return static_cast<int>(
      std::count_if(seen.begin(), seen.end(),
                    [&](const std::string& d) { return HasLine(d, line); }));
}

TEST(SystemdNotifyTest, ReadyReloadingReadyStoppingInOrder) {
  TempDir dir;
  auto receiver = NotifyReceiver::Bind(dir.Sub("notify"));
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  auto child = SystemdChild::Start(Options(dir, dir.Sub("notify")));
  ASSERT_TRUE(child.ok()) << child.status();

  std::vector<std::string> seen;
  auto ready = (*receiver)->WaitFor("READY=1", kWait, &seen);
  ASSERT_TRUE(ready.ok()) << ready.status() << (*child)->Stderr();
  EXPECT_TRUE(absl::StrContains(*ready, "STATUS=")) << *ready;
  // READY=1 means serving: a health check right now answers SERVING.
  auto health = CheckHealth(UnixChannel(dir.Sub("d.sock")), "", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);

  (*child)->Signal(SIGHUP);
  auto reloading = (*receiver)->WaitFor("RELOADING=1", kWait, &seen);
  ASSERT_TRUE(reloading.ok()) << reloading.status() << (*child)->Stderr();
  // systemd 253+ requires the timestamp with RELOADING=1.
  EXPECT_TRUE(absl::StrContains(*reloading, "MONOTONIC_USEC=")) << *reloading;
  auto ready_again = (*receiver)->WaitFor("READY=1", kWait, &seen);
  ASSERT_TRUE(ready_again.ok()) << ready_again.status();

  (*child)->Signal(SIGTERM);
  auto stopping = (*receiver)->WaitFor("STOPPING=1", kWait, &seen);
  ASSERT_TRUE(stopping.ok()) << stopping.status() << (*child)->Stderr();
  auto status = (*child)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << (*child)->Stderr();
  // No WATCHDOG_USEC, no pings; and exactly the expected READY=1s.
  EXPECT_EQ(Count(seen, "WATCHDOG=1"), 0);
  EXPECT_EQ(Count(seen, "READY=1"), 2);
  EXPECT_EQ(Count(seen, "STOPPING=1"), 1);
}

TEST(SystemdNotifyTest, AbstractNotifySocketIsUsed) {
  TempDir dir;
  // systemd may hand out "@name": the abstract namespace.
  const std::string name =
      absl::StrCat("@zs-notify-test-", getpid(), "-", dir.path().substr(8));
  auto receiver = NotifyReceiver::Bind(name);
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  auto child = SystemdChild::Start(Options(dir, name));
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> seen;
  auto ready = (*receiver)->WaitFor("READY=1", kWait, &seen);
  ASSERT_TRUE(ready.ok()) << ready.status() << (*child)->Stderr();
}

TEST(SystemdNotifyTest, WatchdogPingsAtHalfTheInterval) {
  TempDir dir;
  auto receiver = NotifyReceiver::Bind(dir.Sub("notify"));
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  ChildOptions options = Options(dir, dir.Sub("notify"));
  // 400 ms: pings every 200 ms. Three of them after READY=1 show a
  // repeating ping (what systemd checks), whatever the machine's speed.
  options.env.push_back("WATCHDOG_USEC=400000");
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> seen;
  ASSERT_TRUE((*receiver)->WaitFor("READY=1", kWait, &seen).ok())
      << (*child)->Stderr();
  for (int i = 0; i < 3; ++i) {
    auto ping = (*receiver)->WaitFor("WATCHDOG=1", kWait, &seen);
    ASSERT_TRUE(ping.ok()) << ping.status() << (*child)->Stderr();
  }
  // After STOPPING=1 the serving loop is gone, so no more pings.
  (*child)->Signal(SIGTERM);
  ASSERT_TRUE((*receiver)->WaitFor("STOPPING=1", kWait, &seen).ok());
  ASSERT_TRUE((*child)->WaitForExit(kWait).ok());
  std::vector<std::string> after;
  while (true) {
    auto more = (*receiver)->Next(absl::ZeroDuration());
    if (!more.ok()) break;
    after.push_back(*more);
  }
  EXPECT_EQ(Count(after, "WATCHDOG=1"), 0);
}

TEST(SystemdNotifyTest, WatchdogForAnotherPidIsNotOurs) {
  TempDir dir;
  auto receiver = NotifyReceiver::Bind(dir.Sub("notify"));
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  ChildOptions options = Options(dir, dir.Sub("notify"));
  options.env.push_back("WATCHDOG_USEC=200000");
  options.env.push_back(absl::StrCat("WATCHDOG_PID=", getpid()));
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<std::string> seen;
  ASSERT_TRUE((*receiver)->WaitFor("READY=1", kWait, &seen).ok());
  (*child)->Signal(SIGTERM);
  ASSERT_TRUE((*receiver)->WaitFor("STOPPING=1", kWait, &seen).ok());
  EXPECT_EQ(Count(seen, "WATCHDOG=1"), 0);
}

}  // namespace
}  // namespace zlayer::secrets
