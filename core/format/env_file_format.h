// Import and export of secret maps as dotenv (`NAME=VALUE` lines) or JSON
// (a flat object of strings), for the CLI's `import`/`export` verbs and the
// daemon's bulk import.
//
// Export (both formats sort by name, byte-wise):
//  * dotenv: one `NAME=VALUE\n` line per secret. VALUE is written verbatim
//    unless it contains Unicode whitespace (incl. CR/LF/tab), `#`, `=`, `"`,
//    `'` or `\`; then it is double-quoted with `\` -> `\\`, `"` -> `\"`,
//    LF -> `\n`, CR -> `\r`, TAB -> `\t` (all other bytes raw). This matches
//    upstream (docs/compatibility.md, "Import and export") for simple values;
//    unlike upstream's, the result always imports back to exactly the same map.
//    `$` is never escaped and never expanded (there is no interpolation); the
//    importer accepts `\$` only for files written for tools that do
//    interpolate. A name that itself begins with `export ` is written as
//    `export export ...`, so that the importer's prefix stripping gives it
//    back.
//  * json: a pretty JSON object (2-space indent, `"key": "value"`, keys
//    sorted) followed by a newline. Values must be valid UTF-8.
//
// Import dotenv (upstream's rules plus the common dotenv extensions):
//  * Lines end with LF or CRLF; numbering is 1-based and counts every line.
//    Each line is trimmed of Unicode whitespace; blank lines and lines
//    starting with `#` are skipped.
//  * An optional `export ` prefix (`export` then spaces/tabs) before the key.
//  * Split at the first `=`: key = left part trimmed (see
//  ValidateSecretFileKey),
//    value = right part trimmed.
//  * `"..."`: escapes `\\ \" \n \r \t \$` are decoded; any other backslash is
//    kept literally. The value may span lines: raw line breaks inside the
//    quotes are kept (a raw CRLF becomes LF) until the closing quote.
//  * `'...'`: literal (no escapes), on one line.
//  * After a closing quote only whitespace and an optional `#comment` may
//    follow. In an unquoted value, a `#` preceded by whitespace starts a
//    comment (`A=b #c` is "b"; `A=b#c` is "b#c"); quotes inside an unquoted
//    value are literal.
//  * Errors are collected per line as "line N: <what>" (never the value) and
//    never abort the import. An unterminated double quote is reported on its
//    opening line, and parsing resumes with the next line.
//  * A repeated key: the last definition wins (one entry, at the position of
//    the first), and a warning "line N: duplicate key 'K' (also on line M)".
//
// Import json: a flat object; each value must be a string (otherwise the error
// "key 'K': value must be a string"); duplicate keys: the last one wins.
//
//   ASSIGN_OR_RETURN(SecretFileFormat format, ParseSecretFileFormat("env"));
//   ASSIGN_OR_RETURN(SecretFileImport parsed, ImportSecrets(file, format));
//   for (const ImportedSecret& s : parsed.entries) store->Put(s.name, s.value);
//   for (const std::string& e : parsed.errors) std::cerr << "  " << e << "\n";
//
// All functions are thread-safe (no shared state).
#ifndef ZLAYER_SECRETS_CORE_FORMAT_ENV_FILE_FORMAT_H_
#define ZLAYER_SECRETS_CORE_FORMAT_ENV_FILE_FORMAT_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

enum class SecretFileFormat { kDotenv, kJson };

// "env" or "dotenv" -> kDotenv, "json" -> kJson; otherwise InvalidArgument
// "unsupported format '<name>' (expected 'env' or 'json')".
absl::StatusOr<SecretFileFormat> ParseSecretFileFormat(absl::string_view name);

// Longest accepted key, in bytes.
inline constexpr size_t kMaxSecretFileKeyBytes = 256;

// OK, or InvalidArgument naming the first broken rule (the message does not
// quote the key). A key must be non-empty, at most 256 bytes, valid UTF-8,
// without control characters (U+0000-U+001F, U+007F-U+009F) or '/'. Also,
// so that every key can be written as a dotenv line: no '=', no leading or
// trailing (Unicode) whitespace, and no leading '#'.
absl::Status ValidateSecretFileKey(absl::string_view key);

struct ImportedSecret {
  std::string name;
  SecretBytes value;
  // 1-based line of the definition that won (dotenv); 0 for JSON.
  int line = 0;
};

struct SecretFileImport {
  // Unique names, in order of first appearance (JSON: sorted by name).
  std::vector<ImportedSecret> entries;
  // "line N: <what>" (dotenv) or "key 'K': <what>" (json); never values.
  std::vector<std::string> errors;
  // Non-fatal findings (duplicate keys).
  std::vector<std::string> warnings;
};

// Parses a dotenv file. Never fails as a whole; see SecretFileImport::errors.
SecretFileImport ImportDotenv(absl::string_view text);

// Parses a JSON object of strings. InvalidArgument if `text` is not valid JSON
// (the message gives a byte offset, no input) or not an object; per-key
// problems go to SecretFileImport::errors.
absl::StatusOr<SecretFileImport> ImportJsonSecrets(absl::string_view text);

// Dispatches to ImportDotenv or ImportJsonSecrets.
absl::StatusOr<SecretFileImport> ImportSecrets(absl::string_view text,
                                               SecretFileFormat format);

// Renders `secrets` (sorted by name) in `format`; the result holds plaintext,
// hence SecretBytes. InvalidArgument if a name fails ValidateSecretFileKey or
// (json) a value is not valid UTF-8; the message names the secret, never a
// value.
absl::StatusOr<SecretBytes> ExportSecrets(
    const std::map<std::string, SecretBytes>& secrets, SecretFileFormat format);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_FORMAT_ENV_FILE_FORMAT_H_
