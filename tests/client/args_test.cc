// Argument parsing of zlayer-secret: verbs, options, value-source rules and
// usage errors (pure functions, no daemon).
#include "client/cli/args.h"

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args);
}

std::string UsageError(std::vector<std::string> args) {
  absl::StatusOr<Command> cmd = Parse(std::move(args));
  EXPECT_FALSE(cmd.ok());
  if (cmd.ok()) return "";
  EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(cmd.status().message());
}

TEST(ArgsTest, AliasesFoldIntoCanonicalVerbs) {
  EXPECT_EQ(Parse({"list"})->verb, "ls");
  EXPECT_EQ(Parse({"remove", "x"})->verb, "rm");
}

TEST(ArgsTest, OptionsMayComeBeforeOrAfterTheVerbInBothSpellings) {
  absl::StatusOr<Command> cmd =
      Parse({"--socket", "/tmp/s.sock", "get", "db", "--reveal", "--version=3",
             "--field", "password", "--output=json"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->verb, "get");
  EXPECT_THAT(cmd->positionals, ElementsAre("db"));
  EXPECT_EQ(cmd->global.socket, "/tmp/s.sock");
  EXPECT_TRUE(cmd->reveal);
  EXPECT_EQ(cmd->version, 3u);
  EXPECT_EQ(cmd->field, "password");
  EXPECT_EQ(cmd->global.output, OutputFormat::kJson);
}

TEST(ArgsTest, DefaultsAreTheDefaultDeploymentTableAndFiveSeconds) {
  absl::StatusOr<Command> cmd = Parse({"ls"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->global.deployment, "default");
  EXPECT_EQ(cmd->global.output, OutputFormat::kTable);
  EXPECT_EQ(cmd->global.timeout, absl::Seconds(5));
  EXPECT_FALSE(cmd->global.wait_for_ready);
}

TEST(ArgsTest, ValueSourceNoneUsesUpstreamMessage) {
  EXPECT_EQ(UsageError({"create", "db"}),
            "Provide exactly one of --value / --from-stdin / --from-file / "
            "--random");
}

TEST(ArgsTest, ValueSourceSeveralUsesUpstreamMessage) {
  EXPECT_EQ(UsageError({"set", "db", "--from-stdin", "--random"}),
            "--value, --from-stdin, --from-file, --random are mutually "
            "exclusive");
  EXPECT_EQ(UsageError({"rotate", "db", "--value", "a", "--from-file", "f"}),
            "--value, --from-stdin, --from-file, --random are mutually "
            "exclusive");
}

TEST(ArgsTest, EachValueSourceIsRecognised) {
  EXPECT_EQ(Parse({"create", "db", "--value", ""})->value->kind,
            ValueSource::Kind::kValue);
  EXPECT_EQ(Parse({"create", "db", "--from-file", "f"})->value->text, "f");
  EXPECT_EQ(Parse({"create", "db", "--from-stdin"})->value->kind,
            ValueSource::Kind::kStdin);
  absl::StatusOr<Command> random = Parse({"create", "db", "--random"});
  EXPECT_EQ(random->value->kind, ValueSource::Kind::kRandom);
  EXPECT_EQ(random->value->random_length, 32u);
  EXPECT_EQ(Parse({"create", "db", "--random", "--random-length", "8"})
                ->value->random_length,
            8u);
}

TEST(ArgsTest, RandomLengthWithoutRandomIsAcceptedAndIgnored) {
  absl::StatusOr<Command> cmd =
      Parse({"create", "db", "--value", "v", "--random-length", "8"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->value->kind, ValueSource::Kind::kValue);
}

TEST(ArgsTest, RandomLengthMustBePositive) {
  EXPECT_THAT(UsageError({"create", "db", "--random", "--random-length", "0"}),
              HasSubstr("--random-length"));
}

TEST(ArgsTest, ValueFlagsOnlyApplyToWriteVerbs) {
  EXPECT_THAT(UsageError({"get", "db", "--value", "x"}),
              HasSubstr("does not apply to 'get'"));
}

TEST(ArgsTest, CreateIsAnUpsertUnlessCheckAndSetIsAsked) {
  EXPECT_FALSE(Parse({"create", "db", "--random"})->expected_version);
  EXPECT_EQ(
      *Parse({"create", "db", "--random", "--create-only"})->expected_version,
      0u);
  EXPECT_EQ(
      *Parse({"set", "db", "--random", "--if-version", "4"})->expected_version,
      4u);
  EXPECT_THAT(UsageError({"set", "db", "--random", "--if-version", "4",
                          "--create-only"}),
              HasSubstr("mutually exclusive"));
}

TEST(ArgsTest, BlankSecretNameIsRejected) {
  EXPECT_EQ(UsageError({"set", "  ", "--random"}),
            "Secret name cannot be empty");
}

TEST(ArgsTest, UnknownCommandsAndOptionsAreUsageErrors) {
  EXPECT_THAT(UsageError({"frobnicate"}), HasSubstr("unknown command"));
  EXPECT_THAT(UsageError({"ls", "--bogus"}), HasSubstr("unknown option"));
  EXPECT_THAT(UsageError({"ls", "-x"}), HasSubstr("unknown option"));
  EXPECT_THAT(UsageError({}), HasSubstr("missing command"));
  EXPECT_THAT(UsageError({"get"}), HasSubstr("needs NAME"));
  EXPECT_THAT(UsageError({"get", "a", "b"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(UsageError({"ls", "--socket"}), HasSubstr("needs a value"));
  EXPECT_THAT(UsageError({"ls", "--wait-for-ready=yes"}),
              HasSubstr("takes no value"));
}

TEST(ArgsTest, OutputAndFormatAreChecked) {
  EXPECT_EQ(UsageError({"ls", "--output", "yaml"}),
            "Unsupported --output 'yaml' (expected 'table', 'json', 'plain' or "
            "'raw')");
  EXPECT_EQ(UsageError({"export", "--format", "xml"}),
            "Unsupported --format 'xml' (expected 'env' or 'json')");
  EXPECT_EQ(Parse({"export", "--format", "json"})->format, "json");
  EXPECT_EQ(Parse({"export"})->format, "env");
}

TEST(ArgsTest, GrantTakesSubjectTargetAndLevel) {
  auto env = Parse({"grant", "1000", "prod", " Execute "});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->subject, "uid:1000");
  EXPECT_EQ(env->positionals[1], "prod");
  EXPECT_EQ(env->positionals[2], "execute");
  auto scope =
      Parse({"grant", "role:ci", "--scope", "prod", "--name", "db", "read"});
  ASSERT_TRUE(scope.ok()) << scope.status();
  EXPECT_EQ(scope->subject, "role:ci");
  EXPECT_EQ(scope->scope, "prod");
  EXPECT_EQ(scope->secret_name, "db");
  EXPECT_EQ(UsageError({"grant", "u", "e", "none"}),
            "Invalid subject 'u' (expected uid:N, gid:N, role:NAME, apikey:ID, "
            "user:ID, group:ID or a uid number)");
  EXPECT_EQ(UsageError({"grant", "uid:1", "e", "None"}),
            "Invalid permission level 'none' (expected 'read', 'execute', or "
            "'write')");
  EXPECT_EQ(UsageError({"grant", "uid:1", "read", "--name", "x"}),
            "--name needs --scope");
}

TEST(ArgsTest, RevokeAndPermissionsForms) {
  EXPECT_EQ(Parse({"revoke", "gid:100", "prod"})->subject, "gid:100");
  EXPECT_EQ(Parse({"revoke", "--id", "abc"})->grant_id, "abc");
  EXPECT_EQ(Parse({"permissions", "--subject", "7"})->subject, "uid:7");
  EXPECT_EQ(Parse({"permissions", "--scope", "prod"})->scope, "prod");
  EXPECT_EQ(UsageError({"permissions"}),
            "'permissions' needs ENV (or --scope S, or --subject X)");
}

TEST(ArgsTest, ApiKeyAndCredentialSubCommands) {
  auto create =
      Parse({"apikey", "create", "ci", "--role", "a,b", "--role", "c"});
  ASSERT_TRUE(create.ok()) << create.status();
  EXPECT_THAT(create->roles, ::testing::ElementsAre("a", "b", "c"));
  EXPECT_EQ(UsageError({"apikey", "frob"}),
            "unknown 'apikey' sub-command 'frob' (expected create, rotate, ls, "
            "roles or rm)");
  EXPECT_EQ(Parse({"apikey", "rotate", "ci"})->positionals,
            (std::vector<std::string>{"rotate", "ci"}));
  EXPECT_EQ(UsageError({"apikey", "rotate"}), "'apikey rotate' needs ID");
  EXPECT_EQ(Parse({"key", "rotate", "--from-file", "k"})->value->kind,
            ValueSource::Kind::kFile);
  EXPECT_FALSE(Parse({"key", "rotate"})->value.has_value());
  EXPECT_EQ(UsageError({"key", "rotate", "--random"}),
            "option '--random' does not apply to 'key'; see 'zlayer-secret key "
            "--help'");
  EXPECT_EQ(UsageError({"key"}),
            "'key' needs the sub-command 'rotate' or 'rekey' and nothing else");
  auto reg = Parse({"credential", "registry", "add", "--registry", "ghcr.io",
                    "--username", "bot", "--from-stdin"});
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->value->kind, ValueSource::Kind::kStdin);
  EXPECT_EQ(UsageError({"credential", "registry", "add", "--registry", "r",
                        "--username", "u"}),
            "Provide exactly one of --from-file / --from-stdin / --value for "
            "the credential's secret");
  EXPECT_EQ(UsageError({"credential", "git", "add", "--label", "x", "--host",
                        "h", "--random"}),
            "option '--random' does not apply to 'credential'; see "
            "'zlayer-secret credential --help'");
}

TEST(ArgsTest, DestroyNeedsYes) {
  EXPECT_THAT(UsageError({"destroy", "db"}), HasSubstr("--yes"));
  EXPECT_TRUE(Parse({"destroy", "db", "--yes"}).ok());
}

TEST(ArgsTest, GetVersionAndFieldNeedReveal) {
  EXPECT_THAT(UsageError({"get", "db", "--field", "f"}), HasSubstr("--reveal"));
  EXPECT_THAT(UsageError({"get", "db", "--version", "0"}),
              HasSubstr("at least 1"));
}

TEST(ArgsTest, TopLevelVersionPrintsTheVersionAndGetVersionStillPicksOne) {
  absl::StatusOr<Command> top = Parse({"--version"});
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->verb, "version");
  absl::StatusOr<Command> with_socket =
      Parse({"--socket", "/tmp/s.sock", "--version"});
  ASSERT_TRUE(with_socket.ok()) << with_socket.status();
  EXPECT_EQ(with_socket->verb, "version");

  absl::StatusOr<Command> get =
      Parse({"get", "db", "--reveal", "--version", "2"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->verb, "get");
  EXPECT_EQ(get->version, 2u);
  absl::StatusOr<Command> get_eq =
      Parse({"get", "db", "--reveal", "--version=3"});
  ASSERT_TRUE(get_eq.ok()) << get_eq.status();
  EXPECT_EQ(get_eq->version, 3u);

  EXPECT_THAT(UsageError({"--version", "get", "db"}),
              HasSubstr("get --version N"));
  EXPECT_THAT(UsageText(), HasSubstr("--version"));
}

TEST(ArgsTest, ScriptVariablesSetAddressCaApiKeyFileAndFormat) {
  ScriptEnvironment env = {{"ZLAYER_SECRETS_ADDR", "secrets.internal:7443"},
                           {"ZLAYER_SECRETS_CACERT", "/etc/zs/ca.pem"},
                           {"ZLAYER_SECRETS_API_KEY_FILE", "/run/zs/key"},
                           {"ZLAYER_SECRETS_FORMAT", "json"}};
  absl::StatusOr<Command> cmd = ParseCommandLine({"ls"}, env);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.address, "secrets.internal:7443");
  EXPECT_EQ(cmd->global.tls_ca_file, "/etc/zs/ca.pem");
  EXPECT_EQ(cmd->global.api_key_file, "/run/zs/key");
  EXPECT_EQ(cmd->global.output, OutputFormat::kJson);
}

TEST(ArgsTest, FlagsWinOverScriptVariables) {
  ScriptEnvironment env = {{"ZLAYER_SECRETS_ADDR", "secrets.internal:7443"},
                           {"ZLAYER_SECRETS_CACERT", "/etc/zs/ca.pem"},
                           {"ZLAYER_SECRETS_API_KEY_FILE", "/run/zs/key"},
                           {"ZLAYER_SECRETS_FORMAT", "json"}};
  absl::StatusOr<Command> cmd =
      ParseCommandLine({"ls", "--address", "other:1", "--tls-ca", "/ca2",
                        "--api-key-file", "/k2", "--output", "table"},
                       env);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->global.address, "other:1");
  EXPECT_EQ(cmd->global.tls_ca_file, "/ca2");
  EXPECT_EQ(cmd->global.api_key_file, "/k2");
  EXPECT_EQ(cmd->global.output, OutputFormat::kTable);

  // --socket beats ZLAYER_SECRETS_ADDR instead of clashing with it.
  absl::StatusOr<Command> socket =
      ParseCommandLine({"--socket", "/tmp/s.sock", "ls"}, env);
  ASSERT_TRUE(socket.ok()) << socket.status();
  EXPECT_EQ(socket->global.socket, "/tmp/s.sock");
  EXPECT_EQ(socket->global.address, "");
  // Two flags still clash.
  EXPECT_FALSE(
      ParseCommandLine({"--socket", "/s", "--address", "h:1", "ls"}, env).ok());
}

TEST(ArgsTest, BadFormatVariableIsAUsageErrorNamingIt) {
  absl::StatusOr<Command> cmd =
      ParseCommandLine({"ls"}, {{"ZLAYER_SECRETS_FORMAT", "yaml"}});
  ASSERT_FALSE(cmd.ok());
  EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cmd.status().message(), HasSubstr("ZLAYER_SECRETS_FORMAT"));
  // --output fixes it; --help and --version never look.
  EXPECT_TRUE(ParseCommandLine({"ls", "--output", "json"},
                               {{"ZLAYER_SECRETS_FORMAT", "yaml"}})
                  .ok());
  EXPECT_TRUE(
      ParseCommandLine({"--version"}, {{"ZLAYER_SECRETS_FORMAT", "yaml"}})
          .ok());
}

TEST(ArgsTest, WithoutVariablesNothingChanges) {
  absl::StatusOr<Command> cmd = ParseCommandLine({"ls"}, {});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->global.address, "");
  EXPECT_EQ(cmd->global.tls_ca_file, "");
  EXPECT_EQ(cmd->global.api_key_file, "");
  EXPECT_EQ(cmd->global.output, OutputFormat::kTable);
}

TEST(ArgsTest, RollbackTakesNameAndVersion) {
  absl::StatusOr<Command> cmd = Parse({"rollback", "db", "2"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->version, 2u);
  EXPECT_THAT(UsageError({"rollback", "db", "two"}), HasSubstr("VERSION"));
  EXPECT_THAT(UsageError({"rollback", "db"}), HasSubstr("NAME VERSION"));
}

TEST(ArgsTest, RunTakesTheCommandAfterDoubleDash) {
  absl::StatusOr<Command> cmd =
      Parse({"run", "--env-file", ".env", "--service", "api", "--", "sh", "-c",
             "echo --value"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_THAT(cmd->exec_argv, ElementsAre("sh", "-c", "echo --value"));
  EXPECT_EQ(cmd->global.service, "api");
  EXPECT_THAT(UsageError({"run", "--env-file", ".env"}), HasSubstr("'--'"));
  EXPECT_THAT(UsageError({"run", "--", "true"}), HasSubstr("--env-file"));
  EXPECT_THAT(UsageError({"ls", "--", "true"}), HasSubstr("after '--'"));
}

TEST(ArgsTest, WatchTakesACommandAndHowToApplyChanges) {
  absl::StatusOr<Command> cmd =
      Parse({"watch", "--env-file", ".env", "--signal", "sighup",
             "--restart-grace", "3s", "--debounce", "200ms", "--", "nginx"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_THAT(cmd->exec_argv, ElementsAre("nginx"));
  EXPECT_EQ(cmd->watch_signal, SIGHUP);
  EXPECT_EQ(cmd->restart_grace, absl::Seconds(3));
  EXPECT_EQ(cmd->debounce, absl::Milliseconds(200));
  absl::StatusOr<Command> restart =
      Parse({"watch", "--env-file", ".env", "--", "./server", "--port", "1"});
  ASSERT_TRUE(restart.ok()) << restart.status();
  EXPECT_EQ(restart->watch_signal, 0);  // restart is the default
  EXPECT_EQ(restart->restart_grace, absl::Seconds(10));
  EXPECT_THAT(restart->exec_argv, ElementsAre("./server", "--port", "1"));
  // Without a command there is nothing to signal or restart.
  EXPECT_THAT(UsageError({"watch", "--env-file", ".env", "--signal", "HUP"}),
              HasSubstr("--signal needs a command after '--'"));
  EXPECT_THAT(UsageError({"watch", "--env-file", ".env", "--signal", "HUP",
                          "--restart", "--", "x"}),
              HasSubstr("mutually exclusive"));
  EXPECT_THAT(UsageError({"watch", "--env-file", ".env", "--signal", "KILL",
                          "--", "x"}),
              HasSubstr("Unsupported --signal 'KILL'"));
  EXPECT_THAT(UsageError({"watch", "--", "x"}), HasSubstr("--env-file"));
}

TEST(ArgsTest, CheckNeedsEnvFile) {
  EXPECT_THAT(UsageError({"check"}), HasSubstr("--env-file"));
  EXPECT_EQ(Parse({"check", "--env-file", "f", "--deployment", "shop"})
                ->global.deployment,
            "shop");
}

TEST(ArgsTest, EnvSubcommands) {
  EXPECT_THAT(Parse({"env", "ls"})->positionals, ElementsAre("ls"));
  absl::StatusOr<Command> create =
      Parse({"env", "create", "staging", "--description", "d"});
  ASSERT_TRUE(create.ok());
  EXPECT_EQ(create->description, "d");
  EXPECT_THAT(UsageError({"env"}), HasSubstr("sub-command"));
  EXPECT_THAT(UsageError({"env", "frob"}), HasSubstr("unknown 'env'"));
  EXPECT_THAT(UsageError({"env", "rm"}), HasSubstr("NAME|ID"));
}

TEST(ArgsTest, SocketAndAddressAreExclusive) {
  EXPECT_THAT(UsageError({"ls", "--socket", "s", "--address", "h:1"}),
              HasSubstr("mutually exclusive"));
}

TEST(ArgsTest, ImportNeedsFile) {
  EXPECT_THAT(UsageError({"import"}), HasSubstr("--file"));
  absl::StatusOr<Command> cmd =
      Parse({"import", "--file", "x.json", "--format", "json", "--dry-run"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_TRUE(cmd->dry_run);
}

TEST(ArgsTest, HelpWinsOverEverythingElse) {
  EXPECT_EQ(Parse({"--help"})->verb, "help");
  EXPECT_EQ(Parse({"create", "-h"})->verb, "help");
}

TEST(ArgsTest, TimeoutAcceptsDurationsAndSeconds) {
  EXPECT_EQ(*ParseTimeout("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseTimeout("2"), absl::Seconds(2));
  EXPECT_EQ(*ParseTimeout("1m"), absl::Minutes(1));
  EXPECT_FALSE(ParseTimeout("0").ok());
  EXPECT_FALSE(ParseTimeout("-1s").ok());
  EXPECT_FALSE(ParseTimeout("soon").ok());
  EXPECT_FALSE(ParseTimeout("inf").ok());
}

// Table-driven: each row is a command line and what it must parse to.
struct ParseCase {
  std::vector<std::string> args;
  std::string verb;
  OutputFormat output;
};

TEST(ArgsTest, OutputFormatsAndShortAliases) {
  const std::vector<ParseCase> cases = {
      {{"ls", "-o", "json"}, "ls", OutputFormat::kJson},
      {{"ls", "-ojson"}, "ls", OutputFormat::kJson},
      {{"-o", "plain", "ls"}, "ls", OutputFormat::kPlain},
      {{"versions", "db", "--output=plain"}, "versions", OutputFormat::kPlain},
      {{"get", "db", "--reveal", "-o", "raw"}, "get", OutputFormat::kRaw},
      {{"env", "ls", "--output", "table"}, "env", OutputFormat::kTable},
      {{"permissions", "prod", "-o", "json"},
       "permissions",
       OutputFormat::kJson},
      {{"apikey", "ls", "-o", "plain"}, "apikey", OutputFormat::kPlain},
  };
  for (const ParseCase& c : cases) {
    absl::StatusOr<Command> cmd = Parse(c.args);
    ASSERT_TRUE(cmd.ok()) << absl::StrJoin(c.args, " ") << ": " << cmd.status();
    EXPECT_EQ(cmd->verb, c.verb);
    EXPECT_EQ(cmd->global.output, c.output) << absl::StrJoin(c.args, " ");
  }
  EXPECT_EQ(Parse({"export", "-o", "json"})->format, "json");
  EXPECT_EQ(Parse({"export", "-o", "json", "--format", "env"})->format, "env");
  EXPECT_EQ(ParseCommandLine({"ls"}, {{"ZLAYER_SECRETS_FORMAT", "plain"}})
                ->global.output,
            OutputFormat::kPlain);
}

// Table-driven usage errors: each names what is wrong.
TEST(ArgsTest, UsageErrorsNameTheVerbAndSuggestTheClosestOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"get", "db", "--revael"},
       "unknown option '--revael' for 'get' (did you mean '--reveal'?); "
       "see 'zlayer-secret get --help'"},
      {{"create", "db", "--from-fille", "x"},
       "unknown option '--from-fille' for 'create' (did you mean "
       "'--from-file'?)"},
      {{"ls", "--outptu", "json"}, "(did you mean '--output'?)"},
      {{"ls", "--bogus"},
       "unknown option '--bogus' for 'ls'; see 'zlayer-secret ls "
       "--help'"},
      {{"ls", "-x"}, "unknown option '-x' for 'ls'"},
      {{"ls", "--reveal"}, "option '--reveal' does not apply to 'ls'"},
      {{"ls", "-o", "raw"}, "--output raw applies to 'get --reveal' only"},
      {{"get", "db", "-o", "raw"},
       "--output raw applies to 'get --reveal' only"},
      {{"get", "db", "--no-newline"}, "--no-newline needs --reveal"},
      {{"completion"}, "'completion' needs a shell: bash, zsh or fish"},
      {{"completion", "ksh"}, "unsupported shell 'ksh'"},
      {{"help", "nope"}, "unknown command 'nope'"},
      {{"man", "extra"}, "unexpected argument 'extra' for 'man'"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_THAT(UsageError(args), HasSubstr(message))
        << absl::StrJoin(args, " ");
  }
}

TEST(ArgsTest, GetRevealNoNewlineAndValueFromStdinDash) {
  absl::StatusOr<Command> get = Parse({"get", "db", "--reveal", "-n"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_TRUE(get->no_newline);
  absl::StatusOr<Command> set = Parse({"set", "db", "--from-file", "-"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->value->kind, ValueSource::Kind::kStdin);
  EXPECT_FALSE(set->value->exact);
  absl::StatusOr<Command> exact =
      Parse({"create", "cert", "--from-file", "c.pem", "--exact"});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->value->kind, ValueSource::Kind::kFile);
  EXPECT_TRUE(exact->value->exact);
}

TEST(ArgsTest, HelpVerbAndCompletionAndManNeedNoDaemonOptions) {
  absl::StatusOr<Command> help = Parse({"help", "get"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_EQ(help->verb, "help");
  EXPECT_THAT(help->positionals, ElementsAre("get"));
  // An alias asks for its verb's help.
  EXPECT_THAT(Parse({"list", "--help"})->positionals, ElementsAre("ls"));
  EXPECT_THAT(Parse({"help"})->positionals, ::testing::IsEmpty());
  EXPECT_EQ(Parse({"completion", "zsh"})->verb, "completion");
  EXPECT_EQ(Parse({"man"})->verb, "man");
  // --version stays get's option after the verb, the tool's before it.
  EXPECT_EQ(Parse({"--version"})->verb, "version");
  EXPECT_EQ(Parse({"get", "db", "--reveal", "--version", "2"})->version, 2u);
}

}  // namespace
}  // namespace zlayer::secrets::cli
