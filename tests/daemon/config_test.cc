#include "daemon/config.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::WriteFile;

const ProcessEnvironment kUser{1000, "/home/ada", ""};
const ProcessEnvironment kRoot{0, "/root", ""};

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args,
                                  const ProcessEnvironment& env = kUser) {
  return ParseCommandLine(args, env);
}

TEST(ConfigTest, DefaultsDependOnTheUser) {
  auto user = Parse({});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->options.data_dir, "/home/ada/.zlayer/secrets");
  EXPECT_EQ(user->options.socket_path,
            "/home/ada/.zlayer/secrets/zlayer-secretsd.sock");
  EXPECT_EQ(user->options.deployment, "zlayer");
  EXPECT_EQ(user->options.synchronous, SynchronousMode::kFull);
  EXPECT_EQ(user->options.drain_timeout, absl::Seconds(10));
  auto root = Parse({}, kRoot);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->options.data_dir, "/var/lib/zlayer/secrets");
  auto homeless = Parse({}, ProcessEnvironment{1000, "", ""});
  EXPECT_EQ(homeless.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ConfigTest, KeyDirDefaultsOutsideTheDataDir) {
  auto user = Parse({});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->options.key_dir, "/home/ada/.config/zlayer-secrets");
  auto xdg = Parse({}, ProcessEnvironment{1000, "/home/ada", "/cfg"});
  ASSERT_TRUE(xdg.ok()) << xdg.status();
  EXPECT_EQ(xdg->options.key_dir, "/cfg/zlayer-secrets");
  auto root = Parse({}, kRoot);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->options.key_dir, "/etc/zlayer-secrets");
  EXPECT_NE(root->options.key_dir, root->options.data_dir);
  auto given = Parse({"--key-dir", "/k", "--data-dir", "/d"});
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->options.key_dir, "/k");
}

TEST(ConfigTest, KeyFileRotateToNeedsKeyFile) {
  auto alone = Parse({"--key-file-rotate-to", "/var/lib/k/new"});
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(alone.status().message()),
              HasSubstr("--key-file-rotate-to needs --key-file"));
  auto both = Parse({"--key-file", "/run/cred/master-key",
                     "--key-file-rotate-to", "/var/lib/k/new"});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(*both->options.key_file_rotate_to, "/var/lib/k/new");
}

TEST(ConfigTest, BootstrapAdminKeyModes) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.bootstrap_admin_key, BootstrapAdminKey::kOnce);
  EXPECT_EQ(defaults->options.bootstrap_admin_key_file, "");
  auto keep = Parse({"--bootstrap-admin-key=keep", "--bootstrap-admin-key-file",
                     "/root/admin.key"});
  ASSERT_TRUE(keep.ok()) << keep.status();
  EXPECT_EQ(keep->options.bootstrap_admin_key, BootstrapAdminKey::kKeep);
  EXPECT_EQ(keep->options.bootstrap_admin_key_file, "/root/admin.key");
  auto none = Parse({"--bootstrap-admin-key", "none"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->options.bootstrap_admin_key, BootstrapAdminKey::kNone);
  auto bad = Parse({"--bootstrap-admin-key", "stdout"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("expected once, keep or none"));
}

TEST(ConfigTest, FlagsInBothForms) {
  auto cl = Parse({"--data-dir=/d", "--socket", "/s/x.sock", "--deployment",
                   "prod", "--synchronous=normal", "--drain-timeout", "500ms",
                   "--max-value-bytes=4096", "--log-level", "debug",
                   "--key-file", "/run/creds/key", "--admin-uid", "7,8",
                   "--admin-uid=9", "--admin-gid", "100"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const DaemonOptions& o = cl->options;
  EXPECT_EQ(o.data_dir, "/d");
  EXPECT_EQ(o.socket_path, "/s/x.sock");
  EXPECT_EQ(o.deployment, "prod");
  EXPECT_EQ(o.synchronous, SynchronousMode::kNormal);
  EXPECT_EQ(o.drain_timeout, absl::Milliseconds(500));
  EXPECT_EQ(o.max_value_bytes, 4096u);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.key_file.value_or(""), "/run/creds/key");
  EXPECT_EQ(o.admin_uids, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(o.admin_gids, (std::vector<int64_t>{100}));
}

TEST(ConfigTest, AuditFlags) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->options.audit_log, "");  // {data-dir}/audit.log
  EXPECT_FALSE(defaults->options.audit_hash_names);
  EXPECT_FALSE(defaults->options.audit_fsync);
  auto cl = Parse({"--audit-log", "/var/log/zs/audit.log", "--audit-hash-names",
                   "--audit-fsync=true"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.audit_log, "/var/log/zs/audit.log");
  EXPECT_TRUE(cl->options.audit_hash_names);
  EXPECT_TRUE(cl->options.audit_fsync);
}

TEST(ConfigTest, BareNumberDrainTimeoutIsSeconds) {
  auto cl = Parse({"--drain-timeout=3"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->options.drain_timeout, absl::Seconds(3));
}

TEST(ConfigTest, ConfigFileIsReadAndFlagsOverrideIt) {
  TempDir dir;
  std::string file = dir.Sub("zs.conf");
  ASSERT_TRUE(WriteFile(file,
                        "# comment\n"
                        "data-dir = /from/file\n"
                        "deployment = \"filedeploy\"\n"
                        "\n"
                        "admin-uid = 1, 2\n"
                        "admin-gid = 50\n"
                        "listen = 127.0.0.1:0\n"
                        "insecure-loopback = true\n"
                        "max-threads = 4\n")
                  .ok());
  auto cl =
      Parse({"--config", file, "--deployment=flagdeploy", "--admin-uid=3"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const DaemonOptions& o = cl->options;
  EXPECT_EQ(cl->config_file, file);
  EXPECT_EQ(o.data_dir, "/from/file");
  EXPECT_EQ(o.deployment, "flagdeploy");
  // A list on the command line replaces the file's list...
  EXPECT_EQ(o.admin_uids, (std::vector<int64_t>{3}));
  // ...and lists not given as flags keep the file's values.
  EXPECT_EQ(o.admin_gids, (std::vector<int64_t>{50}));
  EXPECT_TRUE(o.insecure_loopback);
  EXPECT_EQ(o.max_threads, 4);
  EXPECT_EQ(o.listen, "127.0.0.1:0");
}

TEST(ConfigTest, ConfigFileErrorsNameFileAndLine) {
  TempDir dir;
  std::string file = dir.Sub("zs.conf");
  ASSERT_TRUE(WriteFile(file, "data-dir = /x\nfrobnicate = 1\n").ok());
  auto cl = Parse({"--config=" + file});
  ASSERT_FALSE(cl.ok());
  EXPECT_EQ(cl.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cl.status().message(), file + ":2: unknown key 'frobnicate'");

  ASSERT_TRUE(WriteFile(file, "just words\n").ok());
  cl = Parse({"--config=" + file});
  EXPECT_EQ(cl.status().message(), file + ":1: expected 'key = value'");

  ASSERT_TRUE(WriteFile(file, "synchronous = maybe\n").ok());
  cl = Parse({"--config=" + file});
  EXPECT_TRUE(absl::StrContains(cl.status().message(), ":1: --synchronous:"))
      << cl.status();

  cl = Parse({"--config", dir.Sub("missing.conf")});
  EXPECT_EQ(cl.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, BadFlagsGiveClearErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--nope"}, "unknown flag --nope (see --help)"},
      {{"positional"},
       "unexpected argument 'positional' (flags start with --)"},
      {{"--data-dir"}, "--data-dir needs a value"},
      {{"--socket", "--data-dir=/x"}, "--socket needs a value"},
      {{"--max-threads=1"}, "--max-threads: expected 2..1024, got '1'"},
      {{"--admin-uid=bob"}, "--admin-uid: expected a numeric id, got 'bob'"},
      {{"--drain-timeout=soon"},
       "--drain-timeout: expected a duration, got 'soon'"},
      {{"--insecure-loopback=perhaps"},
       "--insecure-loopback: expected true or false, got 'perhaps'"},
      {{"--max-value-bytes=0"},
       "--max-value-bytes: expected a positive integer, got '0'"},
      {{"--help=yes"}, "--help takes no value"},
      {{"--deployment=a/b"},
       "--deployment: must be non-empty, without '/', and not . or .."},
  };
  for (const Case& c : cases) {
    auto cl = Parse(c.args);
    ASSERT_FALSE(cl.ok()) << c.args[0];
    EXPECT_EQ(cl.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(cl.status().message(), c.message);
  }
}

TEST(ConfigTest, HelpAndVersionStopParsing) {
  auto help = Parse({"--help", "--nope-is-not-checked-after-help"});
  // Unknown flags are still refused, even next to --help.
  EXPECT_FALSE(help.ok());
  help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  auto version = Parse({"--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->version);
  std::string usage = UsageText("zlayer-secretsd");
  for (const char* flag :
       {"--data-dir", "--socket", "--deployment", "--listen", "--tls-cert",
        "--tls-key", "--tls-client-ca", "--insecure-loopback", "--admin-uid",
        "--admin-gid", "--synchronous", "--drain-timeout", "--max-value-bytes",
        "--log-level", "--key-file", "--config", "--help", "--version"}) {
    EXPECT_TRUE(absl::StrContains(usage, flag)) << flag;
  }
}

TEST(ConfigTest, PlaintextTcpOnlyOnLoopbackWithInsecureLoopback) {
  auto cl = Parse({"--listen=0.0.0.0:7000", "--insecure-loopback"});
  ASSERT_FALSE(cl.ok());
  EXPECT_TRUE(absl::StrContains(cl.status().message(),
                                "plaintext TCP is refused on a non-loopback"))
      << cl.status();
  cl = Parse({"--listen=127.0.0.1:7000"});
  ASSERT_FALSE(cl.ok());
  EXPECT_TRUE(absl::StrContains(cl.status().message(), "--insecure-loopback"));
  EXPECT_TRUE(Parse({"--listen=127.0.0.1:7000", "--insecure-loopback"}).ok());
  EXPECT_TRUE(Parse({"--listen=[::1]:7000", "--insecure-loopback"}).ok());
  EXPECT_TRUE(Parse({"--listen=localhost:0", "--insecure-loopback"}).ok());
  EXPECT_TRUE(
      Parse({"--listen=0.0.0.0:7000", "--tls-cert=/c", "--tls-key=/k"}).ok());
}

TEST(ConfigTest, TlsFlagCombinations) {
  EXPECT_FALSE(Parse({"--tls-cert=/c", "--tls-key=/k"}).ok());  // no --listen
  EXPECT_FALSE(Parse({"--listen=0.0.0.0:1", "--tls-cert=/c"}).ok());
  EXPECT_FALSE(Parse({"--listen=127.0.0.1:1", "--insecure-loopback",
                      "--tls-client-ca=/ca"})
                   .ok());
  EXPECT_TRUE(Parse({"--listen=0.0.0.0:1", "--tls-cert=/c", "--tls-key=/k",
                     "--tls-client-ca=/ca"})
                  .ok());
}

TEST(ConfigTest, ResourceLimitFlags) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->options.max_response_bytes, size_t{4} << 20);
  EXPECT_EQ(defaults->options.max_connections_per_uid, 64u);
  EXPECT_EQ(defaults->options.idle_connection_timeout, absl::Seconds(30));

  auto cl =
      Parse({"--max-response-bytes=1000", "--max-connections=50",
             "--max-connections-per-uid=5", "--admin-connection-reserve=4",
             "--idle-connection-timeout=500ms"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.max_response_bytes, 1000u);
  EXPECT_EQ(cl->options.max_connections, 50u);
  EXPECT_EQ(cl->options.max_connections_per_uid, 5u);
  EXPECT_EQ(cl->options.admin_connection_reserve, 4u);
  EXPECT_EQ(cl->options.idle_connection_timeout, absl::Milliseconds(500));

  // The answer limit must stay below gRPC's send limit.
  auto too_big = Parse({"--max-response-bytes=8388608"});
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(std::string(too_big.status().message()),
              ::testing::HasSubstr("--max-response-bytes"));
  EXPECT_FALSE(
      Parse({"--max-connections=10", "--admin-connection-reserve=10"}).ok());
  EXPECT_FALSE(Parse({"--idle-connection-timeout=10ms"}).ok());
  EXPECT_FALSE(Parse({"--idle-connection-timeout=2h"}).ok());
}

TEST(ConfigTest, HostPortAndLoopback) {
  auto hp = ParseHostPort("[::1]:443");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 443);
  EXPECT_FALSE(ParseHostPort("::1:443").ok());
  EXPECT_FALSE(ParseHostPort("host").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.8.9.10"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
}

}  // namespace
}  // namespace zlayer::secrets
