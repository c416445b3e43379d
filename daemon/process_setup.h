// Process-wide set-up the daemon does once at start: the signal mask, no
// core dumps, the open-file limit, and the data directory.
//
//   BlockDaemonSignals();  // before any thread exists
//   RETURN_IF_ERROR(DisableCoreDumps());
//   RETURN_IF_ERROR(PrepareDataDir(options.data_dir));
//   rlim_t nofile = RaiseFileLimit();
//
// Not thread-safe: call from main's thread before the server starts.
#ifndef ZLAYER_SECRETS_DAEMON_PROCESS_SETUP_H_
#define ZLAYER_SECRETS_DAEMON_PROCESS_SETUP_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace zlayer::secrets {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
// thread it starts; the daemon waits for them with sigwait) and ignores
// SIGPIPE and SIGXFSZ.
void BlockDaemonSignals();

// RLIMIT_CORE 0 and not dumpable (no core file, no ptrace by the same uid).
// Internal on failure.
absl::Status DisableCoreDumps();

// Raises the soft RLIMIT_NOFILE to the hard limit (systemd's default soft
// limit is 1024, which idle connections can exhaust) and returns the soft
// limit now in force. Logs both limits.
rlim_t RaiseFileLimit();

// mkdir -p with `mode` for the directories it creates (the last one is
// chmod'ed to `mode` even if the umask is stricter or looser).
// FailedPrecondition when a path component is not a directory, Internal for
// other file-system errors.
absl::Status MakeDirectories(const std::string& path, mode_t mode);

// MakeDirectories(dir, 0700), and a warning when dir is open to group or
// others.
absl::Status PrepareDataDir(const std::string& dir);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_PROCESS_SETUP_H_
