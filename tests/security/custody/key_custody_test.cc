// Key custody against the real daemon binary (issue 18 item 7, issue 19
// "key placement"): the key variables leave /proc/PID/environ, the key is
// kept out of the data directory (a warning when it is not), a --key-file
// key rotates to --key-file-rotate-to and the store reopens with it, and the
// bootstrap admin key file is removed after its first use.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/secrets.pb.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHexKey[] =
    "8f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
constexpr char kPassword[] = "custody-password-9f3a7c";
const absl::Duration kReady = absl::Seconds(60);

DaemonChild::Options OptionsIn(const TempDir& dir,
                               std::vector<std::string> extra_args = {}) {
  DaemonChild::Options options;
  options.data_dir = dir.Sub("data");
  options.socket = dir.Sub("d.sock");
  options.log_path = dir.Sub("d.log");
  options.extra_args = std::move(extra_args);
  return options;
}

void SetValue(const std::string& socket, const std::string& name,
              const std::string& value) {
  v1::SetSecretRequest req;
  *req.mutable_target() = ScopeTarget("custody");
  req.set_name(name);
  req.set_value(value);
  auto resp = ConnectClient(socket)->SetSecret(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
}

std::string GetValue(const std::string& socket, const std::string& name) {
  v1::GetSecretRequest req;
  *req.mutable_target() = ScopeTarget("custody");
  req.set_name(name);
  auto resp = ConnectClient(socket)->GetSecret(req);
  if (!resp.ok()) return absl::StrCat("<", resp.status().ToString(), ">");
  return resp->value();
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

void ExpectEnvironClean(const DaemonChild& daemon, const std::string& name,
                        const std::string& value) {
  auto environ_bytes =
      ReadFileBytes(absl::StrCat("/proc/", daemon.pid(), "/environ"));
  ASSERT_TRUE(environ_bytes.ok()) << environ_bytes.status();
  EXPECT_THAT(*environ_bytes, HasSubstr("PATH="));  // the read worked
  EXPECT_THAT(*environ_bytes, Not(HasSubstr(name)));
  EXPECT_THAT(*environ_bytes, Not(HasSubstr(value)));
  // Nor any 8-character window of the value.
  for (size_t i = 0; i + 8 <= value.size(); ++i) {
    EXPECT_THAT(*environ_bytes, Not(HasSubstr(value.substr(i, 8))));
  }
}

TEST(KeyCustodyTest, KeyVariableIsWipedFromProcEnviron) {
  TempDir dir;
  DaemonChild::Options options = OptionsIn(dir);
  options.extra_env = {absl::StrCat("ZLAYER_SECRETS_KEY=", kHexKey)};
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  ExpectEnvironClean(**daemon, "ZLAYER_SECRETS_KEY", kHexKey);
  // The key was used (and no key file written).
  EXPECT_THAT((*daemon)->Log(), HasSubstr("source=\"env ZLAYER_SECRETS_KEY\""));
  SetValue(options.socket, "a", "value-a");
  EXPECT_EQ(GetValue(options.socket, "a"), "value-a");
  EXPECT_FALSE(FileExists(options.data_dir + "/secrets_zlayer.key"));
}

TEST(KeyCustodyTest, PasswordVariableIsWipedFromProcEnviron) {
  TempDir dir;
  DaemonChild::Options options = OptionsIn(dir);
  options.extra_env = {absl::StrCat("ZLAYER_SECRETS_PASSWORD=", kPassword)};
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  ExpectEnvironClean(**daemon, "ZLAYER_SECRETS_PASSWORD", kPassword);
  EXPECT_THAT((*daemon)->Log(), HasSubstr("source=\"password\""));
  // A new store's salt file records the parameters (version 2, 64 MiB).
  auto salt = ReadFileBytes(options.data_dir + "/secrets_zlayer.salt");
  ASSERT_TRUE(salt.ok());
  EXPECT_THAT(*salt, HasSubstr("zlayer-secrets-salt 2\n"));
  EXPECT_THAT(*salt, HasSubstr("memlimit 67108864\n"));
}

TEST(KeyCustodyTest, KeyInsideDataDirIsWarnedAndKeyDirKeepsItOut) {
  TempDir dir;
  {
    // The launcher's default: --key-dir = the data directory (./x run's
    // layout).
    auto daemon = DaemonChild::Start(OptionsIn(dir));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
    EXPECT_THAT((*daemon)->Log(), HasSubstr("event=master_key_in_data_dir"));
  }
  TempDir other;
  const std::string key_dir = other.Sub("keys");
  auto daemon = DaemonChild::Start(OptionsIn(other, {"--key-dir", key_dir}));
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  EXPECT_THAT((*daemon)->Log(), Not(HasSubstr("master_key_in_data_dir")));
  EXPECT_EQ(ModeOf(key_dir + "/secrets_zlayer.key"), 0600u);
  EXPECT_FALSE(FileExists(other.Sub("data/secrets_zlayer.key")));
}

TEST(KeyCustodyTest, KeyFileRotatesToConfiguredPathAndStoreReopens) {
  TempDir dir;
  const std::string cred = dir.Sub("master-key");
  ASSERT_TRUE(WriteFileBytes(cred, std::string(kHexKey) + "\n", 0400).ok());
  const std::string rotate_to = dir.Sub("state/new-master-key");
  DaemonChild::Options options =
      OptionsIn(dir, {"--key-file", cred, "--key-file-rotate-to", rotate_to});
  {
    // Without --key-file-rotate-to the refusal says what to do.
    TempDir plain;
    ASSERT_TRUE(
        WriteFileBytes(plain.Sub("k"), std::string(kHexKey), 0400).ok());
    auto daemon =
        DaemonChild::Start(OptionsIn(plain, {"--key-file", plain.Sub("k")}));
    ASSERT_TRUE(daemon.ok());
    ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
    auto refused = ConnectClient(plain.Sub("d.sock"))->RotateMasterKey({});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr("--key-file-rotate-to"));
  }
  {
    auto daemon = DaemonChild::Start(options);
    ASSERT_TRUE(daemon.ok());
    ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
    SetValue(options.socket, "db", "db-value");
    auto rotated = ConnectClient(options.socket)->RotateMasterKey({});
    ASSERT_TRUE(rotated.ok()) << rotated.status() << (*daemon)->Log();
    EXPECT_THAT((*daemon)->Log(), HasSubstr("event=master_key_install_needed"));
  }
  // The new key waits at the configured path; the credential is untouched.
  auto new_key = ReadFileBytes(rotate_to);
  ASSERT_TRUE(new_key.ok());
  EXPECT_EQ(new_key->size(), 32u);
  EXPECT_EQ(ModeOf(rotate_to), 0600u);
  EXPECT_FALSE(FileExists(rotate_to + ".next"));
  EXPECT_EQ(*ReadFileBytes(cred), std::string(kHexKey) + "\n");
  {
    // Restart before the operator installed it: the daemon uses it.
    auto daemon = DaemonChild::Start(options);
    ASSERT_TRUE(daemon.ok());
    ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
    EXPECT_THAT((*daemon)->Log(), HasSubstr("event=master_key_not_installed"));
    EXPECT_EQ(GetValue(options.socket, "db"), "db-value");
  }
  // The operator installs it and removes the copy; the old key no longer
  // opens the store.
  ASSERT_TRUE(::chmod(cred.c_str(), 0600) == 0);
  ASSERT_TRUE(WriteFileBytes(cred, *new_key, 0400).ok());
  ASSERT_EQ(::unlink(rotate_to.c_str()), 0);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  EXPECT_EQ(GetValue(options.socket, "db"), "db-value");
}

TEST(KeyCustodyTest, BootstrapAdminKeyFileIsRemovedAfterFirstUse) {
  TempDir dir;
  auto tls = testing::MakeTlsMaterial(dir.path(), "");
  ASSERT_TRUE(tls.ok()) << tls.status();
  DaemonChild::Options options =
      OptionsIn(dir, {"--listen", "127.0.0.1:0", "--tls-cert", tls->server_cert,
                      "--tls-key", tls->server_key});
  const std::string key_path = options.data_dir + "/admin.key";
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  EXPECT_EQ(ModeOf(key_path), 0600u);
  auto key_text = ReadFileBytes(key_path);
  ASSERT_TRUE(key_text.ok());
  const std::string log = (*daemon)->Log();
  size_t at = log.find("tcp_port=");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string port =
      log.substr(at + 9, log.find_first_of(" \n", at) - at - 9);

  ClientOptions client_options;
  client_options.address = absl::StrCat("127.0.0.1:", port);
  client_options.tls_ca_file = tls->ca_cert;
  client_options.tls_server_name = "localhost";
  client_options.api_key =
      SecretBytes::FromString(absl::StripTrailingAsciiWhitespace(*key_text));
  client_options.default_deadline = absl::Seconds(10);
  auto client = SecretsClient::Connect(std::move(client_options));
  ASSERT_TRUE(client.ok()) << client.status();
  auto who = (*client)->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:admin");
  // Gone after the first successful use; the key itself still works.
  EXPECT_FALSE(FileExists(key_path));
  EXPECT_THAT((*daemon)->Log(), HasSubstr("event=bootstrap_admin_key_removed"));
  EXPECT_TRUE((*client)->WhoAmI({}).ok());

  // A restart does not write it again.
  daemon->reset();
  auto again = DaemonChild::Start(options);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->WaitReady(kReady).ok()) << (*again)->Log();
  EXPECT_FALSE(FileExists(key_path));
}

TEST(KeyCustodyTest, NoBootstrapAdminKeyWithoutTcp) {
  TempDir dir;
  DaemonChild::Options options = OptionsIn(dir);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kReady).ok()) << (*daemon)->Log();
  EXPECT_FALSE(FileExists(options.data_dir + "/admin.key"));
}

}  // namespace
}  // namespace zlayer::secrets::reliability
