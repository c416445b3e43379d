// The cluster-mode flags of zlayer-secretsd (--store, --etcd-*): parsed,
// validated together, and documented in --help.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "daemon/config.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

const ProcessEnvironment kUser{1000, "/home/ada", ""};

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args, kUser);
}

TEST(EtcdConfigTest, DefaultStoreIsSqlite) {
  auto cl = Parse({});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.store, StoreBackend::kSqlite);
  EXPECT_EQ(cl->options.etcd_prefix, "/zlayer-secrets");
}

TEST(EtcdConfigTest, EtcdFlagsAreParsed) {
  auto cl = Parse({"--store", "etcd", "--etcd-endpoints",
                   "10.0.0.1:2379, 10.0.0.2:2379", "--etcd-endpoints",
                   "10.0.0.3:2379", "--etcd-prefix", "/team-a", "--etcd-cacert",
                   "/etc/etcd/ca.pem", "--etcd-cert", "/etc/etcd/c.pem",
                   "--etcd-key", "/etc/etcd/c.key"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.store, StoreBackend::kEtcd);
  EXPECT_EQ(cl->options.etcd_endpoints,
            (std::vector<std::string>{"10.0.0.1:2379", "10.0.0.2:2379",
                                      "10.0.0.3:2379"}));
  EXPECT_EQ(cl->options.etcd_prefix, "/team-a");
  EXPECT_EQ(cl->options.etcd_cacert, "/etc/etcd/ca.pem");
  EXPECT_EQ(cl->options.etcd_cert, "/etc/etcd/c.pem");
  EXPECT_EQ(cl->options.etcd_key, "/etc/etcd/c.key");
}

TEST(EtcdConfigTest, InconsistentFlagsAreRefused) {
  auto no_endpoints = Parse({"--store", "etcd"});
  ASSERT_FALSE(no_endpoints.ok());
  EXPECT_TRUE(
      absl::StrContains(no_endpoints.status().message(), "--etcd-endpoints"));
  EXPECT_FALSE(Parse({"--store", "raft"}).ok());
  EXPECT_FALSE(Parse({"--etcd-endpoints", "10.0.0.1:2379"}).ok());
  EXPECT_FALSE(Parse({"--store", "etcd", "--etcd-endpoints", "h:2379",
                      "--etcd-cert", "/c.pem"})
                   .ok());
}

TEST(EtcdConfigTest, EtcdTimeoutBoundsEveryEtcdRequest) {
  auto defaults = Parse({"--store", "etcd", "--etcd-endpoints", "h:2379"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  // Below the client library's default 5 s deadline.
  EXPECT_EQ(defaults->options.etcd_timeout, absl::Seconds(4));
  auto set = Parse({"--store", "etcd", "--etcd-endpoints", "h:2379",
                    "--etcd-timeout", "1500ms"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->options.etcd_timeout, absl::Milliseconds(1500));
  EXPECT_FALSE(Parse({"--store", "etcd", "--etcd-endpoints", "h:2379",
                      "--etcd-timeout", "0"})
                   .ok());
  EXPECT_FALSE(Parse({"--store", "etcd", "--etcd-endpoints", "h:2379",
                      "--etcd-timeout", "soon"})
                   .ok());
}

TEST(EtcdConfigTest, HelpDocumentsTheFlags) {
  const std::string help = UsageText("zlayer-secretsd");
  for (const char* flag :
       {"--store", "--etcd-endpoints", "--etcd-prefix", "--etcd-cacert",
        "--etcd-cert", "--etcd-key", "--etcd-timeout"}) {
    EXPECT_TRUE(absl::StrContains(help, flag)) << flag;
  }
}

}  // namespace
}  // namespace zlayer::secrets
