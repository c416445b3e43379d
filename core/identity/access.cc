#include "core/identity/access.h"

#include <algorithm>

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
  if (!api_key_id.empty()) return absl::StrCat("apikey:", api_key_id);
  if (uid >= 0) return absl::StrCat("uid:", uid);
  if (transport == Transport::kInProcess) return "in-process";
  return "anonymous";
}

}  // namespace zlayer::secrets
