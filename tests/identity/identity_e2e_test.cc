// Identity end to end, with real processes: the real zlayer-secretsd, the
// real zlayer-secret CLI (also run as a second local user through setpriv),
// the credential helpers driven by Debian's git, API keys over TLS, and the
// audit log (completeness, no values, fail-closed and recovery).
//
// The second-user tests need root (CI runs as root): they create the system
// user zs-test-peer (or reuse it) and run the CLI with setpriv --reuid/
// --regid --clear-groups. Without root they are skipped with a message.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
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

using testing::CheckHealth;
using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::Runfile;
using testing::RunProgram;
using testing::TempDir;
using testing::WriteFile;

constexpr char kPeerUser[] = "zs-test-peer";
const absl::Duration kStartTimeout = absl::Seconds(30);

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

Result Exec(const std::vector<std::string>& args) {
  Result r;
  absl::StatusOr<int> code = RunProgram(args, &r.output);
  EXPECT_TRUE(code.ok()) << code.status();
  r.code = code.ok() ? *code : -1;
  return r;
}

// A daemon on a fresh directory whose socket another local user can reach
// (directory 0755, socket 0666: the daemon's access control is what is
// under test, not the file mode). Binaries are copied into the directory
// because the runfiles tree under /root is not traversable by that user.
class Daemon {
 public:
  static std::unique_ptr<Daemon> Start(std::vector<std::string> extra = {}) {
    auto d = std::unique_ptr<Daemon>(new Daemon());
    EXPECT_EQ(chmod(d->dir_.path().c_str(), 0755), 0);
    std::vector<std::string> args = {"--data-dir",
                                     d->data(),
                                     "--key-dir",
                                     d->data(),
                                     "--bootstrap-admin-key",
                                     "keep",
                                     "--socket",
                                     d->socket(),
                                     "--log-level",
                                     "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc =
        DaemonProcess::Start(args, d->dir_.path());
    EXPECT_TRUE(proc.ok()) << proc.status();
    if (!proc.ok()) return nullptr;
    d->proc_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        d->proc_->WaitForLog("event=ready", kStartTimeout);
    EXPECT_TRUE(ready.ok()) << ready.status() << "\n" << d->proc_->Stderr();
    if (!ready.ok()) return nullptr;
    size_t at = ready->find("tcp_port=");
    if (at != std::string::npos) {
      std::string port = ready->substr(at + 9);
      port = port.substr(0, port.find(' '));
      EXPECT_TRUE(absl::SimpleAtoi(port, &d->tcp_port_));
    }
    EXPECT_EQ(chmod(d->dir_.Sub("s").c_str(), 0755), 0);
    EXPECT_EQ(chmod(d->socket().c_str(), 0666), 0);
    for (const char* bin :
         {"client/zlayer-secret", "client/git-credential-zlayer",
          "client/docker-credential-zlayer"}) {
      std::string to = d->Bin(std::string(bin).substr(7));
      EXPECT_EQ(Exec({"/bin/cp", Runfile(bin), to}).code, 0);
      EXPECT_EQ(chmod(to.c_str(), 0755), 0);
    }
    return d;
  }

  std::string data() const { return dir_.Sub("data"); }
  std::string socket() const { return dir_.Sub("s/d.sock"); }
  std::string Sub(const std::string& name) const { return dir_.Sub(name); }
  std::string Bin(const std::string& name) const { return dir_.Sub(name); }
  std::string audit_log() const { return data() + "/audit.log"; }
  int tcp_port() const { return tcp_port_; }
  DaemonProcess* process() { return proc_.get(); }

  // The CLI as the test's own user (an administrator: root).
  Result Cli(std::vector<std::string> args) const {
    std::vector<std::string> all = {Bin("zlayer-secret"), "--socket", socket()};
    all.insert(all.end(), args.begin(), args.end());
    return Exec(all);
  }

  std::unique_ptr<SecretsClient> Client() const {
    ClientOptions options;
    options.address = "unix:" + socket();
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

 private:
  Daemon() = default;
  TempDir dir_;
  std::unique_ptr<DaemonProcess> proc_;
  int tcp_port_ = 0;
};

// ---------------------------------------------------------------------------
// A second local user

using Peer = testing::LocalUser;

class SecondUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Peer> peer = testing::EnsureLocalUser(kPeerUser);
    if (!peer.ok()) GTEST_SKIP() << peer.status().message();
    peer_ = *peer;
    daemon_ = Daemon::Start();
    ASSERT_NE(daemon_, nullptr);
    subject_ = absl::StrCat("uid:", peer_.uid);
  }

  // The real CLI, run as the peer user (real and effective ids, no
  // supplementary groups).
  Result AsPeer(std::vector<std::string> args) {
    std::vector<std::string> all = {"/usr/bin/setpriv",
                                    absl::StrCat("--reuid=", peer_.uid),
                                    absl::StrCat("--regid=", peer_.gid),
                                    "--clear-groups",
                                    "--",
                                    daemon_->Bin("zlayer-secret"),
                                    "--socket",
                                    daemon_->socket()};
    all.insert(all.end(), args.begin(), args.end());
    return Exec(all);
  }

  Result Admin(std::vector<std::string> args) { return daemon_->Cli(args); }

  Peer peer_;
  std::string subject_;
  std::unique_ptr<Daemon> daemon_;
};

// A refusal: exit 4, permission denied (client/cli/exit_codes.h).
void ExpectDenied(const Result& r, absl::string_view what) {
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_THAT(r.output, HasSubstr(what)) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST_F(SecondUserTest, PeerGetsExactlyWhatWasGrantedAndRevocationIsImmediate) {
  ASSERT_EQ(
      Admin({"create", "db", "--deployment", "prod", "--value", "db-value-1"})
          .code,
      0);
  ASSERT_EQ(
      Admin({"create", "api", "--deployment", "prod", "--value", "api-value-1"})
          .code,
      0);
  const std::string env_file = daemon_->Sub("peer.env");
  ASSERT_TRUE(WriteFile(env_file, "DB=$S:db\n", 0644).ok());
  const std::vector<std::string> run_db = {
      "run",        "--deployment", "prod",
      "--env-file", env_file,       "--",
      "/bin/sh",    "-c",           "printf 'child sees %s\\n' \"$DB\""};

  // Who the daemon sees: the peer's uid, over the Unix socket.
  Result who = AsPeer({"whoami"});
  EXPECT_EQ(who.code, 0) << who.output;
  EXPECT_THAT(who.output, HasSubstr(subject_));

  // No grant: everything denied, with the code's meaning in the message.
  ExpectDenied(AsPeer({"get", "db", "--deployment", "prod", "--reveal"}),
               absl::StrCat(subject_, " lacks read on prod/db"));
  ExpectDenied(AsPeer({"ls", "--deployment", "prod"}),
               absl::StrCat(subject_, " lacks read on prod"));
  // Nor may the peer grant itself anything.
  ExpectDenied(AsPeer({"grant", subject_, "--scope", "prod", "write"}),
               "is not an administrator");

  // read on prod/db: reveal works, execute and write do not, api stays hidden.
  Result g =
      Admin({"grant", subject_, "--scope", "prod", "--name", "db", "read"});
  ASSERT_EQ(g.code, 0) << g.output;
  EXPECT_THAT(g.output, HasSubstr(absl::StrCat("Granted read on secret "
                                               "'prod/db' to ",
                                               subject_)));
  Result got = AsPeer({"get", "db", "--deployment", "prod", "--reveal"});
  EXPECT_EQ(got.code, 0) << got.output;
  EXPECT_EQ(got.output, "db-value-1\n");
  ExpectDenied(AsPeer({"get", "api", "--deployment", "prod", "--reveal"}),
               "lacks read on prod/api");
  EXPECT_EQ(AsPeer(run_db).code, 1);
  ExpectDenied(
      AsPeer({"set", "db", "--deployment", "prod", "--from-file", env_file}),
      "lacks write on prod/db");

  // execute: `run` resolves the reference for the child.
  ASSERT_EQ(
      Admin({"grant", subject_, "--scope", "prod", "--name", "db", "execute"})
          .code,
      0);
  Result ran = AsPeer(run_db);
  EXPECT_EQ(ran.code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("child sees db-value-1"));
  ExpectDenied(
      AsPeer({"set", "db", "--deployment", "prod", "--from-file", env_file}),
      "lacks write on prod/db");

  // write on the whole scope.
  ASSERT_EQ(
      Admin({"grant", std::to_string(peer_.uid), "--scope", "prod", "write"})
          .code,
      0);
  Result set =
      AsPeer({"set", "api", "--deployment", "prod", "--from-file", env_file});
  EXPECT_EQ(set.code, 0) << set.output;

  Result perms = Admin({"permissions", "--subject", subject_});
  EXPECT_EQ(perms.code, 0) << perms.output;
  EXPECT_THAT(perms.output, HasSubstr("scope 'prod'"));
  EXPECT_THAT(perms.output, HasSubstr("secret 'prod/db'"));

  // Revoking the scope grant takes effect on the very next call.
  Result rv = Admin({"revoke", subject_, "--scope", "prod"});
  EXPECT_EQ(rv.code, 0) << rv.output;
  EXPECT_THAT(rv.output, HasSubstr("Revoked write on scope 'prod' from"));
  ExpectDenied(
      AsPeer({"set", "api", "--deployment", "prod", "--from-file", env_file}),
      "lacks write on prod/api");
  EXPECT_EQ(AsPeer({"get", "db", "--deployment", "prod", "--reveal"}).code, 0);

  Result rv2 = Admin({"revoke", subject_, "--scope", "prod", "--name", "db"});
  EXPECT_EQ(rv2.code, 0) << rv2.output;
  ExpectDenied(AsPeer({"get", "db", "--deployment", "prod", "--reveal"}),
               "lacks read on prod/db");
  Result none = Admin({"revoke", subject_, "--scope", "prod", "--name", "db"});
  EXPECT_EQ(none.code, 0);
  EXPECT_THAT(none.output, HasSubstr("No grant to revoke"));
}

TEST_F(SecondUserTest, EnvironmentGrantsAndPermissionsTable) {
  ASSERT_EQ(Admin({"env", "create", "staging"}).code, 0);
  ASSERT_EQ(
      Admin({"set", "token", "--env", "staging", "--value", "tok-1"}).code, 0);
  ExpectDenied(AsPeer({"get", "token", "--env", "staging", "--reveal"}),
               "lacks read");
  Result g = Admin({"grant", subject_, "staging", "read"});
  ASSERT_EQ(g.code, 0) << g.output;
  EXPECT_THAT(g.output, HasSubstr("Granted read on environment "));
  Result got = AsPeer({"get", "token", "--env", "staging", "--reveal"});
  EXPECT_EQ(got.code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr("tok-1"));
  Result table = Admin({"permissions", "staging"});
  EXPECT_EQ(table.code, 0);
  EXPECT_THAT(table.output,
              HasSubstr("PERMISSION_ID                          KIND   "
                        "SUBJECT_ID                             LEVEL"));
  EXPECT_THAT(table.output, HasSubstr(absl::StrCat("uid    ", peer_.uid)));
  Result json = Admin({"permissions", "staging", "--output", "json"});
  EXPECT_THAT(json.output, HasSubstr("\"resource_kind\": \"environment\""));
  ASSERT_EQ(Admin({"revoke", subject_, "staging"}).code, 0);
  ExpectDenied(AsPeer({"get", "token", "--env", "staging", "--reveal"}),
               "lacks read");
  Result empty = Admin({"permissions", "staging"});
  EXPECT_THAT(empty.output, HasSubstr("(no grants on environment "));
}

TEST_F(SecondUserTest, SystemScopesAreRefusedClearlyEvenToAdmins) {
  Result admin = Admin({"ls", "--deployment", "system:grants"});
  EXPECT_EQ(admin.code, 2);  // bad input
  EXPECT_THAT(admin.output, HasSubstr("is internal to the daemon"));
  Result grant =
      Admin({"grant", subject_, "--scope", "system:api_keys", "read"});
  EXPECT_EQ(grant.code, 2);  // bad input
  EXPECT_THAT(grant.output, HasSubstr("system"));
}

// ---------------------------------------------------------------------------
// API keys over TLS

class TlsApiKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(tls_dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    daemon_ = Daemon::Start({"--listen", "127.0.0.1:0", "--tls-cert",
                             tls_.server_cert, "--tls-key", tls_.server_key});
    ASSERT_NE(daemon_, nullptr);
    ASSERT_GT(daemon_->tcp_port(), 0);
  }

  std::unique_ptr<SecretsClient> TlsClient(absl::string_view key) {
    ClientOptions options;
    options.address = absl::StrCat("127.0.0.1:", daemon_->tcp_port());
    options.tls_ca_file = tls_.ca_cert;
    options.tls_server_name = "localhost";
    options.api_key = SecretBytes::FromString(key);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  absl::StatusCode GetCode(SecretsClient* client) {
    v1::GetSecretRequest req;
    req.mutable_target()->set_scope("prod");
    req.set_name("db");
    return client->GetSecret(req).status().code();
  }

  TempDir tls_dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(TlsApiKeyTest, BootstrapKeyIsWritten0600AndIsAnAdmin) {
  struct stat st;
  ASSERT_EQ(stat((daemon_->data() + "/admin.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<std::string> key = ReadFile(daemon_->data() + "/admin.key");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(absl::StartsWith(*key, "zs_admin."));
  std::unique_ptr<SecretsClient> admin =
      TlsClient(absl::StripTrailingAsciiWhitespace(*key));
  absl::StatusOr<v1::WhoAmIResponse> who = admin->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->subject(), "apikey:admin");
  EXPECT_EQ(who->transport(), "tls");

  // The CLI over TLS with --api-key-file.
  Result cli =
      Exec({daemon_->Bin("zlayer-secret"), "--address",
            absl::StrCat("127.0.0.1:", daemon_->tcp_port()), "--tls-ca",
            tls_.ca_cert, "--tls-server-name", "localhost", "--api-key-file",
            daemon_->data() + "/admin.key", "whoami"});
  EXPECT_EQ(cli.code, 0) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr("apikey:admin"));
}

TEST_F(TlsApiKeyTest, KeysWorkAndWrongOrDeletedKeysAreRefusedAtOnce) {
  std::unique_ptr<SecretsClient> local = daemon_->Client();
  v1::SetSecretRequest set;
  set.mutable_target()->set_scope("prod");
  set.set_name("db");
  set.set_value("tls-db-value");
  ASSERT_TRUE(local->SetSecret(set).ok());
  v1::CreateApiKeyRequest create;
  create.set_id("ci");
  create.add_roles("deployer");
  absl::StatusOr<v1::CreateApiKeyResponse> made = local->CreateApiKey(create);
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string key = made->presentable_key();
  ASSERT_TRUE(absl::StartsWith(key, "zs_ci."));

  // No key, and a key without a grant.
  EXPECT_EQ(GetCode(TlsClient("").get()), absl::StatusCode::kUnauthenticated);
  std::unique_ptr<SecretsClient> ci = TlsClient(key);
  EXPECT_EQ(GetCode(ci.get()), absl::StatusCode::kPermissionDenied);

  v1::GrantRequest grant;
  grant.set_subject("role:deployer");
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id("prod");
  grant.set_level(v1::ACCESS_LEVEL_READ);
  ASSERT_TRUE(local->Grant(grant).ok());
  v1::GetSecretRequest get;
  get.mutable_target()->set_scope("prod");
  get.set_name("db");
  absl::StatusOr<v1::GetSecretResponse> value = ci->GetSecret(get);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->value(), "tls-db-value");
  // Cached now; a second call is served from the cache.
  EXPECT_TRUE(ci->GetSecret(get).ok());

  // A wrong secret for the same id.
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  absl::StatusOr<v1::GetSecretResponse> bad = TlsClient(wrong)->GetSecret(get);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(bad.status().message(), Not(HasSubstr(wrong)));

  // Deleted: refused on the next call although it was cached.
  v1::DeleteApiKeyRequest del;
  del.set_id("ci");
  ASSERT_TRUE(local->DeleteApiKey(del).ok());
  EXPECT_EQ(ci->GetSecret(get).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// ---------------------------------------------------------------------------
// Credential helpers

TEST(CredentialHelperTest, GitFetchesThePatThroughTheHelper) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(WriteFile(d->Sub("pat"), "ghp_canaryPAT123\n", 0600).ok());
  Result add = d->Cli({"credential", "git", "add", "--label", "acme bot",
                       "--host", "github.com", "--username", "acme-bot",
                       "--from-file", d->Sub("pat")});
  ASSERT_EQ(add.code, 0) << add.output;
  const std::string helper =
      absl::StrCat(d->Bin("git-credential-zlayer"), " --socket ", d->socket());
  const std::string git = absl::StrCat(
      "HOME=", d->Sub(""), " GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 ",
      "/usr/bin/git -c credential.helper= -c 'credential.helper=", helper,
      "' credential fill");
  Result fill = Exec({"/bin/sh", "-c",
                      absl::StrCat("printf 'protocol=https\\nhost=github.com\\n"
                                   "path=acme/app.git\\n\\n' | ",
                                   git)});
  EXPECT_EQ(fill.code, 0) << fill.output;
  EXPECT_THAT(fill.output, HasSubstr("username=acme-bot\n"));
  EXPECT_THAT(fill.output, HasSubstr("password=ghp_canaryPAT123\n"));

  // Another host: the helper stays silent and git gives up (no prompt).
  Result other = Exec({"/bin/sh", "-c",
                       absl::StrCat("printf 'protocol=https\\nhost=gitlab.com"
                                    "\\n\\n' | ",
                                    git)});
  EXPECT_NE(other.code, 0);
  EXPECT_THAT(other.output, Not(HasSubstr("ghp_canaryPAT123")));

  // Plain http never gets the token.
  Result http = Exec({"/bin/sh", "-c",
                      absl::StrCat("printf 'protocol=http\\nhost=github.com"
                                   "\\n\\n' | ",
                                   git)});
  EXPECT_THAT(http.output, Not(HasSubstr("ghp_canaryPAT123")));

  // git's store and erase through the helper.
  Result store =
      Exec({"/bin/sh", "-c",
            absl::StrCat("printf 'protocol=https\\nhost=git.example.com\\n"
                         "username=u1\\npassword=pw-from-git\\n\\n' | ",
                         d->Bin("git-credential-zlayer"), " --socket ",
                         d->socket(), " store")});
  EXPECT_EQ(store.code, 0) << store.output;
  Result ls = d->Cli({"credential", "git", "ls"});
  EXPECT_THAT(ls.output, HasSubstr("git.example.com"));
  Result erase =
      Exec({"/bin/sh", "-c",
            absl::StrCat("printf 'protocol=https\\nhost=git.example.com\\n"
                         "username=u1\\npassword=pw-from-git\\n\\n' | ",
                         d->Bin("git-credential-zlayer"), " --socket ",
                         d->socket(), " erase")});
  EXPECT_EQ(erase.code, 0) << erase.output;
  EXPECT_THAT(d->Cli({"credential", "git", "ls"}).output,
              Not(HasSubstr("git.example.com")));
}

TEST(CredentialHelperTest, DockerHelperRoundTrip) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  const std::string helper = absl::StrCat(d->Bin("docker-credential-zlayer"),
                                          " --socket ", d->socket());
  Result store = Exec(
      {"/bin/sh", "-c",
       absl::StrCat("printf '%s' '{\"ServerURL\":\"https://index.docker.io/v1/"
                    "\",\"Username\":\"hubuser\",\"Secret\":\"hub-canary\"}' "
                    "| ",
                    helper, " store")});
  EXPECT_EQ(store.code, 0) << store.output;
  ASSERT_TRUE(WriteFile(d->Sub("ghcr"), "ghcr-canary", 0600).ok());
  ASSERT_EQ(d->Cli({"credential", "registry", "add", "--registry", "ghcr.io",
                    "--username", "bot", "--auth-type", "token", "--from-file",
                    d->Sub("ghcr")})
                .code,
            0);

  Result get = Exec(
      {"/bin/sh", "-c", absl::StrCat("echo docker.io | ", helper, " get")});
  EXPECT_EQ(get.code, 0) << get.output;
  EXPECT_EQ(get.output,
            "{\"Secret\":\"hub-canary\",\"ServerURL\":\"docker.io\","
            "\"Username\":\"hubuser\"}\n");
  Result get2 = Exec({"/bin/sh", "-c",
                      absl::StrCat("echo https://ghcr.io | ", helper, " get")});
  EXPECT_THAT(get2.output, HasSubstr("\"Secret\":\"ghcr-canary\""));

  Result list = Exec({"/bin/sh", "-c", absl::StrCat(helper, " list")});
  EXPECT_EQ(list.code, 0);
  EXPECT_EQ(list.output,
            "{\"ghcr.io\":\"bot\",\"https://index.docker.io/v1/\":"
            "\"hubuser\"}\n");

  Result erase = Exec(
      {"/bin/sh", "-c", absl::StrCat("echo ghcr.io | ", helper, " erase")});
  EXPECT_EQ(erase.code, 0) << erase.output;
  Result gone =
      Exec({"/bin/sh", "-c", absl::StrCat("echo ghcr.io | ", helper, " get")});
  EXPECT_EQ(gone.code, 1);
  EXPECT_EQ(gone.output, "credentials not found in native keychain\n");
}

TEST_F(SecondUserTest, HelperReadsNeedAGrantOnTheCredentialResource) {
  ASSERT_TRUE(WriteFile(daemon_->Sub("pw"), "peer-reg-canary", 0600).ok());
  ASSERT_EQ(Admin({"credential", "registry", "add", "--registry", "ghcr.io",
                   "--username", "bot", "--from-file", daemon_->Sub("pw")})
                .code,
            0);
  auto peer_get = [&] {
    return Exec(
        {"/bin/sh", "-c",
         absl::StrCat("echo ghcr.io | /usr/bin/setpriv --reuid=", peer_.uid,
                      " --regid=", peer_.gid, " --clear-groups -- ",
                      daemon_->Bin("docker-credential-zlayer"), " --socket ",
                      daemon_->socket(), " get")});
  };
  Result denied = peer_get();
  EXPECT_EQ(denied.code, 1);
  EXPECT_THAT(denied.output, HasSubstr("lacks read on credentials:registry"));
  ASSERT_EQ(Admin({"grant", subject_, "--scope", "credentials:registry",
                   "--name", "ghcr.io", "read"})
                .code,
            0);
  Result ok = peer_get();
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("peer-reg-canary"));
}

// ---------------------------------------------------------------------------
// Audit

std::vector<std::string> AuditLines(const Daemon& d) {
  absl::StatusOr<std::string> text = ReadFile(d.audit_log());
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  return absl::StrSplit(*text, '\n', absl::SkipEmpty());
}

TEST(AuditE2eTest, EveryCallOfEveryRpcIsRecordedAndNoValueIs) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  std::unique_ptr<SecretsClient> c = d->Client();
  const size_t before = AuditLines(*d).size();
  const std::vector<std::string> canaries = {
      "CANARY-value-7f3a", "CANARY-rotated-19c2", "CANARY-import-55d1",
      "CANARY-regpw-a0e4", "CANARY-gitpat-3b77"};
  std::vector<std::string> rpcs;
  auto called = [&](const char* rpc, const absl::Status& s,
                    bool must_succeed = true) {
    rpcs.push_back(rpc);
    if (must_succeed) {
      EXPECT_TRUE(s.ok()) << rpc << ": " << s;
    }
  };
  v1::Target target;
  target.set_scope("audited");

  v1::SetSecretRequest set;
  *set.mutable_target() = target;
  set.set_name("db");
  set.set_value(canaries[0]);
  called("SetSecret", c->SetSecret(set).status());
  v1::GetSecretRequest get;
  *get.mutable_target() = target;
  get.set_name("db");
  called("GetSecret", c->GetSecret(get).status());
  v1::GetSecretsRequest gets;
  *gets.mutable_target() = target;
  gets.add_names("db");
  gets.add_names("missing");
  called("GetSecrets", c->GetSecrets(gets).status());
  v1::ListSecretsRequest list;
  *list.mutable_target() = target;
  called("ListSecrets", c->ListSecrets(list).status());
  v1::SecretExistsRequest exists;
  *exists.mutable_target() = target;
  exists.set_name("db");
  called("SecretExists", c->SecretExists(exists).status());
  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = target;
  rotate.set_name("db");
  rotate.set_value(canaries[1]);
  called("RotateSecret", c->RotateSecret(rotate).status());
  v1::ListVersionsRequest versions;
  *versions.mutable_target() = target;
  versions.set_name("db");
  called("ListVersions", c->ListVersions(versions).status());
  v1::RollbackSecretRequest rollback;
  *rollback.mutable_target() = target;
  rollback.set_name("db");
  rollback.set_version(1);
  called("RollbackSecret", c->RollbackSecret(rollback).status());
  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["DB"] = "$S:db";
  resolve.mutable_context()->set_deployment("audited");
  called("ResolveEnv", c->ResolveEnv(resolve).status());
  v1::CheckEnvRequest check;
  (*check.mutable_env())["DB"] = "$S:db";
  check.mutable_context()->set_deployment("audited");
  called("CheckEnv", c->CheckEnv(check).status());
  v1::ImportSecretsRequest import;
  *import.mutable_target() = target;
  import.set_content(absl::StrCat("IMPORTED=", canaries[2], "\n"));
  called("ImportSecrets", c->ImportSecrets(import).status());
  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = target;
  called("ExportSecrets", c->ExportSecrets(exp).status());
  v1::DeleteSecretRequest del;
  *del.mutable_target() = target;
  del.set_name("db");
  called("DeleteSecret", c->DeleteSecret(del).status());
  v1::UndeleteSecretRequest undel;
  *undel.mutable_target() = target;
  undel.set_name("db");
  called("UndeleteSecret", c->UndeleteSecret(undel).status());
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = target;
  destroy.set_name("IMPORTED");
  called("DestroySecret", c->DestroySecret(destroy).status());
  // A failing call is recorded too.
  get.set_name("nope");
  called("GetSecret", c->GetSecret(get).status(), false);

  v1::CreateEnvironmentRequest env;
  env.set_name("audit-env");
  absl::StatusOr<v1::Environment> made = c->CreateEnvironment(env);
  called("CreateEnvironment", made.status());
  v1::GetEnvironmentRequest getenv;
  getenv.set_name_or_id("audit-env");
  called("GetEnvironment", c->GetEnvironment(getenv).status());
  called("ListEnvironments", c->ListEnvironments({}).status());
  v1::UpdateEnvironmentRequest upd;
  upd.set_id(made.ok() ? made->id() : "x");
  upd.set_description("d");
  called("UpdateEnvironment", c->UpdateEnvironment(upd).status());
  v1::DeleteEnvironmentRequest delenv;
  delenv.set_id(made.ok() ? made->id() : "x");
  called("DeleteEnvironment", c->DeleteEnvironment(delenv).status());
  called("RotateMasterKey", c->RotateMasterKey({}).status(), false);
  called("WhoAmI", c->WhoAmI({}).status());

  v1::CreateApiKeyRequest key;
  key.set_id("audit");
  absl::StatusOr<v1::CreateApiKeyResponse> made_key = c->CreateApiKey(key);
  called("CreateApiKey", made_key.status());
  called("ListApiKeys", c->ListApiKeys({}).status());
  v1::SetApiKeyRolesRequest roles;
  roles.set_id("audit");
  roles.add_roles("r1");
  called("SetApiKeyRoles", c->SetApiKeyRoles(roles).status());
  v1::DeleteApiKeyRequest delkey;
  delkey.set_id("audit");
  called("DeleteApiKey", c->DeleteApiKey(delkey).status());

  v1::GrantRequest grant;
  grant.set_subject("uid:4321");
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id("audited");
  grant.set_level(v1::ACCESS_LEVEL_READ);
  absl::StatusOr<v1::AccessGrant> g1 = c->Grant(grant);
  called("Grant", g1.status());
  called("Grant", c->Grant(grant).status());
  v1::ListGrantsRequest lg;
  lg.set_subject("uid:4321");
  called("ListGrants", c->ListGrants(lg).status());
  v1::RevokeRequest revoke;
  revoke.set_id(g1.ok() ? g1->id() : "x");
  called("Revoke", c->Revoke(revoke).status());
  v1::RevokeMatchingRequest rm;
  rm.set_subject("uid:4321");
  *rm.mutable_resource() = grant.resource();
  called("RevokeMatching", c->RevokeMatching(rm).status());

  v1::CreateRegistryCredentialRequest reg;
  reg.set_registry("ghcr.io");
  reg.set_username("bot");
  reg.set_password(canaries[3]);
  absl::StatusOr<v1::RegistryCredential> made_reg =
      c->CreateRegistryCredential(reg);
  called("CreateRegistryCredential", made_reg.status());
  called("ListRegistryCredentials", c->ListRegistryCredentials({}).status());
  v1::GetRegistryCredentialRequest getreg;
  getreg.set_registry("ghcr.io");
  called("GetRegistryCredential", c->GetRegistryCredential(getreg).status());
  v1::DeleteRegistryCredentialRequest delreg;
  delreg.set_id(made_reg.ok() ? made_reg->id() : "x");
  called("DeleteRegistryCredential",
         c->DeleteRegistryCredential(delreg).status());

  v1::CreateGitCredentialRequest git;
  git.set_name("bot");
  git.set_value(canaries[4]);
  git.set_host("github.com");
  absl::StatusOr<v1::GitCredential> made_git = c->CreateGitCredential(git);
  called("CreateGitCredential", made_git.status());
  called("ListGitCredentials", c->ListGitCredentials({}).status());
  v1::GetGitCredentialRequest getgit;
  getgit.mutable_url()->set_protocol("https");
  getgit.mutable_url()->set_host("github.com");
  called("GetGitCredential", c->GetGitCredential(getgit).status());
  v1::DeleteGitCredentialRequest delgit;
  delgit.set_id(made_git.ok() ? made_git->id() : "x");
  called("DeleteGitCredential", c->DeleteGitCredential(delgit).status());

  // One record per call, in call order, each naming its RPC.
  std::vector<std::string> lines = AuditLines(*d);
  ASSERT_EQ(lines.size() - before, rpcs.size());
  for (size_t i = 0; i < rpcs.size(); ++i) {
    EXPECT_THAT(lines[before + i],
                HasSubstr(absl::StrCat("\"rpc\":\"", rpcs[i], "\"")));
    EXPECT_THAT(lines[before + i], HasSubstr("\"subject\":\"uid:0\""));
  }
  // Versions and targets where the handler knows them.
  EXPECT_THAT(lines[before + 1], HasSubstr("\"versions\":[1]"));
  EXPECT_THAT(lines[before + 8], HasSubstr("\"targets\":[\"audited/db\"]"));
  EXPECT_THAT(lines[before + 15], HasSubstr("\"code\":\"NOT_FOUND\""));
  // No value, no key, anywhere in the file.
  absl::StatusOr<std::string> all = ReadFile(d->audit_log());
  ASSERT_TRUE(all.ok());
  for (const std::string& canary : canaries) {
    EXPECT_THAT(*all, Not(HasSubstr(canary)));
  }
  ASSERT_TRUE(made_key.ok());
  EXPECT_THAT(*all, Not(HasSubstr(made_key->presentable_key())));
  EXPECT_THAT(*all,
              Not(HasSubstr(made_key->presentable_key().substr(7))));  // secret
}

TEST(AuditE2eTest, HashedNamesHideSecretNames) {
  std::unique_ptr<Daemon> d = Daemon::Start({"--audit-hash-names"});
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->Cli({"create", "very-secret-name", "--value", "v"}).code, 0);
  absl::StatusOr<std::string> all = ReadFile(d->audit_log());
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, Not(HasSubstr("very-secret-name")));
  EXPECT_THAT(*all, HasSubstr("\"name\":\"h:"));
}

TEST(AuditE2eTest, UnwritableAuditLogFailsRevealsClosedAndRecovers) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  std::unique_ptr<SecretsClient> c = d->Client();
  v1::SetSecretRequest set;
  set.mutable_target()->set_scope("a");
  set.set_name("db");
  set.set_value("audit-fail-canary");
  ASSERT_TRUE(c->SetSecret(set).ok());
  auto channel = testing::UnixChannel(d->socket());
  auto health = [&] {
    auto s = CheckHealth(channel, "", absl::Seconds(5));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  ASSERT_EQ(health(), grpc::health::v1::HealthCheckResponse::SERVING);

  // As root, file modes do not stop writes: swap the file for a directory
  // and make the daemon reopen it (SIGHUP, as for log rotation). Every
  // open now fails (EISDIR / "not a file").
  const std::string log = d->audit_log();
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  ASSERT_EQ(mkdir(log.c_str(), 0700), 0);
  d->process()->Signal(SIGHUP);
  ASSERT_TRUE(d->process()
                  ->WaitForLog("event=audit_log_unwritable", absl::Seconds(10))
                  .ok())
      << d->process()->Stderr();
  EXPECT_EQ(health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  v1::GetSecretRequest get;
  get.mutable_target()->set_scope("a");
  get.set_name("db");
  ClientOptions once;
  once.address = "unix:" + d->socket();
  once.retry.max_attempts = 1;
  auto single = SecretsClient::Connect(std::move(once));
  ASSERT_TRUE(single.ok());
  absl::StatusOr<v1::GetSecretResponse> refused = (*single)->GetSecret(get);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("audit log unavailable"));
  v1::ExportSecretsRequest exp;
  exp.mutable_target()->set_scope("a");
  EXPECT_EQ((*single)->ExportSecrets(exp).status().code(),
            absl::StatusCode::kUnavailable);
  // Calls that reveal nothing still answer (and say nothing of values).
  v1::ListSecretsRequest list;
  list.mutable_target()->set_scope("a");
  EXPECT_TRUE((*single)->ListSecrets(list).ok());

  // Writable again: the daemon reopens it by itself and serves again.
  ASSERT_EQ(rmdir(log.c_str()), 0);
  ASSERT_TRUE(d->process()
                  ->WaitForLog("event=audit_log_recovered", absl::Seconds(10))
                  .ok())
      << d->process()->Stderr();
  EXPECT_EQ(health(), grpc::health::v1::HealthCheckResponse::SERVING);
  absl::StatusOr<v1::GetSecretResponse> again = (*single)->GetSecret(get);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->value(), "audit-fail-canary");
  std::vector<std::string> lines = AuditLines(*d);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("\"rpc\":\"GetSecret\""));
  EXPECT_THAT(lines.back(), HasSubstr("\"code\":\"OK\""));
}

}  // namespace
}  // namespace zlayer::secrets
