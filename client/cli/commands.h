// Execution of zlayer-secret's verbs against the daemon.
//
//   absl::StatusOr<Command> cmd = ParseCommandLine(args);
//   int code = RunCommand(*cmd, {&std::cin, &std::cout, &std::cerr});
//
// Exit codes (client/cli/exit_codes.h): 0 success; non-zero when the
// operation failed, with exactly one line `zlayer-secret: <message>` on
// stderr (import, check and run may list the bad entries first, indented by
// two spaces); the code tells not found, permission denied, conflict, daemon
// unreachable and bad input apart.
// The identity verbs (grant, revoke, permissions, apikey, credential) are in
// client/cli/identity_commands.h.
//
// Secret values reach stdout only through `get --reveal`, `export`,
// `--random` and `apikey create`, and never appear in an error message.
//
// Target of the secret verbs: --env NAME|ID [--project P] selects an
// environment (looked up once with Admin.GetEnvironment so messages can name
// its id; when the caller may not call GetEnvironment the name is sent as
// is), otherwise the deployment scope --deployment D (default "default",
// upstream's scope) or service scope D/S with --service S.
//
// Differences from upstream, deliberate (docs/compatibility.md, "Deliberate
// differences"): set/rotate/unset/import/export and `get --reveal` work on any
// target, not only --env (the daemon enforces access); create and set are
// upserts with optional check-and-set (--create-only, --if-version N); import
// reports unchanged entries too.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_COMMANDS_H_
#define ZLAYER_SECRETS_CLIENT_CLI_COMMANDS_H_

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/exit_codes.h"
#include "client/secrets_client.h"

namespace zlayer::secrets::cli {

struct Io {
  std::istream* in;
  std::ostream* out;
  std::ostream* err;
};

// The client options the global options ask for (reads --api-key-file).
absl::StatusOr<ClientOptions> ClientOptionsFor(const GlobalOptions& global);

// Connects and runs `cmd`. `run` replaces the process (execve) on success;
// `watch -- CMD` stays CMD's parent (client/cli/child_supervisor.h) and
// returns CMD's exit code.
int RunCommand(const Command& cmd, Io io);

// Runs `cmd` over an existing client (tests).
int RunCommandWith(const Command& cmd, SecretsClient* client, Io io);

// Prints `zlayer-secret: <message>` as one line (line breaks in the message
// become "; ") and returns `exit_code`.
int PrintFailure(std::ostream& err, absl::string_view message,
                 int exit_code = kExitFailure);

// Prints a failed call's status (FailureMessage) as PrintFailure does and
// returns ExitCodeFor(status.code()). `global` names the daemon's address.
int PrintCallFailure(std::ostream& err, const absl::Status& status,
                     const GlobalOptions& global);

// The environment a child of `run` gets: `inherited` ("K=V" strings, as in
// environ) with `overlay` replacing or adding keys. Order: inherited keys in
// their order, then new keys sorted.
std::vector<std::string> OverlayEnvironment(
    const std::vector<std::string>& inherited,
    const std::map<std::string, std::string>& overlay);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_COMMANDS_H_
