#include "core/identity/api_key_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/identity/identity_records.h"
#include "core/store/node_affinity.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kSecretRandomBytes = 32;
constexpr size_t kHashKeyBytes = 32;  // kSubkeyBytes
constexpr size_t kDigestBytes = 32;   // BLAKE2b-256

std::string ToHex(absl::string_view bytes) {
  std::string hex(2 * bytes.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(),
                 reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  hex.pop_back();
  return hex;
}
constexpr size_t kMaxIdBytes = 64;
constexpr size_t kMaxRoleBytes = 64;
constexpr absl::string_view kInvalidKeyMessage = "invalid API key";

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError(kInvalidKeyMessage);
}

std::vector<std::string> Dedup(const std::vector<std::string>& roles) {
  std::vector<std::string> out;
  for (const std::string& r : roles) {
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

absl::Status ValidateRoles(const std::vector<std::string>& roles) {
  for (const std::string& r : roles) RETURN_IF_ERROR(ValidateRole(r));
  return absl::OkStatus();
}

absl::Status ErrnoStatus(absl::string_view what, const std::string& path,
                         int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

// Writes `content` to `path` so that no other mode than 0600 ever exists
// on disk: a fresh temporary file (O_EXCL, 0600), fsync, rename, directory
// fsync. An existing `path` is replaced.
absl::Status WriteFile0600(const std::string& path, absl::string_view content) {
  const std::string tmp = path + ".tmp";
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("cannot remove", tmp, errno);
  }
  int fd = open(tmp.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoStatus("cannot create", tmp, errno);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoStatus("cannot write", tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return ErrnoStatus("cannot sync", tmp, err);
  }
  if (close(fd) != 0) return ErrnoStatus("cannot close", tmp, errno);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot rename to", path, err);
  }
  // The rename is durable only once the directory entry is.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

absl::Status ValidateApiKeyId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes ||
      !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return absl::InvalidArgumentError(
        "API key id must be 1..64 characters of [A-Za-z0-9_-]");
  }
  return absl::OkStatus();
}

absl::Status ValidateRole(absl::string_view role) {
  // Node identity roles (docs/identity.md, "Node affinity") follow the
  // affinity's own rules, so that a key's node always can match a pin.
  if (absl::StartsWith(role, kNodeRolePrefix)) {
    if (IsValidNodeName(role.substr(kNodeRolePrefix.size()))) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        "role node:<name> needs a node name of 1..63 characters of "
        "[A-Za-z0-9._-]");
  }
  if (absl::StartsWith(role, kNodeLabelRolePrefix)) {
    if (IsValidNodeLabel(role.substr(kNodeLabelRolePrefix.size()))) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        "role node-label:<key>=<value> needs key and value of 1..63 "
        "characters of [A-Za-z0-9._-] (the key may also hold '/')");
  }
  if (role.empty() || role.size() > kMaxRoleBytes ||
      !std::all_of(role.begin(), role.end(), [](char c) {
        return IsIdChar(c) || c == '.' || c == ':';
      })) {
    return absl::InvalidArgumentError(
        "role must be 1..64 characters of [A-Za-z0-9_.:-]");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ApiKeyStore>> ApiKeyStore::Create(
    SecretStore* store, const Clock* clock, ApiKeyStoreOptions options) {
  if (sodium_init() < 0) return absl::InternalError("libsodium init failed");
  if (store == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("store and clock are required");
  }
  if (options.hash_key.size() != kHashKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("API key hash key must be ", kHashKeyBytes, " bytes"));
  }
  if (options.max_concurrent_argon2 < 1) {
    return absl::InvalidArgumentError("max_concurrent_argon2 must be >= 1");
  }
  return std::unique_ptr<ApiKeyStore>(
      new ApiKeyStore(store, clock, std::move(options)));
}

ApiKeyStore::ApiKeyStore(SecretStore* store, const Clock* clock,
                         ApiKeyStoreOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      cache_hash_key_(SecretBytes::Random(crypto_generichash_KEYBYTES)),
      dummy_digest_(SecretBytes::Random(kDigestBytes)) {
  dummy_record_.value = SecretBytes::FromString(RecordJson(
      "dummy", dummy_digest_.InsecureView(), {std::string(kAdminRole)},
      /*created_at=*/1700000000, /*updated_at=*/1700000000));
}

ApiKeyStore::~ApiKeyStore() = default;

std::string ApiKeyStore::CacheKey(absl::string_view presented) const {
  std::string out(crypto_generichash_BYTES, '\0');
  // Fails only for sizes outside BLAKE2b's range, and these are constants;
  // an unchecked failure would leave one all-zero cache key for every input.
  if (crypto_generichash(
          reinterpret_cast<unsigned char*>(out.data()), out.size(),
          reinterpret_cast<const unsigned char*>(presented.data()),
          presented.size(), cache_hash_key_.data(),
          cache_hash_key_.size()) != 0) {
    std::abort();
  }
  return out;
}

std::string ApiKeyStore::KeyedHash(absl::string_view id,
                                   absl::string_view secret) const {
  crypto_generichash_state state;
  crypto_generichash_init(&state, options_.hash_key.data(),
                          options_.hash_key.size(), kDigestBytes);
  crypto_generichash_update(
      &state, reinterpret_cast<const unsigned char*>(id.data()), id.size());
  const unsigned char dot = '.';
  crypto_generichash_update(&state, &dot, 1);
  crypto_generichash_update(
      &state, reinterpret_cast<const unsigned char*>(secret.data()),
      secret.size());
  std::string out(kDigestBytes, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()),
                           out.size());
  sodium_memzero(&state, sizeof(state));
  return out;
}

std::string ApiKeyStore::RecordJson(absl::string_view id,
                                    absl::string_view digest,
                                    const std::vector<std::string>& roles,
                                    int64_t created_at, int64_t updated_at) {
  return RecordWriter()
      .Str("id", id)
      .Int("format", kApiKeyKeyedHashFormat)
      .Str("hash", ToHex(digest))
      .StrList("roles", roles)
      .Int("created_at", created_at)
      .Int("updated_at", updated_at)
      .Finish();
}

absl::StatusOr<ApiKeyStore::Record> ApiKeyStore::ReadRecord(
    absl::string_view id) {
  ASSIGN_OR_RETURN(VersionedValue raw, store_->GetVersioned(kApiKeysScope, id));
  return ParseRecord(id, raw);
}

absl::StatusOr<ApiKeyStore::Record> ApiKeyStore::ParseRecord(
    absl::string_view id, const VersionedValue& raw) {
  auto corrupt = [&id]() {
    return absl::DataLossError(
        absl::StrCat("corrupt API key record '", id, "'"));
  };
  absl::StatusOr<FlatRecord> record =
      FlatRecord::Parse(raw.value.InsecureView());
  if (!record.ok()) return corrupt();
  Record out;
  out.version = raw.version;
  out.info.id = std::string(id);
  absl::StatusOr<std::vector<std::string>> roles = record->StringList("roles");
  absl::StatusOr<int64_t> created = record->Int("created_at");
  absl::StatusOr<int64_t> updated = record->Int("updated_at");
  absl::StatusOr<std::string> h = record->String("hash");
  if (!roles.ok() || !created.ok() || !updated.ok() || !h.ok()) {
    return corrupt();
  }
  if (record->Has("format")) {
    absl::StatusOr<int64_t> format = record->Int("format");
    if (!format.ok() || *format != kApiKeyKeyedHashFormat) return corrupt();
    out.format = *format;
    out.hash = std::string(kDigestBytes, '\0');
    size_t len = 0;
    if (h->size() != 2 * kDigestBytes ||
        sodium_hex2bin(reinterpret_cast<unsigned char*>(out.hash.data()),
                       out.hash.size(), h->data(), h->size(), nullptr, &len,
                       nullptr) != 0 ||
        len != kDigestBytes) {
      return corrupt();
    }
  } else {
    // Only Argon2id is accepted for legacy records, so a tampered record
    // cannot downgrade verification to a weaker algorithm.
    if (!absl::StartsWith(*h, "$argon2id$")) return corrupt();
    out.hash = *std::move(h);
  }
  out.info.roles = *std::move(roles);
  out.info.created_at = *created;
  out.info.updated_at = *updated;
  return out;
}

absl::StatusOr<ApiKeyInfo> ApiKeyStore::ReadInfo(absl::string_view id) {
  ASSIGN_OR_RETURN(Record record, ReadRecord(id));
  WipeString(&record.hash);
  return record.info;
}

absl::StatusOr<NewApiKey> ApiKeyStore::WriteNewSecret(
    absl::string_view id, const std::vector<std::string>& roles,
    int64_t created_at, absl::optional<uint32_t> expected) {
  // The secret is generated and encoded in guarded memory; std::string
  // copies of it are avoided.
  SecretBytes random = SecretBytes::Random(kSecretRandomBytes);
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  const size_t encoded_len =
      sodium_base64_ENCODED_LEN(kSecretRandomBytes, kVariant);  // with NUL
  SecretBytes encoded(encoded_len);
  sodium_bin2base64(reinterpret_cast<char*>(encoded.MutableData()), encoded_len,
                    random.data(), random.size(), kVariant);
  const absl::string_view secret(reinterpret_cast<const char*>(encoded.data()),
                                 encoded_len - 1);

  const int64_t now = clock_->NowUnixSeconds();
  std::string json = RecordJson(id, KeyedHash(id, secret), roles,
                                created_at == 0 ? now : created_at, now);
  SecretBytes value = SecretBytes::FromString(json);
  WipeString(&json);
  WriteOptions write;
  write.expected_version = expected;
  absl::StatusOr<SecretMetadata> written =
      store_->SetSecret(kApiKeysScope, id, value, write);
  if (!written.ok()) return written.status();

  NewApiKey out;
  out.info.id = std::string(id);
  out.info.roles = roles;
  out.info.created_at = created_at == 0 ? now : created_at;
  out.info.updated_at = now;
  const std::string prefix = absl::StrCat(kApiKeyPrefix, id, ".");
  out.presentable_key = SecretBytes(prefix.size() + secret.size());
  std::memcpy(out.presentable_key.MutableData(), prefix.data(), prefix.size());
  std::memcpy(out.presentable_key.MutableData() + prefix.size(), secret.data(),
              secret.size());
  return out;
}

absl::StatusOr<NewApiKey> ApiKeyStore::Create(
    absl::string_view id, const std::vector<std::string>& roles) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  RETURN_IF_ERROR(ValidateRoles(roles));
  absl::StatusOr<NewApiKey> created =
      WriteNewSecret(id, Dedup(roles), /*created_at=*/0, /*expected=*/0u);
  if (absl::IsAlreadyExists(created.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("API key '", id, "' already exists"));
  }
  // A key that existed before (and was deleted) may still be cached by an
  // old presented value; a fresh id must start clean.
  InvalidateId(id);
  return created;
}

absl::Status ApiKeyStore::ImportArgon2Hash(
    absl::string_view id, absl::string_view phc,
    const std::vector<std::string>& roles, int64_t created_at) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  RETURN_IF_ERROR(ValidateRoles(roles));
  // The same check ParseRecord applies when the record is read back.
  if (!absl::StartsWith(phc, "$argon2id$") || phc.size() > 512) {
    return absl::InvalidArgumentError(
        absl::StrCat("API key '", id, "': hash is not an Argon2id PHC string"));
  }
  std::string json = RecordWriter()
                         .Str("id", id)
                         .Str("hash", phc)
                         .StrList("roles", Dedup(roles))
                         .Int("created_at", created_at)
                         .Int("updated_at", created_at)
                         .Finish();
  SecretBytes value = SecretBytes::FromString(json);
  WipeString(&json);
  WriteOptions write;
  write.expected_version = 0;
  absl::Status status =
      store_->SetSecret(kApiKeysScope, id, value, write).status();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("API key '", id, "' already exists"));
  }
  InvalidateId(id);
  return status;
}

absl::StatusOr<NewApiKey> ApiKeyStore::Rotate(absl::string_view id) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  ASSIGN_OR_RETURN(SecretMetadata meta, store_->GetMetadata(kApiKeysScope, id));
  ASSIGN_OR_RETURN(ApiKeyInfo info, ReadInfo(id));
  absl::StatusOr<NewApiKey> rotated =
      WriteNewSecret(id, info.roles, info.created_at, meta.version);
  InvalidateId(id);
  return rotated;
}

absl::StatusOr<std::vector<ApiKeyInfo>> ApiKeyStore::List() {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> metas,
                   store_->ListSecrets(kApiKeysScope));
  std::vector<ApiKeyInfo> out;
  out.reserve(metas.size());
  for (const SecretMetadata& m : metas) {
    absl::StatusOr<ApiKeyInfo> info = ReadInfo(m.name);
    // Deleted between the listing and the read: not an error.
    if (absl::IsNotFound(info.status())) continue;
    if (!info.ok()) return info.status();
    out.push_back(*std::move(info));
  }
  std::sort(
      out.begin(), out.end(),
      [](const ApiKeyInfo& a, const ApiKeyInfo& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<ApiKeyInfo> ApiKeyStore::Get(absl::string_view id) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  absl::StatusOr<ApiKeyInfo> info = ReadInfo(id);
  if (absl::IsNotFound(info.status())) {
    return absl::NotFoundError(absl::StrCat("API key '", id, "' not found"));
  }
  return info;
}

absl::Status ApiKeyStore::SetRoles(absl::string_view id,
                                   const std::vector<std::string>& roles) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  RETURN_IF_ERROR(ValidateRoles(roles));
  absl::StatusOr<Record> current = ReadRecord(id);
  if (absl::IsNotFound(current.status())) {
    return absl::NotFoundError(absl::StrCat("API key '", id, "' not found"));
  }
  if (!current.ok()) return current.status();
  std::string json;
  if (current->format == kApiKeyKeyedHashFormat) {
    json = RecordJson(id, current->hash, Dedup(roles), current->info.created_at,
                      clock_->NowUnixSeconds());
  } else {
    json = RecordWriter()
               .Str("id", id)
               .Str("hash", current->hash)
               .StrList("roles", Dedup(roles))
               .Int("created_at", current->info.created_at)
               .Int("updated_at", clock_->NowUnixSeconds())
               .Finish();
  }
  SecretBytes value = SecretBytes::FromString(json);
  WipeString(&json);
  WipeString(&current->hash);
  WriteOptions write;
  // Check-and-set against the version read above, so a concurrent rotation
  // is not overwritten with the old hash.
  write.expected_version = current->version;
  absl::Status status =
      store_->SetSecret(kApiKeysScope, id, value, write).status();
  InvalidateId(id);
  return status;
}

absl::Status ApiKeyStore::Delete(absl::string_view id) {
  RETURN_IF_ERROR(ValidateApiKeyId(id));
  absl::Status status = store_->DestroySecret(kApiKeysScope, id);
  InvalidateId(id);
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("API key '", id, "' not found"));
  }
  return status;
}

void ApiKeyStore::InvalidateId(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  ++epoch_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->info.id == id) {
      cache_.erase(it->cache_key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void ApiKeyStore::InvalidateAllCached() {
  absl::MutexLock lock(&mu_);
  ++epoch_;
  lru_.clear();
  cache_.clear();
}

absl::StatusOr<bool> ApiKeyStore::VerifyLegacy(const std::string& phc,
                                               absl::string_view secret,
                                               absl::Time deadline) {
  // A semaphore: each verification allocates the memory the hash names
  // (64 MiB for INTERACTIVE), so only a few run at once and the others wait
  // until their deadline instead of allocating.
  struct Slot {
    ApiKeyStore* self;
    static bool Free(Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return s->self->argon2_running_ < s->self->options_.max_concurrent_argon2;
    }
  } slot{this};
  if (!argon2_mu_.LockWhenWithDeadline(absl::Condition(&Slot::Free, &slot),
                                       deadline)) {
    argon2_mu_.Unlock();
    argon2_queue_timeouts_.fetch_add(1, std::memory_order_relaxed);
    return absl::DeadlineExceededError(
        "deadline passed while waiting for an API key verification slot");
  }
  ++argon2_running_;
  argon2_high_water_ = std::max(argon2_high_water_, argon2_running_);
  argon2_mu_.Unlock();
  argon2_verifications_.fetch_add(1, std::memory_order_relaxed);
  const bool match =
      crypto_pwhash_str_verify(phc.c_str(), secret.data(), secret.size()) == 0;
  absl::MutexLock lock(&argon2_mu_);
  --argon2_running_;
  return match;
}

void ApiKeyStore::UpgradeLegacy(const Record& record,
                                absl::string_view digest) {
  std::string json = RecordJson(record.info.id, digest, record.info.roles,
                                record.info.created_at, record.info.updated_at);
  SecretBytes value = SecretBytes::FromString(json);
  WipeString(&json);
  WriteOptions write;
  // A rotation or role change since the read wins; the next successful
  // verification of a still-legacy record tries again.
  write.expected_version = record.version;
  if (store_->SetSecret(kApiKeysScope, record.info.id, value, write).ok()) {
    legacy_upgrades_.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::StatusOr<ApiKeyInfo> ApiKeyStore::Verify(absl::string_view presented,
                                               absl::Time deadline) {
  const std::string cache_key = CacheKey(presented);
  const absl::Time now = clock_->Now();
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(cache_key);
    if (it != cache_.end()) {
      if (now < it->second->expires) {
        lru_.splice(lru_.begin(), lru_, it->second);
        cache_hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second->info;
      }
      lru_.erase(it->second);
      cache_.erase(it);
    }
    epoch = epoch_;
  }

  if (!absl::StartsWith(presented, kApiKeyPrefix)) return Unauthenticated();
  absl::string_view rest = presented.substr(kApiKeyPrefix.size());
  const size_t dot = rest.find('.');
  if (dot == absl::string_view::npos) return Unauthenticated();
  const absl::string_view id = rest.substr(0, dot);
  const absl::string_view secret = rest.substr(dot + 1);
  if (!ValidateApiKeyId(id).ok() || secret.empty() || secret.size() > 256) {
    return Unauthenticated();
  }

  // The same work whether or not the id exists: read, keyed hash, one
  // constant-time compare (against a dummy digest for an unknown id).
  absl::StatusOr<Record> record = ReadRecord(id);
  const bool known = record.ok();
  if (!known && !absl::IsNotFound(record.status())) return record.status();
  if (!known) {
    // The parsing a found record costs (allocation, JSON, hex).
    absl::StatusOr<Record> dummy = ParseRecord(id, dummy_record_);
    if (dummy.ok()) WipeString(&dummy->hash);
  }
  std::string digest = KeyedHash(id, secret);
  absl::StatusOr<ApiKeyInfo> info = Unauthenticated();
  if (!known || record->format == kApiKeyKeyedHashFormat) {
    keyed_verifications_.fetch_add(1, std::memory_order_relaxed);
    const unsigned char* expected =
        known ? reinterpret_cast<const unsigned char*>(record->hash.data())
              : dummy_digest_.data();
    const bool match =
        sodium_memcmp(digest.data(), expected, kDigestBytes) == 0 && known;
    if (!match) {
      WipeString(&digest);
      return Unauthenticated();
    }
    info = record->info;
  } else {
    absl::StatusOr<bool> match = VerifyLegacy(record->hash, secret, deadline);
    if (!match.ok() || !*match) {
      WipeString(&digest);
      if (!match.ok()) return match.status();
      return Unauthenticated();
    }
    UpgradeLegacy(*record, digest);
    info = record->info;
  }
  WipeString(&digest);
  if (known) WipeString(&record->hash);

  if (options_.cache_capacity > 0) {
    absl::MutexLock lock(&mu_);
    // An invalidation since the read above means the result may be stale.
    if (epoch == epoch_ && !cache_.contains(cache_key)) {
      lru_.push_front(CacheEntry{cache_key, *info, now + options_.cache_ttl});
      cache_[cache_key] = lru_.begin();
      while (lru_.size() > options_.cache_capacity) {
        cache_.erase(lru_.back().cache_key);
        lru_.pop_back();
      }
    }
  }
  return info;
}

absl::StatusOr<bool> ApiKeyStore::EnsureBootstrapAdmin(
    const std::string& path) {
  absl::StatusOr<ApiKeyInfo> existing = Get(kBootstrapAdminId);
  absl::StatusOr<NewApiKey> key;
  if (existing.ok()) {
    if (FileExists(path)) return false;
    key = Rotate(kBootstrapAdminId);
  } else if (absl::IsNotFound(existing.status())) {
    key = Create(kBootstrapAdminId, {std::string(kAdminRole)});
  } else {
    return existing.status();
  }
  if (!key.ok()) return key.status();
  std::string content = absl::StrCat(key->presentable_key.InsecureView(), "\n");
  absl::Status written = WriteFile0600(path, content);
  WipeString(&content);
  RETURN_IF_ERROR(written);
  return true;
}

ApiKeyStore::Stats ApiKeyStore::stats() const {
  Stats s;
  s.keyed_verifications = keyed_verifications_.load(std::memory_order_relaxed);
  s.argon2_verifications =
      argon2_verifications_.load(std::memory_order_relaxed);
  s.argon2_queue_timeouts =
      argon2_queue_timeouts_.load(std::memory_order_relaxed);
  s.legacy_upgrades = legacy_upgrades_.load(std::memory_order_relaxed);
  {
    absl::MutexLock lock(&argon2_mu_);
    s.argon2_high_water = argon2_high_water_;
  }
  s.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  s.cache_size = lru_.size();
  return s;
}

}  // namespace zlayer::secrets
