// End to end: zlayer-secret's --output formats and binary values against the
// real daemon, over the Unix socket and over TLS. The JSON of every read
// verb is parsed with core/format/json.h and its documented fields checked
// (docs/cli.md); binary values make a byte-exact round trip.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/format/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using CliResult = testing::ProcessResult;
using testing::Runfile;
using testing::RunWithEnvironment;

using ::testing::HasSubstr;

// Every byte value, and a trailing newline that must survive.
std::string AllBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes.push_back('\n');
  return bytes;
}

class CliOutputE2eTest : public testing::TransportTest {
 protected:
  // zlayer-secret with the options that reach the daemon, in this test's
  // own deployment scope, then `args`.
  CliResult Cli(const std::vector<std::string>& args,
                const std::string& input = "") {
    std::vector<std::string> argv = {Runfile("client/zlayer-secret")};
    argv.insert(argv.end(), daemon_->cli_args().begin(),
                daemon_->cli_args().end());
    argv.push_back("--deployment");
    // "Test/unix" -> "Test-unix": a scope of its own per test and transport.
    argv.push_back(absl::StrReplaceAll(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        {{"/", "-"}}));
    argv.insert(argv.end(), args.begin(), args.end());
    return RunWithEnvironment(argv, input);
  }

  // Runs `args` with -o json, expects success and parses the output.
  JsonValue CliJson(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    absl::StatusOr<JsonValue> json = ParseJson(r.out);
    EXPECT_TRUE(json.ok()) << json.status() << "\n" << r.out;
    return json.ok() ? *std::move(json) : JsonValue();
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = daemon_->Path(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
  }
};

TEST_P(CliOutputE2eTest, BinaryValueRoundTripsByteForByte) {
  const std::string bytes = AllBytes();
  const std::string file = WriteFile("all-bytes.bin", bytes);
  CliResult set = Cli({"create", "blob", "--from-file", file});
  ASSERT_EQ(set.exit_code, 0) << set.err;

  CliResult raw = Cli({"get", "blob", "--reveal", "-o", "raw"});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, bytes);

  // JSON cannot hold these bytes as a string: value_base64.
  JsonValue json = CliJson({"get", "blob", "--reveal"});
  ASSERT_TRUE(json.is_object());
  ASSERT_NE(json.Find("value_base64"), nullptr);
  EXPECT_EQ(json.Find("value"), nullptr);
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(json.Find("value_base64")->string_value(),
                                   &decoded));
  EXPECT_EQ(decoded, bytes);
  EXPECT_EQ(json.Find("name")->string_value(), "blob");
  EXPECT_EQ(
      json.Find("version")->uint_value() + json.Find("version")->int_value(),
      1u);

  // Standard input as `--from-file -`, binary too.
  const std::string other = std::string("\x00\xff\x80zs\r\n", 7);
  CliResult rotate = Cli({"rotate", "blob", "--from-file", "-"}, other);
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  EXPECT_EQ(Cli({"get", "blob", "--reveal", "--no-newline"}).out, other);
}

TEST_P(CliOutputE2eTest, TextValuesNoNewlineAndExact) {
  ASSERT_EQ(Cli({"create", "pw", "--from-stdin"}, "hunter2\n").exit_code, 0);
  EXPECT_EQ(Cli({"get", "pw", "--reveal"}).out, "hunter2\n");
  EXPECT_EQ(Cli({"get", "pw", "--reveal", "--no-newline"}).out, "hunter2");
  EXPECT_EQ(Cli({"get", "pw", "--reveal", "-o", "raw"}).out, "hunter2");
  JsonValue json = CliJson({"get", "pw", "--reveal"});
  ASSERT_NE(json.Find("value"), nullptr);
  EXPECT_EQ(json.Find("value")->string_value(), "hunter2");
  // --exact keeps the newline a text file ends with.
  ASSERT_EQ(Cli({"set", "pem", "--from-stdin", "--exact"}, "-----END-----\n")
                .exit_code,
            0);
  EXPECT_EQ(Cli({"get", "pem", "--reveal", "-o", "raw"}).out,
            "-----END-----\n");
}

// Every read verb's JSON parses and holds the documented fields; every
// write verb the issue named answers in JSON too.
TEST_P(CliOutputE2eTest, JsonOnEveryVerb) {
  ASSERT_EQ(Cli({"create", "a", "--value", "1"}).exit_code, 0);
  ASSERT_EQ(Cli({"set", "a", "--value", "2"}).exit_code, 0);
  ASSERT_EQ(Cli({"create", "b", "--value", "3"}).exit_code, 0);

  JsonValue rotated = CliJson({"rotate", "a", "--value", "3"});
  EXPECT_EQ(rotated.Find("previous_version")->uint_value() +
                rotated.Find("previous_version")->int_value(),
            2u);
  // -o json exports a JSON object (no --format needed).
  JsonValue exported = CliJson({"export"});
  ASSERT_TRUE(exported.is_object());
  EXPECT_EQ(exported.Find("a")->string_value(), "3");

  JsonValue ls = CliJson({"ls"});
  ASSERT_TRUE(ls.is_array());
  ASSERT_EQ(ls.elements().size(), 2u);
  EXPECT_EQ(ls.elements()[0].Find("name")->string_value(), "a");
  for (const char* field : {"scope", "version", "created_at", "updated_at"}) {
    EXPECT_NE(ls.elements()[0].Find(field), nullptr) << field;
  }

  JsonValue meta = CliJson({"get", "a"});
  EXPECT_EQ(meta.Find("name")->string_value(), "a");
  EXPECT_EQ(meta.Find("value"), nullptr);  // never without --reveal

  JsonValue versions = CliJson({"versions", "a"});
  ASSERT_TRUE(versions.is_object() || versions.is_array()) << "versions";

  JsonValue whoami = CliJson({"whoami"});
  EXPECT_NE(whoami.Find("transport"), nullptr);

  JsonValue rm = CliJson({"rm", "b"});
  EXPECT_EQ(rm.Find("name")->string_value(), "b");
  EXPECT_TRUE(rm.Find("deleted")->bool_value());
  JsonValue undelete = CliJson({"undelete", "b"});
  EXPECT_EQ(undelete.Find("name")->string_value(), "b");
  JsonValue destroy = CliJson({"destroy", "b", "--yes"});
  EXPECT_TRUE(destroy.Find("destroyed")->bool_value());

  const std::string env_file = WriteFile("import.env", "C=4\na=2\n");
  JsonValue import = CliJson({"import", "--file", env_file, "--dry-run"});
  EXPECT_TRUE(import.Find("dry_run")->bool_value());
  EXPECT_EQ(import.Find("created")->uint_value() +
                import.Find("created")->int_value(),
            1u);
  ASSERT_TRUE(import.Find("changes")->is_array());
  EXPECT_EQ(import.Find("changes")->elements().size(), 2u);
  EXPECT_TRUE(import.Find("errors")->is_array());
}

TEST_P(CliOutputE2eTest, PlainIsOneNamePerLine) {
  ASSERT_EQ(Cli({"create", "x1", "--value", "1"}).exit_code, 0);
  ASSERT_EQ(Cli({"create", "x2", "--value", "1"}).exit_code, 0);
  ASSERT_EQ(Cli({"rotate", "x2", "--value", "2"}).exit_code, 0);
  EXPECT_EQ(Cli({"ls", "-o", "plain"}).out, "x1\nx2\n");
  EXPECT_EQ(Cli({"versions", "x2", "-o", "plain"}).out, "2\n1\n");
  CliResult raw_ls = Cli({"ls", "-o", "raw"});
  EXPECT_EQ(raw_ls.exit_code, 2);
  EXPECT_THAT(raw_ls.err, HasSubstr("--output raw applies to 'get --reveal'"));
}

TEST_P(CliOutputE2eTest, EnvironmentsAndRemovalInJson) {
  const std::string name =
      absl::StrCat("out-", testing::TransportName(GetParam()));
  JsonValue created = CliJson({"env", "create", name});
  ASSERT_NE(created.Find("id"), nullptr);
  JsonValue list = CliJson({"env", "ls"});
  ASSERT_TRUE(list.is_array());
  bool found = false;
  for (const JsonValue& e : list.elements()) {
    found |= e.Find("name")->string_value() == name;
  }
  EXPECT_TRUE(found);
  CliResult plain = Cli({"env", "ls", "-o", "plain"});
  EXPECT_THAT(plain.out, HasSubstr(absl::StrCat(name, "\n")));
  JsonValue removed = CliJson({"env", "rm", name});
  EXPECT_EQ(removed.Find("name")->string_value(), name);
  EXPECT_TRUE(removed.Find("removed")->bool_value());
}

// Help, completion and man run without a daemon.
TEST_P(CliOutputE2eTest, HelpCompletionAndManNeedNoDaemon) {
  const std::string cli = Runfile("client/zlayer-secret");
  CliResult help = RunWithEnvironment({cli, "get", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_THAT(help.out, HasSubstr("Usage: zlayer-secret get NAME"));
  EXPECT_THAT(help.out, HasSubstr("--no-newline"));
  CliResult typo = RunWithEnvironment({cli, "get", "db", "--revael"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("did you mean '--reveal'?"));
  CliResult bash = RunWithEnvironment({cli, "completion", "bash"});
  EXPECT_EQ(bash.exit_code, 0);
  EXPECT_THAT(bash.out, HasSubstr("complete -F _zlayer_secret zlayer-secret"));
  CliResult man = RunWithEnvironment({cli, "man"});
  EXPECT_EQ(man.exit_code, 0);
  EXPECT_THAT(man.out, HasSubstr(".TH ZLAYER\\-SECRET 1"));
}

ZS_INSTANTIATE_FOR_TRANSPORTS(CliOutputE2eTest);

}  // namespace
}  // namespace zlayer::secrets
