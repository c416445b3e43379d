// JSON field extraction for references with a field (`$S:db/password`),
// exactly as upstream (docs/compatibility.md, "JSON fields"): parse the whole
// value as JSON; if it is an object with that top-level key, return the member
// rendered as:
//   string -> its decoded text (no quotes)     null -> ""
//   number -> its JSON text (integers as digits; floats shortest round-trip,
//             integral floats with ".0")       true/false -> "true"/"false"
//   array/object -> compact JSON, object keys sorted byte-wise, strings
//             escaped the serde_json way (", \\, control chars; not '/' or
//             non-ASCII)
// No nesting: "a.b" is a literal key. Duplicate keys: the last one wins.
//
//   ASSIGN_OR_RETURN(SecretBytes pw, ExtractJsonField(value, "password"));
//
// Many fields of one value (the resolver, when an env map points several
// references at one JSON secret): parse once, extract many times.
//   ASSIGN_OR_RETURN(JsonValue doc, ParseJsonSecret(value));
//   ASSIGN_OR_RETURN(SecretBytes user, ExtractJsonField(doc, "user"));
#ifndef ZLAYER_SECRETS_CORE_RESOLVE_JSON_FIELD_H_
#define ZLAYER_SECRETS_CORE_RESOLVE_JSON_FIELD_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"

namespace zlayer::secrets {

// FailedPrecondition when the value is not valid JSON (the message gives the
// byte offset and what was expected, never value bytes) or nests deeper than
// 128 levels; NotFound "field '<field>' not found in secret" when the top
// level is not an object or lacks the key.
absl::StatusOr<SecretBytes> ExtractJsonField(const SecretBytes& json,
                                             absl::string_view field);

// The parse step of ExtractJsonField: FailedPrecondition as above when the
// value is not JSON. The result holds value bytes (in wiped buffers).
absl::StatusOr<JsonValue> ParseJsonSecret(const SecretBytes& json);

// The extract step on a value parsed by ParseJsonSecret: NotFound as above.
absl::StatusOr<SecretBytes> ExtractJsonField(const JsonValue& parsed,
                                             absl::string_view field);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_RESOLVE_JSON_FIELD_H_
