// End to end: the real zlayer-secretsd on a temporary data directory and
// socket, driven by the real zlayer-secret binary run as a subprocess, for
// every verb, on success and error paths.
//
// Both binaries come in as data dependencies (runfiles). The daemon is
// started once for the suite; each test uses its own deployment scope or
// environment so that tests do not see each other's secrets.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace ? workspace : "zlayer_secrets",
                      "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::vector<std::string> EnvironWith(
    const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    if (extra.count(key) == 0) env.push_back(entry);
  }
  for (const auto& [k, v] : extra) env.push_back(absl::StrCat(k, "=", v));
  return env;
}

// Runs `argv` with `input` on stdin and collects stdout/stderr (poll, so a
// full pipe never blocks the child).
CliResult RunProcess(const std::vector<std::string>& argv,
                     const std::string& input,
                     const std::map<std::string, std::string>& extra_env) {
  CliResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> c_argv;
  for (const std::string& a : argv)
    c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<std::string> env = EnvironWith(extra_env);
  std::vector<char*> c_env;
  for (std::string& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(),
                       c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (::poll(fds, n, 60000) <= 0) {
      ADD_FAILURE() << "child " << argv[0] << " hung";
      ::kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w =
            ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else {
        ::close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// A failed operation prints exactly one line "zlayer-secret: ...".
void ExpectOneLineError(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, StartsWith("zlayer-secret: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(absl::EndsWith(r.err, "\n")) << r.err;
}

class CliE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir[] = "/tmp/zs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = new std::string(dir);
    socket_ = new std::string(*dir_ + "/d.sock");
    std::string data = *dir_ + "/data";
    ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);
    std::string daemon = Runfile("daemon/zlayer-secretsd");
    std::string log = *dir_ + "/daemon.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {daemon, "--data-dir", data, "--socket",
                                     *socket_};
    std::vector<char*> c_argv;
    for (std::string& a : args) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    int rc = posix_spawn(&daemon_pid_, daemon.c_str(), &actions, nullptr,
                         c_argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << "cannot start " << daemon << ": " << std::strerror(rc);

    // Wait for the daemon: gRPC's own connect with a deadline (no sleeps),
    // giving up at once if the daemon exits.
    ClientOptions options;
    options.address = *socket_;
    auto client = SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    bool up = false;
    while (!up && absl::Now() < deadline) {
      int status;
      if (::waitpid(daemon_pid_, &status, WNOHANG) == daemon_pid_) {
        daemon_pid_ = 0;
        FAIL() << "zlayer-secretsd exited during start:\n" << ReadFile(log);
      }
      up = (*client)->WaitForConnected(absl::Milliseconds(250)).ok();
    }
    ASSERT_TRUE(up) << "zlayer-secretsd did not come up:\n" << ReadFile(log);
    absl::StatusOr<v1::WhoAmIResponse> who = (*client)->WhoAmI({});
    ASSERT_TRUE(who.ok()) << who.status() << "\n" << ReadFile(log);
  }

  static void TearDownTestSuite() {
    if (daemon_pid_ > 0) {
      ::kill(daemon_pid_, SIGTERM);
      int status;
      ::waitpid(daemon_pid_, &status, 0);
      daemon_pid_ = 0;
    }
    if (dir_ != nullptr) {
      std::string cmd = absl::StrCat("rm -rf '", *dir_, "'");
      EXPECT_EQ(std::system(cmd.c_str()), 0);
    }
  }

  void SetUp() override {
    if (daemon_pid_ <= 0) GTEST_SKIP() << "daemon not running";
  }

  // Runs zlayer-secret with --socket and `args`.
  CliResult Cli(std::vector<std::string> args, const std::string& input = "",
                const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {Runfile("client/zlayer-secret"),
                                     "--socket", *socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, input, env);
  }

  std::string TempPath(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  static std::string* dir_;
  static std::string* socket_;
  static pid_t daemon_pid_;
};

std::string* CliE2eTest::dir_ = nullptr;
std::string* CliE2eTest::socket_ = nullptr;
pid_t CliE2eTest::daemon_pid_ = 0;

TEST_F(CliE2eTest, WhoAmIOverTheUnixSocket) {
  CliResult r = Cli({"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Transport: unix"));
  EXPECT_THAT(r.out, HasSubstr("Subject:   "));
  CliResult j = Cli({"whoami", "--output", "json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_THAT(j.out, HasSubstr("\"transport\": \"unix\""));
}

TEST_F(CliE2eTest, CreateGetRevealListRemove) {
  CliResult c = Cli({"create", "db", "--from-stdin"}, "s3cret-1\n");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "Secret 'db' stored (version 1)\n");
  EXPECT_EQ(c.err, "");

  CliResult meta = Cli({"get", "db"});
  EXPECT_EQ(meta.exit_code, 0) << meta.err;
  EXPECT_THAT(meta.out,
              StartsWith("Name:       db\nVersion:    1\nCreated at: "));
  EXPECT_THAT(meta.out, Not(HasSubstr("s3cret")));

  CliResult reveal = Cli({"get", "db", "--reveal"});
  EXPECT_EQ(reveal.exit_code, 0) << reveal.err;
  EXPECT_EQ(reveal.out, "s3cret-1\n");

  CliResult ls = Cli({"ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, StartsWith("NAME "));
  EXPECT_THAT(ls.out, HasSubstr("\ndb "));
  EXPECT_THAT(ls.out, Not(HasSubstr("s3cret")));
  CliResult lsj = Cli({"list", "--output", "json"});
  EXPECT_EQ(lsj.exit_code, 0) << lsj.err;
  EXPECT_THAT(lsj.out, HasSubstr("\"name\": \"db\""));

  CliResult rm = Cli({"rm", "db"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "Removed secret 'db'\n");
  ExpectOneLineError(Cli({"get", "db"}));
  ExpectOneLineError(Cli({"get", "db", "--reveal"}));
}

TEST_F(CliE2eTest, EmptyScopeListsNoSecrets) {
  CliResult ls = Cli({"ls", "--deployment", "empty-scope"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "(no secrets)\n");
}

TEST_F(CliE2eTest, MissingSecretFailsWithOneLine) {
  CliResult r = Cli({"get", "no-such-secret", "--reveal"});
  ExpectOneLineError(r);
  EXPECT_EQ(r.out, "");
  ExpectOneLineError(Cli({"rotate", "no-such-secret", "--from-stdin"}, "x"));
  ExpectOneLineError(Cli({"rm", "no-such-secret"}));
  ExpectOneLineError(Cli({"versions", "no-such-secret"}));
}

TEST_F(CliE2eTest, ValueFlagWarnsOnStderr) {
  CliResult r = Cli({"set", "warned", "--value", "v1", "--deployment", "w"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Secret 'warned' set in scope 'w' (version 1)\n");
  EXPECT_THAT(r.err, HasSubstr("warning: --value exposes the secret"));
  EXPECT_THAT(r.err, Not(HasSubstr("v1")));
}

TEST_F(CliE2eTest, ValueSourceRulesAreUsageErrors) {
  CliResult none = Cli({"create", "x"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err,
            "zlayer-secret: Provide exactly one of --value / --from-stdin / "
            "--from-file / --random\n");
  CliResult two = Cli({"create", "x", "--random", "--from-stdin"});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_EQ(two.err,
            "zlayer-secret: --value, --from-stdin, --from-file, --random are "
            "mutually exclusive\n");
}

TEST_F(CliE2eTest, CheckAndSet) {
  const std::vector<std::string> d = {"--deployment", "cas"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), d.begin(), d.end());
    return args;
  };
  CliResult first =
      Cli(with({"create", "k", "--create-only", "--from-stdin"}), "a");
  EXPECT_EQ(first.exit_code, 0) << first.err;
  ExpectOneLineError(
      Cli(with({"create", "k", "--create-only", "--from-stdin"}), "b"));
  ExpectOneLineError(
      Cli(with({"set", "k", "--if-version", "7", "--from-stdin"}), "c"));
  CliResult ok =
      Cli(with({"set", "k", "--if-version", "1", "--from-stdin"}), "d");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "Secret 'k' set in scope 'cas' (version 2)\n");
  CliResult v = Cli(with({"get", "k", "--reveal"}));
  EXPECT_EQ(v.out, "d\n");
}

TEST_F(CliE2eTest, RotateVersionsRollback) {
  const std::vector<std::string> d = {"--deployment", "rot"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), d.begin(), d.end());
    return args;
  };
  ASSERT_EQ(Cli(with({"create", "api", "--from-stdin"}), "one\n").exit_code, 0);
  CliResult rot = Cli(with({"rotate", "api", "--from-stdin"}), "two\n");
  EXPECT_EQ(rot.exit_code, 0) << rot.err;
  EXPECT_EQ(rot.out, "Rotated 'api' in scope 'rot' (v1 \xE2\x86\x92 v2)\n");
  CliResult versions = Cli(with({"versions", "api"}));
  EXPECT_EQ(versions.exit_code, 0) << versions.err;
  EXPECT_THAT(versions.out, StartsWith("   VERSION "));
  EXPECT_EQ(std::count(versions.out.begin(), versions.out.end(), '\n'), 3);
  CliResult back = Cli(with({"rollback", "api", "1"}));
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_THAT(back.out, HasSubstr("now version 3"));
  EXPECT_EQ(Cli(with({"get", "api", "--reveal"})).out, "one\n");
  EXPECT_EQ(Cli(with({"get", "api", "--reveal", "--version", "2"})).out,
            "two\n");
  ExpectOneLineError(Cli(with({"rollback", "api", "99"})));
}

TEST_F(CliE2eTest, JsonFieldOfAValue) {
  const std::vector<std::string> d = {"--deployment", "fld"};
  ASSERT_EQ(Cli({"create", "cfg", "--from-stdin", "--deployment", "fld"},
                R"({"user":"app","password":"pw-123"})")
                .exit_code,
            0);
  CliResult f = Cli(
      {"get", "cfg", "--reveal", "--field", "password", "--deployment", "fld"});
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "pw-123\n");
}

TEST_F(CliE2eTest, RandomValueIsShownOnceAndStored) {
  CliResult r = Cli({"create", "tok", "--random", "--random-length", "20",
                     "--deployment", "rnd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_GE(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[0], "Secret 'tok' stored in scope 'rnd' (version 1)");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[2], "Generated value for 'tok':");
  ASSERT_EQ(lines[3].size(), 22u);
  std::string value = lines[3].substr(2);
  EXPECT_EQ(lines[5], "This is the only time it will be shown. Store it now.");
  EXPECT_EQ(Cli({"get", "tok", "--reveal", "--deployment", "rnd"}).out,
            value + "\n");
}

TEST_F(CliE2eTest, UndeleteAndDestroy) {
  const std::vector<std::string> d = {"--deployment", "del"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), d.begin(), d.end());
    return args;
  };
  ASSERT_EQ(Cli(with({"create", "gone", "--from-stdin"}), "x").exit_code, 0);
  ASSERT_EQ(Cli(with({"rm", "gone"})).exit_code, 0);
  CliResult un = Cli(with({"undelete", "gone"}));
  EXPECT_EQ(un.exit_code, 0) << un.err;
  EXPECT_THAT(un.out, StartsWith("Restored secret 'gone'"));
  EXPECT_EQ(Cli(with({"get", "gone", "--reveal"})).out, "x\n");
  EXPECT_EQ(Cli(with({"destroy", "gone"})).exit_code, 2);
  CliResult destroy = Cli(with({"destroy", "gone", "--yes"}));
  EXPECT_EQ(destroy.exit_code, 0) << destroy.err;
  ExpectOneLineError(Cli(with({"undelete", "gone"})));
  ExpectOneLineError(Cli(with({"get", "gone"})));
}

TEST_F(CliE2eTest, OversizedValueIsRefused) {
  std::string path = TempPath("big.txt");
  WriteFile(path, std::string((1 << 20) + 1, 'Q'));
  CliResult r =
      Cli({"create", "big", "--from-file", path, "--deployment", "big"});
  ExpectOneLineError(r);
  EXPECT_THAT(r.err, Not(HasSubstr("QQQQ")));
  ExpectOneLineError(Cli({"get", "big", "--deployment", "big"}));
}

TEST_F(CliE2eTest, ImportAndExport) {
  std::string file = TempPath("import.env");
  WriteFile(file, "# comment\nDB_USER=app\nDB_PASS=\"p w\"\n");
  const std::vector<std::string> d = {"--deployment", "imp"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), d.begin(), d.end());
    return args;
  };
  CliResult dry = Cli(with({"import", "--file", file, "--dry-run"}));
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("2 created"));
  EXPECT_EQ(Cli(with({"ls"})).out, "(no secrets)\n");

  CliResult imp = Cli(with({"import", "--file", file}));
  EXPECT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_EQ(imp.out,
            "Imported into scope 'imp': 2 created, 0 updated, 0 unchanged, 0 "
            "error(s)\n");

  CliResult env = Cli(with({"export"}));
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(env.out, "DB_PASS=\"p w\"\nDB_USER=app\n");
  CliResult json = Cli(with({"export", "--format", "json"}));
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out,
            "{\n  \"DB_PASS\": \"p w\",\n  \"DB_USER\": \"app\"\n}\n");

  std::string bad = TempPath("bad.env");
  WriteFile(bad, "GOOD=1\nno equals sign\n");
  CliResult r = Cli(with({"import", "--file", bad}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("  line 2: "));
  EXPECT_THAT(r.err,
              HasSubstr("zlayer-secret: Import completed with errors\n"));
  ExpectOneLineError(Cli(with({"import", "--file", TempPath("missing.env")})));
}

TEST_F(CliE2eTest, EnvironmentsAndEnvTargets) {
  CliResult created = Cli({"env", "create", "staging"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_THAT(created.out, StartsWith("Created environment 'staging' (id "));
  std::string id = created.out.substr(created.out.find("(id ") + 4, 36);
  EXPECT_THAT(Cli({"env", "ls"}).out, HasSubstr(id));
  ExpectOneLineError(Cli({"env", "create", "staging"}));

  CliResult set = Cli({"set", "k", "--from-stdin", "--env", "staging"}, "ev");
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, absl::StrCat("Secret 'k' set in environment ", id,
                                  " (version 1)\n"));
  EXPECT_EQ(Cli({"get", "k", "--reveal", "--env", id}).out, "ev\n");
  CliResult rot =
      Cli({"rotate", "k", "--from-stdin", "--env", "staging"}, "ev2");
  EXPECT_EQ(rot.out, absl::StrCat("Rotated 'k' in env '", id,
                                  "' (v1 \xE2\x86\x92 v2)\n"));
  CliResult unset = Cli({"unset", "k", "--env", "staging"});
  EXPECT_EQ(unset.out,
            absl::StrCat("Unset secret 'k' in environment ", id, "\n"));
  ExpectOneLineError(Cli({"get", "k", "--env", "no-such-env"}));

  ASSERT_EQ(Cli({"destroy", "k", "--yes", "--env", "staging"}).exit_code, 0);
  CliResult rm = Cli({"env", "rm", "staging"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out,
            absl::StrCat("Removed environment 'staging' (id ", id, ")\n"));
}

TEST_F(CliE2eTest, CheckReportsBadReferences) {
  ASSERT_EQ(
      Cli({"create", "db_password", "--from-stdin", "--deployment", "shop"},
          "pw-shop")
          .exit_code,
      0);
  std::string good = TempPath("good.env");
  WriteFile(good, "DB_PASSWORD=$S:db_password\nMODE=prod\n");
  CliResult ok = Cli({"check", "--env-file", good, "--deployment", "shop"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("DB_PASSWORD"));
  EXPECT_THAT(ok.out, Not(HasSubstr("pw-shop")));

  std::string bad = TempPath("bad-refs.env");
  WriteFile(bad, "DB_PASSWORD=$S:db_password\nMISSING=$S:nope\nBROKEN=$S:\n");
  CliResult r = Cli({"check", "--env-file", bad, "--deployment", "shop"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("MISSING"));
  EXPECT_THAT(r.out, HasSubstr("BROKEN"));
  EXPECT_THAT(r.err, HasSubstr("2 of 3 entries would not resolve"));
  CliResult j = Cli(
      {"check", "--env-file", bad, "--deployment", "shop", "--output", "json"});
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_THAT(j.out, HasSubstr("\"ok\": false"));
}

TEST_F(CliE2eTest, RunStartsTheCommandWithResolvedValues) {
  ASSERT_EQ(Cli({"set", "db_password", "--from-stdin", "--deployment", "runok"},
                "pw-run\n")
                .exit_code,
            0);
  std::string env_file = TempPath("run.env");
  WriteFile(env_file, "DB_PASSWORD=$S:db_password\nMODE=prod\n");
  std::string out = TempPath("run.out");
  CliResult r =
      Cli({"run", "--env-file", env_file, "--deployment", "runok", "--",
           "/bin/sh", "-c",
           absl::StrCat("printf '%s|%s|%s' \"$DB_PASSWORD\" \"$MODE\" "
                        "\"$ZS_INHERITED\" > '",
                        out, "'")},
          "", {{"ZS_INHERITED", "kept"}, {"MODE", "overridden"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(out), "pw-run|prod|kept");

  // PATH lookup and the child's exit status.
  CliResult code = Cli({"run", "--env-file", env_file, "--deployment", "runok",
                        "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(code.exit_code, 7);
}

TEST_F(CliE2eTest, RunRefusesToStartWhenAnyReferenceFails) {
  ASSERT_EQ(
      Cli({"set", "db_password", "--from-stdin", "--deployment", "runbad"},
          "pw")
          .exit_code,
      0);
  std::string env_file = TempPath("run-bad.env");
  WriteFile(env_file,
            "DB_PASSWORD=$S:db_password\nAPI_KEY=$S:missing_key\n"
            "OTHER=$S:@svc/also_missing\n");
  std::string out = TempPath("run-bad.out");
  CliResult r =
      Cli({"run", "--env-file", env_file, "--deployment", "runbad", "--",
           "/bin/sh", "-c", absl::StrCat("echo started > '", out, "'")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("API_KEY ($S:missing_key)"));
  EXPECT_THAT(r.err, HasSubstr("OTHER ($S:@svc/also_missing)"));
  EXPECT_THAT(r.err, Not(HasSubstr("DB_PASSWORD")));
  EXPECT_THAT(r.err, HasSubstr("was not started"));
  EXPECT_FALSE(FileExists(out)) << "the command ran";
}

TEST_F(CliE2eTest, GrantWithABadSubjectIsAUsageError) {
  CliResult r = Cli({"grant", "u", "e", "read"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "zlayer-secret: Invalid subject 'u' (expected uid:N, gid:N, "
            "role:NAME, apikey:ID or a uid number)\n");
}

TEST_F(CliE2eTest, UnreachableDaemonFailsWithOneLine) {
  CliResult r =
      RunProcess({Runfile("client/zlayer-secret"), "--socket",
                  TempPath("nobody-here.sock"), "--timeout", "2s", "ls"},
                 "", {});
  ExpectOneLineError(r);
}

}  // namespace
}  // namespace zlayer::secrets
