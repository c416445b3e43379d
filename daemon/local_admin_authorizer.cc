#include "daemon/local_admin_authorizer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

constexpr char kAdminRole[] = "admin";
constexpr char kHowToGrant[] =
    "only administrators have access (the daemon's own user, root, "
    "--admin-uid/--admin-gid, or an API key with the admin role)";

bool Contains(const std::vector<int64_t>& ids, int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

LocalAdminAuthorizer::LocalAdminAuthorizer(LocalAdminOptions options)
    : options_(std::move(options)) {}

bool LocalAdminAuthorizer::IsAdmin(const Principal& principal) const {
  if (principal.HasRole(kAdminRole)) return true;
  if (principal.transport != Transport::kUnix) return false;
  if (principal.uid >= 0) {
    if (principal.uid == 0 || principal.uid == options_.daemon_uid ||
        Contains(options_.admin_uids, principal.uid)) {
      return true;
    }
  }
  return principal.gid >= 0 && Contains(options_.admin_gids, principal.gid);
}

absl::Status LocalAdminAuthorizer::Check(const Principal& principal,
                                         const Resource& resource,
                                         AccessLevel level) const {
  if (IsAdmin(principal)) return absl::OkStatus();
  std::string what = resource.name.empty()
                         ? resource.scope
                         : absl::StrCat(resource.scope, "/", resource.name);
  return absl::PermissionDeniedError(
      absl::StrCat(principal.Subject(), " lacks ", AccessLevelName(level),
                   " on ", what, ": ", kHowToGrant));
}

absl::Status LocalAdminAuthorizer::CheckAdmin(
    const Principal& principal) const {
  if (IsAdmin(principal)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      principal.Subject(), " is not an administrator: ", kHowToGrant));
}

}  // namespace zlayer::secrets
