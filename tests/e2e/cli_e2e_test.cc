// End to end: the real zlayer-secretsd, driven by the real zlayer-secret
// binary run as a subprocess, for every verb, on success and error paths.
// Every test runs twice: over the Unix socket (the caller is the test's
// uid) and over TLS TCP (the caller presents the bootstrap admin API key).
//
// Both binaries come in as data dependencies (runfiles). Each transport's
// daemon is started once for the suite; each test uses its own deployment
// scope or environment so that tests do not see each other's secrets.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using CliResult = testing::ProcessResult;
using testing::Runfile;
using testing::RunWithEnvironment;
using testing::Transport;

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

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

// A failed operation prints exactly one line "zlayer-secret: ..." and exits
// with `exit_code` (client/cli/exit_codes.h).
void ExpectOneLineError(const CliResult& r, int exit_code) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_THAT(r.err, StartsWith("zlayer-secret: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(absl::EndsWith(r.err, "\n")) << r.err;
}

// The exit codes scripts branch on; their numbers are part of the interface.
constexpr int kExitOther = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitPermissionDenied = 4;
constexpr int kExitConflict = 5;
constexpr int kExitUnreachable = 6;

class CliE2eTest : public testing::TransportTest {
 protected:
  // Runs zlayer-secret with the options that reach the daemon, then `args`.
  CliResult Cli(std::vector<std::string> args, const std::string& input = "",
                const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
    argv.insert(argv.end(), daemon_->cli_args().begin(),
                daemon_->cli_args().end());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunWithEnvironment(argv, input, env);
  }

  std::string TempPath(const std::string& name) { return daemon_->Path(name); }
};

TEST_P(CliE2eTest, WhoAmIReportsTransportAndCaller) {
  const bool tls = GetParam() == Transport::kTls;
  CliResult r = Cli({"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(tls ? "Transport: tls" : "Transport: unix"));
  EXPECT_THAT(r.out,
              HasSubstr(tls ? "Subject:   apikey:admin"
                            : absl::StrCat("Subject:   uid:", getuid())));
  CliResult j = Cli({"whoami", "--output", "json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_THAT(j.out, HasSubstr(tls ? "\"transport\": \"tls\""
                                   : "\"transport\": \"unix\""));
}

TEST_P(CliE2eTest, CreateGetRevealListRemove) {
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
  ExpectOneLineError(Cli({"get", "db"}), kExitNotFound);
  ExpectOneLineError(Cli({"get", "db", "--reveal"}), kExitNotFound);
}

TEST_P(CliE2eTest, EmptyScopeListsNoSecrets) {
  CliResult ls = Cli({"ls", "--deployment", "empty-scope"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "(no secrets)\n");
}

TEST_P(CliE2eTest, MissingSecretFailsWithOneLine) {
  CliResult r = Cli({"get", "no-such-secret", "--reveal"});
  ExpectOneLineError(r, kExitNotFound);
  EXPECT_EQ(r.out, "");
  ExpectOneLineError(Cli({"rotate", "no-such-secret", "--from-stdin"}, "x"),
                     kExitNotFound);
  ExpectOneLineError(Cli({"rm", "no-such-secret"}), kExitNotFound);
  ExpectOneLineError(Cli({"versions", "no-such-secret"}), kExitNotFound);
}

TEST_P(CliE2eTest, ValueFlagWarnsOnStderr) {
  CliResult r = Cli({"set", "warned", "--value", "v1", "--deployment", "w"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Secret 'warned' set in scope 'w' (version 1)\n");
  EXPECT_THAT(r.err, HasSubstr("warning: --value exposes the secret"));
  EXPECT_THAT(r.err, Not(HasSubstr("v1")));
}

TEST_P(CliE2eTest, ValueSourceRulesAreUsageErrors) {
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

TEST_P(CliE2eTest, CheckAndSet) {
  const std::vector<std::string> d = {"--deployment", "cas"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), d.begin(), d.end());
    return args;
  };
  CliResult first =
      Cli(with({"create", "k", "--create-only", "--from-stdin"}), "a");
  EXPECT_EQ(first.exit_code, 0) << first.err;
  ExpectOneLineError(
      Cli(with({"create", "k", "--create-only", "--from-stdin"}), "b"),
      kExitConflict);
  ExpectOneLineError(
      Cli(with({"set", "k", "--if-version", "7", "--from-stdin"}), "c"),
      kExitConflict);
  CliResult ok =
      Cli(with({"set", "k", "--if-version", "1", "--from-stdin"}), "d");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "Secret 'k' set in scope 'cas' (version 2)\n");
  CliResult v = Cli(with({"get", "k", "--reveal"}));
  EXPECT_EQ(v.out, "d\n");
}

TEST_P(CliE2eTest, RotateVersionsRollback) {
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
  ExpectOneLineError(Cli(with({"rollback", "api", "99"})), kExitNotFound);
}

TEST_P(CliE2eTest, JsonFieldOfAValue) {
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

TEST_P(CliE2eTest, RandomValueIsShownOnceAndStored) {
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
  CliResult got = Cli({"get", "tok", "--reveal", "--deployment", "rnd"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, value + "\n");
}

TEST_P(CliE2eTest, UndeleteAndDestroy) {
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
  ExpectOneLineError(Cli(with({"undelete", "gone"})), kExitNotFound);
  ExpectOneLineError(Cli(with({"get", "gone"})), kExitNotFound);
}

TEST_P(CliE2eTest, OversizedValueIsRefused) {
  std::string path = TempPath("big.txt");
  WriteFile(path, std::string((1 << 20) + 1, 'Q'));
  CliResult r =
      Cli({"create", "big", "--from-file", path, "--deployment", "big"});
  ExpectOneLineError(r, kExitBadInput);
  EXPECT_THAT(r.err, Not(HasSubstr("QQQQ")));
  ExpectOneLineError(Cli({"get", "big", "--deployment", "big"}), kExitNotFound);
}

TEST_P(CliE2eTest, ImportAndExport) {
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
  EXPECT_EQ(r.exit_code, kExitOther);
  EXPECT_THAT(r.err, HasSubstr("  line 2: "));
  EXPECT_THAT(r.err,
              HasSubstr("zlayer-secret: Import completed with errors\n"));
  ExpectOneLineError(Cli(with({"import", "--file", TempPath("missing.env")})),
                     kExitBadInput);
}

TEST_P(CliE2eTest, EnvironmentsAndEnvTargets) {
  CliResult created = Cli({"env", "create", "staging"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_THAT(created.out, StartsWith("Created environment 'staging' (id "));
  std::string id = created.out.substr(created.out.find("(id ") + 4, 36);
  EXPECT_THAT(Cli({"env", "ls"}).out, HasSubstr(id));
  ExpectOneLineError(Cli({"env", "create", "staging"}), kExitConflict);

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
  ExpectOneLineError(Cli({"get", "k", "--env", "no-such-env"}), kExitNotFound);

  ASSERT_EQ(Cli({"destroy", "k", "--yes", "--env", "staging"}).exit_code, 0);
  CliResult rm = Cli({"env", "rm", "staging"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out,
            absl::StrCat("Removed environment 'staging' (id ", id, ")\n"));
}

TEST_P(CliE2eTest, CheckReportsBadReferences) {
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
  EXPECT_EQ(r.exit_code, kExitOther);
  EXPECT_THAT(r.out, HasSubstr("MISSING"));
  EXPECT_THAT(r.out, HasSubstr("BROKEN"));
  EXPECT_THAT(r.err, HasSubstr("2 of 3 entries would not resolve"));
  CliResult j = Cli(
      {"check", "--env-file", bad, "--deployment", "shop", "--output", "json"});
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_THAT(j.out, HasSubstr("\"ok\": false"));
}

TEST_P(CliE2eTest, RunStartsTheCommandWithResolvedValues) {
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

TEST_P(CliE2eTest, RunRefusesToStartWhenAnyReferenceFails) {
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
  EXPECT_EQ(r.exit_code, kExitOther);
  EXPECT_THAT(r.err, HasSubstr("API_KEY ($S:missing_key)"));
  EXPECT_THAT(r.err, HasSubstr("OTHER ($S:@svc/also_missing)"));
  EXPECT_THAT(r.err, Not(HasSubstr("DB_PASSWORD")));
  EXPECT_THAT(r.err, HasSubstr("was not started"));
  EXPECT_FALSE(FileExists(out)) << "the command ran";
}

TEST_P(CliE2eTest, GrantPermissionsRevoke) {
  ASSERT_EQ(Cli({"env", "create", "granted"}).exit_code, 0);
  CliResult g =
      Cli({"grant", "uid:4242", "--scope", "gscope", "--name", "db", "read"});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_THAT(g.out, StartsWith("Granted read on secret 'gscope/db' to "
                                "uid:4242 (permission id "));
  CliResult ge = Cli({"grant", "role:ops", "granted", "write"});
  EXPECT_EQ(ge.exit_code, 0) << ge.err;
  EXPECT_THAT(ge.out, StartsWith("Granted write on environment "));

  CliResult by_subject = Cli({"permissions", "--subject", "uid:4242"});
  EXPECT_EQ(by_subject.exit_code, 0) << by_subject.err;
  EXPECT_THAT(by_subject.out, HasSubstr("secret 'gscope/db'"));
  CliResult on_env = Cli({"permissions", "granted", "--output", "json"});
  EXPECT_EQ(on_env.exit_code, 0) << on_env.err;
  EXPECT_THAT(on_env.out, HasSubstr("\"resource_kind\": \"environment\""));

  CliResult rv =
      Cli({"revoke", "uid:4242", "--scope", "gscope", "--name", "db"});
  EXPECT_EQ(rv.exit_code, 0) << rv.err;
  EXPECT_THAT(rv.out, StartsWith("Revoked read on secret 'gscope/db' from "
                                 "uid:4242 (permission id "));
  CliResult none =
      Cli({"revoke", "uid:4242", "--scope", "gscope", "--name", "db"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("No grant to revoke"));
  EXPECT_EQ(Cli({"permissions", "--subject", "uid:4242"}).out,
            "(no grants for uid:4242)\n");
  ASSERT_EQ(Cli({"revoke", "role:ops", "granted"}).exit_code, 0);
  ExpectOneLineError(Cli({"grant", "uid:4242", "no-such-env", "read"}),
                     kExitNotFound);
}

TEST_P(CliE2eTest, GrantWithABadSubjectIsAUsageError) {
  CliResult r = Cli({"grant", "u", "e", "read"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "zlayer-secret: Invalid subject 'u' (expected uid:N, gid:N, "
            "role:NAME, apikey:ID, user:ID, group:ID or a uid number)\n");
}

TEST_P(CliE2eTest, ApiKeysCreateListRolesRemove) {
  const std::string id =
      absl::StrCat("ci-", testing::TransportName(GetParam()));
  CliResult c = Cli({"apikey", "create", id, "--role", "reader"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, StartsWith(absl::StrCat("Created API key '", id, "'")));
  EXPECT_THAT(c.out, HasSubstr("This is the only time it will be shown."));
  ExpectOneLineError(Cli({"apikey", "create", id}), kExitConflict);

  CliResult ls = Cli({"apikey", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr(id));
  EXPECT_THAT(ls.out, HasSubstr("admin"));
  EXPECT_THAT(ls.out, Not(HasSubstr("zs_")));  // never a key itself

  CliResult roles = Cli({"apikey", "roles", id, "reader", "writer"});
  EXPECT_EQ(roles.exit_code, 0) << roles.err;
  EXPECT_THAT(roles.out, HasSubstr("reader"));
  EXPECT_THAT(roles.out, HasSubstr("writer"));

  CliResult rotated = Cli({"apikey", "rotate", id});
  EXPECT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_THAT(rotated.out,
              StartsWith(absl::StrCat("Rotated API key '", id,
                                      "' (roles: reader, writer)\n\n  zs_")));
  EXPECT_NE(rotated.out.substr(0, rotated.out.find("This is")),
            c.out.substr(0, c.out.find("This is")));
  ExpectOneLineError(Cli({"apikey", "rotate", "no-such-key"}), kExitNotFound);

  CliResult rm = Cli({"apikey", "rm", id});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, absl::StrCat("Removed API key '", id, "'\n"));
  EXPECT_THAT(Cli({"apikey", "ls"}).out, Not(HasSubstr(id)));
  ExpectOneLineError(Cli({"apikey", "rm", id}), kExitNotFound);
}

TEST_P(CliE2eTest, RegistryAndGitCredentials) {
  std::string token = TempPath("registry-token");
  WriteFile(token, "tok-registry-1\n");
  CliResult add =
      Cli({"credential", "registry", "add", "--registry",
           "registry.example.com", "--username", "bot", "--from-file", token});
  EXPECT_EQ(add.exit_code, 0) << add.err;
  EXPECT_THAT(add.out, StartsWith("Added registry credential "));
  CliResult ls = Cli({"credential", "registry", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("registry.example.com"));
  EXPECT_THAT(ls.out, Not(HasSubstr("tok-registry-1")));
  std::string id =
      add.out.substr(std::string("Added registry credential ").size(), 36);
  CliResult rm = Cli({"credential", "registry", "rm", id});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, absl::StrCat("Removed registry credential ", id, "\n"));
  EXPECT_THAT(Cli({"credential", "registry", "ls"}).out,
              Not(HasSubstr("registry.example.com")));

  CliResult git = Cli({"credential", "git", "add", "--label", "bot", "--host",
                       "git.example.com", "--username", "bot", "--from-stdin"},
                      "pat-git-1\n");
  EXPECT_EQ(git.exit_code, 0) << git.err;
  EXPECT_THAT(git.out, StartsWith("Added git credential "));
  CliResult gls = Cli({"credential", "git", "ls", "--output", "json"});
  EXPECT_EQ(gls.exit_code, 0) << gls.err;
  EXPECT_THAT(gls.out, HasSubstr("git.example.com"));
  EXPECT_THAT(gls.out, Not(HasSubstr("pat-git-1")));
  ExpectOneLineError(Cli({"credential", "git", "rm", "no-such-id"}),
                     kExitBadInput);
}

TEST_P(CliE2eTest, KeyRotateKeepsEveryValueReadable) {
  ASSERT_EQ(Cli({"create", "k", "--from-stdin", "--deployment", "mk"}, "v-1")
                .exit_code,
            0);
  ASSERT_EQ(
      Cli({"set", "k", "--from-stdin", "--deployment", "mk"}, "v-2").exit_code,
      0);
  CliResult generated = Cli({"key", "rotate"});
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_THAT(generated.out, StartsWith("Master key rotated: new key id "));
  EXPECT_EQ(Cli({"get", "k", "--reveal", "--deployment", "mk"}).out, "v-2\n");
  EXPECT_EQ(
      Cli({"get", "k", "--reveal", "--version", "1", "--deployment", "mk"}).out,
      "v-1\n");

  // A key that is not 32 bytes / 64 hex characters: refused, nothing changed.
  std::string bad = TempPath("bad-master.key");
  WriteFile(bad, "not-a-key\n");
  CliResult refused = Cli({"key", "rotate", "--from-file", bad});
  ExpectOneLineError(refused, kExitBadInput);
  EXPECT_THAT(refused.err, HasSubstr("wrong length"));
  EXPECT_EQ(Cli({"get", "k", "--reveal", "--deployment", "mk"}).out, "v-2\n");

  // The operator's own key, as hex on stdin.
  CliResult given = Cli({"key", "rotate", "--from-stdin", "--output", "json"},
                        std::string(64, 'a') + "\n");
  EXPECT_EQ(given.exit_code, 0) << given.err;
  EXPECT_THAT(given.out, HasSubstr("\"versions_reencrypted\": "));
  EXPECT_EQ(Cli({"get", "k", "--reveal", "--deployment", "mk"}).out, "v-2\n");
  EXPECT_EQ(Cli({"key", "rotate", "extra"}).exit_code, 2);
}

TEST_P(CliE2eTest, KeyRekeyWaitMovesEveryValueToANewDataKey) {
  ASSERT_EQ(Cli({"create", "r", "--from-stdin", "--deployment", "rk"}, "r-1")
                .exit_code,
            0);
  ASSERT_EQ(
      Cli({"set", "r", "--from-stdin", "--deployment", "rk"}, "r-2").exit_code,
      0);
  CliResult rekeyed = Cli({"key", "rekey", "--wait"});
  EXPECT_EQ(rekeyed.exit_code, 0) << rekeyed.err;
  EXPECT_THAT(rekeyed.out, StartsWith("Rekey done: "));
  EXPECT_THAT(rekeyed.out, HasSubstr("to data key generation "));
  EXPECT_EQ(Cli({"get", "r", "--reveal", "--deployment", "rk"}).out, "r-2\n");
  EXPECT_EQ(
      Cli({"get", "r", "--reveal", "--version", "1", "--deployment", "rk"}).out,
      "r-1\n");
  CliResult json = Cli({"key", "rekey", "--wait", "--output", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"running\": false"));
  EXPECT_EQ(Cli({"key", "rekey", "--from-stdin"}, "x").exit_code, 2);
  EXPECT_EQ(Cli({"key", "rotate", "--wait"}).exit_code, 2);
}

TEST_P(CliE2eTest, UnreachableDaemonFailsWithOneLine) {
  std::vector<std::string> where =
      GetParam() == Transport::kUnix
          ? std::vector<std::string>{"--socket", TempPath("nobody-here.sock")}
          : std::vector<std::string>{"--address", "127.0.0.1:1"};
  std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
  argv.insert(argv.end(), where.begin(), where.end());
  argv.insert(argv.end(), {"--timeout", "2s", "ls"});
  CliResult r = RunWithEnvironment(argv);
  ExpectOneLineError(r, kExitUnreachable);
  EXPECT_THAT(r.err, HasSubstr("daemon not reachable at "));
  EXPECT_THAT(r.err, HasSubstr("is zlayer-secretsd running?"));
  EXPECT_THAT(r.err, Not(HasSubstr("failed to connect to all addresses")));
}

// A socket file whose daemon is gone (bound, then closed: connect() is
// refused): the same exit code and the same actionable message, naming the
// path.
TEST_P(CliE2eTest, StaleSocketIsReportedAsUnreachable) {
  if (GetParam() != Transport::kUnix) GTEST_SKIP() << "Unix socket only";
  const std::string path = TempPath("stale.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  CliResult r = RunWithEnvironment({Runfile("client/zlayer-secret"), "--socket",
                                    path, "--timeout", "2s", "ls"});
  ExpectOneLineError(r, kExitUnreachable);
  EXPECT_EQ(r.err, absl::StrCat("zlayer-secret: daemon not reachable at ", path,
                                " (is zlayer-secretsd running? see 'systemctl "
                                "status zlayer-secretsd'; point the CLI "
                                "elsewhere with --socket PATH, --address "
                                "HOST:PORT, ZLAYER_SECRETS_SOCKET or "
                                "ZLAYER_SECRETS_ADDR)\n"));
}

// A caller the daemon knows but who holds no grant: permission denied (4),
// told apart from not found (3) and from a missing key (4 as well:
// UNAUTHENTICATED).
TEST_P(CliE2eTest, CallerWithoutAGrantGetsPermissionDenied) {
  if (GetParam() != Transport::kTls) GTEST_SKIP() << "TLS API keys only";
  CliResult created = Cli({"apikey", "create", "no-grants"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string key;
  for (absl::string_view line : absl::StrSplit(created.out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "zs_")) key = std::string(line);
  }
  ASSERT_FALSE(key.empty()) << created.out;
  std::string key_file = TempPath("no-grants.key");
  WriteFile(key_file, key + "\n");
  std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
  const std::vector<std::string>& base = daemon_->cli_args();
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i] == "--api-key-file") {
      ++i;
      continue;
    }
    argv.push_back(base[i]);
  }
  argv.insert(argv.end(), {"--api-key-file", key_file, "get", "anything",
                           "--reveal", "--deployment", "pd"});
  CliResult r = RunWithEnvironment(argv);
  ExpectOneLineError(r, kExitPermissionDenied);
}

// `health` answers SERVING with exit 0 on both transports, also without an
// API key (container HEALTHCHECKs hold none), and exit 6 where nothing
// listens.
TEST_P(CliE2eTest, HealthReportsServingAndUnreachable) {
  CliResult r = Cli({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  CliResult j = Cli({"health", "--output", "json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(j.out, "{\"status\": \"SERVING\"}\n");

  std::vector<std::string> keyless = {Runfile("client/zlayer-secret")};
  const std::vector<std::string>& base = daemon_->cli_args();
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i] == "--api-key-file") {
      ++i;
      continue;
    }
    keyless.push_back(base[i]);
  }
  keyless.push_back("health");
  CliResult anonymous = RunWithEnvironment(keyless);
  EXPECT_EQ(anonymous.exit_code, 0) << anonymous.err;

  CliResult gone = RunWithEnvironment({Runfile("client/zlayer-secret"),
                                       "--socket", TempPath("no-daemon.sock"),
                                       "--timeout", "2s", "health"});
  ExpectOneLineError(gone, kExitUnreachable);
  EXPECT_EQ(gone.out, "");
}

// Scripts set the connection and format through ZLAYER_SECRETS_* variables
// (like VAULT_ADDR); a flag still wins.
TEST_P(CliE2eTest, ScriptVariablesReachTheDaemon) {
  CliResult json = Cli({"whoami"}, "", {{"ZLAYER_SECRETS_FORMAT", "json"}});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"transport\": "));
  CliResult table = Cli({"whoami", "--output", "table"}, "",
                        {{"ZLAYER_SECRETS_FORMAT", "json"}});
  EXPECT_THAT(table.out, HasSubstr("Transport: "));

  if (GetParam() != Transport::kTls) return;
  // Only --tls-server-name (which has no variable) on the command line.
  std::map<std::string, std::string> env;
  const std::vector<std::string>& base = daemon_->cli_args();
  for (size_t i = 0; i + 1 < base.size(); i += 2) {
    if (base[i] == "--address") env["ZLAYER_SECRETS_ADDR"] = base[i + 1];
    if (base[i] == "--tls-ca") env["ZLAYER_SECRETS_CACERT"] = base[i + 1];
    if (base[i] == "--api-key-file") {
      env["ZLAYER_SECRETS_API_KEY_FILE"] = base[i + 1];
    }
  }
  ASSERT_EQ(env.size(), 3u);
  CliResult r = RunWithEnvironment({Runfile("client/zlayer-secret"),
                                    "--tls-server-name", "localhost", "whoami"},
                                   "", env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Subject:   apikey:admin"));
}

// The binary: a top-level --version, and --help listing the exit codes.
TEST_P(CliE2eTest, VersionAndHelpNeedNoDaemon) {
  CliResult v =
      RunWithEnvironment({Runfile("client/zlayer-secret"), "--version"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out, "zlayer-secret 0.1.0\n");
  CliResult h = RunWithEnvironment({Runfile("client/zlayer-secret"), "--help"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_THAT(h.out, HasSubstr("  3  not found\n"));
  EXPECT_THAT(h.out, HasSubstr("  6  daemon not reachable"));
  CliResult mixed = RunWithEnvironment(
      {Runfile("client/zlayer-secret"), "--version", "get", "db"});
  EXPECT_EQ(mixed.exit_code, kExitBadInput);
}

// The TLS daemon refuses a caller without an API key, and a wrong one.
TEST_P(CliE2eTest, TlsWithoutAValidApiKeyIsRefused) {
  if (GetParam() != Transport::kTls) GTEST_SKIP() << "TLS only";
  std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
  const std::vector<std::string>& base = daemon_->cli_args();
  // Everything but --api-key-file.
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i] == "--api-key-file") {
      ++i;
      continue;
    }
    argv.push_back(base[i]);
  }
  std::vector<std::string> anonymous = argv;
  anonymous.push_back("ls");
  CliResult r = RunWithEnvironment(anonymous);
  ExpectOneLineError(r, kExitPermissionDenied);
  EXPECT_THAT(r.err, HasSubstr("API key"));
  std::string wrong = TempPath("wrong.key");
  WriteFile(wrong, "zs_admin.not-the-key\n");
  argv.insert(argv.end(), {"--api-key-file", wrong, "ls"});
  ExpectOneLineError(RunWithEnvironment(argv), kExitPermissionDenied);
}

ZS_INSTANTIATE_FOR_TRANSPORTS(CliE2eTest);

}  // namespace
}  // namespace zlayer::secrets
