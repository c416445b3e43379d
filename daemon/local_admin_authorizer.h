// LocalAdminAuthorizer: the daemon's interim Authorizer until per-subject
// grants exist. Administrators may do everything; everyone else is denied.
//
// A principal is an administrator when
//   * it is a Unix socket peer whose uid is the daemon's own uid, uid 0, or
//     one of `admin_uids`, or whose (primary) gid is one of `admin_gids`; or
//   * it carries the role "admin" (e.g. granted to an API key).
// SO_PEERCRED reports the peer's primary gid only, so supplementary groups
// do not count.
//
//   LocalAdminAuthorizer authorizer({.daemon_uid = geteuid()});
//   RETURN_IF_ERROR(authorizer.Check(principal, {"prod", "db"},
//                                    AccessLevel::kRead));
//
// Thread-safe (immutable after construction).
#ifndef ZLAYER_SECRETS_DAEMON_LOCAL_ADMIN_AUTHORIZER_H_
#define ZLAYER_SECRETS_DAEMON_LOCAL_ADMIN_AUTHORIZER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/access.h"

namespace zlayer::secrets {

struct LocalAdminOptions {
  // The daemon's effective uid; its own user is always an administrator.
  int64_t daemon_uid = -1;
  // Further administrator uids and primary gids (--admin-uid/--admin-gid).
  std::vector<int64_t> admin_uids;
  std::vector<int64_t> admin_gids;
};

class LocalAdminAuthorizer final : public Authorizer {
 public:
  explicit LocalAdminAuthorizer(LocalAdminOptions options);

  // OK for administrators; PermissionDenied
  // "<subject> lacks <level> on <scope>[/<name>]: ..." otherwise.
  absl::Status Check(const Principal& principal, const Resource& resource,
                     AccessLevel level) const override;
  // OK for administrators; PermissionDenied otherwise.
  absl::Status CheckAdmin(const Principal& principal) const override;

  bool IsAdmin(const Principal& principal) const;

 private:
  LocalAdminOptions options_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_LOCAL_ADMIN_AUTHORIZER_H_
