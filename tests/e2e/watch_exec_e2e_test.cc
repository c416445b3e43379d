// End to end for `zlayer-secret watch --env-file F -- CMD` (issue 12): the
// real CLI binary supervises a /bin/sh child against the real daemon, over
// the Unix socket and over TLS TCP, while a second client changes secrets.
// The child appends a line per start ("start PID VALUE") and per trapped
// signal to a log; the test waits on that log (inotify, no sleeps) and
// checks: a rotation restarts the child with the new value; --signal sends
// the signal and keeps the same process; a failed re-resolve keeps the old
// child and says why without a value; SIGTERM is passed on and the exit
// code is the child's; a burst of rotations ends on the final value with
// far fewer restarts; no child is left behind.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/e2e/e2e_daemon.h"

extern char** environ;

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Runfile;

constexpr absl::Duration kWait = absl::Seconds(60);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Waits until `done()` holds, waking on every change to a file of `dir`
// (inotify). False at the deadline.
bool WaitForFiles(const std::string& dir, const std::function<bool()>& done,
                  absl::Duration timeout = kWait) {
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  inotify_add_watch(fd, dir.c_str(),
                    IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO);
  const absl::Time deadline = absl::Now() + timeout;
  bool ok = false;
  for (;;) {
    if (done()) {
      ok = true;
      break;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    char buffer[4096];
    while (read(fd, buffer, sizeof(buffer)) > 0) {
    }
  }
  close(fd);
  return ok;
}

bool Alive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  // A zombie still answers kill(0): check its state.
  std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         stat[paren + 2] != 'Z';
}

// The child's log: "start PID VALUE", "hup PID", "term PID" lines.
struct ChildLog {
  std::vector<std::pair<pid_t, std::string>> starts;  // pid, value
  std::vector<pid_t> hups;
  std::vector<pid_t> terms;
};

ChildLog ParseLog(const std::string& text) {
  ChildLog log;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() < 2) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(f[1], &pid)) continue;
    if (f[0] == "start") log.starts.push_back({pid, f.size() > 2 ? f[2] : ""});
    if (f[0] == "hup") log.hups.push_back(pid);
    if (f[0] == "term") log.terms.push_back(pid);
  }
  return log;
}

// The child: traps first (so a signal never finds it unprepared), then a
// start line, then waits on a background sleep that each trap path ends.
std::string ChildScript(const std::string& log) {
  return absl::StrCat("trap 'kill $s 2>/dev/null; echo \"term $$\" >> ", log,
                      "; exit 42' TERM\n", "trap 'echo \"hup $$\" >> ", log,
                      "' HUP\n", "sleep 1000 & s=$!\n",
                      "echo \"start $$ $DB\" >> ", log, "\n",
                      "while kill -0 $s 2>/dev/null; do wait $s; done\n");
}

// `zlayer-secret ... watch ... -- CMD` in the background, stdout and stderr
// to files.
class Watcher {
 public:
  Watcher(const std::vector<std::string>& argv, const std::string& out,
          const std::string& err)
      : err_path_(err) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> c_argv;
    for (const std::string& a : argv) {
      c_argv.push_back(const_cast<char*>(a.c_str()));
    }
    c_argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, c_argv.data(),
                    environ) != 0) {
      pid_ = 0;
    }
    posix_spawn_file_actions_destroy(&actions);
    pidfd_ = pid_ > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)) : -1;
  }
  ~Watcher() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0) close(pidfd_);
  }

  pid_t pid() const { return pid_; }
  std::string Stderr() const { return ReadAll(err_path_); }

  // The CLI's exit code (128 + signal when killed), -1 at the deadline.
  int WaitForExit(absl::Duration timeout = kWait) {
    pollfd p = {pidfd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) !=
        1) {
      return -1;
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

 private:
  std::string err_path_;
  pid_t pid_ = 0;
  int pidfd_ = -1;
  bool exited_ = false;
};

class WatchExecE2eTest : public testing::TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(daemon_->client_options());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    const std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    scope_ = absl::StrCat("wx-", testing::TransportName(GetParam()), "-",
                          test.substr(0, test.find('/')));
    dir_ = std::make_unique<testing::TempDir>();
    log_ = dir_->Sub("child.log");
    env_file_ = dir_->Sub("app.env");
    ASSERT_TRUE(testing::WriteFile(env_file_, "DB=$S:db\n").ok());
  }

  // `global` replaces the daemon's CLI options (another API key).
  std::unique_ptr<Watcher> StartWatch(
      const std::vector<std::string>& options, const std::string& script = "",
      const std::vector<std::string>* global = nullptr) {
    std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
    if (global == nullptr) global = &daemon_->cli_args();
    argv.insert(argv.end(), global->begin(), global->end());
    for (const std::string& a :
         {std::string("--deployment"), scope_, std::string("watch"),
          std::string("--env-file"), env_file_}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), options.begin(), options.end());
    for (const std::string& a :
         {std::string("--"), std::string("/bin/sh"), std::string("-c"),
          script.empty() ? ChildScript(log_) : script}) {
      argv.push_back(a);
    }
    auto w = std::make_unique<Watcher>(argv, dir_->Sub("cli.out"),
                                       dir_->Sub("cli.err"));
    EXPECT_GT(w->pid(), 0);
    return w;
  }

  ChildLog Log() const { return ParseLog(ReadAll(log_)); }

  // Waits for the log to hold `n` start lines; returns the log.
  ChildLog WaitForStarts(size_t n) {
    EXPECT_TRUE(
        WaitForFiles(dir_->path(), [&] { return Log().starts.size() >= n; }))
        << "log: " << ReadAll(log_)
        << "\ncli: " << ReadAll(dir_->Sub("cli.err"));
    return Log();
  }

  v1::Target Target() const {
    v1::Target t;
    t.set_scope(scope_);
    return t;
  }

  void Set(const std::string& value) {
    v1::SetSecretRequest req;
    *req.mutable_target() = Target();
    req.set_name("db");
    req.set_value(value);
    ASSERT_TRUE(client_->SetSecret(req).ok());
  }

  void Rotate(const std::string& value) {
    v1::RotateSecretRequest req;
    *req.mutable_target() = Target();
    req.set_name("db");
    req.set_value(value);
    absl::StatusOr<v1::RotateSecretResponse> r = client_->RotateSecret(req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // SIGTERM to the CLI: passed on to the child, whose TERM trap exits 42.
  void StopAndExpectChildsCode(Watcher* w) {
    ASSERT_EQ(kill(w->pid(), SIGTERM), 0);
    EXPECT_EQ(w->WaitForExit(), 42) << w->Stderr();
  }

  // After the CLI exited: every child it started is gone (reaped, not
  // orphaned).
  void ExpectNoChildLeft() {
    for (const auto& [pid, value] : Log().starts) {
      EXPECT_FALSE(Alive(pid)) << "child " << pid << " outlived the CLI";
    }
  }

  std::unique_ptr<SecretsClient> client_;
  std::string scope_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string log_;
  std::string env_file_;
};

TEST_P(WatchExecE2eTest, RotationRestartsTheChildWithTheNewValue) {
  Set("canary-first-7f3a");
  std::unique_ptr<Watcher> w = StartWatch({"--debounce", "50ms"});
  ChildLog first = WaitForStarts(1);
  ASSERT_EQ(first.starts.size(), 1u);
  EXPECT_EQ(first.starts[0].second, "canary-first-7f3a");
  const pid_t old_pid = first.starts[0].first;

  Rotate("canary-second-9b1c");
  ChildLog after = WaitForStarts(2);
  ASSERT_EQ(after.starts.size(), 2u);
  EXPECT_NE(after.starts[1].first, old_pid);
  EXPECT_EQ(after.starts[1].second, "canary-second-9b1c");
  // The old child was asked to stop (SIGTERM) and is gone, not orphaned.
  EXPECT_THAT(after.terms, ::testing::Contains(old_pid));
  EXPECT_FALSE(Alive(old_pid));
  EXPECT_TRUE(Alive(after.starts[1].first));

  StopAndExpectChildsCode(w.get());
  ExpectNoChildLeft();
  const std::string err = w->Stderr();
  EXPECT_THAT(err, HasSubstr("restarting"));
  EXPECT_THAT(err, Not(HasSubstr("canary-")));
}

TEST_P(WatchExecE2eTest, SignalModeSignalsTheSameChild) {
  Set("canary-sig-1");
  std::unique_ptr<Watcher> w =
      StartWatch({"--signal", "HUP", "--debounce", "50ms"});
  const pid_t pid = WaitForStarts(1).starts[0].first;

  Rotate("canary-sig-2");
  ASSERT_TRUE(WaitForFiles(dir_->path(), [&] { return !Log().hups.empty(); }))
      << w->Stderr();
  ChildLog log = Log();
  EXPECT_EQ(log.hups, std::vector<pid_t>{pid});
  EXPECT_EQ(log.starts.size(), 1u);  // not restarted
  EXPECT_TRUE(Alive(pid));
  EXPECT_THAT(w->Stderr(), HasSubstr("sending SIGHUP"));

  StopAndExpectChildsCode(w.get());
  EXPECT_EQ(Log().starts.size(), 1u);
  ExpectNoChildLeft();
  EXPECT_THAT(w->Stderr(), Not(HasSubstr("canary-")));
}

TEST_P(WatchExecE2eTest, FailedReresolveKeepsTheOldChildAndSaysWhy) {
  Set("canary-keep-5d2e");
  std::unique_ptr<Watcher> w = StartWatch({"--debounce", "50ms"});
  const pid_t pid = WaitForStarts(1).starts[0].first;

  v1::DeleteSecretRequest del;
  *del.mutable_target() = Target();
  del.set_name("db");
  ASSERT_TRUE(client_->DeleteSecret(del).ok());
  ASSERT_TRUE(WaitForFiles(dir_->path(), [&] {
    return absl::StrContains(w->Stderr(), "keeps running");
  })) << w->Stderr();
  const std::string err = w->Stderr();
  // Which entry and why, then what happens; never the value.
  EXPECT_THAT(err, HasSubstr("  DB ($S:db)"));
  EXPECT_THAT(err, HasSubstr("after a change (NOT_FOUND)"));
  EXPECT_THAT(err, HasSubstr(absl::StrCat("(pid ", pid, ") keeps running")));
  EXPECT_THAT(err, Not(HasSubstr("canary-")));
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(Log().starts.size(), 1u);
  EXPECT_TRUE(Log().terms.empty());

  // Undeleted at the version the child holds: nothing to restart.
  v1::UndeleteSecretRequest undelete;
  *undelete.mutable_target() = Target();
  undelete.set_name("db");
  ASSERT_TRUE(client_->UndeleteSecret(undelete).ok());
  // A later rotation still restarts it: the watch went on.
  Rotate("canary-keep-after");
  ChildLog after = WaitForStarts(2);
  ASSERT_EQ(after.starts.size(), 2u);
  EXPECT_EQ(after.starts[1].second, "canary-keep-after");

  StopAndExpectChildsCode(w.get());
  ExpectNoChildLeft();
  EXPECT_THAT(w->Stderr(), Not(HasSubstr("canary-")));
}

TEST_P(WatchExecE2eTest, RevokedGrantKeepsTheOldChildAndSaysWhy) {
  if (GetParam() != testing::Transport::kTls) {
    GTEST_SKIP() << "a second identity is an API key (TLS)";
  }
  Set("canary-revoke-41aa");
  const std::string id = "watch-exec-revoke";
  v1::CreateApiKeyRequest create;
  create.set_id(id);
  absl::StatusOr<v1::CreateApiKeyResponse> key = client_->CreateApiKey(create);
  ASSERT_TRUE(key.ok()) << key.status();
  v1::GrantRequest grant;
  grant.set_subject("apikey:" + id);
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id(scope_);
  grant.set_level(v1::ACCESS_LEVEL_EXECUTE);
  absl::StatusOr<v1::AccessGrant> granted = client_->Grant(grant);
  ASSERT_TRUE(granted.ok()) << granted.status();
  const std::string key_file = dir_->Sub("watcher.key");
  ASSERT_TRUE(testing::WriteFile(key_file, key->presentable_key()).ok());
  std::vector<std::string> global = daemon_->cli_args();
  for (size_t i = 0; i + 1 < global.size(); ++i) {
    if (global[i] == "--api-key-file") global[i + 1] = key_file;
  }

  std::unique_ptr<Watcher> w = StartWatch({"--debounce", "50ms"}, "", &global);
  const pid_t pid = WaitForStarts(1).starts[0].first;
  v1::RevokeRequest revoke;
  revoke.set_id(granted->id());
  ASSERT_TRUE(client_->Revoke(revoke).ok());
  ASSERT_TRUE(WaitForFiles(dir_->path(), [&] {
    return absl::StrContains(w->Stderr(), "keeps running");
  })) << w->Stderr();
  const std::string err = w->Stderr();
  EXPECT_THAT(err, HasSubstr("after a change (PERMISSION_DENIED)"));
  EXPECT_THAT(err, HasSubstr(absl::StrCat("(pid ", pid, ") keeps running")));
  EXPECT_THAT(err, Not(HasSubstr("canary-")));
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(Log().starts.size(), 1u);
  StopAndExpectChildsCode(w.get());
  ExpectNoChildLeft();
}

TEST_P(WatchExecE2eTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  Set("canary-grace-1");
  // Ignores SIGTERM; `exec` keeps the pid (and the ignored disposition).
  const std::string script =
      absl::StrCat("trap '' TERM\n", "echo \"start $$ $DB\" >> ", log_, "\n",
                   "exec sleep 1000\n");
  std::unique_ptr<Watcher> w =
      StartWatch({"--debounce", "50ms", "--restart-grace", "200ms"}, script);
  const pid_t old_pid = WaitForStarts(1).starts[0].first;
  Rotate("canary-grace-2");
  ChildLog after = WaitForStarts(2);
  ASSERT_EQ(after.starts.size(), 2u);
  EXPECT_EQ(after.starts[1].second, "canary-grace-2");
  EXPECT_FALSE(Alive(old_pid));
  EXPECT_THAT(w->Stderr(), HasSubstr("did not exit within --restart-grace"));
  // The new child ignores SIGTERM too: end it for good; its code is ours.
  ASSERT_EQ(kill(after.starts[1].first, SIGKILL), 0);
  EXPECT_EQ(w->WaitForExit(), 128 + SIGKILL) << w->Stderr();
  ExpectNoChildLeft();
}

TEST_P(WatchExecE2eTest, SigtermIsPassedOnAndTheExitCodeIsTheChilds) {
  Set("canary-term");
  std::unique_ptr<Watcher> w = StartWatch({});
  const pid_t pid = WaitForStarts(1).starts[0].first;
  ASSERT_EQ(kill(w->pid(), SIGTERM), 0);
  EXPECT_EQ(w->WaitForExit(), 42) << w->Stderr();
  EXPECT_EQ(Log().terms, std::vector<pid_t>{pid});
  EXPECT_FALSE(Alive(pid));

  // A child that ends by itself: its code is the CLI's.
  std::unique_ptr<Watcher> exits = StartWatch({}, "exit 7");
  EXPECT_EQ(exits->WaitForExit(), 7) << exits->Stderr();
}

TEST_P(WatchExecE2eTest, BurstOfRotationsEndsOnTheFinalValue) {
  Set("canary-burst-0");
  std::unique_ptr<Watcher> w = StartWatch({"--debounce", "100ms"});
  WaitForStarts(1);
  constexpr int kRotations = 50;
  for (int i = 1; i <= kRotations; ++i) {
    Rotate(absl::StrCat("canary-burst-", i));
  }
  const std::string final_value = absl::StrCat("canary-burst-", kRotations);
  ASSERT_TRUE(WaitForFiles(dir_->path(), [&] {
    ChildLog log = Log();
    return log.starts.back().second == final_value;
  })) << ReadAll(log_);
  ChildLog log = Log();
  const size_t restarts = log.starts.size() - 1;
  EXPECT_GE(restarts, 1u);
  EXPECT_LT(restarts, static_cast<size_t>(kRotations));
  EXPECT_EQ(log.starts.back().second, final_value);
  StopAndExpectChildsCode(w.get());
  ExpectNoChildLeft();
  // Still on the final value at the end: the last start holds it.
  EXPECT_EQ(Log().starts.back().second, final_value);
  RecordProperty("restarts", static_cast<int>(restarts));
  std::cerr << "burst: " << kRotations << " rotations, " << restarts
            << " restart(s)\n";
}

TEST_P(WatchExecE2eTest, ChildOutlivesADaemonRestartAndIsStillKeptCurrent) {
  if (GetParam() != testing::Transport::kUnix) {
    GTEST_SKIP() << "a restarted TLS daemon listens on another port";
  }
  Set("canary-restart-1");
  std::unique_ptr<Watcher> w = StartWatch({"--debounce", "50ms"});
  const pid_t pid = WaitForStarts(1).starts[0].first;
  ASSERT_TRUE(daemon_->Restart().ok());
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(daemon_->client_options());
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = *std::move(client);
  ASSERT_TRUE(WaitForFiles(dir_->path(), [&] {
    return absl::StrContains(w->Stderr(), "reconnecting");
  })) << w->Stderr();
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(Log().starts.size(), 1u);  // the restart alone changes nothing

  Rotate("canary-restart-2");
  ChildLog after = WaitForStarts(2);
  ASSERT_EQ(after.starts.size(), 2u);
  EXPECT_EQ(after.starts[1].second, "canary-restart-2");
  StopAndExpectChildsCode(w.get());
  ExpectNoChildLeft();
  EXPECT_THAT(w->Stderr(), Not(HasSubstr("canary-")));
}

TEST_P(WatchExecE2eTest, UnresolvableFileStartsNothing) {
  std::unique_ptr<Watcher> w = StartWatch({});  // no secret db in the scope
  EXPECT_EQ(w->WaitForExit(), 1) << w->Stderr();
  EXPECT_THAT(w->Stderr(), HasSubstr("was not started"));
  EXPECT_TRUE(Log().starts.empty());
}

ZS_INSTANTIATE_FOR_TRANSPORTS(WatchExecE2eTest);

}  // namespace
}  // namespace zlayer::secrets
