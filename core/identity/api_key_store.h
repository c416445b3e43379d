// API keys for callers over TCP/TLS (upstream's CredentialStore, improved).
//
// A key has a public id and a random secret; the caller presents
// "zs_<id>.<secret>" (the secret is 32 CSPRNG bytes, unpadded base64url, 43
// chars). The secret has 256 bits of entropy, so a slow password hash buys
// nothing; what is stored is a keyed BLAKE2b-256 (crypto_generichash, 32-byte
// key) of "<id>.<secret>", compared in constant time (sodium_memcmp). The
// hashing key is the "api-key-hash" subkey (core/crypto/subkeys.h) passed in
// ApiKeyStoreOptions::hash_key. The record, with the key's roles and
// timestamps, is a flat JSON object in the internal scope "system:api_keys"
// (name = id) of any SecretStore, so it is encrypted like every secret.
// Clients can never read "system:" scopes (see
// core/identity/identity_records.h).
//
// Record formats ("format" member):
//   absent  legacy: "hash" is an Argon2id PHC string ($argon2id$..., as
//           written before keyed hashes). Still verified, at most
//           `max_concurrent_argon2` at a time (callers wait in a queue until
//           their deadline), and rewritten as format 2 on its first
//           successful verification (check-and-set on the version read).
//   2       "hash" is 64 hex chars of the keyed BLAKE2b-256.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ApiKeyStore> keys,
//                    ApiKeyStore::Create(store, clock, std::move(options)));
//   ASSIGN_OR_RETURN(NewApiKey k, keys->Create("ci", {"deployer"}));
//   // show k.presentable_key once; it cannot be recovered later
//   ASSIGN_OR_RETURN(ApiKeyInfo who, keys->Verify(presented));
//
// The same work for unknown and known ids: Verify always reads the record,
// computes the keyed hash and compares it in constant time, against a random
// per-process dummy hash when the id does not exist, so an unknown id is not
// answered faster than a wrong secret for a real id (residual differences are
// the store lookup itself; docs/identity.md has the measured figures).
// Legacy records are the exception until upgraded: their Argon2id run is
// slower than the unknown-id path.
//
// Verify also keeps a bounded LRU cache of successful verifications keyed by
// a keyed BLAKE2b hash (a random per-process key) of the whole presented key,
// which saves the store read. Entries expire after `cache_ttl` (injected
// Clock) and are dropped at once when their key is deleted, rotated or has
// its roles changed, so those changes take effect on the next call. Failed
// verifications are never cached. The cache is per process: another process
// writing the same store is not seen until entries expire.
//
// Rate limits and failure budgets are not here: see
// core/identity/auth_failure_budget.h (used by
// daemon/transport/api_key_store_verifier.h).
//
// All methods are thread-safe. Argon2 runs outside the cache lock.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_API_KEY_STORE_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_API_KEY_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

// Prefix of every presentable key.
inline constexpr absl::string_view kApiKeyPrefix = "zs_";
// The id of the key EnsureBootstrapAdmin creates, and the admin role.
inline constexpr absl::string_view kBootstrapAdminId = "admin";
inline constexpr absl::string_view kAdminRole = "admin";

// Returns InvalidArgument unless `id` is 1..64 of [A-Za-z0-9_-].
absl::Status ValidateApiKeyId(absl::string_view id);
// Roles that give a key a node identity (docs/identity.md, "Node
// affinity"): "node:<name>" and "node-label:<key>=<value>".
inline constexpr absl::string_view kNodeRolePrefix = "node:";
inline constexpr absl::string_view kNodeLabelRolePrefix = "node-label:";

// Returns InvalidArgument unless `role` is 1..64 of [A-Za-z0-9_.:-], or a
// node role whose name or label follows core/store/node_affinity.h.
absl::Status ValidateRole(absl::string_view role);

// What is known about a key; never its secret or hash.
struct ApiKeyInfo {
  std::string id;
  std::vector<std::string> roles;
  int64_t created_at = 0;  // Unix seconds
  int64_t updated_at = 0;  // Unix seconds (last rotation or role change)
};

// Returned by Create/Rotate: the only time the full key exists.
struct NewApiKey {
  ApiKeyInfo info;
  SecretBytes presentable_key;  // "zs_<id>.<secret>"
};

// Version of the record format with a keyed hash (see the header comment).
inline constexpr int64_t kApiKeyKeyedHashFormat = 2;

struct ApiKeyStoreOptions {
  // Key of the keyed hash of secrets: kSubkeyBytes (32) bytes, the
  // SubkeyPurpose::kApiKeyHash subkey. Required; changing it makes every
  // stored format-2 hash stop verifying.
  SecretBytes hash_key;
  // Legacy Argon2id verifications running at once (each allocates the memory
  // its hash names, 64 MiB for INTERACTIVE); further ones wait in a queue
  // until their deadline. At least 1.
  int max_concurrent_argon2 = 2;
  // Verification cache: most entries kept (least recently used evicted
  // first; 0 disables the cache) and how long a verified key is trusted
  // without re-running Argon2.
  size_t cache_capacity = 1024;
  absl::Duration cache_ttl = absl::Minutes(5);
};

class ApiKeyStore {
 public:
  // Counters for metrics and tests.
  struct Stats {
    uint64_t keyed_verifications = 0;    // keyed-hash compares (incl. dummy)
    uint64_t argon2_verifications = 0;   // legacy crypto_pwhash_str_verify
    uint64_t argon2_queue_timeouts = 0;  // gave up waiting for a slot
    int argon2_high_water = 0;     // most legacy verifications running at once
    uint64_t legacy_upgrades = 0;  // legacy records rewritten as format 2
    uint64_t cache_hits = 0;
    size_t cache_size = 0;
  };

  // `store` and `clock` are borrowed and must outlive the ApiKeyStore.
  // InvalidArgument for a hash key that is not 32 bytes or
  // max_concurrent_argon2 < 1.
  static absl::StatusOr<std::unique_ptr<ApiKeyStore>> Create(
      SecretStore* store, const Clock* clock, ApiKeyStoreOptions options);

  ApiKeyStore(const ApiKeyStore&) = delete;
  ApiKeyStore& operator=(const ApiKeyStore&) = delete;
  ~ApiKeyStore();

  // Creates key `id` with `roles` (duplicates removed, order kept).
  // InvalidArgument for a bad id or role; AlreadyExists when `id` exists;
  // store errors (Unavailable, ...) propagate.
  absl::StatusOr<NewApiKey> Create(absl::string_view id,
                                   const std::vector<std::string>& roles);
  // Creates key `id` from an Argon2id PHC string ("$argon2id$v=19$m=...,
  // t=...,p=...$salt$hash", upstream's CredentialStore hash of the key's
  // password): a legacy record, so "zs_<id>.<password>" verifies and is then
  // upgraded to a keyed hash (see "Record formats"). For core/migrate.
  // InvalidArgument for a bad id or role or a hash that is not an Argon2id
  // PHC string; AlreadyExists when `id` exists.
  absl::Status ImportArgon2Hash(absl::string_view id, absl::string_view phc,
                                const std::vector<std::string>& roles,
                                int64_t created_at);
  // Replaces the secret of `id`, keeping its roles; the old key stops
  // working at once. NotFound if `id` does not exist.
  absl::StatusOr<NewApiKey> Rotate(absl::string_view id);
  // Every key, ordered by id. DataLoss if a record is corrupt.
  absl::StatusOr<std::vector<ApiKeyInfo>> List();
  // One key. NotFound if absent.
  absl::StatusOr<ApiKeyInfo> Get(absl::string_view id);
  // Replaces the roles of `id`; visible to the next Verify. NotFound if absent.
  absl::Status SetRoles(absl::string_view id,
                        const std::vector<std::string>& roles);
  // Removes `id` (every version); the key is refused from the next Verify
  // on. NotFound if absent.
  absl::Status Delete(absl::string_view id);

  // Checks a presented "zs_<id>.<secret>". Unauthenticated "invalid API key"
  // (one message for a malformed key, an unknown id and a wrong secret);
  // DeadlineExceeded when a legacy (Argon2id) record could not get a
  // verification slot before `deadline`; other store errors (Unavailable,
  // DataLoss) propagate.
  absl::StatusOr<ApiKeyInfo> Verify(
      absl::string_view presented,
      absl::Time deadline = absl::InfiniteFuture());

  // On first start (no "admin" record) creates key "admin" with role
  // "admin" and writes "zs_admin.<secret>\n" to `path`; if the record exists
  // but `path` does not, rotates the key and writes the file again. The file
  // is created with mode 0600 (O_CREAT|O_EXCL on a temporary name, fsync,
  // rename over `path`, fsync of the directory), never wider. Returns true
  // when a key was created or rotated, false when both already existed.
  // Internal (or the underlying error) if the file cannot be written; the
  // record then exists without its file, so the next start rotates again.
  absl::StatusOr<bool> EnsureBootstrapAdmin(const std::string& path);

  // Cluster mode (several daemons on one store): another daemon changed or
  // deleted key `id`; drops it from the verification cache, so the next
  // Verify reads the store again. Cheap; no store access.
  void InvalidateCached(absl::string_view id) { InvalidateId(id); }
  // Drops every cached verification (after the change stream lost its
  // history).
  void InvalidateAllCached();

  Stats stats() const;

 private:
  struct CacheEntry {
    std::string cache_key;  // keyed hash of the presented key
    ApiKeyInfo info;
    absl::Time expires;
  };
  using CacheList = std::list<CacheEntry>;

  ApiKeyStore(SecretStore* store, const Clock* clock,
              ApiKeyStoreOptions options);

  // A record as stored: `hash` is the raw 32-byte digest for format 2, the
  // PHC string for legacy records.
  struct Record {
    ApiKeyInfo info;
    int64_t format = 0;  // 0 = legacy Argon2id
    std::string hash;
    uint32_t version = 0;
  };

  absl::StatusOr<Record> ReadRecord(absl::string_view id);
  absl::StatusOr<Record> ParseRecord(absl::string_view id,
                                     const VersionedValue& raw);
  absl::StatusOr<ApiKeyInfo> ReadInfo(absl::string_view id);
  // The record's JSON with `hash` (raw digest) in format 2.
  static std::string RecordJson(absl::string_view id, absl::string_view digest,
                                const std::vector<std::string>& roles,
                                int64_t created_at, int64_t updated_at);
  // Keyed BLAKE2b-256 of "<id>.<secret>".
  std::string KeyedHash(absl::string_view id, absl::string_view secret) const;
  // crypto_pwhash_str_verify once a slot is free; DeadlineExceeded if none
  // became free before `deadline`.
  absl::StatusOr<bool> VerifyLegacy(const std::string& phc,
                                    absl::string_view secret,
                                    absl::Time deadline);
  // Rewrites a legacy record as format 2 (best effort, check-and-set).
  void UpgradeLegacy(const Record& record, absl::string_view digest);
  absl::StatusOr<NewApiKey> WriteNewSecret(
      absl::string_view id, const std::vector<std::string>& roles,
      int64_t created_at, absl::optional<uint32_t> expected);
  std::string CacheKey(absl::string_view presented) const;
  void InvalidateId(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);

  SecretStore* const store_;
  const Clock* const clock_;
  const ApiKeyStoreOptions options_;
  // Key of the cache's keyed hash; random per process, never stored.
  SecretBytes cache_hash_key_;
  // Compared against when the id does not exist; random per process. The
  // dummy record is parsed then, as a found record would be.
  SecretBytes dummy_digest_;
  VersionedValue dummy_record_;

  mutable absl::Mutex argon2_mu_;
  int argon2_running_ ABSL_GUARDED_BY(argon2_mu_) = 0;
  int argon2_high_water_ ABSL_GUARDED_BY(argon2_mu_) = 0;

  mutable absl::Mutex mu_;
  CacheList lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, CacheList::iterator> cache_
      ABSL_GUARDED_BY(mu_);
  // Bumped by every invalidation; a Verify that read the store before a
  // bump does not insert its (possibly stale) result.
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<uint64_t> keyed_verifications_{0};
  std::atomic<uint64_t> argon2_verifications_{0};
  std::atomic<uint64_t> argon2_queue_timeouts_{0};
  std::atomic<uint64_t> legacy_upgrades_{0};
  std::atomic<uint64_t> cache_hits_{0};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_API_KEY_STORE_H_
