#include "core/ops/grant_ops.h"

#include <utility>

#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::optional<AccessGrant> FindGrant(const GrantStore& grants,
                                      absl::string_view id) {
  for (AccessGrant& g : grants.ListAll()) {
    if (g.id == id) return std::move(g);
  }
  return absl::nullopt;
}

absl::StatusOr<RevokedGrants> RevokeMatchingGrants(
    GrantStore* grants, absl::string_view subject,
    const GrantResource& resource) {
  // The index changes only through this store, serialised by its own lock.
  RevokedGrants out;
  for (AccessGrant& g : grants->ListForSubject(subject)) {
    if (g.resource == resource) out.grants.push_back(std::move(g));
  }
  ASSIGN_OR_RETURN(out.removed, grants->RevokeMatching(subject, resource));
  return out;
}

}  // namespace zlayer::secrets
