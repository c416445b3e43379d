// zlayer-secretsd: parses flags, creates the Daemon, runs it until
// SIGTERM/SIGINT. Exit codes: 0 after a clean drain (or --help/--version),
// 2 for bad flags or config, 1 for any other failure. Errors are one line on
// stderr.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/crypto/key_manager.h"
#include "daemon/config.h"
#include "daemon/log_setup.h"
#include "daemon/server.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(const absl::Status& status, int code) {
  std::cerr << "zlayer-secretsd: " << status.message() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using zlayer::secrets::CommandLine;
  using zlayer::secrets::Daemon;

  // First, while this is the only thread (unsetenv is not thread-safe): the
  // master key or password leaves the environment, including the bytes
  // /proc/PID/environ shows.
  std::shared_ptr<zlayer::secrets::KeyEnvironment> key_env =
      zlayer::secrets::KeyEnvironment::TakeFromProcess();

  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex deadlock
  // detection on: a global lock and a cycle-graph update on every lock and
  // every Mutex destruction (~10% of the daemon's CPU in bench/). Tests
  // (ASan/TSan builds, clang -Wthread-safety) keep checking lock order.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Logs go to stderr (the journal under systemd), as key=value fields
  // until --log-format is known (daemon/log_setup.h).
  zlayer::secrets::LogSetupOptions log_options;
  log_options.journal = zlayer::secrets::StderrIsJournal();
  zlayer::secrets::InstallDaemonLogger(log_options);

  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  zlayer::secrets::ProcessEnvironment env{geteuid(), home ? home : "",
                                          xdg ? xdg : ""};
  absl::StatusOr<CommandLine> cl = zlayer::secrets::ParseCommandLine(
      std::vector<std::string>(argv + 1, argv + argc), env);
  if (!cl.ok()) return Fail(cl.status(), 2);
  if (cl->help) {
    std::cout << zlayer::secrets::UsageText("zlayer-secretsd");
    return 0;
  }
  if (cl->version) {
    std::cout << "zlayer-secretsd " << zlayer::secrets::kDaemonVersion << "\n";
    return 0;
  }

  absl::StatusOr<zlayer::secrets::LogFormat> log_format =
      zlayer::secrets::ParseLogFormat(cl->options.log_format);
  if (!log_format.ok()) return Fail(log_format.status(), 2);
  log_options.format = *log_format;
  zlayer::secrets::InstallDaemonLogger(log_options);

  cl->options.key_environment = std::move(key_env);
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      Daemon::Create(std::move(cl->options));
  if (!daemon.ok()) {
    spdlog::error("event=start_failed error=\"{}\"",
                  std::string(daemon.status().message()));
    return Fail(daemon.status(), 1);
  }
  absl::Status status = (*daemon)->Run();
  daemon->reset();
  if (!status.ok()) return Fail(status, 1);
  spdlog::info("event=exit code=0");
  return 0;
}
