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
//   GrantAuthorizer authz(grants.get(), GrantAuthorizerOptions::Default());
//   RETURN_IF_ERROR(authz.Check(principal, {"prod", "db"},
//   AccessLevel::kRead));
//
// Checks read only memory (the GrantStore index); a grant or revocation is
// seen by the next check. Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_GRANT_AUTHORIZER_H_
#define ZLAYER_SECRETS_CORE_GRANT_AUTHORIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "core/access.h"
#include "core/grant_store.h"

namespace zlayer::secrets {

struct GrantAuthorizerOptions {
  // Unix-socket peer uids treated as administrators. Empty = none; use
  // Default() for {0, getuid()}.
  absl::flat_hash_set<int64_t> admin_uids;
  // Unix-socket peer primary gids treated as administrators. Default none.
  absl::flat_hash_set<int64_t> admin_gids;
  // The role that makes a principal an administrator.
  std::string admin_role = "admin";

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

  bool IsAdmin(const Principal& principal) const;
  // The grant subjects of `principal`, in the order described above.
  static std::vector<std::string> SubjectsOf(const Principal& principal);

 private:
  const GrantStore* const grants_;
  const GrantAuthorizerOptions options_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_GRANT_AUTHORIZER_H_
