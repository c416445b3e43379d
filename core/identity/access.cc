#include "core/identity/access.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

absl::string_view AccessLevelName(AccessLevel level) {
  switch (level) {
    case AccessLevel::kNone:
      return "none";
    case AccessLevel::kRead:
      return "read";
    case AccessLevel::kExecute:
      return "execute";
    case AccessLevel::kWrite:
      return "write";
  }
  return "none";
}

absl::optional<AccessLevel> ParseAccessLevel(absl::string_view text) {
  if (text == "read") return AccessLevel::kRead;
  if (text == "execute") return AccessLevel::kExecute;
  if (text == "write") return AccessLevel::kWrite;
  return absl::nullopt;
}

bool Principal::HasRole(absl::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string Principal::Subject() const {
  if (IsDelegated()) return absl::StrCat("user:", user);
  if (!api_key_id.empty()) return absl::StrCat("apikey:", api_key_id);
  if (uid >= 0) return absl::StrCat("uid:", uid);
  if (transport == Transport::kInProcess) return "in-process";
  return "anonymous";
}

Principal ActingAs(const Principal& actor, absl::string_view user,
                   std::vector<std::string> groups) {
  Principal p;
  p.transport = actor.transport;
  p.actor = actor.Subject();
  p.user = std::string(user);
  p.groups = std::move(groups);
  return p;
}

absl::Status Authorizer::CheckImpersonate(
    const Principal& actor, absl::string_view user,
    const std::vector<std::string>& /*groups*/) const {
  return absl::PermissionDeniedError(absl::StrCat(
      actor.Subject(), " may not act as user:", user,
      " (this daemon's authorizer does not support impersonation)"));
}

}  // namespace zlayer::secrets
