// Starting and stopping a zlayer-secretsd child the way most daemon tests
// do, and reading the integer fields ("port=N") of its log lines.
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_DAEMON_LAUNCH_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_DAEMON_LAUNCH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::testing {

// Starts zlayer-secretsd with `args` in `dir` and waits up to `timeout` for
// its event=ready line. On failure records a failed expectation (with the
// daemon's stderr) and returns nullptr.
std::unique_ptr<DaemonProcess> StartReadyDaemon(
    const TempDir& dir, const std::vector<std::string>& args,
    absl::Duration timeout);

// Sends SIGTERM, waits up to `timeout`, asserts a clean exit (status 0) and
// resets `daemon`.
void StopDaemonCleanly(std::unique_ptr<DaemonProcess>& daemon,
                       absl::Duration timeout);

// The integer N of the first space-separated field "<key>N" of `line` (key
// includes the '=', e.g. "tcp_port="); 0 if there is none.
int LogFieldInt(absl::string_view line, absl::string_view key);

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_DAEMON_LAUNCH_H_
