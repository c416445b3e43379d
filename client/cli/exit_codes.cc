#include "client/cli/exit_codes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace zlayer::secrets::cli {

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kExitPermissionDenied;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return kExitConflict;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitFailure;
  }
}

std::string FailureMessage(const absl::Status& status,
                           absl::string_view address) {
  absl::string_view where = address;
  absl::ConsumePrefix(&where, "unix:");
  // gRPC's own words when no connection could be made; an UNAVAILABLE the
  // daemon itself returns (draining, store busy) keeps its message.
  const bool no_connection =
      status.code() == absl::StatusCode::kUnavailable &&
      (absl::StrContains(status.message(), "failed to connect") ||
       absl::StrContains(status.message(), "Connection refused") ||
       absl::StrContains(status.message(), "No such file or directory") ||
       absl::StrContains(status.message(), "no connection to the daemon"));
  if (no_connection) {
    return absl::StrCat(
        "daemon not reachable at ", where,
        " (is zlayer-secretsd running? see 'systemctl status "
        "zlayer-secretsd'; point the CLI elsewhere with --socket PATH, "
        "--address HOST:PORT, ZLAYER_SECRETS_SOCKET or ZLAYER_SECRETS_ADDR)");
  }
  if (status.code() == absl::StatusCode::kDeadlineExceeded &&
      status.message() == "Deadline Exceeded") {
    return absl::StrCat("daemon at ", where,
                        " did not answer in time (raise --timeout, or pass "
                        "--wait-for-ready while it starts)");
  }
  return std::string(status.message());
}

absl::string_view ExitCodesHelp() {
  return R"(Exit status:
  0  success
  1  other failure
  2  bad input (usage error, or the daemon rejected an argument)
  3  not found
  4  permission denied (or not authenticated)
  5  conflict (already exists, --if-version/--create-only mismatch, state
     does not allow it)
  6  daemon not reachable (or did not answer within --timeout)
  7  health: the daemon answers but is not SERVING
)";
}

}  // namespace zlayer::secrets::cli
