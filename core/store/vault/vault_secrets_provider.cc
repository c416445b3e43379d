#include "core/store/vault/vault_secrets_provider.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/base/utf8.h"
#include "core/format/json.h"

namespace zlayer::secrets {
namespace {

std::string Display(absl::string_view scope, absl::string_view name) {
  return scope.empty() ? std::string(name) : absl::StrCat(scope, "/", name);
}

const JsonValue* FindPath(const JsonValue& root,
                          std::initializer_list<absl::string_view> keys) {
  const JsonValue* at = &root;
  for (absl::string_view key : keys) {
    at = at->Find(key);
    if (at == nullptr) return nullptr;
  }
  return at;
}

// A KV v2 version number (1..2^32-1), or 0 when absent or malformed.
uint32_t VersionOf(const JsonValue* v) {
  if (v == nullptr || !v->is_number()) return 0;
  if (v->is_int() && v->int_value() > 0 &&
      v->int_value() <= std::numeric_limits<uint32_t>::max()) {
    return static_cast<uint32_t>(v->int_value());
  }
  if (v->is_uint() && v->uint_value() > 0 &&
      v->uint_value() <= std::numeric_limits<uint32_t>::max()) {
    return static_cast<uint32_t>(v->uint_value());
  }
  return 0;
}

// Vault's RFC 3339 times ("2018-03-22T02:24:06.945319214Z") as Unix seconds;
// 0 for "" or anything else.
int64_t UnixSecondsOf(const JsonValue* v) {
  if (v == nullptr || !v->is_string() || v->string_value().empty()) return 0;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(v->string_value()), &t,
                       &err)) {
    return 0;
  }
  return absl::ToUnixSeconds(t);
}

bool IsSet(const JsonValue* v) {
  return v != nullptr && ((v->is_string() && !v->string_value().empty()) ||
                          (v->is_bool() && v->bool_value()));
}

// Read errors that belong to one key (the rest fail the whole batch).
bool IsPerKeyError(const absl::Status& s) {
  return absl::IsNotFound(s) || absl::IsDataLoss(s) ||
         absl::IsPermissionDenied(s) || absl::IsInvalidArgument(s);
}

}  // namespace

VaultSecretsProvider::VaultSecretsProvider(VaultClient* client,
                                           std::string mount)
    : client_(client), mount_(std::move(mount)) {}

absl::StatusOr<std::string> VaultSecretsProvider::PathOf(
    absl::string_view kind, absl::string_view scope,
    absl::string_view name) const {
  // "." and ".." would be resolved by the HTTP stack and reach another path
  // (outside the mapped prefix); empty segments would make "a//b" and "a/b"
  // one secret.
  auto bad_segment = [](absl::string_view s) {
    return s.empty() || s == "." || s == "..";
  };
  if (!scope.empty()) {
    for (absl::string_view segment : absl::StrSplit(scope, '/')) {
      if (bad_segment(segment)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "scope '", scope,
            "' cannot name a Vault path (an empty, '.' or '..' segment)"));
      }
    }
  }
  if (!name.empty() && bad_segment(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name '", name, "' cannot name a Vault path"));
  }
  return VaultClient::EscapePath(
      absl::StrCat(mount_, "/", kind, "/", scope, "/", name));
}

absl::StatusOr<VersionedValue> VaultSecretsProvider::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(std::string path, PathOf("data", scope, name));
  if (version != 0) absl::StrAppend(&path, "?version=", version);
  absl::StatusOr<VaultResponse> r = client_->Request("GET", path);
  const std::string where = absl::StrCat("secret '", Display(scope, name),
                                         "' in Vault mount '", mount_, "'");
  if (absl::IsNotFound(r.status())) {
    return absl::NotFoundError(
        version == 0
            ? absl::StrCat(where, " not found")
            : absl::StrCat("version ", version, " of ", where, " not found"));
  }
  if (!r.ok()) return r.status();
  const JsonValue* data = FindPath(r->body, {"data", "data"});
  const JsonValue* meta = FindPath(r->body, {"data", "metadata"});
  if (meta == nullptr || !meta->is_object()) {
    return absl::DataLossError(
        absl::StrCat("Vault's answer for ", where, " has no data.metadata"));
  }
  if (data == nullptr || data->is_null() ||
      IsSet(meta->Find("deletion_time")) || IsSet(meta->Find("destroyed"))) {
    return absl::NotFoundError(absl::StrCat(where, " is deleted"));
  }
  const JsonValue* value = data->Find("value");
  if (value == nullptr || !value->is_string()) {
    return absl::DataLossError(
        absl::StrCat(where,
                     " holds no string \"value\" (the KV data must be "
                     "{\"value\": \"...\"})"));
  }
  VersionedValue out;
  out.version = VersionOf(meta->Find("version"));
  if (out.version == 0) {
    return absl::DataLossError(absl::StrCat("Vault's answer for ", where,
                                            " has no valid metadata.version"));
  }
  out.value = SecretBytes::FromString(value->string_value());
  return out;
}

absl::StatusOr<SecretBytes> VaultSecretsProvider::GetSecret(
    absl::string_view scope, absl::string_view name) {
  ASSIGN_OR_RETURN(VersionedValue v, GetVersioned(scope, name, 0));
  return std::move(v.value);
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
VaultSecretsProvider::GetSecrets(absl::string_view scope,
                                 const std::vector<std::string>& names) {
  std::vector<SecretKey> keys;
  keys.reserve(names.size());
  for (const std::string& n : names) keys.push_back({std::string(scope), n});
  ASSIGN_OR_RETURN(auto read, ReadBatch(keys));
  absl::flat_hash_map<std::string, SecretBytes> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (absl::IsNotFound(read[i].status())) continue;
    if (!read[i].ok()) return read[i].status();
    out.emplace(keys[i].name, std::move(read[i]->value));
  }
  return out;
}

absl::StatusOr<SecretMetadata> VaultSecretsProvider::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(const std::string path, PathOf("metadata", scope, name));
  absl::StatusOr<VaultResponse> r = client_->Request("GET", path);
  const std::string where = absl::StrCat("secret '", Display(scope, name),
                                         "' in Vault mount '", mount_, "'");
  if (absl::IsNotFound(r.status())) {
    return absl::NotFoundError(absl::StrCat(where, " not found"));
  }
  if (!r.ok()) return r.status();
  const JsonValue* data = r->body.Find("data");
  if (data == nullptr || !data->is_object()) {
    return absl::DataLossError(
        absl::StrCat("Vault's metadata answer for ", where, " has no data"));
  }
  SecretMetadata m;
  m.scope = std::string(scope);
  m.name = std::string(name);
  m.version = VersionOf(data->Find("current_version"));
  if (m.version == 0) {
    return absl::DataLossError(absl::StrCat("Vault's metadata answer for ",
                                            where, " has no current_version"));
  }
  m.created_at = UnixSecondsOf(data->Find("created_time"));
  m.updated_at = UnixSecondsOf(data->Find("updated_time"));
  const JsonValue* max = data->Find("max_versions");
  if (VersionOf(max) != 0) m.max_versions = VersionOf(max);
  const JsonValue* current =
      FindPath(*data, {"versions", absl::StrCat(m.version)});
  if (current != nullptr && (IsSet(current->Find("deletion_time")) ||
                             IsSet(current->Find("destroyed")))) {
    return absl::NotFoundError(absl::StrCat(where, " is deleted"));
  }
  return m;
}

absl::StatusOr<std::vector<SecretMetadata>> VaultSecretsProvider::ListSecrets(
    absl::string_view scope) {
  ASSIGN_OR_RETURN(const std::string path, PathOf("metadata", scope, ""));
  absl::StatusOr<VaultResponse> r = client_->Request("LIST", path);
  if (absl::IsNotFound(r.status())) return std::vector<SecretMetadata>();
  if (!r.ok()) return r.status();
  const JsonValue* keys = FindPath(r->body, {"data", "keys"});
  if (keys == nullptr || !keys->is_array()) {
    return absl::DataLossError(
        absl::StrCat("Vault's list answer for '", scope, "' has no data.keys"));
  }
  std::vector<SecretMetadata> out;
  for (const JsonValue& key : keys->elements()) {
    if (!key.is_string()) {
      return absl::DataLossError(absl::StrCat("Vault's list answer for '",
                                              scope,
                                              "' holds a key that is not a "
                                              "string"));
    }
    absl::string_view name = key.string_value();
    if (absl::EndsWith(name, "/") || !ValidateName(name).ok()) continue;
    absl::StatusOr<SecretMetadata> m = GetMetadata(scope, name);
    if (absl::IsNotFound(m.status())) continue;  // deleted, or gone since
    if (!m.ok()) return m.status();
    out.push_back(*std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const SecretMetadata& a, const SecretMetadata& b) {
              return a.name < b.name;
            });
  return out;
}

absl::StatusOr<bool> VaultSecretsProvider::Exists(absl::string_view scope,
                                                  absl::string_view name) {
  absl::StatusOr<SecretMetadata> m = GetMetadata(scope, name);
  if (absl::IsNotFound(m.status())) return false;
  if (!m.ok()) return m.status();
  return true;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
VaultSecretsProvider::ReadOnce(const std::vector<SecretKey>& keys) {
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (const SecretKey& k : keys) {
    absl::StatusOr<VersionedValue> v = GetVersioned(k.scope, k.name, 0);
    if (!v.ok() && !IsPerKeyError(v.status())) return v.status();
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
VaultSecretsProvider::ReadBatch(const std::vector<SecretKey>& keys) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSIGN_OR_RETURN(auto read, ReadOnce(keys));
    // One key is read in one call: nothing can move between keys.
    if (keys.size() <= 1) return read;
    bool moved = false;
    for (size_t i = 0; i < keys.size() && !moved; ++i) {
      if (!read[i].ok()) continue;
      absl::StatusOr<SecretMetadata> m =
          GetMetadata(keys[i].scope, keys[i].name);
      if (absl::IsNotFound(m.status())) {
        moved = true;
      } else if (!m.ok()) {
        return m.status();
      } else {
        moved = m->version != read[i]->version;
      }
    }
    if (!moved) return read;
  }
  return absl::AbortedError(
      "secrets in Vault changed while they were read, twice in a row; no "
      "consistent answer (retry)");
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
VaultSecretsProvider::ReadVersions(const std::vector<VersionedKey>& keys) {
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (const VersionedKey& k : keys) {
    absl::StatusOr<VersionedValue> v =
        GetVersioned(k.key.scope, k.key.name, k.version);
    if (!v.ok() && !IsPerKeyError(v.status())) return v.status();
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<SecretMetadata> VaultSecretsProvider::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  RETURN_IF_ERROR(ValidateName(name));
  if (value.size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value is ", value.size(), " bytes; the limit is ", kMaxValueBytes));
  }
  if (!IsValidUtf8(value.InsecureView())) {
    return absl::InvalidArgumentError(
        "Vault's KV data is JSON text: the value is not valid UTF-8");
  }
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginObject();
  if (options.expected_version.has_value()) {
    w.Key("options").BeginObject().Key("cas").Int(*options.expected_version);
    w.EndObject();
  }
  w.Key("data").BeginObject().Key("value").String(value.InsecureView());
  w.EndObject().EndObject();
  WipingString body = w.Finish();
  absl::StatusOr<std::string> path = PathOf("data", scope, name);
  if (!path.ok()) {
    WipeWipingString(&body);
    return path.status();
  }
  absl::StatusOr<VaultResponse> r = client_->Request("POST", *path, &body);
  WipeWipingString(&body);
  if (!r.ok()) return r.status();
  const uint32_t version = VersionOf(FindPath(r->body, {"data", "version"}));
  if (version == 0) {
    return absl::DataLossError(absl::StrCat("Vault's write answer for '",
                                            Display(scope, name),
                                            "' has no data.version"));
  }
  SecretMetadata m;
  absl::StatusOr<SecretMetadata> read = GetMetadata(scope, name);
  if (read.ok()) {
    m = *std::move(read);
  } else {
    m.scope = std::string(scope);
    m.name = std::string(name);
  }
  // The write's own answer, even if another write landed since.
  m.version = version;
  m.updated_at = UnixSecondsOf(FindPath(r->body, {"data", "created_time"}));
  if (version == 1) m.created_at = m.updated_at;
  return m;
}

absl::StatusOr<RotationResult> VaultSecretsProvider::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  ASSIGN_OR_RETURN(SecretMetadata before, GetMetadata(scope, name));
  WriteOptions cas;
  cas.expected_version = before.version;
  ASSIGN_OR_RETURN(SecretMetadata after, SetSecret(scope, name, value, cas));
  return RotationResult{before.version, after.version};
}

absl::Status VaultSecretsProvider::DeleteSecret(absl::string_view scope,
                                                absl::string_view name) {
  RETURN_IF_ERROR(GetMetadata(scope, name).status());
  ASSIGN_OR_RETURN(const std::string path, PathOf("data", scope, name));
  return client_->Request("DELETE", path).status();
}

}  // namespace zlayer::secrets
