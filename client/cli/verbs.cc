#include "client/cli/verbs.h"

#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace zlayer::secrets::cli {
namespace {

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// `value` must be one of `choices` (space-separated). The message lists
// them: "(expected 'env' or 'json')".
absl::Status CheckChoice(absl::string_view option, absl::string_view value,
                         absl::string_view choices) {
  std::vector<absl::string_view> list = absl::StrSplit(choices, ' ');
  std::string expected;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == value) return absl::OkStatus();
    absl::StrAppend(&expected,
                    i == 0                 ? ""
                    : i + 1 == list.size() ? " or "
                                           : ", ",
                    "'", list[i], "'");
  }
  return Usage(absl::StrCat("Unsupported --", option, " '", value,
                            "' (expected ", expected, ")"));
}

// ---- Global options -------------------------------------------------------

constexpr OptionSpec kGlobalOptions[] = {
    {"socket", 0, ValueKind::kPath, "PATH", "", "ZLAYER_SECRETS_SOCKET",
     "Unix socket of the daemon (never searched in the current directory); "
     "PATH,PATH... lists cluster daemons to fail over between",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.socket = std::string(v);
       return absl::OkStatus();
     }},
    {"address", 0, ValueKind::kText, "HOST:PORT", "", kAddrEnvVar,
     "TCP with TLS instead of the Unix socket; HOST:PORT,HOST:PORT... lists "
     "cluster daemons to fail over between",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.address = std::string(v);
       return absl::OkStatus();
     }},
    {"tls-ca", 0, ValueKind::kPath, "FILE", "", kCaCertEnvVar,
     "CA certificate that signed the daemon's TLS certificate",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.tls_ca_file = std::string(v);
       return absl::OkStatus();
     }},
    {"tls-cert", 0, ValueKind::kPath, "FILE", "", "",
     "client certificate (mutual TLS)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.tls_cert_file = std::string(v);
       return absl::OkStatus();
     }},
    {"tls-key", 0, ValueKind::kPath, "FILE", "", "",
     "client certificate's private key (mutual TLS)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.tls_key_file = std::string(v);
       return absl::OkStatus();
     }},
    {"tls-server-name", 0, ValueKind::kText, "NAME", "", "",
     "name to verify in the daemon's certificate",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.tls_server_name = std::string(v);
       return absl::OkStatus();
     }},
    {"api-key-file", 0, ValueKind::kPath, "FILE", "", kApiKeyFileEnvVar,
     "file holding an API key, sent as a Bearer token (never the key itself)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.api_key_file = std::string(v);
       return absl::OkStatus();
     }},
    {"act-as-user", 0, ValueKind::kText, "U", "", "",
     "act as end user U (needs an impersonate grant; the daemon then "
     "authorizes as user:U only)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.act_as_user = std::string(v);
       return absl::OkStatus();
     }},
    {"act-as-groups", 0, ValueKind::kText, "G1,G2", "", "",
     "with --act-as-user: the user's groups (group:G subjects)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.act_as_groups =
           absl::StrSplit(v, ',', absl::SkipWhitespace());
       return absl::OkStatus();
     }},
    {"env", 0, ValueKind::kText, "NAME|ID", "", "",
     "target an environment instead of a deployment scope",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.env = std::string(v);
       return absl::OkStatus();
     }},
    {"project", 0, ValueKind::kText, "P", "", "",
     "project of --env (environment names are unique per project)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.project = std::string(v);
       return absl::OkStatus();
     }},
    {"deployment", 0, ValueKind::kText, "D", "", "",
     "deployment scope when there is no --env (default 'default')",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       if (v.empty()) return Usage("--deployment cannot be empty");
       s->cmd->global.deployment = std::string(v);
       return absl::OkStatus();
     }},
    {"service", 0, ValueKind::kText, "S", "", "",
     "service scope D/S inside the deployment",
     [](absl::string_view v, ParseState* s) {
       s->cmd->global.service = std::string(v);
       return absl::OkStatus();
     }},
    {"output", 'o', ValueKind::kChoice, "FORMAT", "table json plain raw",
     kFormatEnvVar,
     "table, json (stable fields), plain (one name or id per line) or raw "
     "(get --reveal: the exact bytes)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::Status ok = CheckChoice("output", v, "table json plain raw");
       if (!ok.ok()) return ok;
       s->cmd->global.output = v == "json"    ? OutputFormat::kJson
                               : v == "plain" ? OutputFormat::kPlain
                               : v == "raw"   ? OutputFormat::kRaw
                                              : OutputFormat::kTable;
       return absl::OkStatus();
     }},
    {"timeout", 0, ValueKind::kDuration, "DURATION", "", "",
     "deadline of each call: 5s, 500ms or seconds (default 5s)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::StatusOr<absl::Duration> d = ParseTimeout(v);
       if (!d.ok()) return d.status();
       s->cmd->global.timeout = *d;
       return absl::OkStatus();
     }},
    {"wait-for-ready", 0, ValueKind::kFlag, "", "", "",
     "wait (up to the timeout) for the daemon to start",
     [](absl::string_view, ParseState* s) {
       s->cmd->global.wait_for_ready = true;
       return absl::OkStatus();
     }},
    {"help", 'h', ValueKind::kFlag, "", "", "",
     "print the help of the command (or the overview) and exit",
     [](absl::string_view, ParseState*) { return absl::OkStatus(); }},
};

// ---- Rows shared by several verbs -------------------------------------------

constexpr OptionSpec kValueRow = {
    "value",
    0,
    ValueKind::kText,
    "V",
    "",
    "",
    "the value itself (visible in the process list: avoid)",
    [](absl::string_view v, ParseState* s) {
      s->value_flags.value = std::string(v);
      return absl::OkStatus();
    }};
constexpr OptionSpec kFromFileRow = {
    "from-file",
    0,
    ValueKind::kPath,
    "FILE",
    "",
    "",
    "read the value from FILE ('-' for standard input); binary content is "
    "kept byte for byte",
    [](absl::string_view v, ParseState* s) {
      if (v == "-") {
        s->value_flags.from_stdin = true;
      } else {
        s->value_flags.from_file = std::string(v);
      }
      return absl::OkStatus();
    }};
constexpr OptionSpec kFromStdinRow = {"from-stdin",
                                      0,
                                      ValueKind::kFlag,
                                      "",
                                      "",
                                      "",
                                      "read the value from standard input",
                                      [](absl::string_view, ParseState* s) {
                                        s->value_flags.from_stdin = true;
                                        return absl::OkStatus();
                                      }};
constexpr OptionSpec kRandomRow = {
    "random",
    0,
    ValueKind::kFlag,
    "",
    "",
    "",
    "a random value of letters and digits, printed once",
    [](absl::string_view, ParseState* s) {
      s->value_flags.random = true;
      return absl::OkStatus();
    }};
constexpr OptionSpec kRandomLengthRow = {
    "random-length",
    0,
    ValueKind::kNumber,
    "N",
    "",
    "",
    "length of --random (default 32)",
    [](absl::string_view v, ParseState* s) {
      s->value_flags.random_length = std::string(v);
      return absl::OkStatus();
    }};
constexpr OptionSpec kExactRow = {
    "exact",
    0,
    ValueKind::kFlag,
    "",
    "",
    "",
    "keep a text value's trailing newline (by default one is removed)",
    [](absl::string_view, ParseState* s) {
      s->value_flags.exact = true;
      return absl::OkStatus();
    }};
constexpr OptionSpec kIfVersionRow = {
    "if-version",
    0,
    ValueKind::kNumber,
    "N",
    "",
    "",
    "write only if the current version is N (0: only if absent)",
    [](absl::string_view v, ParseState* s) -> absl::Status {
      absl::StatusOr<uint32_t> n = ParseWholeNumber("--if-version", v, 0);
      if (!n.ok()) return n.status();
      s->if_version = *n;
      return absl::OkStatus();
    }};
constexpr OptionSpec kCreateOnlyRow = {"create-only",
                                       0,
                                       ValueKind::kFlag,
                                       "",
                                       "",
                                       "",
                                       "fail with exit 5 if the secret exists",
                                       [](absl::string_view, ParseState* s) {
                                         s->create_only = true;
                                         return absl::OkStatus();
                                       }};
constexpr OptionSpec kFormatRow = {
    "format",
    0,
    ValueKind::kChoice,
    "FORMAT",
    "env json",
    "",
    "dotenv (env, the default) or a JSON object",
    [](absl::string_view v, ParseState* s) -> absl::Status {
      absl::Status ok = CheckChoice("format", v, "env json");
      if (!ok.ok()) return ok;
      s->cmd->format = std::string(v);
      return absl::OkStatus();
    }};
constexpr OptionSpec kEnvFileRow = {
    "env-file",
    0,
    ValueKind::kPath,
    "FILE",
    "",
    "",
    "dotenv file whose values may be references ($S:name, $S::env/name)",
    [](absl::string_view v, ParseState* s) {
      s->cmd->env_file = std::string(v);
      return absl::OkStatus();
    }};
constexpr OptionSpec kScopeRow = {
    "scope",
    0,
    ValueKind::kText,
    "S",
    "",
    "",
    "a deployment scope (D or D/S) instead of an environment",
    [](absl::string_view v, ParseState* s) -> absl::Status {
      if (v.empty()) return Usage("--scope cannot be empty");
      s->cmd->scope = std::string(v);
      return absl::OkStatus();
    }};
constexpr OptionSpec kNameRow = {"name",
                                 0,
                                 ValueKind::kText,
                                 "N",
                                 "",
                                 "",
                                 "one secret of --scope instead of all of them",
                                 [](absl::string_view v, ParseState* s) {
                                   s->cmd->secret_name = std::string(v);
                                   return absl::OkStatus();
                                 }};
constexpr OptionSpec kUsernameRow = {"username",
                                     0,
                                     ValueKind::kText,
                                     "U",
                                     "",
                                     "",
                                     "user name of the credential",
                                     [](absl::string_view v, ParseState* s) {
                                       s->cmd->username = std::string(v);
                                       return absl::OkStatus();
                                     }};

constexpr OptionSpec kSealToRow = {
    "seal-to",
    0,
    ValueKind::kPath,
    "KEYFILE",
    "",
    "",
    "have values sealed to the client key in KEYFILE (created and registered "
    "when missing) and open them here",
    [](absl::string_view v, ParseState* s) {
      s->cmd->seal_to_file = std::string(v);
      return absl::OkStatus();
    }};

// ---- One table per verb
// -------------------------------------------------------

constexpr OptionSpec kNoOptions[] = {
    {"", 0, ValueKind::kFlag, "", "", "", "", nullptr}};  // never matched

constexpr OptionSpec kNodeAffinityRow = {
    "node-affinity",
    0,
    ValueKind::kText,
    "LIST",
    "",
    "",
    "only nodes in LIST may read the value: comma-separated node names "
    "(n1 or node:n1) and labels (label:zone=a); \"\" removes it "
    "(changing one needs an administrator)",
    [](absl::string_view v, ParseState* s) {
      std::vector<std::string> entries;
      for (absl::string_view e : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        entries.emplace_back(absl::StripAsciiWhitespace(e));
      }
      s->cmd->node_affinity = std::move(entries);
      return absl::OkStatus();
    }};

constexpr OptionSpec kWriteOptions[] = {
    kValueRow, kFromFileRow,  kFromStdinRow,  kRandomRow,      kRandomLengthRow,
    kExactRow, kIfVersionRow, kCreateOnlyRow, kNodeAffinityRow};

constexpr OptionSpec kRotateOptions[] = {
    kValueRow,        kFromFileRow, kFromStdinRow,   kRandomRow,
    kRandomLengthRow, kExactRow,    kNodeAffinityRow};

constexpr OptionSpec kGetOptions[] = {
    {"reveal", 0, ValueKind::kFlag, "", "", "",
     "print the value (else only the metadata)",
     [](absl::string_view, ParseState* s) {
       s->cmd->reveal = true;
       return absl::OkStatus();
     }},
    {"version", 0, ValueKind::kNumber, "N", "", "",
     "an older version's value (with --reveal)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::StatusOr<uint32_t> n = ParseWholeNumber("--version", v, 1);
       if (!n.ok()) return n.status();
       s->cmd->version = *n;
       return absl::OkStatus();
     }},
    {"field", 0, ValueKind::kText, "F", "", "",
     "one field of a JSON object value (with --reveal)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->field = std::string(v);
       return absl::OkStatus();
     }},
    {"no-newline", 'n', ValueKind::kFlag, "", "", "",
     "no newline after the value (with --reveal)",
     [](absl::string_view, ParseState* s) {
       s->cmd->no_newline = true;
       return absl::OkStatus();
     }},
    kSealToRow,
};

constexpr OptionSpec kImportOptions[] = {
    {"file", 0, ValueKind::kPath, "FILE", "", "", "the file to import",
     [](absl::string_view v, ParseState* s) {
       s->cmd->file = std::string(v);
       return absl::OkStatus();
     }},
    kFormatRow,
    {"dry-run", 0, ValueKind::kFlag, "", "", "",
     "show what would change, change nothing",
     [](absl::string_view, ParseState* s) {
       s->cmd->dry_run = true;
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kExportOptions[] = {kFormatRow, kSealToRow};

constexpr OptionSpec kDestroyOptions[] = {
    {"yes", 0, ValueKind::kFlag, "", "", "",
     "confirm: every version is removed for good",
     [](absl::string_view, ParseState* s) {
       s->cmd->yes = true;
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kEnvFileOptions[] = {kEnvFileRow};

// The signals `watch --signal` may send, by name without "SIG".
constexpr absl::string_view kWatchSignals = "HUP USR1 USR2 INT TERM QUIT WINCH";

int SignalNumber(absl::string_view name) {
  constexpr struct {
    absl::string_view name;
    int number;
  } kSignals[] = {{"HUP", SIGHUP},    {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
                  {"INT", SIGINT},    {"TERM", SIGTERM}, {"QUIT", SIGQUIT},
                  {"WINCH", SIGWINCH}};
  for (const auto& s : kSignals) {
    if (s.name == name) return s.number;
  }
  return 0;
}

constexpr OptionSpec kWatchOptions[] = {
    kEnvFileRow,
    {"consumer", 0, ValueKind::kText, "C", "", "",
     "who is watching, recorded in the consumer graph (e.g. "
     "deployment/service/instance)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->consumer = std::string(v);
       return absl::OkStatus();
     }},
    {"restart", 0, ValueKind::kFlag, "", "", "",
     "with -- CMD: restart CMD with the new environment after a change "
     "(the default)",
     [](absl::string_view, ParseState* s) {
       s->cmd->watch_restart = true;
       s->cmd->watch_signal = 0;
       return absl::OkStatus();
     }},
    {"signal", 0, ValueKind::kChoice, "SIG", kWatchSignals, "",
     "with -- CMD: send SIG to CMD after a change instead of restarting it; "
     "a signal cannot change a running process's environment, so this suits "
     "a CMD that re-reads a file or asks zlayer-secret again",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       std::string name = absl::AsciiStrToUpper(v);
       if (absl::StartsWith(name, "SIG")) name = name.substr(3);
       absl::Status ok = CheckChoice("signal", name, kWatchSignals);
       if (!ok.ok()) return ok;
       s->cmd->watch_signal = SignalNumber(name);
       return absl::OkStatus();
     }},
    {"restart-grace", 0, ValueKind::kDuration, "DURATION", "", "",
     "with -- CMD: how long a restarted CMD has to exit after SIGTERM "
     "before SIGKILL (default 10s)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::StatusOr<absl::Duration> d = ParseTimeout(v);
       if (!d.ok()) return d.status();
       s->cmd->restart_grace = *d;
       return absl::OkStatus();
     }},
    {"debounce", 0, ValueKind::kDuration, "DURATION", "", "",
     "with -- CMD: changes within DURATION of the first are handled "
     "together, one re-resolve and one restart (default 500ms)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::StatusOr<absl::Duration> d = ParseTimeout(v);
       if (!d.ok()) return d.status();
       s->cmd->debounce = *d;
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kRunOptions[] = {
    kEnvFileRow,
    {"consumer", 0, ValueKind::kText, "C", "", "",
     "who resolves, recorded in the consumer graph (e.g. "
     "deployment/service/instance)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->consumer = std::string(v);
       return absl::OkStatus();
     }},
    {"pin", 0, ValueKind::kPath, "RECEIPT_FILE", "", "",
     "resolve exactly the versions of these `receipt KEY SCOPE/NAME VERSION` "
     "lines (as `watch` prints them)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->pin_file = std::string(v);
       return absl::OkStatus();
     }},
    kSealToRow,
};

constexpr OptionSpec kEnvOptions[] = {
    {"description", 0, ValueKind::kText, "D", "", "",
     "description of a new environment (env create)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->description = std::string(v);
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kGrantOptions[] = {kScopeRow, kNameRow};

constexpr OptionSpec kRevokeOptions[] = {
    kScopeRow,
    kNameRow,
    {"id", 0, ValueKind::kText, "ID", "", "", "the grant's id",
     [](absl::string_view v, ParseState* s) {
       s->cmd->grant_id = std::string(v);
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kPermissionsOptions[] = {
    kScopeRow,
    kNameRow,
    {"subject", 0, ValueKind::kText, "X", "", "",
     "every grant of one subject (uid:N, gid:N, role:NAME, apikey:ID, "
     "user:ID, group:ID)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::StatusOr<std::string> subject = NormalizeSubject(v);
       if (!subject.ok()) return subject.status();
       s->cmd->subject = *subject;
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kApikeyOptions[] = {
    {"role", 0, ValueKind::kText, "R", "", "",
     "a role of the key (repeatable, or comma-separated)",
     [](absl::string_view v, ParseState* s) {
       for (absl::string_view r : absl::StrSplit(v, ',', absl::SkipEmpty())) {
         s->cmd->roles.emplace_back(r);
       }
       return absl::OkStatus();
     }},
    {"node", 0, ValueKind::kText, "NAME", "", "",
     "the key speaks for node NAME (role node:NAME; see node affinity)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->roles.push_back(absl::StrCat("node:", v));
       return absl::OkStatus();
     }},
    {"node-label", 0, ValueKind::kText, "K=V", "", "",
     "a label of the key's node (role node-label:K=V; repeatable)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->roles.push_back(absl::StrCat("node-label:", v));
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kClientKeyOptions[] = {
    {"all", 0, ValueKind::kFlag, "", "", "",
     "every owner's keys (administrators, client-key ls)",
     [](absl::string_view, ParseState* s) {
       s->cmd->all = true;
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kCredentialOptions[] = {
    kValueRow,
    kFromFileRow,
    kFromStdinRow,
    {"registry", 0, ValueKind::kText, "R", "", "",
     "registry host (credential registry add)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->registry = std::string(v);
       return absl::OkStatus();
     }},
    kUsernameRow,
    {"auth-type", 0, ValueKind::kChoice, "TYPE", "basic token", "",
     "basic (default) or token",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       absl::Status ok = CheckChoice("auth-type", v, "basic token");
       if (!ok.ok()) return ok;
       s->cmd->auth_type = std::string(v);
       return absl::OkStatus();
     }},
    {"host", 0, ValueKind::kText, "H", "", "", "git host (credential git add)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->host = std::string(v);
       return absl::OkStatus();
     }},
    {"path-prefix", 0, ValueKind::kText, "P", "", "",
     "only repositories under this path (credential git add)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->path_prefix = std::string(v);
       return absl::OkStatus();
     }},
    {"kind", 0, ValueKind::kChoice, "KIND", "pat ssh-key", "",
     "pat (default) or ssh-key (credential git add)",
     [](absl::string_view v, ParseState* s) -> absl::Status {
       if (v != "ssh_key") {
         absl::Status ok = CheckChoice("kind", v, "pat ssh-key");
         if (!ok.ok()) return ok;
       }
       s->cmd->kind = std::string(v);
       return absl::OkStatus();
     }},
    {"label", 0, ValueKind::kText, "NAME", "", "",
     "name of a git credential (credential git add)",
     [](absl::string_view v, ParseState* s) {
       s->cmd->label = std::string(v);
       return absl::OkStatus();
     }},
};

constexpr OptionSpec kKeyOptions[] = {
    {"from-file", 0, ValueKind::kPath, "FILE", "", "",
     "key rotate: the new master key (32 raw bytes or 64 hex characters)",
     kFromFileRow.set},
    {"from-stdin", 0, ValueKind::kFlag, "", "", "",
     "key rotate: read the new master key from standard input",
     kFromStdinRow.set},
    {"wait", 0, ValueKind::kFlag, "", "", "",
     "key rekey: follow the rekey to its end",
     [](absl::string_view, ParseState* s) {
       s->cmd->wait = true;
       return absl::OkStatus();
     }},
};

// The offline verbs (migrate, restore, audit) are run by ops_commands.h
// before the parser; their tables serve the help, completions and man page
// (and name their options consistently with the other verbs').
absl::Status ReadByOfflineVerb(absl::string_view, ParseState*) {
  return absl::OkStatus();
}

constexpr OptionSpec kDataDirRow = {
    "data-dir",
    0,
    ValueKind::kPath,
    "DIR",
    "",
    "",
    "the daemon's data directory (its secrets.db)",
    ReadByOfflineVerb};
constexpr OptionSpec kKeyDirRow = {
    "key-dir",
    0,
    ValueKind::kPath,
    "DIR",
    "",
    "",
    "where the daemon's master key file is (default: the data directory)",
    ReadByOfflineVerb};

constexpr OptionSpec kMigrateOptions[] = {
    {"from-upstream", 0, ValueKind::kPath, "PATH", "", "",
     "the upstream ZLayer store (its directory or .sqlite file)",
     ReadByOfflineVerb},
    kDataDirRow,
    kKeyDirRow,
    {"target-key-file", 0, ValueKind::kPath, "FILE", "", "",
     "the daemon's master key file (like zlayer-secretsd --key-file)",
     ReadByOfflineVerb},
    {"key-file", 0, ValueKind::kPath, "FILE", "", "",
     "migrate: the upstream key file; restore: the store's master key file",
     ReadByOfflineVerb},
    {"upstream-deployment", 0, ValueKind::kText, "D", "", "",
     "the upstream deployment name (names its key and salt files)",
     ReadByOfflineVerb},
    {"env-names", 0, ValueKind::kPath, "FILE", "", "",
     "ID=NAME lines naming the environments", ReadByOfflineVerb},
    {"permissions", 0, ValueKind::kPath, "FILE", "", "",
     "upstream permission grants (StoredPermission JSON) to import",
     ReadByOfflineVerb},
    {"dry-run", 0, ValueKind::kFlag, "", "", "",
     "show what would change, change nothing", ReadByOfflineVerb},
    {"skip-unmapped", 0, ValueKind::kFlag, "", "", "",
     "migrate the rows that map even when some cannot", ReadByOfflineVerb},
};

constexpr OptionSpec kRestoreOptions[] = {
    kDataDirRow,
    kKeyDirRow,
    {"key-file", 0, ValueKind::kPath, "FILE", "", "",
     "migrate: the upstream key file; restore: the store's master key file",
     ReadByOfflineVerb},
    {"verify-only", 0, ValueKind::kFlag, "", "", "",
     "check the file (key, MAC, content) and write nothing", ReadByOfflineVerb},
    {"etcd-endpoints", 0, ValueKind::kText, "HOST:PORT,...", "", "",
     "restore a cluster backup into etcd (an empty prefix; no daemon on it)",
     ReadByOfflineVerb},
    {"etcd-prefix", 0, ValueKind::kText, "PREFIX", "", "",
     "the etcd prefix to restore into (e.g. /zlayer-secrets)",
     ReadByOfflineVerb},
    {"etcd-cacert", 0, ValueKind::kPath, "FILE", "", "",
     "etcd over TLS: the CA to trust", ReadByOfflineVerb},
    {"etcd-cert", 0, ValueKind::kPath, "FILE", "", "",
     "etcd over TLS: the client certificate", ReadByOfflineVerb},
    {"etcd-key", 0, ValueKind::kPath, "FILE", "", "",
     "etcd over TLS: the client certificate's key", ReadByOfflineVerb},
};

constexpr OptionSpec kAuditOptions[] = {
    {"head", 0, ValueKind::kPath, "FILE", "", "",
     "the chain's head file (default: the last FILE with .head appended)",
     ReadByOfflineVerb},
};

absl::Span<const OptionSpec> None() {
  return absl::Span<const OptionSpec>(kNoOptions, 0);
}

const std::vector<VerbSpec>& AllVerbs() {
  static const std::vector<VerbSpec>* verbs = new std::vector<VerbSpec>{
      {"ls", "list", "Secrets", "", "list secrets (metadata only)", "", "",
       None(),
       "zlayer-secret ls\n"
       "zlayer-secret ls --env prod -o json\n"
       "zlayer-secret ls -o plain"},
      {"create", "", "Secrets", "NAME VALUE-SOURCE",
       "create or overwrite a secret (upsert)",
       "VALUE-SOURCE is exactly one of --value, --from-file, --from-stdin or "
       "--random. A text value loses one trailing newline (--exact keeps "
       "it); binary content is stored byte for byte.",
       "", kWriteOptions,
       "zlayer-secret create db --from-stdin < password.txt\n"
       "zlayer-secret create tls-key --from-file key.der\n"
       "zlayer-secret create token --random --create-only"},
      {"set", "", "Secrets", "NAME VALUE-SOURCE",
       "same as create (upstream's env verb)", "", "", kWriteOptions,
       "zlayer-secret --env prod set API_KEY --from-file -"},
      {"get", "", "Secrets", "NAME",
       "a secret's metadata; its value only with --reveal",
       "With --reveal the value goes to standard output followed by a "
       "newline (--no-newline or -o raw: the exact bytes). -o json holds the "
       "value in \"value\" when it is UTF-8, else in \"value_base64\".",
       "", kGetOptions,
       "zlayer-secret get db\n"
       "zlayer-secret get db --reveal --no-newline | xclip\n"
       "zlayer-secret get tls-key --reveal -o raw > key.der\n"
       "zlayer-secret get db --reveal --version 2 -o json"},
      {"rm", "remove", "Secrets", "NAME", "soft delete (undo with undelete)",
       "", "", None(), "zlayer-secret rm db"},
      {"unset", "", "Secrets", "NAME", "same as rm (upstream's env verb)", "",
       "", None(), "zlayer-secret --env prod unset API_KEY"},
      {"rotate", "", "Secrets", "NAME VALUE-SOURCE",
       "a new version of an existing secret", "", "", kRotateOptions,
       "zlayer-secret rotate db --random"},
      {"versions", "", "Secrets", "NAME", "list versions, newest first", "", "",
       None(), "zlayer-secret versions db -o json"},
      {"rollback", "", "Secrets", "NAME VERSION",
       "copy VERSION's value into a new version", "", "", None(),
       "zlayer-secret rollback db 2"},
      {"undelete", "", "Secrets", "NAME", "restore a soft-deleted secret", "",
       "", None(), "zlayer-secret undelete db"},
      {"destroy", "", "Secrets", "NAME --yes", "remove every version for good",
       "", "", kDestroyOptions, "zlayer-secret destroy db --yes"},
      {"import", "", "Secrets", "--file FILE", "import a dotenv or JSON file",
       "", "", kImportOptions, "zlayer-secret import --file .env --dry-run"},
      {"export", "", "Secrets", "", "print every value (dotenv or JSON)", "",
       "", kExportOptions, "zlayer-secret --env prod export --format json"},
      {"check", "", "Secrets", "--env-file FILE",
       "check the references of a dotenv file", "", "", kEnvFileOptions,
       "zlayer-secret check --env-file app.env"},
      {"run", "", "Secrets", "--env-file FILE -- CMD [ARGS]",
       "resolve the references, then exec CMD with them in its environment", "",
       "", kRunOptions,
       "zlayer-secret run --env-file app.env -- ./server --port 8080"},
      {"watch", "", "Secrets", "--env-file FILE [-- CMD [ARGS]]",
       "follow the file's secrets, or keep CMD running on their current "
       "values",
       "Without CMD: prints receipt, change, error and position lines, never "
       "a value; reconnects and resumes where it stopped (docs/watch.md). "
       "With -- CMD: resolves the file all-or-nothing and starts CMD with "
       "the values in its environment; after a change it resolves again and "
       "restarts CMD (SIGTERM, --restart-grace, then SIGKILL) or, with "
       "--signal, signals it. A failed re-resolve (access revoked, secret "
       "deleted) keeps the running CMD and says why on stderr. SIGTERM, "
       "SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are passed on to CMD; "
       "the exit code is CMD's.",
       "", kWatchOptions,
       "zlayer-secret watch --env-file app.env --consumer shop/web/1\n"
       "zlayer-secret watch --env-file app.env -- ./server --port 8080\n"
       "zlayer-secret watch --env-file app.env --signal HUP -- ./reloader"},
      {"consumers", "", "Secrets", "NAME", "who holds which version of NAME",
       "", "", None(), "zlayer-secret consumers db"},
      {"env", "", "Secrets", "ls | create NAME [--description D] | rm NAME|ID",
       "list, create or remove environments", "", "ls create rm", kEnvOptions,
       "zlayer-secret env ls\n"
       "zlayer-secret env create prod --project shop"},
      {"whoami", "", "Secrets", "", "who the daemon thinks you are", "", "",
       None(), "zlayer-secret whoami -o json"},
      {"health", "", "Secrets", "",
       "health check: exit 0 when SERVING, 7 when not, 6 when unreachable",
       "Needs no API key; made for container HEALTHCHECKs and scripts.", "",
       None(), "zlayer-secret health --timeout 2s"},
      {"grant", "", "Access",
       "SUBJECT ENV LEVEL | SUBJECT LEVEL --scope S [--name N] | "
       "SUBJECT impersonate PATTERN",
       "give a subject read, execute or write access, or the right to act "
       "as users and groups",
       "SUBJECT is uid:N, gid:N, role:NAME, apikey:ID, user:ID, group:ID or a "
       "uid number; LEVEL is read, execute or write. PATTERN is user:ID or "
       "group:ID, the ID may end in '*' (user:*, group:eng-*).",
       "", kGrantOptions,
       "zlayer-secret grant uid:1000 prod read\n"
       "zlayer-secret grant role:ci execute --scope ci --name deploy-key\n"
       "zlayer-secret grant apikey:api-server impersonate 'user:*'"},
      {"revoke", "", "Access",
       "SUBJECT ENV | SUBJECT --scope S [--name N] | --id ID",
       "take a grant back", "", "", kRevokeOptions,
       "zlayer-secret revoke uid:1000 prod"},
      {"permissions", "", "Access", "ENV | --scope S [--name N] | --subject X",
       "list grants", "", "", kPermissionsOptions,
       "zlayer-secret permissions prod\n"
       "zlayer-secret permissions --subject uid:1000 -o json"},
      {"apikey", "", "Access",
       "create ID [--role R]... | rotate ID | ls | roles ID [ROLE...] | rm ID",
       "manage API keys (a new key is printed once)", "",
       "create rotate ls roles rm", kApikeyOptions,
       "zlayer-secret apikey create ci --role deployer\n"
       "zlayer-secret apikey ls -o plain"},
      {"client-key", "", "Access", "create KEYFILE | ls [--all] | revoke ID",
       "client keys for sealed reveals",
       "create makes an X25519 key pair, registers its public key for you "
       "and writes the id and secret key to KEYFILE (mode 0600); get, run "
       "and export with --seal-to KEYFILE then receive sealed values only "
       "that file opens (docs/identity.md).",
       "create ls revoke", kClientKeyOptions,
       "zlayer-secret client-key create ~/.zlayer/seal.key\n"
       "zlayer-secret get db --reveal --seal-to ~/.zlayer/seal.key"},
      {"credential", "", "Access",
       "registry|git add ... SECRET-SOURCE | registry|git ls | "
       "registry|git rm ID",
       "registry and git credentials for the helpers",
       "SECRET-SOURCE is --from-file, --from-stdin or --value.", "registry git",
       kCredentialOptions,
       "zlayer-secret credential registry add --registry ghcr.io \\\n"
       "    --username me --from-stdin\n"
       "zlayer-secret credential git ls -o json"},
      {"key", "", "Access",
       "rotate [--from-file F | --from-stdin] | rekey "
       "[--wait]",
       "rotate the master key, or move every value to a new data key",
       "key rotate re-wraps the data keys under a new master key (no value is "
       "re-encrypted); key rekey re-encrypts every stored version in the "
       "background. Administrators only.",
       "rotate rekey", kKeyOptions,
       "zlayer-secret key rotate\nzlayer-secret key rekey --wait"},
      {"backup", "", "Operations", "FILE",
       "write an encrypted backup of the whole store to FILE",
       "One consistent snapshot taken while writes go on. Values stay "
       "sealed; the file is authenticated with a key derived from the "
       "store's keys, so restoring it needs the store's master key. In "
       "cluster mode (--store etcd) it is every key of the prefix at one "
       "etcd revision; restore it with --etcd-endpoints. Streamed: FILE "
       "appears only once complete (FILE.partial until then). Never "
       "overwrites FILE. Administrators only.",
       "", None(), "zlayer-secret backup /var/backups/secrets-$(date +%F).zsb"},
      {"restore", "", "Operations",
       "FILE --data-dir DIR | FILE --etcd-endpoints E --etcd-prefix P | FILE "
       "--verify-only",
       "restore a backup into an empty data directory or etcd prefix "
       "(offline)",
       "Checks the file's integrity and the key before anything is written "
       "(a wrong key, a truncated, edited or foreign file: nothing is "
       "written). The key is found as zlayer-secretsd finds it (--key-file, "
       "--key-dir, ZLAYER_SECRETS_KEY, ZLAYER_SECRETS_PASSWORD); restore "
       "never creates one.",
       "", kRestoreOptions,
       "zlayer-secret restore backup.zsb --data-dir /srv/zs --key-dir /etc/zs\n"
       "zlayer-secret restore backup.zsb --verify-only --key-file master.key\n"
       "zlayer-secret restore cluster.zsb --key-file master.key \\\n"
       "    --etcd-endpoints 10.0.0.1:2379 --etcd-prefix /zlayer-secrets"},
      {"migrate", "", "Operations", "--from-upstream PATH --data-dir DIR",
       "import an upstream ZLayer store (offline, all-or-nothing)",
       "Run with --dry-run first: it reports what would be created and every "
       "row that cannot be mapped, and writes nothing. The daemon must be "
       "stopped.",
       "", kMigrateOptions,
       "zlayer-secret migrate --from-upstream /var/lib/zlayer \\\n"
       "    --data-dir /var/lib/zlayer-secrets --dry-run"},
      {"audit", "", "Operations", "verify FILE...",
       "check the audit log's hash chain (offline)",
       "FILEs oldest first (rotated files, then the current log). Reports "
       "the first deleted, edited, reordered or truncated record; exit 0 "
       "when the chain is intact.",
       "verify", kAuditOptions,
       "zlayer-secret audit verify audit.log.1 audit.log"},
      {"completion", "", "Tools", "bash|zsh|fish",
       "print a shell completion script",
       "Load it with: source <(zlayer-secret completion bash)", "bash zsh fish",
       None(),
       "zlayer-secret completion bash > "
       "/etc/bash_completion.d/zlayer-secret\n"
       "zlayer-secret completion fish > "
       "~/.config/fish/completions/zlayer-secret.fish"},
      {"man", "", "Tools", "", "print the manual page (roff)", "", "", None(),
       "zlayer-secret man | man -l -"},
      {"help", "", "Tools", "[COMMAND]",
       "the overview, or one command's help (same as COMMAND --help)", "", "",
       None(), "zlayer-secret help get"},
  };
  return *verbs;
}

// Levenshtein distance, for suggestions.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

absl::Span<const OptionSpec> GlobalOptionSpecs() { return kGlobalOptions; }

absl::Span<const VerbSpec> VerbSpecs() { return AllVerbs(); }

const VerbSpec* FindVerb(absl::string_view name) {
  for (const VerbSpec& verb : AllVerbs()) {
    if (verb.name == name) return &verb;
    for (absl::string_view alias :
         absl::StrSplit(verb.aliases, ' ', absl::SkipEmpty())) {
      if (alias == name) return &verb;
    }
  }
  return nullptr;
}

const OptionSpec* FindOption(const VerbSpec* verb, absl::string_view name) {
  if (name.empty()) return nullptr;
  if (verb != nullptr) {
    for (const OptionSpec& o : verb->options) {
      if (o.name == name) return &o;
    }
  }
  for (const OptionSpec& o : kGlobalOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string ClosestOption(const VerbSpec* verb, absl::string_view name) {
  std::string best;
  size_t best_distance = 3;  // suggest only close names
  auto consider = [&](absl::Span<const OptionSpec> options) {
    for (const OptionSpec& o : options) {
      size_t d = EditDistance(name, o.name);
      // A prefix ("--rev" for "--reveal") counts as close.
      if (o.name.size() > name.size() && name.size() >= 3 &&
          o.name.substr(0, name.size()) == name) {
        d = std::min<size_t>(d, 1);
      }
      if (d < best_distance) {
        best_distance = d;
        best = std::string(o.name);
      }
    }
  };
  if (verb != nullptr) consider(verb->options);
  consider(kGlobalOptions);
  return best;
}

}  // namespace zlayer::secrets::cli
