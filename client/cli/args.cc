#include "client/cli/args.h"

#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/exit_codes.h"
#include "client/cli/verbs.h"

namespace zlayer::secrets::cli {
namespace {

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// The row named `name` in any table (names mean the same everywhere).
const OptionSpec* AnyOption(absl::string_view name) {
  if (const OptionSpec* o = FindOption(nullptr, name)) return o;
  for (const VerbSpec& verb : VerbSpecs()) {
    if (const OptionSpec* o = FindOption(&verb, name)) return o;
  }
  return nullptr;
}

const OptionSpec* AnyShortOption(char c) {
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    if (o.short_name == c) return &o;
  }
  for (const VerbSpec& verb : VerbSpecs()) {
    for (const OptionSpec& o : verb.options) {
      if (o.short_name == c) return &o;
    }
  }
  return nullptr;
}

absl::Status CheckPositionals(const Command& cmd) {
  const std::vector<std::string>& p = cmd.positionals;
  auto want = [&](size_t n, absl::string_view what) -> absl::Status {
    if (p.size() < n) {
      return Usage(absl::StrCat("'", cmd.verb, "' needs ", what));
    }
    if (p.size() > n) {
      return Usage(absl::StrCat("unexpected argument '", p[n], "' for '",
                                cmd.verb, "'"));
    }
    return absl::OkStatus();
  };
  const std::string& v = cmd.verb;
  if (v == "ls" || v == "import" || v == "export" || v == "check" ||
      v == "run" || v == "whoami" || v == "health" || v == "man" ||
      v == "watch") {
    return want(0, "");
  }
  if (v == "completion") {
    absl::Status count = want(1, "a shell: bash, zsh or fish");
    if (!count.ok()) return count;
    if (p[0] != "bash" && p[0] != "zsh" && p[0] != "fish") {
      return Usage(absl::StrCat("unsupported shell '", p[0],
                                "' (expected bash, zsh or fish)"));
    }
    return absl::OkStatus();
  }
  if (v == "rollback") return want(2, "NAME VERSION");
  if (v == "backup") return want(1, "FILE");
  if (v == "grant") {
    // SUBJECT ENV LEVEL, or SUBJECT LEVEL with --scope / --env.
    if (!cmd.scope.empty() || !cmd.global.env.empty()) {
      return want(2, "SUBJECT LEVEL");
    }
    return want(3, "SUBJECT ENV LEVEL (or SUBJECT LEVEL --scope S)");
  }
  if (v == "revoke") {
    if (!cmd.grant_id.empty()) return want(0, "");
    if (!cmd.scope.empty() || !cmd.global.env.empty()) {
      return want(1, "SUBJECT");
    }
    return want(2, "SUBJECT ENV (or SUBJECT --scope S, or --id ID)");
  }
  if (v == "permissions") {
    if (!cmd.scope.empty() || !cmd.subject.empty() || !cmd.global.env.empty()) {
      return want(0, "");
    }
    return want(1, "ENV (or --scope S, or --subject X)");
  }
  if (v == "apikey") {
    if (p.empty()) {
      return Usage(
          "'apikey' needs a sub-command: create, rotate, ls, roles or rm");
    }
    const std::string& sub = p[0];
    if (sub == "ls" || sub == "list") {
      if (p.size() > 1) {
        return Usage(
            absl::StrCat("unexpected argument '", p[1], "' for 'apikey ls'"));
      }
      return absl::OkStatus();
    }
    if (sub == "create" || sub == "rotate" || sub == "rm" || sub == "remove") {
      if (p.size() != 2) {
        return Usage(absl::StrCat("'apikey ", sub, "' needs ID"));
      }
      return absl::OkStatus();
    }
    if (sub == "roles") {
      if (p.size() < 2) return Usage("'apikey roles' needs ID [ROLE...]");
      return absl::OkStatus();
    }
    return Usage(absl::StrCat("unknown 'apikey' sub-command '", sub,
                              "' (expected create, rotate, ls, roles or rm)"));
  }
  if (v == "client-key") {
    if (p.empty()) {
      return Usage("'client-key' needs a sub-command: create, ls or revoke");
    }
    const std::string& sub = p[0];
    if (sub == "ls" || sub == "list") return want(1, "");
    if (sub == "create") return want(2, "create KEYFILE");
    if (sub == "revoke") return want(2, "revoke ID");
    return Usage(absl::StrCat("unknown 'client-key' sub-command '", sub,
                              "' (expected create, ls or revoke)"));
  }
  if (v == "credential") {
    if (p.empty() || (p[0] != "registry" && p[0] != "git")) {
      return Usage("'credential' needs 'registry' or 'git'");
    }
    if (p.size() < 2) {
      return Usage(absl::StrCat("'credential ", p[0],
                                "' needs a sub-command: add, ls or rm"));
    }
    const std::string& sub = p[1];
    if (sub == "ls" || sub == "list" || sub == "add") {
      if (p.size() > 2) {
        return Usage(absl::StrCat("unexpected argument '", p[2],
                                  "' for 'credential ", p[0], " ", sub, "'"));
      }
      return absl::OkStatus();
    }
    if (sub == "rm" || sub == "remove" || sub == "delete") {
      if (p.size() != 3) {
        return Usage(
            absl::StrCat("'credential ", p[0], " ", sub, "' needs ID"));
      }
      return absl::OkStatus();
    }
    return Usage(absl::StrCat("unknown 'credential ", p[0], "' sub-command '",
                              sub, "' (expected add, ls or rm)"));
  }
  if (v == "key") {
    if (p.size() != 1 || (p[0] != "rotate" && p[0] != "rekey")) {
      return Usage(
          "'key' needs the sub-command 'rotate' or 'rekey' and nothing else");
    }
    return absl::OkStatus();
  }
  if (v == "env") {
    if (p.empty()) return Usage("'env' needs a sub-command: ls, create or rm");
    if (p[0] == "ls" || p[0] == "list") {
      if (p.size() > 1) {
        return Usage(
            absl::StrCat("unexpected argument '", p[1], "' for 'env ls'"));
      }
      return absl::OkStatus();
    }
    if (p[0] == "create" || p[0] == "rm" || p[0] == "remove") {
      if (p.size() < 2) {
        return Usage(absl::StrCat("'env ", p[0], "' needs ",
                                  p[0] == "create" ? "NAME" : "NAME|ID"));
      }
      if (p.size() > 2) {
        return Usage(absl::StrCat("unexpected argument '", p[2], "' for 'env ",
                                  p[0], "'"));
      }
      return absl::OkStatus();
    }
    return Usage(absl::StrCat("unknown 'env' sub-command '", p[0],
                              "' (expected ls, create or rm)"));
  }
  return want(1, "NAME");
}

// `output_flag` says --output was given: then ZLAYER_SECRETS_FORMAT is not
// even checked (a flag wins, also over a bad variable).
absl::Status ApplyScriptEnvironment(const ScriptEnvironment& env,
                                    bool output_flag, GlobalOptions* g) {
  auto get = [&env](absl::string_view name) -> std::string {
    auto it = env.find(std::string(name));
    return it == env.end() ? "" : it->second;
  };
  g->address = get(kAddrEnvVar);
  g->tls_ca_file = get(kCaCertEnvVar);
  g->api_key_file = get(kApiKeyFileEnvVar);
  const std::string format = get(kFormatEnvVar);
  if (output_flag || format.empty() || format == "table") {
    // the default (table) stays, or the flag sets it
  } else if (format == "json") {
    g->output = OutputFormat::kJson;
  } else if (format == "plain") {
    g->output = OutputFormat::kPlain;
  } else {
    return Usage(absl::StrCat("Unsupported ", kFormatEnvVar, " '", format,
                              "' (expected 'table', 'json' or 'plain')"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint32_t> ParseWholeNumber(absl::string_view what,
                                          absl::string_view text,
                                          uint32_t min) {
  uint32_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || absl::StartsWith(text, "+") ||
      absl::StartsWith(text, "-")) {
    return Usage(absl::StrCat(what, " expects a whole number",
                              min > 0 ? " of at least 1" : "", ", got '", text,
                              "'"));
  }
  return v;
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && !absl::StrContains(text, "n")) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return Usage(
        absl::StrCat("--timeout expects a duration such as 5s or "
                     "500ms, got '",
                     text, "'"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Usage(absl::StrCat("--timeout must be positive, got '", text, "'"));
  }
  return d;
}

absl::StatusOr<ValueSource> SelectValueSource(const ValueFlags& flags) {
  int given = (flags.value ? 1 : 0) + (flags.from_file ? 1 : 0) +
              (flags.from_stdin ? 1 : 0) + (flags.random ? 1 : 0);
  if (given == 0) {
    return Usage(
        "Provide exactly one of --value / --from-stdin / --from-file / "
        "--random");
  }
  if (given > 1) {
    return Usage(
        "--value, --from-stdin, --from-file, --random are mutually exclusive");
  }
  ValueSource source;
  source.exact = flags.exact;
  if (flags.value) {
    source.kind = ValueSource::Kind::kValue;
    source.text = *flags.value;
  } else if (flags.from_file) {
    source.kind = ValueSource::Kind::kFile;
    source.text = *flags.from_file;
  } else if (flags.from_stdin) {
    source.kind = ValueSource::Kind::kStdin;
  } else {
    source.kind = ValueSource::Kind::kRandom;
    source.random_length = kDefaultRandomLength;
    if (flags.random_length) {
      absl::StatusOr<uint32_t> n =
          ParseWholeNumber("--random-length", *flags.random_length, 1);
      if (!n.ok()) return n.status();
      // The daemon enforces its value limit; this only keeps the request sane.
      if (*n > (1u << 20)) {
        return Usage("--random-length must be at most 1048576");
      }
      source.random_length = *n;
    }
  }
  return source;
}

absl::StatusOr<Command> ParseCommandLine(const std::vector<std::string>& args,
                                         const ScriptEnvironment& env) {
  Command cmd;
  // Options in order of appearance, as typed; `spec` is the row of that name
  // in any table (nullptr: no verb has it), its value "" for flags.
  struct Given {
    const OptionSpec* spec;
    std::string name;  // long name, or the text typed when unknown
    std::string value;
  };
  std::vector<Given> options;
  std::vector<std::string> positionals;
  bool top_level_version = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      cmd.exec_argv.assign(args.begin() + i + 1, args.end());
      if (cmd.exec_argv.empty()) return Usage("nothing to run after '--'");
      break;
    }
    if (arg == "--version" && positionals.empty()) {
      // Before any verb it is the tool's version; after `get` it stays
      // `get --version N`.
      top_level_version = true;
      continue;
    }
    const OptionSpec* spec = nullptr;
    absl::optional<std::string> inline_value;
    if (absl::StartsWith(arg, "--") && arg.size() > 2) {
      absl::string_view name = absl::string_view(arg).substr(2);
      if (size_t eq = name.find('='); eq != absl::string_view::npos) {
        inline_value = std::string(name.substr(eq + 1));
        name = name.substr(0, eq);
      }
      spec = AnyOption(name);
      if (spec == nullptr) {
        options.push_back({nullptr, std::string(name), ""});
        continue;
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      // -o json, -ojson, -h, -n
      spec = AnyShortOption(arg[1]);
      if (spec == nullptr) {
        options.push_back({nullptr, arg, ""});
        continue;
      }
      if (arg.size() > 2) inline_value = arg.substr(2);
    } else {
      positionals.push_back(arg);
      continue;
    }
    if (spec->kind == ValueKind::kFlag) {
      if (inline_value) {
        return Usage(
            absl::StrCat("option '--", spec->name, "' takes no value"));
      }
      options.push_back({spec, std::string(spec->name), ""});
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return Usage(absl::StrCat("option '--", spec->name, "' needs a value"));
      }
      inline_value = args[++i];
    }
    options.push_back(
        {spec, std::string(spec->name), *std::move(inline_value)});
  }
  auto given = [&options](absl::string_view name) {
    for (const Given& o : options) {
      if (o.spec != nullptr && o.name == name) return true;
    }
    return false;
  };

  const bool help = given("help");
  if (top_level_version) {
    if (!positionals.empty()) {
      return Usage(absl::StrCat(
          "'--version' before a command prints the version; write '",
          positionals[0], " --version N' to pick a secret version"));
    }
    cmd.verb = "version";
    return cmd;
  }
  if (positionals.empty()) {
    if (help) {
      cmd.verb = "help";
      return cmd;
    }
    return Usage("missing command (try 'zlayer-secret --help')");
  }
  const VerbSpec* verb = FindVerb(positionals[0]);
  if (verb == nullptr) {
    return Usage(absl::StrCat("unknown command '", positionals[0],
                              "' (try 'zlayer-secret --help')"));
  }
  cmd.verb = std::string(verb->name);
  if (help || cmd.verb == "help") {
    // `VERB --help` and `help VERB`: that verb's own help.
    cmd.verb = "help";
    if (verb->name != "help") {
      cmd.positionals = {std::string(verb->name)};
    } else if (positionals.size() > 2) {
      return Usage(absl::StrCat("unexpected argument '", positionals[2],
                                "' for 'help'"));
    } else if (positionals.size() == 2) {
      const VerbSpec* topic = FindVerb(positionals[1]);
      if (topic == nullptr) {
        return Usage(absl::StrCat("unknown command '", positionals[1],
                                  "' (try 'zlayer-secret --help')"));
      }
      cmd.positionals = {std::string(topic->name)};
    }
    return cmd;
  }
  for (const Given& o : options) {
    if (FindOption(verb, o.name) != nullptr) continue;
    const std::string typed =
        absl::StartsWith(o.name, "-") ? o.name : absl::StrCat("--", o.name);
    std::string message =
        o.spec == nullptr
            ? absl::StrCat("unknown option '", typed, "' for '", verb->name,
                           "'")
            : absl::StrCat("option '", typed, "' does not apply to '",
                           verb->name, "'");
    const std::string closest = ClosestOption(
        verb,
        absl::StripLeadingAsciiWhitespace(absl::StripPrefix(o.name, "-")));
    if (!closest.empty() && closest != o.name) {
      absl::StrAppend(&message, " (did you mean '--", closest, "'?)");
    }
    absl::StrAppend(&message, "; see 'zlayer-secret ", verb->name, " --help'");
    return Usage(message);
  }
  cmd.positionals.assign(positionals.begin() + 1, positionals.end());
  if (!cmd.exec_argv.empty() && cmd.verb != "run" && cmd.verb != "watch") {
    return Usage(absl::StrCat("'", cmd.verb, "' takes no command after '--'"));
  }

  ParseState state;
  state.cmd = &cmd;
  ValueFlags& value_flags = state.value_flags;
  const bool& create_only = state.create_only;
  const absl::optional<uint32_t>& if_version = state.if_version;
  GlobalOptions& g = cmd.global;
  // The script variables first, as defaults the flags below overwrite.
  absl::Status from_env = ApplyScriptEnvironment(env, given("output"), &g);
  if (!from_env.ok()) return from_env;
  const bool address_from_env = !g.address.empty();
  for (const Given& o : options) {
    absl::Status applied = FindOption(verb, o.name)->set(o.value, &state);
    if (!applied.ok()) return applied;
  }

  if (cmd.verb == "grant" || cmd.verb == "revoke" ||
      cmd.verb == "permissions") {
    if (!cmd.secret_name.empty() && cmd.scope.empty()) {
      return Usage("--name needs --scope");
    }
    if (!cmd.scope.empty() && !g.env.empty()) {
      return Usage("--scope and --env are mutually exclusive");
    }
    if (cmd.verb == "permissions" && !cmd.subject.empty() &&
        (!cmd.scope.empty() || !g.env.empty())) {
      return Usage(
          "--subject lists every grant of a subject; drop --scope/--env");
    }
  }
  absl::Status positional_status = CheckPositionals(cmd);
  if (!positional_status.ok()) return positional_status;

  if (address_from_env && !g.socket.empty()) {
    // --socket beats ZLAYER_SECRETS_ADDR (a flag wins over a variable).
    if (!given("address")) g.address.clear();
  }
  if (!g.socket.empty() && !g.address.empty()) {
    return Usage("--socket and --address are mutually exclusive");
  }
  if (!g.act_as_groups.empty() && g.act_as_user.empty()) {
    return Usage("--act-as-groups needs --act-as-user");
  }
  if (!g.env.empty() && !g.service.empty() && cmd.verb != "check" &&
      cmd.verb != "run") {
    return Usage("--env and --service are mutually exclusive");
  }
  if (cmd.verb == "grant") {
    absl::StatusOr<std::string> subject = NormalizeSubject(cmd.positionals[0]);
    if (!subject.ok()) return subject.status();
    cmd.subject = *subject;
    if (cmd.positionals.size() == 3 && cmd.positionals[1] == "impersonate") {
      const std::string& pattern = cmd.positionals[2];
      if ((!absl::StartsWith(pattern, "user:") &&
           !absl::StartsWith(pattern, "group:")) ||
          absl::EndsWith(pattern, ":")) {
        return Usage(absl::StrCat("Invalid impersonate pattern '", pattern,
                                  "' (expected user:ID or group:ID, the ID "
                                  "may end in '*')"));
      }
      if (!cmd.scope.empty() || !cmd.secret_name.empty()) {
        return Usage("impersonate grants take no --scope or --name");
      }
    }
    std::string level = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(cmd.positionals.back()));
    // The last positional of an impersonate grant is its pattern, checked
    // above.
    if (cmd.positionals.size() != 3 || cmd.positionals[1] != "impersonate") {
      if (level != "read" && level != "execute" && level != "write") {
        return Usage(
            absl::StrCat("Invalid permission level '", level,
                         "' (expected 'read', 'execute', or 'write')"));
      }
      cmd.positionals.back() = level;
    }
  }
  if (cmd.verb == "revoke" && cmd.grant_id.empty()) {
    absl::StatusOr<std::string> subject = NormalizeSubject(cmd.positionals[0]);
    if (!subject.ok()) return subject.status();
    cmd.subject = *subject;
  }
  if (cmd.verb == "credential" && cmd.positionals[1] == "add") {
    absl::StatusOr<ValueSource> source = SelectValueSource(value_flags);
    if (!source.ok()) {
      return Usage(
          "Provide exactly one of --from-file / --from-stdin / --value for "
          "the credential's secret");
    }
    cmd.value = *std::move(source);
    if (cmd.positionals[0] == "registry" &&
        (cmd.registry.empty() || cmd.username.empty())) {
      return Usage("'credential registry add' needs --registry and --username");
    }
    if (cmd.positionals[0] == "git" &&
        (cmd.label.empty() || cmd.host.empty())) {
      return Usage("'credential git add' needs --label NAME and --host HOST");
    }
  } else if (cmd.verb == "credential" &&
             (value_flags.value || value_flags.from_file ||
              value_flags.from_stdin)) {
    return Usage("value options apply to 'credential ... add' only");
  }
  if (cmd.verb == "key" && cmd.positionals[0] == "rekey" &&
      (value_flags.from_file || value_flags.from_stdin)) {
    return Usage("'key rekey' takes no key (the daemon makes the data key)");
  }
  if (cmd.verb == "key" && cmd.wait && cmd.positionals[0] != "rekey") {
    return Usage("--wait applies to 'key rekey' only");
  }
  if (cmd.verb == "key" && (value_flags.from_file || value_flags.from_stdin)) {
    // The new master key given by the operator (else the daemon makes one).
    absl::StatusOr<ValueSource> source = SelectValueSource(value_flags);
    if (!source.ok()) return source.status();
    cmd.value = *std::move(source);
  }
  if (cmd.verb == "create" || cmd.verb == "set" || cmd.verb == "rotate") {
    absl::StatusOr<ValueSource> source = SelectValueSource(value_flags);
    if (!source.ok()) return source.status();
    cmd.value = *std::move(source);
    if (cmd.verb != "create" && cmd.verb != "set") {
      // rotate: never a check-and-set (the verb itself requires existence).
    } else if (create_only && if_version) {
      return Usage("--create-only and --if-version are mutually exclusive");
    } else if (create_only) {
      cmd.expected_version = 0;
    } else {
      cmd.expected_version = if_version;
    }
    if (cmd.positionals[0].find_first_not_of(" \t\r\n") == std::string::npos) {
      return Usage("Secret name cannot be empty");
    }
  }
  if (cmd.verb == "get" && !cmd.reveal &&
      (cmd.version != 0 || !cmd.field.empty())) {
    return Usage("--version and --field need --reveal");
  }
  if (cmd.verb == "get" && !cmd.reveal && cmd.no_newline) {
    return Usage("--no-newline needs --reveal");
  }
  if (g.output == OutputFormat::kRaw && !(cmd.verb == "get" && cmd.reveal)) {
    // Values never print without --reveal.
    return Usage("--output raw applies to 'get --reveal' only");
  }
  if (cmd.verb == "rollback") {
    absl::StatusOr<uint32_t> v =
        ParseWholeNumber("VERSION", cmd.positionals[1], 1);
    if (!v.ok()) return v.status();
    cmd.version = *v;
  }
  if (cmd.verb == "export" && g.output == OutputFormat::kJson &&
      !given("format")) {
    cmd.format = "json";  // -o json exports a JSON object
  }
  if (cmd.verb == "import" && cmd.file.empty()) {
    return Usage("'import' needs --file PATH");
  }
  if ((cmd.verb == "check" || cmd.verb == "run" || cmd.verb == "watch") &&
      cmd.env_file.empty()) {
    return Usage(absl::StrCat("'", cmd.verb, "' needs --env-file PATH"));
  }
  if (cmd.verb == "run" && cmd.exec_argv.empty()) {
    return Usage("'run' needs a command after '--'");
  }
  if (cmd.verb == "watch") {
    for (absl::string_view option :
         {"signal", "restart", "restart-grace", "debounce"}) {
      if (given(option) && cmd.exec_argv.empty()) {
        return Usage(absl::StrCat(
            "--", option, " needs a command after '--' (watch -- CMD)"));
      }
    }
    if (given("signal") && given("restart")) {
      return Usage("--signal and --restart are mutually exclusive");
    }
  }
  if (cmd.verb == "destroy" && !cmd.yes) {
    return Usage(
        "'destroy' removes every version for good; pass --yes to confirm");
  }
  return cmd;
}

absl::StatusOr<std::string> NormalizeSubject(absl::string_view subject) {
  subject = absl::StripAsciiWhitespace(subject);
  if (subject.empty()) return Usage("Subject cannot be empty");
  uint32_t uid = 0;
  if (absl::SimpleAtoi(subject, &uid) && !absl::StartsWith(subject, "+") &&
      !absl::StartsWith(subject, "-")) {
    return absl::StrCat("uid:", uid);
  }
  for (absl::string_view prefix :
       {"uid:", "gid:", "role:", "apikey:", "user:", "group:"}) {
    if (absl::StartsWith(subject, prefix) && subject.size() > prefix.size()) {
      return std::string(subject);
    }
  }
  return Usage(absl::StrCat("Invalid subject '", subject,
                            "' (expected uid:N, gid:N, role:NAME, apikey:ID, "
                            "user:ID, group:ID or a uid number)"));
}

}  // namespace zlayer::secrets::cli
