// The Vault flags of zlayer-secretsd (--vault-scope, --vault-*): parsed,
// validated together, and documented in --help (docs/vault.md).
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

TEST(VaultConfigTest, ScopeMappingsAndFlagsAreParsed) {
  auto cl =
      Parse({"--vault-scope", "shop/api=secret/apps/shop-api/", "--vault-scope",
             "env:prod=kv", "--vault-addr", "https://vault:8200",
             "--vault-token-file", "/run/t", "--vault-namespace", "team-a",
             "--vault-ca-file", "/ca.pem", "--vault-timeout", "1500ms"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const auto& m = cl->options.vault_scopes;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].scope, "shop/api");
  EXPECT_EQ(m[0].mount, "secret");
  EXPECT_EQ(m[0].prefix, "apps/shop-api");
  EXPECT_EQ(m[1].scope, "env:prod");
  EXPECT_EQ(m[1].mount, "kv");
  EXPECT_EQ(m[1].prefix, "");
  EXPECT_EQ(cl->options.vault_namespace, "team-a");
  EXPECT_EQ(cl->options.vault_timeout, absl::Milliseconds(1500));
}

TEST(VaultConfigTest, InconsistentFlagsAreRefused) {
  for (const char* bad : {"=secret", "shop=", "shop", "shop=/x"}) {
    EXPECT_FALSE(Parse({"--vault-scope", bad, "--vault-addr", "http://v:1",
                        "--vault-token-file", "/t"})
                     .ok())
        << bad;
  }
  auto no_addr =
      Parse({"--vault-scope", "s=secret", "--vault-token-file", "/t"});
  ASSERT_FALSE(no_addr.ok());
  EXPECT_TRUE(absl::StrContains(no_addr.status().message(), "--vault-addr"));
  EXPECT_FALSE(
      Parse({"--vault-scope", "s=secret", "--vault-addr", "http://v:1"}).ok());
  EXPECT_FALSE(Parse({"--vault-scope", "s=secret", "--vault-addr", "http://v:1",
                      "--vault-approle-role-id-file", "/r"})
                   .ok());
  EXPECT_TRUE(Parse({"--vault-scope", "s=secret", "--vault-addr", "http://v:1",
                     "--vault-approle-role-id-file", "/r",
                     "--vault-approle-secret-id-file", "/s"})
                  .ok());
  EXPECT_FALSE(Parse({"--vault-addr", "http://v:1"}).ok());
  EXPECT_FALSE(Parse({"--vault-timeout", "0s"}).ok());
}

TEST(VaultConfigTest, HelpDocumentsTheFlags) {
  const std::string help = UsageText("zlayer-secretsd");
  for (const char* flag :
       {"--vault-scope", "--vault-addr", "--vault-token-file",
        "--vault-approle-role-id-file", "--vault-approle-secret-id-file",
        "--vault-ca-file", "--vault-namespace", "--vault-timeout"}) {
    EXPECT_TRUE(absl::StrContains(help, flag)) << flag;
  }
}

}  // namespace
}  // namespace zlayer::secrets
