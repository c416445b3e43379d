// `zlayer-secret migrate`: the offline migration of an upstream ZLayer
// secrets store into this daemon's data directory (core/migrate). It runs in
// the CLI process against the files, not through the daemon, which must be
// stopped (the migration refuses a store that is in use).
//
//   zlayer-secret migrate --from-upstream /var/lib/zlayer
//       --data-dir /var/lib/zlayer-secrets [--key-dir /etc/zlayer-secrets]
//       [--key-file F] [--upstream-deployment D] [--env-names F]
//       [--dry-run] [--skip-unmapped]
//
// The upstream key comes from --key-file, else ZLAYER_SECRETS_KEY /
// ZLAYER_SECRETS_PASSWORD (upstream's variables), else upstream's key file
// {upstream dir}/secrets_{deployment}.key. The daemon's own key is found as
// zlayer-secretsd finds it from a key file (--key-dir, --deployment,
// --target-key-file); the environment variables are not used for it, since
// they name the upstream key here.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_MIGRATE_COMMAND_H_
#define ZLAYER_SECRETS_CLIENT_CLI_MIGRATE_COMMAND_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace zlayer::secrets::cli {

// True for the verb this file handles.
bool IsMigrateVerb(const std::vector<std::string>& args);

// Runs `migrate` with `args` (the verb first). Prints the report to `out`,
// one `zlayer-secret: <message>` line to `err` on failure. Returns an exit
// code of client/cli/exit_codes.h.
int RunMigrateCommand(const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_MIGRATE_COMMAND_H_
