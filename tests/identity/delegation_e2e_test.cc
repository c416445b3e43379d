// Delegated identity end to end (docs/identity.md, "Delegated identity"):
// a real zlayer-secretsd, a proxy calling over TLS with its API key and over
// the Unix socket with its uid, asserting end users with
// x-zlayer-act-as-user / x-zlayer-act-as-groups, and the audit log.
//
// The Unix-socket proxy runs the real CLI as a second local user (setpriv);
// that test needs root and is skipped with a message otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/local_user.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::Runfile;
using testing::RunProgram;
using testing::TempDir;

constexpr char kPeerUser[] = "zs-test-peer";
constexpr char kCanary[] = "delegation-canary-7f3a";

struct Result {
  int code = -1;
  std::string output;
};

Result Exec(const std::vector<std::string>& args) {
  Result r;
  absl::StatusOr<int> code = RunProgram(args, &r.output);
  EXPECT_TRUE(code.ok()) << code.status();
  r.code = code.ok() ? *code : -1;
  return r;
}

class DelegationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", data(), "--key-dir", data(), "--bootstrap-admin-key",
         "keep", "--socket", socket(), "--listen", "127.0.0.1:0", "--tls-cert",
         tls_.server_cert, "--tls-key", tls_.server_key, "--log-level", "info"},
        dir_.path());
    ASSERT_TRUE(proc.ok()) << proc.status();
    daemon_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        daemon_->WaitForLog("event=ready", absl::Seconds(30));
    ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << daemon_->Stderr();
    const size_t at = ready->find("tcp_port=");
    ASSERT_NE(at, std::string::npos);
    std::string port = ready->substr(at + 9);
    ASSERT_TRUE(absl::SimpleAtoi(port.substr(0, port.find(' ')), &port_));
    ASSERT_EQ(chmod(dir_.Sub("s").c_str(), 0755), 0);
    ASSERT_EQ(chmod(socket().c_str(), 0666), 0);

    // As the local administrator (root or the daemon's own user): a secret
    // the end user cust-alice may read and cust-bob may not; a proxy key
    // "api-server" that may itself write every scope and act as cust-*
    // users and team-* groups; a key "rogue" that may read the secret but
    // act as nobody.
    admin_ = UnixClient("", {});
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("shop");
    set.set_name("db");
    set.set_value(kCanary);
    ASSERT_TRUE(admin_->SetSecret(set).ok());
    Grant("user:cust-alice", v1::RESOURCE_KIND_SCOPE, "shop");
    Grant("group:team-ops", v1::RESOURCE_KIND_SECRET, "shop", "db");
    api_server_key_ = CreateKey("api-server");
    Grant("apikey:api-server", v1::RESOURCE_KIND_SCOPE, "", "",
          v1::ACCESS_LEVEL_WRITE);
    Grant("apikey:api-server", v1::RESOURCE_KIND_IMPERSONATE, "user:cust-*");
    Grant("apikey:api-server", v1::RESOURCE_KIND_IMPERSONATE, "group:team-*");
    rogue_key_ = CreateKey("rogue");
    Grant("apikey:rogue", v1::RESOURCE_KIND_SCOPE, "shop");
  }

  std::string data() const { return dir_.Sub("data"); }
  std::string socket() const { return dir_.Sub("s/d.sock"); }

  void Grant(const std::string& subject, v1::ResourceKind kind,
             const std::string& id, const std::string& name = "",
             v1::AccessLevel level = v1::ACCESS_LEVEL_READ) {
    v1::GrantRequest grant;
    grant.set_subject(subject);
    grant.mutable_resource()->set_kind(kind);
    grant.mutable_resource()->set_id(id);
    grant.mutable_resource()->set_name(name);
    grant.set_level(level);
    absl::StatusOr<v1::AccessGrant> made = admin_->Grant(grant);
    ASSERT_TRUE(made.ok()) << subject << ": " << made.status();
  }

  std::string CreateKey(const std::string& id) {
    v1::CreateApiKeyRequest create;
    create.set_id(id);
    absl::StatusOr<v1::CreateApiKeyResponse> made =
        admin_->CreateApiKey(create);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->presentable_key() : "";
  }

  std::unique_ptr<SecretsClient> Connect(ClientOptions options,
                                         const std::string& user,
                                         std::vector<std::string> groups) {
    options.act_as_user = user;
    options.act_as_groups = std::move(groups);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // The proxy over TLS with API key `key`, acting as `user` ("" = itself).
  std::unique_ptr<SecretsClient> TlsClient(const std::string& key,
                                           const std::string& user,
                                           std::vector<std::string> groups) {
    ClientOptions options;
    options.address = absl::StrCat("127.0.0.1:", port_);
    options.tls_ca_file = tls_.ca_cert;
    options.tls_server_name = "localhost";
    options.api_key = SecretBytes::FromString(key);
    return Connect(std::move(options), user, std::move(groups));
  }

  std::unique_ptr<SecretsClient> UnixClient(const std::string& user,
                                            std::vector<std::string> groups) {
    ClientOptions options;
    options.address = "unix:" + socket();
    return Connect(std::move(options), user, std::move(groups));
  }

  static absl::StatusOr<v1::GetSecretResponse> GetDb(SecretsClient* client) {
    v1::GetSecretRequest get;
    get.mutable_target()->set_scope("shop");
    get.set_name("db");
    return client->GetSecret(get);
  }

  // Audit lines (JSON, one per call) holding every one of `parts`.
  std::vector<std::string> AuditLines(std::vector<std::string> parts) {
    absl::StatusOr<std::string> text = ReadFile(data() + "/audit.log");
    EXPECT_TRUE(text.ok()) << text.status();
    std::vector<std::string> out;
    if (!text.ok()) return out;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      bool all = !line.empty();
      for (const std::string& p : parts)
        all = all && absl::StrContains(line, p);
      if (all) out.emplace_back(line);
    }
    return out;
  }

  TempDir dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  std::unique_ptr<SecretsClient> admin_;
  std::string api_server_key_;
  std::string rogue_key_;
};

TEST_F(DelegationTest, ProxyReadsAsAUserWhoHasAGrantAndIsAuditedAsBoth) {
  std::unique_ptr<SecretsClient> alice =
      TlsClient(api_server_key_, "cust-alice", {});
  absl::StatusOr<v1::GetSecretResponse> got = GetDb(alice.get());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), kCanary);
  absl::StatusOr<v1::WhoAmIResponse> who = alice->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "user:cust-alice");
  EXPECT_EQ(who->roles_size(), 0);
  EXPECT_EQ(who->transport(), "tls");

  std::vector<std::string> lines =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-alice\""});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_THAT(lines[0], HasSubstr("\"groups\":[]"));
  EXPECT_THAT(lines[0], HasSubstr("\"transport\":\"tls\""));
  EXPECT_THAT(lines[0], HasSubstr("\"scope\":\"shop\""));
  EXPECT_THAT(lines[0], HasSubstr("\"code\":\"OK\""));
  absl::StatusOr<std::string> all = ReadFile(data() + "/audit.log");
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, Not(HasSubstr(kCanary)));
}

TEST_F(DelegationTest, UserWithoutAGrantIsDeniedThoughTheProxyMayRead) {
  std::unique_ptr<SecretsClient> proxy = TlsClient(api_server_key_, "", {});
  ASSERT_TRUE(GetDb(proxy.get()).ok());  // the proxy's own rights

  std::unique_ptr<SecretsClient> bob =
      TlsClient(api_server_key_, "cust-bob", {});
  absl::StatusOr<v1::GetSecretResponse> got = GetDb(bob.get());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(), HasSubstr("user:cust-bob lacks read"));
  // Writes too: the proxy may write every scope, the user may not.
  v1::SetSecretRequest set;
  set.mutable_target()->set_scope("shop");
  set.set_name("other");
  set.set_value("x");
  EXPECT_EQ(bob->SetSecret(set).status().code(),
            absl::StatusCode::kPermissionDenied);

  // A group the proxy may assert brings that group's grant, nothing more.
  std::unique_ptr<SecretsClient> bob_ops =
      TlsClient(api_server_key_, "cust-bob", {"team-ops"});
  EXPECT_TRUE(GetDb(bob_ops.get()).ok());
  EXPECT_EQ(bob_ops->SetSecret(set).status().code(),
            absl::StatusCode::kPermissionDenied);

  std::vector<std::string> lines =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-bob\"",
                  "\"code\":\"PERMISSION_DENIED\""});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_EQ(AuditLines({"\"subject\":\"user:cust-bob\"",
                        "\"groups\":[\"team-ops\"]", "\"code\":\"OK\""})
                .size(),
            1u);
}

TEST_F(DelegationTest, AnAdministratorActingAsAUserHasOnlyTheUsersRights) {
  absl::StatusOr<std::string> admin_key = ReadFile(data() + "/admin.key");
  ASSERT_TRUE(admin_key.ok()) << admin_key.status();
  const std::string key(absl::StripTrailingAsciiWhitespace(*admin_key));
  // Without an impersonate grant even the administrator may not assert.
  std::unique_ptr<SecretsClient> as_bob = TlsClient(key, "cust-bob", {});
  absl::StatusOr<v1::GetSecretResponse> got = GetDb(as_bob.get());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(),
              HasSubstr("apikey:admin may not act as user:cust-bob"));

  Grant("apikey:admin", v1::RESOURCE_KIND_IMPERSONATE, "user:*");
  got = GetDb(as_bob.get());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(), HasSubstr("user:cust-bob lacks read"));
  // Nor is the asserted user an administrator.
  v1::CreateApiKeyRequest create;
  create.set_id("made-by-bob");
  EXPECT_EQ(as_bob->CreateApiKey(create).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(DelegationTest, ProxyWithoutTheImpersonateGrantIsDeniedAndAudited) {
  std::unique_ptr<SecretsClient> rogue = TlsClient(rogue_key_, "", {});
  ASSERT_TRUE(GetDb(rogue.get()).ok());  // may read as itself

  std::unique_ptr<SecretsClient> as_alice =
      TlsClient(rogue_key_, "cust-alice", {});
  absl::StatusOr<v1::GetSecretResponse> got = GetDb(as_alice.get());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(got.status().message(),
            "apikey:rogue may not act as user:cust-alice");

  std::vector<std::string> lines = AuditLines(
      {"\"actor\":\"apikey:rogue\"", "\"code\":\"PERMISSION_DENIED\""});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"subject\":\"user:cust-alice\""));
  EXPECT_THAT(lines[0], HasSubstr("\"rpc\":\"GetSecret\""));
  EXPECT_THAT(lines[0], HasSubstr("may not act as user:cust-alice"));
}

TEST_F(DelegationTest, AssertionsOutsideThePatternAreDenied) {
  for (const auto& [user, groups, refused] : std::vector<
           std::tuple<std::string, std::vector<std::string>, std::string>>{
           {"alice", {}, "user:alice"},
           {"root", {}, "user:root"},
           {"cust-alice", {"team-ops", "admins"}, "group:admins"},
       }) {
    std::unique_ptr<SecretsClient> c = TlsClient(api_server_key_, user, groups);
    absl::StatusOr<v1::GetSecretResponse> got = GetDb(c.get());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << user;
    EXPECT_EQ(got.status().message(),
              absl::StrCat("apikey:api-server may not act as ", refused));
  }
  EXPECT_EQ(AuditLines({"\"actor\":\"apikey:api-server\"",
                        "\"code\":\"PERMISSION_DENIED\"", "may not act as"})
                .size(),
            3u);
}

TEST_F(DelegationTest, MalformedAssertionsAreInvalid) {
  // A comma smuggled into a user id (it would split a group list).
  std::unique_ptr<SecretsClient> c = TlsClient(api_server_key_, "a,b", {});
  EXPECT_EQ(GetDb(c.get()).status().code(), absl::StatusCode::kInvalidArgument);
}

// CallOptions::act_as_user / act_as_groups: one client (one API key, one
// channel) acting for a different end user on each call, as an API server
// does; the per-call identity replaces the client's own setting.
TEST_F(DelegationTest, PerCallActAsServesEveryUserFromOneClient) {
  std::unique_ptr<SecretsClient> proxy = TlsClient(api_server_key_, "", {});
  v1::GetSecretRequest get;
  get.mutable_target()->set_scope("shop");
  get.set_name("db");
  CallOptions alice;
  alice.act_as_user = "cust-alice";
  CallOptions bob;
  bob.act_as_user = "cust-bob";
  CallOptions bob_ops;
  bob_ops.act_as_user = "cust-bob";
  bob_ops.act_as_groups = {"team-ops"};

  absl::StatusOr<v1::GetSecretResponse> got = proxy->GetSecret(get, alice);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), kCanary);
  got = proxy->GetSecret(get, bob);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(), HasSubstr("user:cust-bob lacks read"));
  EXPECT_TRUE(proxy->GetSecret(get, bob_ops).ok());
  absl::StatusOr<v1::WhoAmIResponse> who = proxy->WhoAmI({}, alice);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "user:cust-alice");
  // Without call options the same client is the proxy itself again.
  who = proxy->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:api-server");

  // The call's identity replaces the client's: a client configured to act
  // as cust-bob reads as cust-alice for one call, and as cust-bob otherwise.
  std::unique_ptr<SecretsClient> as_bob =
      TlsClient(api_server_key_, "cust-bob", {"team-ops"});
  EXPECT_TRUE(as_bob->GetSecret(get, alice).ok());
  who = as_bob->WhoAmI({}, alice);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "user:cust-alice");
  // Outside the pattern, per call too.
  CallOptions outsider;
  outsider.act_as_user = "root";
  got = proxy->GetSecret(get, outsider);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(got.status().message(),
            "apikey:api-server may not act as user:root");
  // Groups without a user are refused before anything is sent.
  CallOptions groups_only;
  groups_only.act_as_groups = {"team-ops"};
  EXPECT_EQ(proxy->GetSecret(get, groups_only).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Both reads as cust-alice, the second one without the client's groups.
  std::vector<std::string> alice_lines =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-alice\"",
                  "\"actor\":\"apikey:api-server\"", "\"code\":\"OK\""});
  ASSERT_EQ(alice_lines.size(), 2u);
  for (const std::string& line : alice_lines) {
    EXPECT_THAT(line, HasSubstr("\"groups\":[]"));
  }
  EXPECT_EQ(
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-bob\"",
                  "\"actor\":\"apikey:api-server\"",
                  "\"code\":\"PERMISSION_DENIED\""})
          .size(),
      1u);
  EXPECT_EQ(
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-bob\"",
                  "\"groups\":[\"team-ops\"]", "\"code\":\"OK\""})
          .size(),
      1u);
}

TEST_F(DelegationTest, UnixSocketProxyIsItsUidAndTheCliCanActAs) {
  // The test's own uid is an administrator on the socket: without a grant
  // it may not assert either.
  std::unique_ptr<SecretsClient> as_alice = UnixClient("cust-alice", {});
  absl::StatusOr<v1::GetSecretResponse> got = GetDb(as_alice.get());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(),
              HasSubstr(absl::StrCat("uid:", getuid(),
                                     " may not act as user:cust-alice")));

  absl::StatusOr<testing::LocalUser> peer = testing::EnsureLocalUser(kPeerUser);
  if (!peer.ok()) GTEST_SKIP() << peer.status().message();
  const std::string cli = dir_.Sub("zlayer-secret");
  ASSERT_EQ(Exec({"/bin/cp", Runfile("client/zlayer-secret"), cli}).code, 0);
  ASSERT_EQ(chmod(cli.c_str(), 0755), 0);
  const std::string peer_subject = absl::StrCat("uid:", peer->uid);
  // The CLI's impersonate form, as the administrator.
  Result granted = Exec({cli, "--socket", socket(), "grant", peer_subject,
                         "impersonate", "user:cust-*"});
  ASSERT_EQ(granted.code, 0) << granted.output;
  EXPECT_THAT(granted.output, HasSubstr("impersonation of 'user:cust-*'"));

  auto as_peer = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"/usr/bin/setpriv",
                                    absl::StrCat("--reuid=", peer->uid),
                                    absl::StrCat("--regid=", peer->gid),
                                    "--clear-groups",
                                    "--",
                                    cli,
                                    "--socket",
                                    socket()};
    all.insert(all.end(), args.begin(), args.end());
    return Exec(all);
  };
  // The peer uid itself has no grant on shop; acting as cust-alice it reads.
  Result own = as_peer({"get", "db", "--deployment", "shop", "--reveal"});
  EXPECT_EQ(own.code, 4) << own.output;
  Result alice = as_peer({"--act-as-user", "cust-alice", "get", "db",
                          "--deployment", "shop", "--reveal"});
  EXPECT_EQ(alice.code, 0) << alice.output;
  EXPECT_THAT(alice.output, HasSubstr(kCanary));
  Result bob = as_peer({"--act-as-user", "cust-bob", "get", "db",
                        "--deployment", "shop", "--reveal"});
  EXPECT_EQ(bob.code, 4) << bob.output;
  Result bob_ops =
      as_peer({"--act-as-user", "cust-bob", "--act-as-groups", "team-ops",
               "get", "db", "--deployment", "shop", "--reveal"});
  EXPECT_EQ(bob_ops.code, 4) << bob_ops.output;  // group:team-* not granted
  EXPECT_THAT(bob_ops.output, HasSubstr("may not act as group:team-ops"));

  std::vector<std::string> lines =
      AuditLines({"\"actor\":\"" + peer_subject + "\"",
                  "\"subject\":\"user:cust-alice\"", "\"code\":\"OK\""});
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("\"transport\":\"unix\""));
}

}  // namespace
}  // namespace zlayer::secrets
