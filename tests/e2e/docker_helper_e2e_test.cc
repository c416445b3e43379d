// docker-credential-zlayer against the real daemon, on both transports: its
// errors reach stdout byte for byte as docker-credential-helpers' Serve()
// writes them, since docker reads only stdout and matches those texts
// ("err: exit status 1, out: ``" is what an error on stderr looks like).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using testing::ProcessResult;
using testing::Runfile;
using testing::RunWithEnvironment;

using ::testing::HasSubstr;
using ::testing::StartsWith;

class DockerHelperE2eTest : public testing::TransportTest {
 protected:
  // The helper with the daemon's connection flags (its --timeout takes whole
  // seconds), then `op`.
  ProcessResult Helper(const std::string& op, const std::string& input) {
    std::vector<std::string> argv = {
        Runfile("client/docker-credential-zlayer")};
    const std::vector<std::string>& base = daemon_->cli_args();
    for (size_t i = 0; i < base.size(); ++i) {
      if (base[i] == "--timeout") {
        argv.insert(argv.end(), {"--timeout", "30"});
        ++i;
        continue;
      }
      argv.push_back(base[i]);
    }
    argv.push_back(op);
    return RunWithEnvironment(argv, input);
  }
};

TEST_P(DockerHelperE2eTest, MissingCredentialIsDockersNotFoundOnStdout) {
  ProcessResult r = Helper("get", "https://unknown.example.com\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "credentials not found in native keychain\n");
  EXPECT_EQ(r.err, "");
}

TEST_P(DockerHelperE2eTest, MissingServerUrlAndUsernameUseDockersMessages) {
  ProcessResult get = Helper("get", "\n");
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.out, "no credentials server URL\n");
  ProcessResult erase = Helper("erase", "");
  EXPECT_EQ(erase.exit_code, 1);
  EXPECT_EQ(erase.out, "no credentials server URL\n");
  ProcessResult no_url =
      Helper("store", R"({"ServerURL":"","Username":"u","Secret":"s"})");
  EXPECT_EQ(no_url.exit_code, 1);
  EXPECT_EQ(no_url.out, "no credentials server URL\n");
  ProcessResult no_user =
      Helper("store", R"({"ServerURL":"https://r.example.com","Username":"",)"
                      R"("Secret":"never-stored"})");
  EXPECT_EQ(no_user.exit_code, 1);
  EXPECT_EQ(no_user.out, "no credentials username\n");
  // Nothing was stored by the refused calls.
  EXPECT_EQ(Helper("get", "https://r.example.com\n").out,
            "credentials not found in native keychain\n");
}

TEST_P(DockerHelperE2eTest, UnknownActionUsesTheHelpersWording) {
  ProcessResult r = Helper("frobnicate", "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "docker-credential-zlayer: unknown action: frobnicate\n");
  EXPECT_EQ(r.err, "");
}

TEST_P(DockerHelperE2eTest, UnreachableDaemonIsOneActionableLineOnStdout) {
  std::vector<std::string> argv = {Runfile("client/docker-credential-zlayer")};
  if (GetParam() == testing::Transport::kUnix) {
    argv.insert(argv.end(), {"--socket", daemon_->Path("nobody.sock")});
  } else {
    argv.insert(argv.end(), {"--address", "127.0.0.1:1"});
  }
  argv.insert(argv.end(), {"--timeout", "2", "get"});
  ProcessResult r = RunWithEnvironment(argv, "ghcr.io\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, StartsWith("daemon not reachable at "));
  EXPECT_THAT(r.out, HasSubstr("is zlayer-secretsd running?"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(r.err, "");
}

ZS_INSTANTIATE_FOR_TRANSPORTS(DockerHelperE2eTest);

}  // namespace
}  // namespace zlayer::secrets
