// The real zlayer-secretsd for end-to-end tests, reachable over one of the
// two transports a user has: the Unix socket (the caller is identified by
// its uid) or TLS TCP (the caller presents the bootstrap admin API key).
// Tests written against E2eDaemon run unchanged over both, so every RPC and
// CLI verb is checked on each transport.
#ifndef ZLAYER_SECRETS_TESTS_E2E_E2E_DAEMON_H_
#define ZLAYER_SECRETS_TESTS_E2E_E2E_DAEMON_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::testing {

enum class Transport { kUnix, kTls };

// "unix" / "tls": test-name suffixes and WhoAmI's transport field.
std::string TransportName(Transport transport);

// Runs `argv` (no shell) with `input` on stdin and `extra_env` on top of the
// test's environment; collects stdout and stderr (testing::RunProcess).
ProcessResult RunWithEnvironment(
    const std::vector<std::string>& argv, const std::string& input = "",
    const std::map<std::string, std::string>& extra_env = {});

class E2eDaemon {
 public:
  // Starts the daemon on a fresh /tmp directory (TLS material made with the
  // openssl CLI for kTls) and waits for its ready line and a WhoAmI answer.
  static absl::StatusOr<std::unique_ptr<E2eDaemon>> Start(Transport transport);
  // SIGTERM, wait for a clean exit (checked), remove the directory.
  ~E2eDaemon();
  // Stops the daemon (SIGTERM; an exit other than 0 is an error) and starts
  // it again with the same arguments on the same directory, waiting as
  // Start does. Over TLS the port changes: take cli_args() and
  // client_options() again afterwards.
  absl::Status Restart();

  Transport transport() const { return transport_; }
  // A path inside the daemon's private temporary directory.
  std::string Path(const std::string& name) const;
  std::string data_dir() const { return Path("data"); }
  // Global zlayer-secret options that reach this daemon over its transport.
  const std::vector<std::string>& cli_args() const { return cli_args_; }
  // SecretsClient options for the same.
  ClientOptions client_options() const;
  // The daemon's log so far (it never holds values).
  std::string Log() const;
  // The exit status of the daemon after ~E2eDaemon's SIGTERM is checked
  // there; this reports a crash seen earlier.
  bool Running();

 private:
  explicit E2eDaemon(Transport transport) : transport_(transport) {}
  // Spawns args_ and waits for the ready line and a WhoAmI answer.
  absl::Status Launch();
  absl::Status Stop();

  Transport transport_;
  std::string dir_;
  std::vector<std::string> args_;
  pid_t pid_ = 0;
  std::string address_;  // socket path or 127.0.0.1:PORT
  std::string tls_ca_;
  std::vector<std::string> cli_args_;
};

// A test run once per transport against that transport's daemon, which
// the first test starts and the suite's end stops (SIGTERM, exit 0 checked).
// Tests of one suite share the daemon: each uses its own scope or names.
//
//   class MyTest : public TransportTest {};
//   TEST_P(MyTest, X) { ... daemon_->cli_args() ... }
//   ZS_INSTANTIATE_FOR_TRANSPORTS(MyTest);
class TransportTest : public ::testing::TestWithParam<Transport> {
 protected:
  static void TearDownTestSuite();
  void SetUp() override;

  E2eDaemon* daemon_ = nullptr;
};

// Test-name suffix: "unix" / "tls".
std::string TransportParamName(const ::testing::TestParamInfo<Transport>& info);

#define ZS_INSTANTIATE_FOR_TRANSPORTS(suite)                          \
  INSTANTIATE_TEST_SUITE_P(                                           \
      Transports, suite,                                              \
      ::testing::Values(::zlayer::secrets::testing::Transport::kUnix, \
                        ::zlayer::secrets::testing::Transport::kTls), \
      ::zlayer::secrets::testing::TransportParamName)

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_E2E_E2E_DAEMON_H_
