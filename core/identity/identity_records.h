// Shared plumbing of the identity stores (API keys, grants, registry and git
// credentials, audit log): the names of the internal system scopes and a
// small codec for the flat JSON records those stores keep. (UUID v4 ids come
// from NewUuidV4 in core/env/environment_registry.h.)
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
// The codec is deliberately small: one JSON object whose members are null,
// booleans, integers, strings, or arrays of strings or of integers. Unknown
// members are kept and ignored by readers, so records can grow new fields.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// Appends `text` to `out` as a JSON string literal (quotes included). Escapes
// '"', '\\' and control characters; other bytes are copied as they are.
void AppendJsonString(absl::string_view text, std::string* out);

// Builds one flat JSON object, members in call order. Not thread-safe.
class RecordWriter {
 public:
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
  void Key(absl::string_view key);
  std::string out_ = "{";
  bool first_ = true;
};

// A parsed flat JSON object. Accessors return InvalidArgument naming the
// member (never its value) when it is missing or of the wrong type.
class FlatRecord {
 public:
  // InvalidArgument "malformed record at byte N" for anything but one flat
  // object (nested objects, numbers that are not int64, trailing bytes).
  // Duplicate members: the last one wins.
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

  struct Value {
    // An empty array parses as kStringList; IntList() accepts it too.
    enum class Type { kNull, kBool, kInt, kString, kStringList, kIntList };
    Type type = Type::kNull;
    bool boolean = false;
    int64_t integer = 0;
    std::string string;
    std::vector<std::string> list;
    std::vector<int64_t> int_list;
  };

 private:
  absl::flat_hash_map<std::string, Value> members_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_IDENTITY_RECORDS_H_
