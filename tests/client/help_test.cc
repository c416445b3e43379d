// The texts made from zlayer-secret's verb and option tables: every verb's
// --help, the overview, the completion scripts (loaded by a real bash and
// checked with zsh -n / fish -n) and the man page (checked by groff).
#include "client/cli/help.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/cli/args.h"
#include "client/cli/verbs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct ShellResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh, stdout and stderr together.
ShellResult Shell(const std::string& command) {
  ShellResult r;
  FILE* pipe = ::popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    r.output.append(buffer, n);
  }
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool HaveProgram(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

std::string WriteTemp(const std::string& dir, const std::string& name,
                      const std::string& content) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(VerbTablesTest, AnOptionNameHasOneKindInEveryTable) {
  // The parser reads `--opt VALUE` before it knows the verb.
  std::map<std::string, ValueKind> kinds;
  auto check = [&kinds](const OptionSpec& o) {
    auto [it, inserted] = kinds.emplace(std::string(o.name), o.kind);
    EXPECT_TRUE(inserted || (it->second == ValueKind::kFlag) ==
                                (o.kind == ValueKind::kFlag))
        << "--" << o.name << " is a flag in one table, not in another";
    EXPECT_FALSE(o.help.empty()) << "--" << o.name;
    EXPECT_NE(o.set, nullptr) << "--" << o.name;
    EXPECT_EQ(o.kind == ValueKind::kFlag, o.value_name.empty()) << o.name;
  };
  for (const OptionSpec& o : GlobalOptionSpecs()) check(o);
  for (const VerbSpec& v : VerbSpecs()) {
    for (const OptionSpec& o : v.options) check(o);
  }
}

TEST(VerbTablesTest, ScriptVariablesAreNamedInTheTable) {
  std::set<std::string> vars;
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    if (!o.env_var.empty()) vars.insert(std::string(o.env_var));
  }
  for (absl::string_view v :
       {kAddrEnvVar, kCaCertEnvVar, kApiKeyFileEnvVar, kFormatEnvVar,
        absl::string_view("ZLAYER_SECRETS_SOCKET")}) {
    EXPECT_EQ(vars.count(std::string(v)), 1u) << v;
  }
}

TEST(VerbHelpTest, EveryVerbHasItsOwnHelpWithItsOptionsAndExamples) {
  for (const VerbSpec& v : VerbSpecs()) {
    SCOPED_TRACE(v.name);
    // `VERB --help` and `help VERB` both ask for it.
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{std::string(v.name), "--help"},
                                               {"help", std::string(v.name)},
                                               {std::string(v.name), "-h"}}) {
      absl::StatusOr<Command> cmd = ParseCommandLine(args);
      ASSERT_TRUE(cmd.ok()) << cmd.status();
      EXPECT_EQ(cmd->verb, "help");
      if (v.name != "help") {
        ASSERT_EQ(cmd->positionals.size(), 1u);
        EXPECT_EQ(cmd->positionals[0], v.name);
      }
    }
    std::string help = VerbHelp(v);
    EXPECT_TRUE(
        absl::StartsWith(help, absl::StrCat("Usage: zlayer-secret ", v.name)))
        << help;
    for (const OptionSpec& o : v.options) {
      EXPECT_THAT(help, HasSubstr(absl::StrCat("--", o.name))) << help;
    }
    EXPECT_FALSE(v.examples.empty());
    EXPECT_THAT(help, HasSubstr("\nExamples:\n  zlayer-secret "));
    for (absl::string_view line : absl::StrSplit(help, '\n')) {
      EXPECT_LE(line.size(), 80u) << line;
    }
  }
  // One verb's help is not another's.
  EXPECT_THAT(VerbHelp(*FindVerb("get")), HasSubstr("--no-newline"));
  EXPECT_THAT(VerbHelp(*FindVerb("ls")),
              ::testing::Not(HasSubstr("--no-newline")));
}

TEST(VerbHelpTest, OverviewListsEveryVerbGlobalOptionAndExitCode) {
  std::string usage = UsageText();
  for (const VerbSpec& v : VerbSpecs()) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("\n  ", v.name))) << v.name;
  }
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("--", o.name))) << o.name;
  }
  EXPECT_THAT(usage, HasSubstr("--version"));
  EXPECT_THAT(usage, HasSubstr("-o, --output FORMAT"));
  EXPECT_THAT(usage, HasSubstr("  3  not found\n"));
  EXPECT_THAT(usage, HasSubstr("  6  daemon not reachable"));
}

TEST(CompletionTest, UnknownShellHasNoScript) {
  EXPECT_THAT(CompletionScript("tcsh"), IsEmpty());
  absl::StatusOr<Command> cmd = ParseCommandLine({"completion", "tcsh"});
  ASSERT_FALSE(cmd.ok());
  EXPECT_THAT(cmd.status().message(), HasSubstr("bash, zsh or fish"));
}

// The bash script, loaded by bash: completing words gives the verbs, the
// verb's own options, sub-commands and choices, all from the tables.
TEST(CompletionTest, BashLoadsTheScriptAndCompletesFromTheTables) {
  ASSERT_TRUE(HaveProgram("/bin/bash"));
  const std::string dir = testing::MakeTempDir();
  const std::string script =
      WriteTemp(dir, "zs.bash", CompletionScript("bash"));
  ShellResult syntax = Shell(absl::StrCat("/bin/bash -n ", script));
  ASSERT_EQ(syntax.exit_code, 0) << syntax.output;

  auto complete = [&](const std::string& words) {
    const std::string driver =
        WriteTemp(dir, "driver.bash",
                  absl::StrCat("source ", script,
                               "\n"
                               "COMP_WORDS=(",
                               words,
                               ")\n"
                               "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
                               "_zlayer_secret\n"
                               "echo \"${COMPREPLY[*]}\"\n"));
    ShellResult r = Shell(absl::StrCat("/bin/bash ", driver));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  EXPECT_EQ(complete("zlayer-secret ge"), "get\n");
  EXPECT_EQ(complete("zlayer-secret get db --re"), "--reveal\n");
  EXPECT_EQ(complete("zlayer-secret get db --no"), "--no-newline\n");
  // --socket's value is skipped when looking for the verb.
  EXPECT_EQ(complete("zlayer-secret --socket /x env ''"), "ls create rm\n");
  EXPECT_EQ(complete("zlayer-secret ls -o ''"), "table json plain raw\n");
  EXPECT_EQ(complete("zlayer-secret export --format ''"), "env json\n");
  EXPECT_EQ(complete("zlayer-secret completion ''"), "bash zsh fish\n");
  // ls has no --reveal.
  EXPECT_EQ(complete("zlayer-secret ls --rev"), "\n");
  // A new row shows up without touching the script code: every option of
  // every verb completes.
  for (const VerbSpec& v : VerbSpecs()) {
    for (const OptionSpec& o : v.options) {
      EXPECT_THAT(
          complete(absl::StrCat("zlayer-secret ", v.name, " --", o.name)),
          HasSubstr(absl::StrCat("--", o.name)))
          << v.name;
    }
  }
}

TEST(CompletionTest, ZshAndFishScriptsParse) {
  const std::string dir = testing::MakeTempDir();
  bool checked = false;
  if (HaveProgram("/usr/bin/zsh") || HaveProgram("/bin/zsh")) {
    const std::string script =
        WriteTemp(dir, "_zlayer_secret", CompletionScript("zsh"));
    ShellResult r = Shell(absl::StrCat("zsh -n ", script));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, IsEmpty());
    checked = true;
  }
  if (HaveProgram("/usr/bin/fish")) {
    const std::string script =
        WriteTemp(dir, "zs.fish", CompletionScript("fish"));
    ShellResult r = Shell(absl::StrCat("/usr/bin/fish -n ", script));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, IsEmpty());
    checked = true;
  }
  if (!checked) GTEST_SKIP() << "neither zsh nor fish is installed";
}

// groff reads the page without a warning (-ww: every warning) and it holds
// every verb and option.
TEST(ManPageTest, GroffRendersItWithoutWarnings) {
  ASSERT_TRUE(HaveProgram("/usr/bin/groff"))
      << "groff-base is in ./x setup's packages";
  const std::string dir = testing::MakeTempDir();
  const std::string page = ManPage();
  const std::string path = WriteTemp(dir, "zlayer-secret.1", page);
  ShellResult r = Shell(absl::StrCat("/usr/bin/groff -man -z -ww ", path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, IsEmpty());
  ShellResult text =
      Shell(absl::StrCat("/usr/bin/groff -man -Tutf8 -P-cbou ", path));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  for (const VerbSpec& v : VerbSpecs()) {
    // roff writes a verb's '-' as "\-" (client-key).
    EXPECT_THAT(page,
                HasSubstr(absl::StrCat(
                    ".SS \"", absl::StrReplaceAll(v.name, {{"-", "\\-"}}))))
        << v.name;
    for (const OptionSpec& o : v.options) {
      // Rendered, the dashes are plain text again.
      EXPECT_THAT(text.output, HasSubstr(absl::StrCat("--", o.name))) << o.name;
    }
  }
  EXPECT_THAT(text.output, HasSubstr("EXIT STATUS"));
  EXPECT_THAT(text.output, HasSubstr("ZLAYER_SECRETS_FORMAT"));
}

}  // namespace
}  // namespace zlayer::secrets::cli
