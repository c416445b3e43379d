// zlayer-secret's identity verbs: grant, revoke, permissions, apikey and
// credential (registry | git). Split from commands.cc, which dispatches here.
//
//   if (IsIdentityVerb(cmd.verb)) return RunIdentityCommand(cmd, client, io);
//
// Formats follow upstream's where they apply (docs/compatibility.md, "Verbs and
// output"):
//   grant       "Granted <level> on <what> to <subject> (permission id <id>)"
//   revoke      "Revoked <level> on <what> from <subject> (permission id
//               <id>)" per removed grant, or "No grant to revoke: <subject>
//               has no permission on <what>" (exit 0)
//   permissions table PERMISSION_ID(38) KIND(6) SUBJECT_ID(38) LEVEL(8), all
//               left-aligned ("(no grants on <what>)" when empty); with
//               --subject: PERMISSION_ID(38) RESOURCE(40) LEVEL(8); --output
//               json prints a JSON array.
// where <what> is "environment <id>", "scope '<s>'" or "secret '<s>/<n>'".
//
// Secrets (an API key, a credential's password or token) reach stdout only
// from `apikey create`, which prints the new key once; credential secrets
// come from --from-file / --from-stdin (or --value, with a warning).
#ifndef ZLAYER_SECRETS_CLIENT_CLI_IDENTITY_COMMANDS_H_
#define ZLAYER_SECRETS_CLIENT_CLI_IDENTITY_COMMANDS_H_

#include "absl/strings/string_view.h"
#include "client/cli/args.h"
#include "client/cli/commands.h"
#include "client/secrets_client.h"

namespace zlayer::secrets::cli {

bool IsIdentityVerb(absl::string_view verb);

// Runs one identity verb; exit codes as RunCommand.
int RunIdentityCommand(const Command& cmd, SecretsClient* client, Io io);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_IDENTITY_COMMANDS_H_
