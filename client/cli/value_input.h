// Reading a secret value for create / set / rotate (docs/compatibility.md,
// "Value input").
//
//   ASSIGN_OR_RETURN(SecretBytes value, ReadValue(cmd.value, std::cin));
//
// --value is used verbatim. --from-file and --from-stdin take the whole
// content; when it is UTF-8 text they drop one trailing "\n" and then one
// "\r" right before it, and nothing else ("a\n\n" -> "a\n", "a\r"
// unchanged, "a\r\n" -> "a"), unless ValueSource::exact (--exact). Content
// that is not UTF-8 is binary and kept byte for byte (the proto field is
// `bytes`). --random draws `random_length` characters uniformly from
// [A-Za-z0-9] with libsodium's CSPRNG.
#ifndef ZLAYER_SECRETS_CLIENT_CLI_VALUE_INPUT_H_
#define ZLAYER_SECRETS_CLIENT_CLI_VALUE_INPUT_H_

#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cli/args.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets::cli {

// The trailing-newline rule, in place.
void StripOneTrailingNewline(std::string* text);

// `length` characters from [A-Za-z0-9], uniformly (randombytes_uniform).
SecretBytes RandomAlphanumeric(size_t length);

// Reads the value `source` names. `in` is standard input. Errors (exit 1):
// NotFound / PermissionDenied / InvalidArgument "Failed to read <path>: ...".
absl::StatusOr<SecretBytes> ReadValue(const ValueSource& source,
                                      std::istream& in);

// Reads a file holding a secret (--api-key-file), applying the
// trailing-newline rule. Errors as ReadValue; InvalidArgument when empty.
absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path);

// The warning printed (to stderr) when --value is used.
inline constexpr absl::string_view kValueFlagWarning =
    "warning: --value exposes the secret in the process list and shell "
    "history; prefer --from-file or --from-stdin";

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_VALUE_INPUT_H_
