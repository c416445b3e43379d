// zlayer-secret's offline verbs, which work on files with the daemon
// stopped (or not involved) and so run before the daemon-client parser:
//   migrate --from-upstream PATH --data-dir DIR ...   (migrate_command.h)
//   restore FILE --data-dir DIR | --etcd-endpoints E --etcd-prefix P |
//           --verify-only   (core/backup, core/backup/cluster_backup.h)
//   audit verify FILE... [--head F]                    (core/audit)
// Their options are listed in verbs.cc (help, completions, man page);
// `VERB --help` prints that help.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_OPS_COMMANDS_H_
#define ZLAYER_SECRETS_CLIENT_CLI_OPS_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace zlayer::secrets::cli {

// True when args[0] is one of the offline verbs.
bool IsOfflineVerb(const std::vector<std::string>& args);

// Runs it; returns the exit code (exit_codes.h).
int RunOfflineCommand(const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_OPS_COMMANDS_H_
