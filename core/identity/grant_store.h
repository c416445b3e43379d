// Default-deny access grants: subject x resource x level.
//
// Subjects (strings, as Principal::Subject() renders them where it can):
//   "apikey:<id>"  an API key       "role:<name>"  every key/peer with the role
//   "uid:<n>"      a Unix peer uid  "gid:<n>"      a Unix peer primary gid
//   "user:<id>"    an end user a proxy acts as (delegated identity)
//   "group:<id>"   a group of such a user, as the proxy asserts it
// Resources (GrantResource):
//   environment  id = environment id: every secret of that environment's
//                own scope ("env:<id>" for a global environment,
//                "project:<p>:env:<id>" for one of project <p>) and of no
//                other scope shaped like it (a raw "project:<q>:env:<id>"
//                or "env:<id>" that is not the environment's scope is not
//                covered); "" = every environment's own scope. Whether a
//                scope is an environment's own is for the caller to verify
//                (GrantAuthorizer asks the environment registry).
//   scope        id = a scope: the whole scope (listing and every name in it);
//                an id ending in '*' covers every scope starting with what
//                precedes it ("project:web:*", "prod/*"); "" or "*" = every
//                scope. Prefix and wildcard grants never cover the
//                credential scopes (IsCredentialScope): those need a grant
//                naming them exactly.
//   secret       id = scope, name = secret name: that one secret (not the
//                scope's listing); "" and "" = every secret of every scope
//                except the credential scopes
//   impersonate  id = a subject pattern: "user:<id>" or "group:<id>", where
//                the id may end in '*' as a prefix ("user:*", "group:eng-*").
//                Lets the grant's subject assert matching users and groups
//                in call metadata (docs/identity.md, "Delegated identity");
//                covers no secret at all. Its level is not consulted (the
//                CLI stores read).
// Levels are ordered (read < execute < write); a grant of a level implies the
// lower ones. Duplicates are allowed; the effective level is the max over
// every matching grant of every subject of the principal (unlike upstream,
// environment grants are not final and use their level as given).
// Internal "system:" scopes are never covered by any grant (the daemon
// refuses client access to them; see core/identity/identity_records.h).
//
// Records are flat JSON in the internal scope "system:grants" (name = grant
// id, a UUID v4) of any SecretStore:
//   {"id","subject","resource_kind","resource_id"(null = wildcard),
//    "resource_name"(secret kind only),"level","created_at"(Unix seconds)}
// An in-memory index, loaded by Open() and updated by every Grant/Revoke of
// this object, answers EffectiveLevel() without touching the store, so a
// revocation takes effect on the next check. Other processes writing the same
// store are not seen until the next Open().
//
//   ASSIGN_OR_RETURN(auto grants, GrantStore::Open(store, clock));
//   ASSIGN_OR_RETURN(AccessGrant g, grants->Grant("role:ci",
//       GrantResource::Scope("prod"), AccessLevel::kExecute));
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_GRANT_STORE_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_GRANT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/identity/access.h"
#include "core/store/secret_store.h"
#include "core/store/store_change.h"

namespace zlayer::secrets {

enum class ResourceKind { kEnvironment, kScope, kSecret, kImpersonate };

// "environment", "scope", "secret", "impersonate".
absl::string_view ResourceKindName(ResourceKind kind);
absl::optional<ResourceKind> ParseResourceKind(absl::string_view text);

struct GrantResource {
  ResourceKind kind = ResourceKind::kScope;
  std::string id;    // see the header comment; "" = every resource of `kind`
  std::string name;  // kSecret only

  static GrantResource Environment(absl::string_view env_id);
  static GrantResource Scope(absl::string_view scope_or_prefix);
  static GrantResource Secret(absl::string_view scope, absl::string_view name);
  static GrantResource AllOf(ResourceKind kind);
  static GrantResource Impersonate(absl::string_view subject_pattern);

  bool IsWildcard() const { return id.empty() || id == "*"; }
  // "environment:<id>", "scope:<id>", "secret:<scope>/<name>", "<kind>:*".
  std::string DebugString() const;
  bool operator==(const GrantResource& o) const {
    return kind == o.kind && id == o.id && name == o.name;
  }
};

// InvalidArgument unless `subject` is "apikey:<id>", "role:<name>",
// "user:<id>", "group:<id>" (1..128 printable non-space characters; no ','
// in user and group ids) or "uid:<n>", "gid:<n>" (decimal, >= 0).
absl::Status ValidateSubject(absl::string_view subject);
// InvalidArgument for control characters, a '/' in a secret name, a name
// without a scope, a "system:" scope, or an impersonate pattern that is not
// "user:<id>[*]" / "group:<id>[*]" ('*' only last).
absl::Status ValidateGrantResource(const GrantResource& resource);
// Scopes that name the credential helpers' grant resources (see the Admin
// credential RPCs in proto/secrets.proto): a grant of read on
// "credentials:registry" (or on its secret <registry host>) lets a caller
// fetch registry credentials, likewise "credentials:git"/<git host>. No
// secret is stored in them (the daemon refuses these scopes as secret
// scopes), and only grants naming them exactly cover them.
inline constexpr char kRegistryCredentialResource[] = "credentials:registry";
inline constexpr char kGitCredentialResource[] = "credentials:git";
// True for kRegistryCredentialResource and kGitCredentialResource.
bool IsCredentialScope(absl::string_view scope);

// True when a grant on `grant` covers an access to `resource`.
// `verified_environment_id` is the id of the environment whose own scope
// `resource.scope` is, as the caller verified it ("" when it is not one, or
// not verified): environment grants cover only such scopes.
bool GrantCovers(const GrantResource& grant, const Resource& resource,
                 absl::string_view verified_environment_id);
// True when impersonate pattern `pattern` ("user:alice", "group:eng-*",
// "user:*") matches `subject` ("user:alice", "group:eng-web"). A pattern
// matches only subjects of its own kind; "user:*" matches every user.
bool ImpersonationPatternMatches(absl::string_view pattern,
                                 absl::string_view subject);
// The environment id of an env-shaped scope ("env:<id>",
// "project:<p>:env:<id>"), or nullopt.
absl::optional<std::string> EnvironmentIdOfScope(absl::string_view scope);

struct AccessGrant {
  std::string id;  // UUID v4
  std::string subject;
  GrantResource resource;
  AccessLevel level = AccessLevel::kNone;
  int64_t created_at = 0;  // Unix seconds
};

class GrantStore {
 public:
  // Loads every grant of "system:grants" into the index. `store` and
  // `clock` are borrowed and must outlive the GrantStore. DataLoss if a
  // record is corrupt (the message names its id); store errors propagate.
  static absl::StatusOr<std::unique_ptr<GrantStore>> Open(SecretStore* store,
                                                          const Clock* clock);

  GrantStore(const GrantStore&) = delete;
  GrantStore& operator=(const GrantStore&) = delete;

  // Stores a new grant and returns it. InvalidArgument for a bad subject,
  // resource, or level kNone; store errors propagate (index unchanged).
  absl::StatusOr<AccessGrant> Grant(absl::string_view subject,
                                    const GrantResource& resource,
                                    AccessLevel level);
  // Removes grant `id`. NotFound "grant <id> not found".
  absl::Status Revoke(absl::string_view id);
  // Removes every grant of `subject` on exactly `resource` (any level), like
  // the CLI's revoke. Returns how many; NotFound if there were none.
  absl::StatusOr<size_t> RevokeMatching(absl::string_view subject,
                                        const GrantResource& resource);

  // Told about every grant stored or revoked once the index has it, so an
  // access check made when told already sees the change (watchers re-check
  // their access then; daemon/watch_service.h): a StoreChange of scope
  // "system:grants", name = the grant id, kind kSet or kDestroy. Not owned;
  // set before the GrantStore is shared. Null (the default) = nobody.
  void set_change_observer(StoreChangeObserver* observer) {
    observer_ = observer;
  }

  // Cluster mode (several daemons on one store): another daemon stored or
  // revoked grant `id`; re-reads it from the store into the index (added,
  // replaced or removed). If the read fails, the grant leaves the index
  // (fails closed: a grant unknown here gives no access) and the error is
  // returned. Does not notify the change observer (the caller, who learned
  // of the change, tells its own watchers).
  absl::Status Refresh(absl::string_view id);
  // Re-reads every grant (after the change stream lost its history). On
  // error the index is left as it was and the error returned.
  absl::Status Reload();

  // Grants of `subject`, oldest first (then by id).
  std::vector<AccessGrant> ListForSubject(absl::string_view subject) const;
  // Grants on exactly `resource` (a wildcard lists the wildcard grants,
  // not every grant of that kind), oldest first.
  std::vector<AccessGrant> ListForResource(const GrantResource& resource) const;
  std::vector<AccessGrant> ListAll() const;

  // The highest level any grant of any of `subjects` gives on `resource`
  // (kNone when none matches). `verified_environment_id` as for
  // GrantCovers. Memory only; cheap.
  AccessLevel EffectiveLevel(const std::vector<std::string>& subjects,
                             const Resource& resource,
                             absl::string_view verified_environment_id) const;

  // True when an impersonate grant of any of `subjects` matches `asserted`
  // ("user:<id>" or "group:<id>"). Memory only; cheap.
  bool MayImpersonate(const std::vector<std::string>& subjects,
                      absl::string_view asserted) const;

 private:
  GrantStore(SecretStore* store, const Clock* clock)
      : store_(store), clock_(clock) {}

  void IndexAdd(AccessGrant grant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexRemove(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RevokeLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  void Notify(ChangeKind kind, absl::string_view id);
  // Every grant in the store, decoded.
  static absl::StatusOr<std::vector<AccessGrant>> ReadAll(SecretStore* store);

  SecretStore* const store_;
  const Clock* const clock_;
  StoreChangeObserver* observer_ = nullptr;

  // Serialises mutations so the index follows the store's order; held
  // across the store write, while mu_ is held only to update the index.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, AccessGrant> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<AccessGrant>> by_subject_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_GRANT_STORE_H_
