// Text and JSON rendering of zlayer-secret's results (docs/compatibility.md,
// "Verbs and output").
// Pure functions over the proto messages: no I/O, never a secret value
// (except RandomValueNotice, whose whole point is to show one).
//
//   std::cout << SecretsTable(response.secrets());
//
// Timestamps are `YYYY-MM-DD HH:MM:SS` in UTC; non-positive ones print as
// the raw number. JSON is pretty-printed with two-space indents (strings
// quoted by core/format/json.h's JsonQuote).
#ifndef ZLAYER_SECRETS_CLIENT_CLI_OUTPUT_H_
#define ZLAYER_SECRETS_CLIENT_CLI_OUTPUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets::cli {

std::string FormatTimestamp(int64_t unix_seconds);

// `ls`: header NAME(30, left) VERSION(10) CREATED(22) UPDATED(22), all but
// NAME right-aligned, single spaces between; "(no secrets)" when empty.
std::string SecretsTable(const std::vector<v1::SecretMetadata>& secrets);
// A JSON array of {name, scope, version, created_at, updated_at}.
std::string SecretsJson(const std::vector<v1::SecretMetadata>& secrets);

// `get` without --reveal: "Name:", "Version:", "Created at:", "Updated at:".
std::string MetadataText(const v1::SecretMetadata& metadata);
std::string MetadataJson(const v1::SecretMetadata& metadata);

// `versions`: VERSION(10) CREATED(22) KEY_ID(8), right-aligned.
std::string VersionsTable(const v1::ListVersionsResponse& versions);
std::string VersionsJson(const v1::ListVersionsResponse& versions);

// `import` with --output json: {"dry_run", "applied", "created", "updated",
// "unchanged", "errors": [...], "changes": [{"name", "action", "line"}]};
// action is "create", "update" or "unchanged". Never a value.
std::string ImportJson(const v1::ImportSecretsResponse& response, bool dry_run);

// `check`: KEY(30) STATUS(6) REFERENCE(40) DETAIL, left-aligned. STATUS is
// "ok", "plain" (not a reference) or "error"; DETAIL is "scope/name vN" or
// the error.
std::string CheckTable(const v1::CheckEnvResponse& response);
std::string CheckJson(const v1::CheckEnvResponse& response);

// `env ls`: ID(36) NAME(30) PROJECT(20) CREATED(22).
std::string EnvironmentsTable(const v1::ListEnvironmentsResponse& response);
std::string EnvironmentsJson(const v1::ListEnvironmentsResponse& response);
std::string EnvironmentJson(const v1::Environment& env);

std::string WhoAmIText(const v1::WhoAmIResponse& response);
std::string WhoAmIJson(const v1::WhoAmIResponse& response);

// `Rotated '<name>'<where> (v<prev> → v<new>)`, or `(→ v<new>)` without a
// previous version. `where` is e.g. " in env '<id>'" or "".
// Reads back a receipt for `run --pin FILE`: the `receipt KEY SCOPE/NAME
// VERSION` lines that `watch` prints (other lines are skipped; a later line
// for a key replaces an earlier one, so a saved watch log pins the last
// receipt). The name is what follows the last '/' (names hold no '/').
// InvalidArgument, naming the line number, for a malformed receipt line or
// a file without any.
absl::StatusOr<std::vector<v1::ResolvedEntry>> ParseReceiptLines(
    absl::string_view text);

// "N live consumer(s) still hold vP (zlayer-secret consumers NAME)\n" after
// a rotate or rollback; "" when none does (or there was no previous version).
std::string StaleConsumersMessage(absl::string_view name,
                                  uint32_t previous_version, uint32_t count);
std::string RotatedMessage(absl::string_view name, absl::string_view where,
                           uint32_t previous_version, uint32_t new_version);

// What --random prints after a successful write (value shown once).
std::string RandomValueNotice(absl::string_view name, absl::string_view value);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_OUTPUT_H_
