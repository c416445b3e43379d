// Command-line parsing of zlayer-secret: argv in, a Command out, no I/O.
//
//   absl::StatusOr<Command> cmd = ParseCommandLine({"get", "db", "--reveal"});
//   // cmd->verb == "get", cmd->positionals == {"db"}, cmd->reveal
//
// Every error returned here is a usage error (the CLI exits 2). Options may
// appear before or after the verb, as `--opt VALUE` or `--opt=VALUE`; `--`
// ends the options (what follows is the command of `run`). Aliases are
// folded into canonical verbs (`list` -> `ls`, `remove` -> `rm`).
#ifndef ZLAYER_SECRETS_CLIENT_CLI_ARGS_H_
#define ZLAYER_SECRETS_CLIENT_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace zlayer::secrets::cli {

// The CLI's version (`zlayer-secret --version`), released with the daemon's.
inline constexpr char kCliVersion[] = "0.1.0";

// --output: table (for people), json (stable fields, docs/cli.md), plain
// (one identifying field per line, no header: names, version numbers, ids)
// and raw (`get --reveal` only: the value's exact bytes, nothing added).
enum class OutputFormat { kTable, kJson, kPlain, kRaw };

// Options every verb accepts.
struct GlobalOptions {
  std::string socket;           // --socket PATH (Unix socket)
  std::string address;          // --address HOST:PORT (TLS)
  std::string tls_ca_file;      // --tls-ca FILE
  std::string tls_cert_file;    // --tls-cert FILE (mutual TLS)
  std::string tls_key_file;     // --tls-key FILE
  std::string tls_server_name;  // --tls-server-name NAME
  std::string api_key_file;     // --api-key-file FILE (never the key itself)
  std::string act_as_user;      // --act-as-user U (delegated identity)
  std::vector<std::string> act_as_groups;  // --act-as-groups g1,g2
  std::string env;                         // --env NAME|ID: environment target
  std::string project;                     // --project P
  // --deployment D: the target when there is no --env, and the deployment of
  // `$S:name` references in check/run. Default "default" (upstream's scope).
  std::string deployment = "default";
  // --service S: service scope "D/S" as target; for check/run it is recorded
  // in the audit trail (ResolveContext.service).
  std::string service;
  OutputFormat output = OutputFormat::kTable;  // --output / -o
  absl::Duration timeout = absl::Seconds(5);   // --timeout 5s | 500ms | 10
  bool wait_for_ready = false;                 // --wait-for-ready
};

// Where a new value comes from (create / set / rotate): exactly one.
struct ValueSource {
  enum class Kind { kValue, kFile, kStdin, kRandom };
  Kind kind = Kind::kValue;
  std::string text;  // the --value text, or the --from-file path
  size_t random_length = 32;
  // --exact: the bytes as read, no trailing newline removed (binary content,
  // that is content that is not UTF-8, is always taken exactly).
  bool exact = false;
};

inline constexpr size_t kDefaultRandomLength = 32;

// The four value flags as given; SelectValueSource() applies upstream's rules
// (§14.1) with its messages.
struct ValueFlags {
  absl::optional<std::string> value;
  absl::optional<std::string> from_file;
  bool from_stdin = false;
  bool random = false;
  bool exact = false;
  absl::optional<std::string>
      random_length;  // accepted and ignored without --random
};
absl::StatusOr<ValueSource> SelectValueSource(const ValueFlags& flags);

struct Command {
  // ls create get set rm rotate unset import export versions rollback
  // undelete destroy check run env whoami health grant revoke permissions
  // apikey client-key credential key completion man help, and "version" for a
  // top-level `--version` (before any verb; `get --version N` is separate).
  // `help` has the verb asked about (canonical) as its one positional, or
  // none for the overview; `VERB --help` parses as `help VERB`.
  std::string verb;
  std::vector<std::string> positionals;  // after the verb (env: sub-verb first)
  GlobalOptions global;

  absl::optional<ValueSource> value;  // create / set / rotate
  absl::optional<uint32_t>
      expected_version;        // --if-version N / --create-only (0)
  bool reveal = false;         // get
  bool no_newline = false;     // get --reveal --no-newline
  uint32_t version = 0;        // get --version (0 = current)
  std::string field;           // get --field
  std::string file;            // import --file
  std::string format = "env";  // import / export --format env|json
  bool dry_run = false;        // import
  bool wait = false;           // key rekey
  bool yes = false;            // destroy
  bool all = false;            // client-key ls --all
  std::string env_file;        // check / run --env-file
  std::string consumer;        // watch / run --consumer C
  std::string pin_file;        // run --pin RECEIPT_FILE
  // get / run / export --seal-to KEYFILE: values come sealed to the client
  // key in KEYFILE (registered and written first when the file does not
  // exist) and are opened here (docs/identity.md, "Sealed reveals").
  std::string seal_to_file;
  std::string description;             // env create --description
  std::vector<std::string> exec_argv;  // run / watch: after `--`
  // watch -- CMD: on a change, send this signal instead of restarting
  // (--signal HUP; 0: restart, the default, also named by --restart).
  int watch_signal = 0;
  bool watch_restart = false;                         // --restart (explicit)
  absl::Duration restart_grace = absl::Seconds(10);   // --restart-grace
  absl::Duration debounce = absl::Milliseconds(500);  // --debounce

  // Identity verbs (client/cli/identity_commands.h).
  std::string scope;               // grant/revoke/permissions --scope S
  std::string secret_name;         // grant/revoke/permissions --name N
  std::string subject;             // permissions --subject X (normalised)
  std::string grant_id;            // revoke --id ID
  std::vector<std::string> roles;  // apikey --role R (repeatable)
  // set/create/rotate --node-affinity LIST (comma-separated; "" = remove);
  // unset = keep the secret's.
  absl::optional<std::vector<std::string>> node_affinity;
  std::string registry;             // credential registry add --registry R
  std::string username;             // credential ... add --username U
  std::string auth_type = "basic";  // credential registry add --auth-type
  std::string host;                 // credential git add --host H
  std::string path_prefix;          // credential git add --path-prefix P
  std::string kind = "pat";         // credential git add --kind pat|ssh-key
  std::string label;                // credential git add --label NAME
};

// A grant subject as typed: "uid:1000", "gid:100", "role:ci", "apikey:ID",
// or a bare uid number ("1000" -> "uid:1000"); trimmed. InvalidArgument
// "Subject cannot be empty" / "Invalid subject '<s>' (expected uid:N, gid:N,
// role:NAME, apikey:ID or a uid number)".
absl::StatusOr<std::string> NormalizeSubject(absl::string_view subject);

// Environment variables for scripts (like VAULT_ADDR, VAULT_CACERT,
// VAULT_FORMAT). A flag always wins over its variable. The Unix socket has
// its own variable, ZLAYER_SECRETS_SOCKET (client/secrets_client.h).
//   ZLAYER_SECRETS_ADDR          --address HOST:PORT (TLS); ignored when
//                                --socket or --address is given; takes
//                                precedence over ZLAYER_SECRETS_SOCKET
//   ZLAYER_SECRETS_CACERT        --tls-ca FILE
//   ZLAYER_SECRETS_API_KEY_FILE  --api-key-file FILE (a path, never the key)
//   ZLAYER_SECRETS_FORMAT        --output table|json
inline constexpr absl::string_view kAddrEnvVar = "ZLAYER_SECRETS_ADDR";
inline constexpr absl::string_view kCaCertEnvVar = "ZLAYER_SECRETS_CACERT";
inline constexpr absl::string_view kApiKeyFileEnvVar =
    "ZLAYER_SECRETS_API_KEY_FILE";
inline constexpr absl::string_view kFormatEnvVar = "ZLAYER_SECRETS_FORMAT";

// Those variables' values, by name; unset variables are absent (an empty
// value counts as unset).
using ScriptEnvironment = std::map<std::string, std::string>;

// `args` excludes argv[0]; `env` holds the variables above (main() reads
// them; tests pass their own). InvalidArgument (a usage error) with a
// message fit for `zlayer-secret: <message>`, also for a bad
// ZLAYER_SECRETS_FORMAT.
absl::StatusOr<Command> ParseCommandLine(const std::vector<std::string>& args,
                                         const ScriptEnvironment& env = {});

// The usage text (`zlayer-secret --help`): the verbs, the global options
// and the exit codes (client/cli/help.h renders it from the tables).
std::string UsageText();

// A whole number for `what` ("--if-version"), at least `min`; a usage error
// naming `what` otherwise.
absl::StatusOr<uint32_t> ParseWholeNumber(absl::string_view what,
                                          absl::string_view text, uint32_t min);

// "5s", "1m30s", "500ms" (absl::ParseDuration) or plain seconds ("10").
// InvalidArgument unless positive.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_ARGS_H_
