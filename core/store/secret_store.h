// Store interfaces: the read-only SecretsProvider (what the resolver and the
// agent need) and the read/write SecretStore (what the daemon serves).
//
// A secret is addressed by (scope, name). Scopes are opaque strings whose
// canonical forms are produced by the resolver (core/resolve/resolver.h:
// deployment "D", service "D/S") and by EnvironmentScope
// (core/env/environment_registry.h: environment "env:{id}", project
// environment "project:{p}:env:{id}"). Scope
// and name are kept apart everywhere (no "{scope}:{name}" keys), so no two
// pairs can collide.
//
// Every write makes a new version; the newest `max_versions` versions keep
// their values. Delete is soft (UndeleteSecret brings the secret back) until
// DestroySecret removes every version.
//
//   ASSIGN_OR_RETURN(SecretMetadata m,
//                    store->SetSecret("prod", "db_password", value, {}));
//   ASSIGN_OR_RETURN(VersionedValue v,
//                    store->GetVersioned("prod", "db_password"));
//
// Error codes used by every implementation (the conformance suite checks them):
//   InvalidArgument    bad scope/name/value (see ValidateScope/ValidateName)
//   NotFound           no live secret (or no such version)
//   AlreadyExists      create-only write (expected_version == 0) on a live
//                      secret
//   FailedPrecondition check-and-set mismatch (expected_version differs, or
//                      expected_version > 0 and no live secret)
//   DataLoss           stored ciphertext fails authentication or is malformed;
//                      never reported as NotFound and never a wrong value
//   Unavailable        the backing storage cannot be written (disk full,
//                      read-only, locked past the busy timeout)
//   OutOfRange         a secret's version counter is exhausted (2^32 - 1)
// All implementations are thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_SECRET_STORE_H_
#define ZLAYER_SECRETS_CORE_STORE_SECRET_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

// Limits shared by every store and by the daemon's validation.
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxScopeBytes = 512;
inline constexpr size_t kMaxValueBytes = 1 << 20;  // 1 MiB
inline constexpr uint32_t kDefaultMaxVersions = 10;
inline constexpr uint32_t kMaxMaxVersions = 1000;

// Returns InvalidArgument unless `name` is 1..kMaxNameBytes of valid UTF-8
// without control characters and without '/' (names are single path segments
// in references). The message names the problem, never echoes a value.
absl::Status ValidateName(absl::string_view name);
// Returns InvalidArgument unless `scope` is 1..kMaxScopeBytes of valid UTF-8
// without control characters.
absl::Status ValidateScope(absl::string_view scope);

struct SecretKey {
  std::string scope;
  std::string name;
  bool operator==(const SecretKey& o) const {
    return scope == o.scope && name == o.name;
  }
  template <typename H>
  friend H AbslHashValue(H h, const SecretKey& k) {
    return H::combine(std::move(h), k.scope, k.name);
  }
};

// One secret at one version: what a pinned read (ReadVersions) asks for.
struct VersionedKey {
  SecretKey key;
  uint32_t version = 0;  // 0 = current
};

// What listings return: never a value.
struct SecretMetadata {
  std::string scope;
  std::string name;
  uint32_t version = 0;    // current (newest) version
  int64_t created_at = 0;  // Unix seconds, first version
  int64_t updated_at = 0;  // Unix seconds, newest version
  uint32_t key_id = 0;     // id of the key that sealed the newest version
  uint32_t max_versions = kDefaultMaxVersions;
  bool deleted = false;  // soft-deleted (only in listings that ask for it)
  int64_t deleted_at = 0;
  std::string incarnation;  // as VersionedValue::incarnation
  // Which nodes may read the value (core/store/node_affinity.h): canonical
  // entries, empty = any node. Kept across writes that do not set it.
  std::vector<std::string> node_affinity;
};

struct VersionInfo {
  uint32_t version = 0;
  int64_t created_at = 0;
  uint32_t key_id = 0;
};

struct VersionedValue {
  SecretBytes value;
  uint32_t version = 0;
  // Opaque id of this life of the secret: a secret destroyed and created
  // again starts at version 1 under another incarnation, so a pin to "v1"
  // can tell the two apart. "" when the store keeps none. Not secret.
  std::string incarnation;
  // The secret's node affinity (core/store/node_affinity.h) read at the same
  // snapshot as the value, so a reader enforcing it needs no second read
  // (and cannot see a different row); nullopt when the source keeps none
  // (e.g. a Vault-mapped scope).
  absl::optional<std::vector<std::string>> node_affinity;
};

// A value and the metadata of its secret, read at one snapshot.
struct ValueWithMetadata {
  VersionedValue read;
  SecretMetadata metadata;
};

struct RotationResult {
  uint32_t previous_version = 0;
  uint32_t new_version = 0;
};

struct WriteOptions {
  // Check-and-set: absent = unconditional upsert; 0 = create only (no live
  // secret may exist); N = the live secret's current version must be N.
  absl::optional<uint32_t> expected_version;
  // Versions to keep (1..kMaxMaxVersions); 0 = keep the secret's setting, or
  // kDefaultMaxVersions for a new secret.
  uint32_t max_versions = 0;
  // Node affinity (core/store/node_affinity.h), canonical: absent = keep the
  // secret's (none for a new secret); an empty list clears it. Part of the
  // secret's metadata, so it applies to every version.
  absl::optional<std::vector<std::string>> node_affinity;
};

struct ListOptions {
  std::string name_prefix;  // only names starting with this (byte-wise)
  // From a previous ListPage; "" = first page. A malformed token is
  // InvalidArgument.
  std::string page_token;
  uint32_t page_size = 100;  // 0 = 100; larger than 1000 is coerced to 1000
  bool include_deleted = false;
};

struct ListPage {
  std::vector<SecretMetadata> secrets;  // ordered by name (byte-wise)
  std::string next_page_token;          // "" when this is the last page
};

// Read-only access (upstream's SecretsProvider).
class SecretsProvider {
 public:
  virtual ~SecretsProvider() = default;

  // The current value. NotFound when absent or soft-deleted; DataLoss on an
  // integrity failure.
  virtual absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                                absl::string_view name) = 0;
  // Batch read in one snapshot; missing names are omitted (not errors), but
  // an integrity failure of any present name fails the call with DataLoss.
  virtual absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
  GetSecrets(absl::string_view scope,
             const std::vector<std::string>& names) = 0;
  // Metadata of every live secret in `scope`, ordered by name.
  virtual absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) = 0;
  virtual absl::StatusOr<bool> Exists(absl::string_view scope,
                                      absl::string_view name) = 0;

  // Reads every key (any scopes) at one consistent snapshot; result[i]
  // answers keys[i] (NotFound, DataLoss, or the value with its version).
  // The outer status fails only when the snapshot itself cannot be taken.
  virtual absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) = 0;

  // ReadBatch for given versions (pinned resolution): result[i] answers
  // keys[i], NotFound when the secret is not live or that version was
  // pruned or never existed. One snapshot, as ReadBatch. The default answers
  // Unimplemented: a provider that cannot read old versions at one snapshot
  // (the remote provider) says so rather than reading them one by one.
  virtual absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
  ReadVersions(const std::vector<VersionedKey>& keys);
};

// Read/write access (upstream's SecretsStore plus versions, CAS, soft delete).
class SecretStore : public SecretsProvider {
 public:
  // `version` 0 = current. NotFound when absent, soft-deleted, or the version
  // was pruned / never existed.
  virtual absl::StatusOr<VersionedValue> GetVersioned(absl::string_view scope,
                                                      absl::string_view name,
                                                      uint32_t version = 0) = 0;
  virtual absl::StatusOr<SecretMetadata> GetMetadata(
      absl::string_view scope, absl::string_view name) = 0;
  // GetVersioned and GetMetadata at one snapshot: a write landing between
  // two separate calls would make the metadata describe a newer version.
  virtual absl::StatusOr<ValueWithMetadata> GetWithMetadata(
      absl::string_view scope, absl::string_view name, uint32_t version) = 0;

  // Creates or overwrites (new version); a soft-deleted secret is revived
  // with the next version number. Returns the metadata after the write.
  virtual absl::StatusOr<SecretMetadata> SetSecret(
      absl::string_view scope, absl::string_view name, const SecretBytes& value,
      const WriteOptions& options) = 0;
  // Soft delete. NotFound if there is no live secret.
  virtual absl::Status DeleteSecret(absl::string_view scope,
                                    absl::string_view name) = 0;
  // Reverses a soft delete. NotFound if there is no soft-deleted secret.
  virtual absl::Status UndeleteSecret(absl::string_view scope,
                                      absl::string_view name) = 0;
  // Removes every version, live or soft-deleted. NotFound if nothing exists.
  virtual absl::Status DestroySecret(absl::string_view scope,
                                     absl::string_view name) = 0;
  // Writes a new version of an existing live secret; NotFound otherwise.
  virtual absl::StatusOr<RotationResult> RotateSecret(
      absl::string_view scope, absl::string_view name,
      const SecretBytes& value) = 0;
  // Newest first. NotFound if there is no live secret.
  virtual absl::StatusOr<std::vector<VersionInfo>> ListVersions(
      absl::string_view scope, absl::string_view name) = 0;
  // Copies the value of `version` into a new version. NotFound if the secret
  // or that version does not exist; InvalidArgument for version 0.
  virtual absl::StatusOr<SecretMetadata> RollbackSecret(absl::string_view scope,
                                                        absl::string_view name,
                                                        uint32_t version) = 0;
  // A page of metadata in `scope`, ordered by name (byte-wise); the prefix
  // is matched literally (no wildcards).
  virtual absl::StatusOr<ListPage> List(absl::string_view scope,
                                        const ListOptions& options) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_SECRET_STORE_H_
