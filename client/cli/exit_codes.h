// The exit codes of zlayer-secret, and the one place a failed call's status
// becomes an exit code and a message.
//
//   absl::Status s = client->GetSecret(req).status();
//   *io.err << "zlayer-secret: " << FailureMessage(s, "unix:/run/...") << "\n";
//   return ExitCodeFor(s.code());
//
// Scripts branch on these numbers (`--help` lists them, docs/operating.md
// explains them); they never change meaning between releases:
//
//   0  success
//   1  other failure (internal error, data loss, an import with errors, ...)
//   2  bad input: a usage error, or the daemon rejected an argument
//      (INVALID_ARGUMENT, OUT_OF_RANGE)
//   3  not found (NOT_FOUND)
//   4  permission denied (PERMISSION_DENIED, UNAUTHENTICATED)
//   5  conflict: already exists, or the state does not allow it, such as a
//      --if-version / --create-only mismatch (ALREADY_EXISTS,
//      FAILED_PRECONDITION, ABORTED)
//   6  daemon unreachable or not answering in time (UNAVAILABLE,
//      DEADLINE_EXCEEDED)
//   7  `health`: the daemon answers but does not report SERVING
//
// Thread-safe: pure functions.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_EXIT_CODES_H_
#define ZLAYER_SECRETS_CLIENT_CLI_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitPermissionDenied = 4;
inline constexpr int kExitConflict = 5;
inline constexpr int kExitUnreachable = 6;
inline constexpr int kExitNotServing = 7;

// The exit code for a failed call's status code (kExitOk for kOk).
int ExitCodeFor(absl::StatusCode code);

// The message for a failed call to the daemon at `address` (as the channel
// was given it: "unix:/path" or "host:port"). A connection failure becomes
// "daemon not reachable at PATH (is zlayer-secretsd running? ...)" instead of
// gRPC's own text; a deadline names the timeout; anything else is the
// status message as is.
std::string FailureMessage(const absl::Status& status,
                           absl::string_view address);

// The "Exit status:" paragraph of `--help`.
absl::string_view ExitCodesHelp();

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_EXIT_CODES_H_
