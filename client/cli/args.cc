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

namespace zlayer::secrets::cli {
namespace {

// Which options exist, whether they take a value, and which verbs accept
// them ("*" = every verb).
struct OptionSpec {
  absl::string_view name;
  bool takes_value;
  absl::string_view verbs;
};

constexpr OptionSpec kOptions[] = {
    {"socket", true, "*"},
    {"address", true, "*"},
    {"tls-ca", true, "*"},
    {"tls-cert", true, "*"},
    {"tls-key", true, "*"},
    {"tls-server-name", true, "*"},
    {"api-key-file", true, "*"},
    {"env", true, "*"},
    {"project", true, "*"},
    {"deployment", true, "*"},
    {"service", true, "*"},
    {"output", true, "*"},
    {"timeout", true, "*"},
    {"wait-for-ready", false, "*"},
    {"help", false, "*"},
    {"value", true, "create set rotate credential"},
    {"from-file", true, "create set rotate credential key"},
    {"from-stdin", false, "create set rotate credential key"},
    {"random", false, "create set rotate"},
    {"random-length", true, "create set rotate"},
    {"if-version", true, "create set"},
    {"create-only", false, "create set"},
    {"reveal", false, "get"},
    {"version", true, "get"},
    {"field", true, "get"},
    {"file", true, "import"},
    {"format", true, "import export"},
    {"dry-run", false, "import"},
    {"yes", false, "destroy"},
    {"env-file", true, "check run watch"},
    {"consumer", true, "watch"},
    {"description", true, "env"},
    {"scope", true, "grant revoke permissions"},
    {"name", true, "grant revoke permissions"},
    {"subject", true, "permissions"},
    {"id", true, "revoke"},
    {"role", true, "apikey"},
    {"registry", true, "credential"},
    {"username", true, "credential"},
    {"auth-type", true, "credential"},
    {"host", true, "credential"},
    {"path-prefix", true, "credential"},
    {"kind", true, "credential"},
    {"label", true, "credential"},
    {"wait", false, "key"},
};

const OptionSpec* FindOption(absl::string_view name) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool VerbAccepts(const OptionSpec& spec, absl::string_view verb) {
  if (spec.verbs == "*") return true;
  for (absl::string_view v : absl::StrSplit(spec.verbs, ' ')) {
    if (v == verb) return true;
  }
  return false;
}

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<uint32_t> ParseUint(absl::string_view option,
                                   absl::string_view text, uint32_t min) {
  uint32_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || absl::StartsWith(text, "+") ||
      absl::StartsWith(text, "-")) {
    return Usage(absl::StrCat(option, " expects a whole number",
                              min > 0 ? " of at least 1" : "", ", got '", text,
                              "'"));
  }
  return v;
}

// Canonical verb, or "" when unknown.
std::string CanonicalVerb(absl::string_view verb) {
  if (verb == "list") return "ls";
  if (verb == "remove") return "rm";
  static constexpr absl::string_view kVerbs[] = {
      "ls",      "create", "get",         "set",      "rm",         "rotate",
      "unset",   "import", "export",      "versions", "rollback",   "undelete",
      "destroy", "check",  "run",         "env",      "whoami",     "help",
      "grant",   "revoke", "permissions", "apikey",   "credential", "key",
      "health",  "watch",  "consumers"};
  for (absl::string_view v : kVerbs) {
    if (v == verb) return std::string(verb);
  }
  return "";
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
      v == "run" || v == "whoami" || v == "help" || v == "health" ||
      v == "watch") {
    return want(0, "");
  }
  if (v == "consumers") return want(1, "NAME");
  if (v == "rollback") return want(2, "NAME VERSION");
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
  } else {
    return Usage(absl::StrCat("Unsupported ", kFormatEnvVar, " '", format,
                              "' (expected 'table' or 'json')"));
  }
  return absl::OkStatus();
}

}  // namespace

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
          ParseUint("--random-length", *flags.random_length, 1);
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
  // Options in order of appearance: name -> value ("" for flags).
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<std::string> positionals;
  bool top_level_version = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      cmd.exec_argv.assign(args.begin() + i + 1, args.end());
      if (cmd.exec_argv.empty()) return Usage("nothing to run after '--'");
      break;
    }
    if (arg == "-h") {
      options.emplace_back("help", "");
      continue;
    }
    if (arg == "--version" && positionals.empty()) {
      // Before any verb it is the tool's version; after `get` it stays
      // `get --version N`.
      top_level_version = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      if (absl::StartsWith(arg, "-") && arg.size() > 1) {
        return Usage(absl::StrCat("unknown option '", arg, "'"));
      }
      positionals.push_back(arg);
      continue;
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    absl::string_view name = body;
    absl::optional<std::string> inline_value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      inline_value = std::string(body.substr(eq + 1));
    }
    const OptionSpec* spec = FindOption(name);
    if (spec == nullptr) {
      return Usage(absl::StrCat("unknown option '--", name, "'"));
    }
    if (!spec->takes_value) {
      if (inline_value) {
        return Usage(absl::StrCat("option '--", name, "' takes no value"));
      }
      options.emplace_back(std::string(name), "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return Usage(absl::StrCat("option '--", name, "' needs a value"));
      }
      inline_value = args[++i];
    }
    options.emplace_back(std::string(name), *std::move(inline_value));
  }

  bool help = false;
  for (const auto& [name, value] : options) help |= name == "help";
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
  cmd.verb = CanonicalVerb(positionals[0]);
  if (cmd.verb.empty()) {
    return Usage(absl::StrCat("unknown command '", positionals[0],
                              "' (try 'zlayer-secret --help')"));
  }
  if (help) {
    cmd.verb = "help";
    return cmd;
  }
  cmd.positionals.assign(positionals.begin() + 1, positionals.end());
  if (!cmd.exec_argv.empty() && cmd.verb != "run") {
    return Usage(absl::StrCat("'", cmd.verb, "' takes no command after '--'"));
  }

  ValueFlags value_flags;
  bool create_only = false;
  absl::optional<uint32_t> if_version;
  GlobalOptions& g = cmd.global;
  // The script variables first, as defaults the flags below overwrite.
  bool output_flag = false;
  for (const auto& option : options) output_flag |= option.first == "output";
  absl::Status from_env = ApplyScriptEnvironment(env, output_flag, &g);
  if (!from_env.ok()) return from_env;
  const bool address_from_env = !g.address.empty();
  for (const auto& [name, value] : options) {
    const OptionSpec* spec = FindOption(name);
    if (!VerbAccepts(*spec, cmd.verb)) {
      return Usage(absl::StrCat("option '--", name, "' does not apply to '",
                                cmd.verb, "'"));
    }
    if (name == "socket") {
      g.socket = value;
    } else if (name == "address") {
      g.address = value;
    } else if (name == "tls-ca") {
      g.tls_ca_file = value;
    } else if (name == "tls-cert") {
      g.tls_cert_file = value;
    } else if (name == "tls-key") {
      g.tls_key_file = value;
    } else if (name == "tls-server-name") {
      g.tls_server_name = value;
    } else if (name == "api-key-file") {
      g.api_key_file = value;
    } else if (name == "env") {
      g.env = value;
    } else if (name == "project") {
      g.project = value;
    } else if (name == "deployment") {
      if (value.empty()) return Usage("--deployment cannot be empty");
      g.deployment = value;
    } else if (name == "service") {
      g.service = value;
    } else if (name == "output") {
      if (value == "table") {
        g.output = OutputFormat::kTable;
      } else if (value == "json") {
        g.output = OutputFormat::kJson;
      } else {
        return Usage(absl::StrCat("Unsupported --output '", value,
                                  "' (expected 'table' or 'json')"));
      }
    } else if (name == "timeout") {
      absl::StatusOr<absl::Duration> d = ParseTimeout(value);
      if (!d.ok()) return d.status();
      g.timeout = *d;
    } else if (name == "wait-for-ready") {
      g.wait_for_ready = true;
    } else if (name == "value") {
      value_flags.value = value;
    } else if (name == "from-file") {
      value_flags.from_file = value;
    } else if (name == "from-stdin") {
      value_flags.from_stdin = true;
    } else if (name == "random") {
      value_flags.random = true;
    } else if (name == "random-length") {
      value_flags.random_length = value;
    } else if (name == "if-version") {
      absl::StatusOr<uint32_t> v = ParseUint("--if-version", value, 0);
      if (!v.ok()) return v.status();
      if_version = *v;
    } else if (name == "create-only") {
      create_only = true;
    } else if (name == "reveal") {
      cmd.reveal = true;
    } else if (name == "version") {
      absl::StatusOr<uint32_t> v = ParseUint("--version", value, 1);
      if (!v.ok()) return v.status();
      cmd.version = *v;
    } else if (name == "field") {
      cmd.field = value;
    } else if (name == "file") {
      cmd.file = value;
    } else if (name == "format") {
      if (value != "env" && value != "json") {
        return Usage(absl::StrCat("Unsupported --format '", value,
                                  "' (expected 'env' or 'json')"));
      }
      cmd.format = value;
    } else if (name == "dry-run") {
      cmd.dry_run = true;
    } else if (name == "wait") {
      cmd.wait = true;
    } else if (name == "yes") {
      cmd.yes = true;
    } else if (name == "env-file") {
      cmd.env_file = value;
    } else if (name == "consumer") {
      cmd.consumer = value;
    } else if (name == "description") {
      cmd.description = value;
    } else if (name == "scope") {
      if (value.empty()) return Usage("--scope cannot be empty");
      cmd.scope = value;
    } else if (name == "name") {
      cmd.secret_name = value;
    } else if (name == "subject") {
      absl::StatusOr<std::string> subject = NormalizeSubject(value);
      if (!subject.ok()) return subject.status();
      cmd.subject = *subject;
    } else if (name == "id") {
      cmd.grant_id = value;
    } else if (name == "role") {
      for (absl::string_view r :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        cmd.roles.emplace_back(r);
      }
    } else if (name == "registry") {
      cmd.registry = value;
    } else if (name == "username") {
      cmd.username = value;
    } else if (name == "auth-type") {
      if (value != "basic" && value != "token") {
        return Usage(absl::StrCat("Unsupported --auth-type '", value,
                                  "' (expected 'basic' or 'token')"));
      }
      cmd.auth_type = value;
    } else if (name == "host") {
      cmd.host = value;
    } else if (name == "path-prefix") {
      cmd.path_prefix = value;
    } else if (name == "kind") {
      if (value != "pat" && value != "ssh-key" && value != "ssh_key") {
        return Usage(absl::StrCat("Unsupported --kind '", value,
                                  "' (expected 'pat' or 'ssh-key')"));
      }
      cmd.kind = value;
    } else if (name == "label") {
      cmd.label = value;
    }
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
    bool address_flag = false;
    for (const auto& option : options)
      address_flag |= option.first == "address";
    if (!address_flag) g.address.clear();
  }
  if (!g.socket.empty() && !g.address.empty()) {
    return Usage("--socket and --address are mutually exclusive");
  }
  if (!g.env.empty() && !g.service.empty() && cmd.verb != "check" &&
      cmd.verb != "run") {
    return Usage("--env and --service are mutually exclusive");
  }
  if (cmd.verb == "grant") {
    absl::StatusOr<std::string> subject = NormalizeSubject(cmd.positionals[0]);
    if (!subject.ok()) return subject.status();
    cmd.subject = *subject;
    std::string level = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(cmd.positionals.back()));
    if (level != "read" && level != "execute" && level != "write") {
      return Usage(absl::StrCat("Invalid permission level '", level,
                                "' (expected 'read', 'execute', or 'write')"));
    }
    cmd.positionals.back() = level;
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
  if (cmd.verb == "rollback") {
    absl::StatusOr<uint32_t> v = ParseUint("VERSION", cmd.positionals[1], 1);
    if (!v.ok()) return v.status();
    cmd.version = *v;
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
  for (absl::string_view prefix : {"uid:", "gid:", "role:", "apikey:"}) {
    if (absl::StartsWith(subject, prefix) && subject.size() > prefix.size()) {
      return std::string(subject);
    }
  }
  return Usage(absl::StrCat("Invalid subject '", subject,
                            "' (expected uid:N, gid:N, role:NAME, apikey:ID "
                            "or a uid number)"));
}

std::string UsageText() {
  return R"(Usage: zlayer-secret [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]

Secrets (target: --env NAME|ID [--project P], else --deployment D [--service S]):
  ls | list                        list secrets (metadata only)
  create NAME VALUE-SOURCE [--create-only | --if-version N]
                                   create or overwrite (upsert)
  set NAME VALUE-SOURCE [--create-only | --if-version N]
                                   same as create (upstream's env verb)
  get NAME [--reveal [--version N] [--field F]]
                                   metadata; the value only with --reveal
  rm | remove NAME                 soft delete (undo with 'undelete')
  unset NAME                       same as rm (upstream's env verb)
  rotate NAME VALUE-SOURCE         new version of an existing secret
  versions NAME                    list versions, newest first
  rollback NAME VERSION            copy VERSION's value into a new version
  undelete NAME                    restore a soft-deleted secret
  destroy NAME --yes               remove every version for good
  import --file F [--format env|json] [--dry-run]
  export [--format env|json]       print every value (dotenv or JSON)
  check --env-file F               check the references of a dotenv file
  run --env-file F -- CMD [ARGS]   resolve the references, then exec CMD
                                   with them in its environment
  watch --env-file F [--consumer C]
                                   follow the file's secrets: one line per
                                   change (never a value); reconnects and
                                   resumes where it stopped
  consumers NAME                   who holds which version of NAME
  env ls | env create NAME [--description D] | env rm NAME|ID
  whoami                           who the daemon thinks you are
  health                           grpc.health.v1 check: exit 0 when the
                                   daemon is SERVING, 7 when it answers
                                   otherwise, 6 when unreachable (needs no
                                   API key; for HEALTHCHECKs and scripts)

Access (admin; SUBJECT is uid:N, gid:N, role:NAME, apikey:ID or a uid number;
LEVEL is read, execute or write):
  grant SUBJECT ENV LEVEL | grant SUBJECT LEVEL --scope S [--name N]
  revoke SUBJECT ENV | revoke SUBJECT --scope S [--name N] | revoke --id ID
  permissions ENV | permissions --scope S [--name N] | permissions --subject X
  apikey create ID [--role R]...   prints the key once
  apikey rotate ID                 a new key for ID (same roles), printed once;
                                   the old one stops working at once
  apikey ls | apikey roles ID [ROLE...] | apikey rm ID
  credential registry add --registry R --username U [--auth-type basic|token]
                     SECRET-SOURCE
  credential git add --label NAME --host H [--path-prefix P] [--username U]
                     [--kind pat|ssh-key] SECRET-SOURCE
  credential registry|git ls | credential registry|git rm ID
  key rotate [--from-file F | --from-stdin]
                     replace the master key (re-wraps the data keys; no value
                     is re-encrypted): the daemon generates it and updates
                     its key file, or takes 32 raw bytes / 64 hex characters
                     (administrators)
  key rekey [--wait] move every stored version to a new data key in the
                     background; --wait follows it to the end (administrators)
  (SECRET-SOURCE: --from-file F, --from-stdin, or --value V with a warning)

VALUE-SOURCE (exactly one):
  --value V        the value itself (visible in the process list: avoid)
  --from-file F    the file's content (one trailing newline removed)
  --from-stdin     standard input (one trailing newline removed)
  --random [--random-length N]  N random letters and digits (default 32),
                   printed once

Global options:
  --socket PATH            Unix socket (default: $ZLAYER_SECRETS_SOCKET,
                           else /run/zlayer-secrets/zlayer-secretsd.sock as
                           root or when /run/zlayer-secrets exists, else
                           ~/.zlayer/secrets/zlayer-secretsd.sock; never the
                           current directory). It must be owned by root, you
                           or the daemon user ($ZLAYER_SECRETS_DAEMON_USER,
                           default zlayer-secrets), in directories other
                           users cannot write
  --address HOST:PORT      TCP with TLS instead of the socket
                           (default: $ZLAYER_SECRETS_ADDR)
  --tls-ca F  --tls-cert F  --tls-key F  --tls-server-name NAME
                           (--tls-ca default: $ZLAYER_SECRETS_CACERT)
  --api-key-file F         API key (sent as a Bearer token; default:
                           $ZLAYER_SECRETS_API_KEY_FILE)
  --env NAME|ID  --project P  --deployment D (default 'default')  --service S
  --output table|json      (default: $ZLAYER_SECRETS_FORMAT, else table)
  A flag always wins over its environment variable.
  --timeout DURATION       deadline of each call (default 5s)
  --wait-for-ready         wait (up to the timeout) for the daemon to start
  --version                (before any command) print the version and exit

)" + std::string(ExitCodesHelp());
}

}  // namespace zlayer::secrets::cli
