// The daemon's Authorizer: administrators by role or Unix uid, everyone else
// by the grants of a GrantStore (default deny).
//
// A principal is an administrator when it has the "admin" role (from its API
// key or configuration) or when it is a Unix-socket peer whose uid is in
// `admin_uids` (by default 0 and the daemon's own uid) or whose primary gid
// is in `admin_gids` (SO_PEERCRED reports the primary gid only, so
// supplementary groups never count). Otherwise an access
// is allowed when the best grant over the principal's subjects reaches the
// level: "apikey:<id>" (if a key was verified), "role:<r>" for each role,
// "uid:<n>" and "gid:<n>" (if known). Internal "system:" scopes are refused
// for everyone, administrators included: no client RPC may touch them.
//
// A delegated principal (Principal::IsDelegated, docs/identity.md
// "Delegated identity") is never an administrator and its subjects are
// exactly "user:<user>" and "group:<g>" for each asserted group: the
// proxy's own key, roles and uid count for nothing. Who may assert whom is
// decided by CheckImpersonate from impersonate grants alone; administrators
// need one too.
//
// Environment grants cover only an environment's own scope: for an
// env-shaped scope ("env:<id>", "project:<p>:env:<id>") the authorizer asks
// `environment_scope` for environment <id>'s scope and counts environment
// grants only when the two are equal (a raw "project:<q>:env:<id>" of
// another project is not covered). Without `environment_scope`, environment
// grants cover nothing. Answers are cached (an environment's id and project
// never change).
//
//   GrantAuthorizer authz(grants.get(), GrantAuthorizerOptions::Default());
//   RETURN_IF_ERROR(authz.Check(principal, {"prod", "db"},
//   AccessLevel::kRead));
//
// Checks read only memory (the GrantStore index); a grant or revocation is
// seen by the next check. Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_GRANT_AUTHORIZER_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_GRANT_AUTHORIZER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "core/identity/access.h"
#include "core/identity/grant_store.h"

namespace zlayer::secrets {

struct GrantAuthorizerOptions {
  // Unix-socket peer uids treated as administrators. Empty = none; use
  // Default() for {0, getuid()}.
  absl::flat_hash_set<int64_t> admin_uids;
  // Unix-socket peer primary gids treated as administrators. Default none.
  absl::flat_hash_set<int64_t> admin_gids;
  // The role that makes a principal an administrator.
  std::string admin_role = "admin";
  // The scope of environment `id` (core/env/environment_registry.h's
  // EnvironmentScope), or nullopt when there is no such environment. Must be
  // thread-safe. Unset = environment grants cover nothing.
  std::function<absl::optional<std::string>(absl::string_view id)>
      environment_scope;

  // admin_uids = {0, the daemon's own real uid}.
  static GrantAuthorizerOptions Default();
};

class GrantAuthorizer final : public Authorizer {
 public:
  // `grants` is borrowed and must outlive the authorizer.
  GrantAuthorizer(const GrantStore* grants, GrantAuthorizerOptions options);

  // OK, or PermissionDenied "<subject> lacks <level> on <scope>[/<name>]"
  // (subject = Principal::Subject()). A `level` of kNone is always OK except
  // on system scopes.
  absl::Status Check(const Principal& principal, const Resource& resource,
                     AccessLevel level) const override;
  // OK for administrators, else PermissionDenied "<subject> is not an
  // administrator".
  absl::Status CheckAdmin(const Principal& principal) const override;

  // OK when some impersonate grant of the actor's subjects matches
  // "user:<user>" and, for each group, one matches "group:<g>"; else
  // PermissionDenied "<actor> may not act as <subject>". A delegated actor
  // may not delegate further.
  absl::Status CheckImpersonate(
      const Principal& actor, absl::string_view user,
      const std::vector<std::string>& groups) const override;

  bool IsAdmin(const Principal& principal) const;
  // The grant subjects of `principal`, in the order described above.
  static std::vector<std::string> SubjectsOf(const Principal& principal);

 private:
  // The environment id whose own scope `scope` is, or "" (see above).
  std::string VerifiedEnvironmentId(absl::string_view scope) const
      ABSL_LOCKS_EXCLUDED(env_mu_);

  const GrantStore* const grants_;
  const GrantAuthorizerOptions options_;
  // Environment id -> its scope, from options_.environment_scope.
  mutable absl::Mutex env_mu_;
  mutable absl::flat_hash_map<std::string, std::string> env_scopes_
      ABSL_GUARDED_BY(env_mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_GRANT_AUTHORIZER_H_
