#include "tests/testutil/daemon_launch.h"

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

std::unique_ptr<DaemonProcess> StartReadyDaemon(
    const TempDir& dir, const std::vector<std::string>& args,
    absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(args, dir.path());
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return nullptr;
  absl::StatusOr<std::string> ready =
      (*process)->WaitForLog("event=ready", timeout);
  EXPECT_TRUE(ready.ok()) << ready.status() << "\n" << (*process)->Stderr();
  if (!ready.ok()) return nullptr;
  return *std::move(process);
}

void StopDaemonCleanly(std::unique_ptr<DaemonProcess>& daemon,
                       absl::Duration timeout) {
  ASSERT_NE(daemon, nullptr);
  daemon->Signal(SIGTERM);
  absl::StatusOr<int> status = daemon->WaitForExit(timeout);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << daemon->Stderr();
  daemon.reset();
}

int LogFieldInt(absl::string_view line, absl::string_view key) {
  for (absl::string_view field : absl::StrSplit(line, ' ')) {
    int value = 0;
    if (absl::ConsumePrefix(&field, key) && absl::SimpleAtoi(field, &value)) {
      return value;
    }
  }
  return 0;
}

}  // namespace zlayer::secrets::testing
