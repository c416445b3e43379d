// Grant changes that answer with what they changed (Admin.Revoke and
// Admin.RevokeMatching), independent of gRPC.
//
//   ASSIGN_OR_RETURN(RevokedGrants revoked,
//                    RevokeMatchingGrants(grants, "uid:1000", resource));
//
// Thread-safe: the grant store serialises its own changes.
#ifndef ZLAYER_SECRETS_CORE_OPS_GRANT_OPS_H_
#define ZLAYER_SECRETS_CORE_OPS_GRANT_OPS_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/identity/grant_store.h"

namespace zlayer::secrets {

// The grant with this id, if any (from the store's index).
absl::optional<AccessGrant> FindGrant(const GrantStore& grants,
                                      absl::string_view id);

struct RevokedGrants {
  std::vector<AccessGrant> grants;  // listed just before the revocation
  size_t removed = 0;               // what the store removed
};

// Revokes every grant of `subject` on exactly `resource`; returns those
// grants (listed first, so the answer can say what went). The grant store's
// errors.
absl::StatusOr<RevokedGrants> RevokeMatchingGrants(
    GrantStore* grants, absl::string_view subject,
    const GrantResource& resource);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_GRANT_OPS_H_
