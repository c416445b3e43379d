// Shared plumbing of the identity stores (API keys, grants, registry and git
// credentials, audit log): the names of the internal system scopes and a
// typed view of the flat JSON records those stores keep, over the one JSON
// codec (core/format/json.h). (UUID v4 ids come from NewUuidV4 in
// core/base/ids.h.)
//
// Every identity record lives in a SecretStore scope whose name starts with
// "system:" and is encrypted like any other secret. Those scopes are internal:
// the daemon refuses client access to any scope for which IsSystemScope() is
// true, and GrantAuthorizer never grants access to them.
//
//   std::string json =
//       RecordWriter().Str("id", id).Int("created_at", t).Finish();
//   ASSIGN_OR_RETURN(FlatRecord r, FlatRecord::Parse(json));
//   ASSIGN_OR_RETURN(std::string id, r.String("id"));
//
// Records are deliberately small: one JSON object whose members are null,
// booleans, integers, strings, or arrays of strings or of integers. Unknown
// members are kept and ignored by readers, so records can grow new fields.
// RecordWriter writes members in call order (JsonWriter, compact); FlatRecord
// parses with ParseJson (strict RFC 8259: strings must be valid UTF-8) and then
// checks that shape.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/format/json.h"

namespace zlayer::secrets {

// Prefix of every internal scope. Clients never reach these scopes.
inline constexpr absl::string_view kSystemScopePrefix = "system:";
inline constexpr absl::string_view kApiKeysScope = "system:api_keys";
inline constexpr absl::string_view kGrantsScope = "system:grants";
inline constexpr absl::string_view kRegistryCredentialsScope =
    "system:registry_credentials";
inline constexpr absl::string_view kRegistryCredentialsMetaScope =
    "system:registry_credentials_meta";
inline constexpr absl::string_view kGitCredentialsScope =
    "system:git_credentials";
inline constexpr absl::string_view kGitCredentialsMetaScope =
    "system:git_credentials_meta";

// True when `scope` is internal ("system:..."). Thread-safe.
bool IsSystemScope(absl::string_view scope);

// Builds one flat JSON object, members in call order. Not thread-safe.
class RecordWriter {
 public:
  RecordWriter();
  RecordWriter& Str(absl::string_view key, absl::string_view value);
  RecordWriter& Int(absl::string_view key, int64_t value);
  RecordWriter& Bool(absl::string_view key, bool value);
  RecordWriter& Null(absl::string_view key);
  RecordWriter& StrList(absl::string_view key,
                        const std::vector<std::string>& values);
  // Integers as a JSON array (e.g. versions in audit records).
  RecordWriter& IntList(absl::string_view key,
                        const std::vector<int64_t>& values);
  // The finished object; the writer should not be used afterwards.
  std::string Finish();

 private:
  JsonWriter writer_{JsonWriter::Style::kCompact};
};

// A parsed flat JSON object. Accessors return InvalidArgument naming the
// member (never its value) when it is missing or of the wrong type.
class FlatRecord {
 public:
  // InvalidArgument "malformed record: ..." for anything but one flat object
  // (invalid JSON, nested objects, mixed or nested arrays, numbers that are
  // not int64); the message never quotes the input. Duplicate members: the
  // last one wins.
  static absl::StatusOr<FlatRecord> Parse(absl::string_view text);

  bool Has(absl::string_view key) const;
  bool IsNull(absl::string_view key) const;
  absl::StatusOr<std::string> String(absl::string_view key) const;
  // "" when the member is absent or null.
  absl::StatusOr<std::string> OptionalString(absl::string_view key) const;
  absl::StatusOr<int64_t> Int(absl::string_view key) const;
  absl::StatusOr<bool> Bool(absl::string_view key) const;
  absl::StatusOr<std::vector<std::string>> StringList(
      absl::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> IntList(absl::string_view key) const;

 private:
  explicit FlatRecord(JsonValue object) : object_(std::move(object)) {}
  // The member `key`, or InvalidArgument "record member 'key' is missing".
  absl::StatusOr<const JsonValue*> Member(absl::string_view key) const;

  JsonValue object_;  // an object, shape checked by Parse
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_
