// Issue 18, item 2: git-credential-zlayer's `store` and `erase`, against the
// real daemon, with the real helper binary speaking git's credential
// protocol on stdin (and driven by Debian's git for approve/reject).
//
// Before: every successful fetch stored a path-scoped shadow copy (a write
// and an audit record per fetch; an error after every fetch for
// non-administrators), and one `erase` (git sends it on a 401) deleted every
// token for the host, whatever the path and password.
//
// The second-user test needs root: it creates the system user zs-test-peer
// (or reuses it) and runs the helper as it through setpriv; without root it
// is skipped with a message.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/local_user.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::Runfile;
using testing::RunProcess;
using testing::TempDir;

constexpr char kPeerUser[] = "zs-test-peer";

// The real daemon on a directory another local user can reach (0755, socket
// 0666: the daemon's access control is under test, not file modes), with
// the helper copied where that user can run it.
class Daemon {
 public:
  static std::unique_ptr<Daemon> Start() {
    auto d = std::unique_ptr<Daemon>(new Daemon());
    EXPECT_EQ(::chmod(d->dir_.path().c_str(), 0755), 0);
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc =
        DaemonProcess::Start({"--data-dir", d->dir_.Sub("data"), "--socket",
                              d->socket(), "--log-level", "info"},
                             d->dir_.path());
    EXPECT_TRUE(proc.ok()) << proc.status();
    if (!proc.ok()) return nullptr;
    d->proc_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        d->proc_->WaitForLog("event=ready", absl::Seconds(30));
    EXPECT_TRUE(ready.ok()) << ready.status() << "\n" << d->proc_->Stderr();
    if (!ready.ok()) return nullptr;
    EXPECT_EQ(::chmod(d->socket().c_str(), 0666), 0);
    for (const char* bin : {"git-credential-zlayer", "zlayer-secret"}) {
      std::string out;
      EXPECT_EQ(*testing::RunProgram(
                    {"/bin/cp", Runfile(absl::StrCat("client/", bin)),
                     d->dir_.Sub(bin)},
                    &out),
                0)
          << out;
      EXPECT_EQ(::chmod(d->dir_.Sub(bin).c_str(), 0755), 0);
    }
    ClientOptions options;
    options.address = d->socket();
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    d->client_ = *std::move(client);
    return d;
  }

  std::string socket() const { return dir_.Sub("d.sock"); }
  std::string Bin(const std::string& name) const { return dir_.Sub(name); }
  std::string path() const { return dir_.path(); }
  SecretsClient* client() { return client_.get(); }

  // Adds a PAT as the administrator (the test's uid); returns its id.
  std::string AddPat(const std::string& host, const std::string& path,
                     const std::string& username, const std::string& token) {
    v1::CreateGitCredentialRequest req;
    req.set_name(absl::StrCat("test ", host, "/", path));
    req.set_kind(v1::GIT_CREDENTIAL_KIND_PAT);
    req.set_host(host);
    req.set_path_prefix(path);
    req.set_username(username);
    req.set_value(token);
    absl::StatusOr<v1::GitCredential> created =
        client_->CreateGitCredential(req);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : "";
  }

  // "host|path|username" of every stored credential, and their ids.
  std::vector<std::string> Entries() {
    absl::StatusOr<v1::ListGitCredentialsResponse> all =
        client_->ListGitCredentials({});
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<std::string> out;
    if (!all.ok()) return out;
    for (const v1::GitCredential& c : all->credentials()) {
      out.push_back(
          absl::StrCat(c.host(), "|", c.path_prefix(), "|", c.username()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::set<std::string> Ids() {
    absl::StatusOr<v1::ListGitCredentialsResponse> all =
        client_->ListGitCredentials({});
    std::set<std::string> ids;
    if (!all.ok()) return ids;
    for (const v1::GitCredential& c : all->credentials()) ids.insert(c.id());
    return ids;
  }

  // The helper with `operation`, git's attributes on stdin; `prefix` runs it
  // through another program (setpriv).
  ProcessResult Helper(const std::string& operation, const std::string& input,
                       std::vector<std::string> prefix = {}) {
    prefix.insert(prefix.end(), {Bin("git-credential-zlayer"), "--socket",
                                 socket(), operation});
    return RunProcess(prefix, input, {"PATH=/usr/bin:/bin", "HOME=" + path()});
  }

  // Debian's git running the helper: `git credential approve|reject` with
  // credential.useHttpPath on.
  ProcessResult Git(const std::string& action, const std::string& input) {
    return RunProcess(
        {"/usr/bin/git", "-c", "credential.helper=", "-c",
         absl::StrCat("credential.helper=", Bin("git-credential-zlayer"),
                      " --socket ", socket()),
         "-c", "credential.useHttpPath=true", "credential", action},
        input,
        {"PATH=/usr/bin:/bin", "HOME=" + path(), "GIT_CONFIG_NOSYSTEM=1",
         "GIT_TERMINAL_PROMPT=0"});
  }

  ProcessResult Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {Bin("zlayer-secret"), "--socket",
                                     socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, "", {"PATH=/usr/bin:/bin", "HOME=" + path()});
  }

 private:
  Daemon() = default;
  TempDir dir_;
  std::unique_ptr<DaemonProcess> proc_;
  std::unique_ptr<SecretsClient> client_;
};

std::string Attrs(const std::string& path, const std::string& username,
                  const std::string& password,
                  const std::string& host = "github.com") {
  std::string s = absl::StrCat("protocol=https\nhost=", host, "\n");
  if (!path.empty()) absl::StrAppend(&s, "path=", path, "\n");
  if (!username.empty()) absl::StrAppend(&s, "username=", username, "\n");
  if (!password.empty()) absl::StrAppend(&s, "password=", password, "\n");
  return s + "\n";
}

TEST(GitCredentialHelperTest, StoreAfterAFetchWritesNothing) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  d->AddPat("github.com", "", "acme-bot", "tok-host-wide");
  const std::set<std::string> before = d->Ids();

  // What git does after every successful fetch with useHttpPath: approve
  // the credential `get` gave it, with the repository's path.
  for (int fetch = 0; fetch < 3; ++fetch) {
    ProcessResult approve =
        d->Git("approve", Attrs("acme/app.git", "acme-bot", "tok-host-wide"));
    EXPECT_EQ(approve.exit_code, 0) << approve.err;
    EXPECT_EQ(approve.err, "");
  }
  ProcessResult direct =
      d->Helper("store", Attrs("other/repo.git", "acme-bot", "tok-host-wide"));
  EXPECT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(direct.err, "");
  EXPECT_EQ(d->Ids(), before) << "store wrote a shadow copy of a credential "
                                 "that already answers this URL";

  // A new password for a path is kept for exactly that path, once.
  ProcessResult fresh =
      d->Helper("store", Attrs("acme/app.git", "acme-bot", "tok-new"));
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  ProcessResult again =
      d->Helper("store", Attrs("acme/app.git", "acme-bot", "tok-new"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(d->Entries(),
              ::testing::UnorderedElementsAre("github.com||acme-bot",
                                              "github.com|acme/app|acme-bot"));
}

TEST(GitCredentialHelperTest, EraseRemovesOnlyTheExactEntryHoldingThePassword) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  d->AddPat("github.com", "", "bot", "tok-a");
  d->AddPat("github.com", "acme", "bot", "tok-b");
  d->AddPat("github.com", "other", "bot", "tok-c");
  d->AddPat("github.com", "acme", "someone", "tok-d");
  d->AddPat("gitlab.com", "acme", "bot", "tok-b");
  const std::vector<std::string> all = d->Entries();
  ASSERT_EQ(all.size(), 5u);

  // A wrong password, no password, another path's password, or a host-wide
  // erase: nothing goes.
  for (const std::string& input :
       {Attrs("acme", "bot", "tok-wrong"), Attrs("acme", "bot", ""),
        Attrs("acme", "bot", "tok-c"), Attrs("", "bot", "tok-b"),
        Attrs("", "", "")}) {
    ProcessResult erase = d->Helper("erase", input);
    EXPECT_EQ(erase.exit_code, 0) << erase.err;
    EXPECT_EQ(d->Entries(), all) << "erase removed entries for: " << input;
  }

  // The rejected credential itself: exactly that entry goes.
  ProcessResult erase = d->Helper("erase", Attrs("acme", "bot", "tok-b"));
  EXPECT_EQ(erase.exit_code, 0) << erase.err;
  EXPECT_THAT(d->Entries(), ::testing::UnorderedElementsAre(
                                "github.com||bot", "github.com|acme|someone",
                                "github.com|other|bot", "gitlab.com|acme|bot"));

  // Through git: a 401 on a repository whose credential git stored earlier.
  ProcessResult stored =
      d->Git("approve", Attrs("team/app.git", "bot", "tok-team"));
  EXPECT_EQ(stored.exit_code, 0) << stored.err;
  ASSERT_EQ(d->Entries().size(), 5u);
  ProcessResult rejected =
      d->Git("reject", Attrs("team/app.git", "bot", "tok-team"));
  EXPECT_EQ(rejected.exit_code, 0) << rejected.err;
  EXPECT_THAT(d->Entries(), ::testing::UnorderedElementsAre(
                                "github.com||bot", "github.com|acme|someone",
                                "github.com|other|bot", "gitlab.com|acme|bot"));
}

TEST(GitCredentialHelperTest, StoreByACallerWhoMayNotWriteIsSilent) {
  absl::StatusOr<testing::LocalUser> peer = testing::EnsureLocalUser(kPeerUser);
  if (absl::IsFailedPrecondition(peer.status())) {
    GTEST_SKIP() << peer.status().message();
  }
  ASSERT_TRUE(peer.ok()) << peer.status();
  const std::vector<std::string> as_peer = {
      "/usr/bin/setpriv", absl::StrCat("--reuid=", peer->uid),
      absl::StrCat("--regid=", peer->gid), "--clear-groups", "--"};

  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  d->AddPat("github.com", "", "bot", "tok-read-only");
  ProcessResult grant =
      d->Cli({"grant", absl::StrCat("uid:", peer->uid), "--scope",
              "credentials:git", "--name", "github.com", "read"});
  ASSERT_EQ(grant.exit_code, 0) << grant.out << grant.err;
  const std::set<std::string> before = d->Ids();

  // The peer fetches with the token it was given, and with one it typed.
  ProcessResult got = d->Helper("get", Attrs("acme/app.git", "", ""), as_peer);
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_THAT(got.out, HasSubstr("password=tok-read-only\n"));
  for (const char* password : {"tok-read-only", "tok-typed-by-user"}) {
    ProcessResult store =
        d->Helper("store", Attrs("acme/app.git", "bot", password), as_peer);
    EXPECT_EQ(store.exit_code, 0) << store.err;
    EXPECT_EQ(store.err, "") << "git prints this after every fetch";
    ProcessResult erase =
        d->Helper("erase", Attrs("", "bot", password), as_peer);
    EXPECT_EQ(erase.exit_code, 0) << erase.err;
    EXPECT_EQ(erase.err, "");
  }
  // Another host the peer may not read at all.
  ProcessResult elsewhere =
      d->Helper("store", Attrs("", "bot", "tok-x", "gitlab.com"), as_peer);
  EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_EQ(elsewhere.err, "");
  EXPECT_EQ(d->Ids(), before);
}

}  // namespace
}  // namespace zlayer::secrets
