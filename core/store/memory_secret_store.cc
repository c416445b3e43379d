#include "core/store/memory_secret_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/store/store_common.h"

namespace zlayer::secrets {
namespace {

std::pair<std::string, std::string> MapKey(absl::string_view scope,
                                           absl::string_view name) {
  return {std::string(scope), std::string(name)};
}

absl::Status SecretNotFound() {
  return absl::NotFoundError("secret not found");
}

}  // namespace

MemorySecretStore::MemorySecretStore(Clock* clock) : clock_(clock) {}

SecretMetadata MemorySecretStore::MetadataOf(const Map::value_type& kv) {
  const Entry& e = kv.second;
  SecretMetadata m;
  m.scope = kv.first.first;
  m.name = kv.first.second;
  m.version = e.current_version;
  m.created_at = e.created_at;
  m.updated_at = e.updated_at;
  m.key_id = 0;
  m.max_versions = e.max_versions;
  m.deleted = e.deleted;
  m.deleted_at = e.deleted ? e.deleted_at : 0;
  m.incarnation = e.incarnation;
  m.node_affinity = e.node_affinity;
  return m;
}

const MemorySecretStore::Entry* MemorySecretStore::FindLive(
    absl::string_view scope, absl::string_view name) const {
  auto it = secrets_.find(MapKey(scope, name));
  if (it == secrets_.end() || it->second.deleted) return nullptr;
  return &it->second;
}

absl::StatusOr<VersionedValue> MemorySecretStore::ReadLocked(
    absl::string_view scope, absl::string_view name, uint32_t version) const {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  const Entry* e = FindLive(scope, name);
  if (e == nullptr) return SecretNotFound();
  if (version == 0) version = e->current_version;
  auto it = e->versions.find(version);
  if (it == e->versions.end()) {
    return absl::NotFoundError(absl::StrCat("version ", version, " not found"));
  }
  return VersionedValue{it->second.value.Clone(), version, e->incarnation,
                        e->node_affinity};
}

absl::StatusOr<SecretBytes> MemorySecretStore::GetSecret(
    absl::string_view scope, absl::string_view name) {
  absl::ReaderMutexLock lock(&mu_);
  ASSIGN_OR_RETURN(VersionedValue v, ReadLocked(scope, name, 0));
  return std::move(v.value);
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
MemorySecretStore::GetSecrets(absl::string_view scope,
                              const std::vector<std::string>& names) {
  RETURN_IF_ERROR(ValidateScope(scope));
  for (const std::string& name : names) RETURN_IF_ERROR(ValidateName(name));
  absl::ReaderMutexLock lock(&mu_);
  absl::flat_hash_map<std::string, SecretBytes> out;
  for (const std::string& name : names) {
    absl::StatusOr<VersionedValue> v = ReadLocked(scope, name, 0);
    if (absl::IsNotFound(v.status())) continue;
    if (!v.ok()) return v.status();
    out.insert_or_assign(name, std::move(v->value));
  }
  return out;
}

absl::StatusOr<std::vector<SecretMetadata>> MemorySecretStore::ListSecrets(
    absl::string_view scope) {
  RETURN_IF_ERROR(ValidateScope(scope));
  absl::ReaderMutexLock lock(&mu_);
  std::vector<SecretMetadata> out;
  for (auto it = secrets_.lower_bound(MapKey(scope, ""));
       it != secrets_.end() && it->first.first == scope; ++it) {
    if (!it->second.deleted) out.push_back(MetadataOf(*it));
  }
  return out;
}

absl::StatusOr<bool> MemorySecretStore::Exists(absl::string_view scope,
                                               absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::ReaderMutexLock lock(&mu_);
  return FindLive(scope, name) != nullptr;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
MemorySecretStore::ReadBatch(const std::vector<SecretKey>& keys) {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (const SecretKey& k : keys) out.push_back(ReadLocked(k.scope, k.name, 0));
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
MemorySecretStore::ReadVersions(const std::vector<VersionedKey>& keys) {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (const VersionedKey& k : keys) {
    out.push_back(ReadLocked(k.key.scope, k.key.name, k.version));
  }
  return out;
}

absl::StatusOr<VersionedValue> MemorySecretStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  absl::ReaderMutexLock lock(&mu_);
  return ReadLocked(scope, name, version);
}

absl::StatusOr<SecretMetadata> MemorySecretStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::ReaderMutexLock lock(&mu_);
  auto it = secrets_.find(MapKey(scope, name));
  if (it == secrets_.end() || it->second.deleted) return SecretNotFound();
  return MetadataOf(*it);
}

absl::StatusOr<ValueWithMetadata> MemorySecretStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  absl::ReaderMutexLock lock(&mu_);
  ValueWithMetadata out;
  ASSIGN_OR_RETURN(out.read, ReadLocked(scope, name, version));
  // ReadLocked succeeded: the secret exists and is live.
  out.metadata = MetadataOf(*secrets_.find(MapKey(scope, name)));
  return out;
}

absl::StatusOr<SecretMetadata> MemorySecretStore::WriteLocked(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, options));
  auto it = secrets_.find(MapKey(scope, name));
  const bool exists = it != secrets_.end();
  const bool live = exists && !it->second.deleted;
  RETURN_IF_ERROR(CheckExpectedVersion(options.expected_version, live,
                                       live ? it->second.current_version : 0));
  ASSIGN_OR_RETURN(uint32_t version,
                   NextVersion(exists ? it->second.current_version : 0));
  const int64_t now = clock_->NowUnixSeconds();
  if (!exists) {
    it = secrets_.emplace(MapKey(scope, name), Entry{}).first;
    it->second.created_at = now;
    it->second.incarnation =
        std::string(SecretBytes::Random(16).InsecureView());
  }
  Entry& e = it->second;
  e.max_versions =
      EffectiveMaxVersions(options.max_versions, exists ? e.max_versions : 0);
  e.current_version = version;
  e.updated_at = now;
  e.deleted = false;
  e.deleted_at = 0;
  if (options.node_affinity.has_value())
    e.node_affinity = *options.node_affinity;
  e.versions[version] = Version{value.Clone(), now};
  const uint32_t oldest = OldestKeptVersion(version, e.max_versions);
  e.versions.erase(e.versions.begin(), e.versions.lower_bound(oldest));
  return MetadataOf(*it);
}

absl::StatusOr<SecretMetadata> MemorySecretStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  absl::MutexLock lock(&mu_);
  return WriteLocked(scope, name, value, options);
}

absl::Status MemorySecretStore::DeleteSecret(absl::string_view scope,
                                             absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::MutexLock lock(&mu_);
  auto it = secrets_.find(MapKey(scope, name));
  if (it == secrets_.end() || it->second.deleted) return SecretNotFound();
  it->second.deleted = true;
  it->second.deleted_at = clock_->NowUnixSeconds();
  return absl::OkStatus();
}

absl::Status MemorySecretStore::UndeleteSecret(absl::string_view scope,
                                               absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::MutexLock lock(&mu_);
  auto it = secrets_.find(MapKey(scope, name));
  if (it == secrets_.end() || !it->second.deleted) {
    return absl::NotFoundError("no soft-deleted secret with this name");
  }
  it->second.deleted = false;
  it->second.deleted_at = 0;
  return absl::OkStatus();
}

absl::Status MemorySecretStore::DestroySecret(absl::string_view scope,
                                              absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::MutexLock lock(&mu_);
  if (secrets_.erase(MapKey(scope, name)) == 0) return SecretNotFound();
  return absl::OkStatus();
}

absl::StatusOr<RotationResult> MemorySecretStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::MutexLock lock(&mu_);
  const Entry* e = FindLive(scope, name);
  if (e == nullptr) return SecretNotFound();
  const uint32_t previous = e->current_version;
  WriteOptions options;
  options.expected_version = previous;
  ASSIGN_OR_RETURN(SecretMetadata m, WriteLocked(scope, name, value, options));
  return RotationResult{previous, m.version};
}

absl::StatusOr<std::vector<VersionInfo>> MemorySecretStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::ReaderMutexLock lock(&mu_);
  const Entry* e = FindLive(scope, name);
  if (e == nullptr) return SecretNotFound();
  std::vector<VersionInfo> out;
  for (auto it = e->versions.rbegin(); it != e->versions.rend(); ++it) {
    out.push_back(VersionInfo{it->first, it->second.created_at, 0});
  }
  return out;
}

absl::StatusOr<SecretMetadata> MemorySecretStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  if (version == 0) {
    return absl::InvalidArgumentError("rollback needs a version (>= 1)");
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(VersionedValue old, ReadLocked(scope, name, version));
  return WriteLocked(scope, name, old.value, WriteOptions{});
}

absl::StatusOr<ListPage> MemorySecretStore::List(absl::string_view scope,
                                                 const ListOptions& options) {
  RETURN_IF_ERROR(ValidateScope(scope));
  ASSIGN_OR_RETURN(std::string after, DecodePageToken(options.page_token));
  const uint32_t page_size = EffectivePageSize(options.page_size);
  const absl::optional<std::string> upper =
      PrefixUpperBound(options.name_prefix);

  absl::ReaderMutexLock lock(&mu_);
  ListPage page;
  // Start at max(prefix, after); names equal to `after` were already returned.
  auto it = secrets_.lower_bound(
      MapKey(scope, std::max<absl::string_view>(options.name_prefix, after)));
  for (; it != secrets_.end() && it->first.first == scope; ++it) {
    const std::string& name = it->first.second;
    if (upper.has_value() && name >= *upper) break;
    if (!after.empty() && name <= after) continue;
    if (it->second.deleted && !options.include_deleted) continue;
    if (page.secrets.size() == page_size) {
      page.next_page_token = EncodePageToken(page.secrets.back().name);
      break;
    }
    page.secrets.push_back(MetadataOf(*it));
  }
  return page;
}

}  // namespace zlayer::secrets
