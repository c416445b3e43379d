#include "core/identity/grant_authorizer.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {
namespace {

std::string Describe(const Resource& r) {
  if (r.name.empty()) return r.scope;
  return absl::StrCat(r.scope, "/", r.name);
}

// Bounds the environment-scope cache; it is cleared when full.
constexpr size_t kMaxCachedEnvironments = 4096;

}  // namespace

GrantAuthorizerOptions GrantAuthorizerOptions::Default() {
  GrantAuthorizerOptions options;
  options.admin_uids = {0, static_cast<int64_t>(getuid())};
  return options;
}

GrantAuthorizer::GrantAuthorizer(const GrantStore* grants,
                                 GrantAuthorizerOptions options)
    : grants_(grants), options_(std::move(options)) {}

bool GrantAuthorizer::IsAdmin(const Principal& principal) const {
  if (principal.IsDelegated()) return false;
  if (!options_.admin_role.empty() && principal.HasRole(options_.admin_role)) {
    return true;
  }
  // Only the kernel vouches for a uid, i.e. on the Unix socket.
  if (principal.transport != Transport::kUnix) return false;
  return (principal.uid >= 0 && options_.admin_uids.contains(principal.uid)) ||
         (principal.gid >= 0 && options_.admin_gids.contains(principal.gid));
}

std::vector<std::string> GrantAuthorizer::SubjectsOf(
    const Principal& principal) {
  std::vector<std::string> subjects;
  if (principal.IsDelegated()) {
    subjects.push_back(absl::StrCat("user:", principal.user));
    for (const std::string& group : principal.groups) {
      subjects.push_back(absl::StrCat("group:", group));
    }
    return subjects;
  }
  if (!principal.api_key_id.empty()) {
    subjects.push_back(absl::StrCat("apikey:", principal.api_key_id));
  }
  for (const std::string& role : principal.roles) {
    subjects.push_back(absl::StrCat("role:", role));
  }
  if (principal.uid >= 0)
    subjects.push_back(absl::StrCat("uid:", principal.uid));
  if (principal.gid >= 0)
    subjects.push_back(absl::StrCat("gid:", principal.gid));
  return subjects;
}

absl::Status GrantAuthorizer::Check(const Principal& principal,
                                    const Resource& resource,
                                    AccessLevel level) const {
  if (IsSystemScope(resource.scope)) {
    return absl::PermissionDeniedError(
        absl::StrCat(principal.Subject(), " lacks ", AccessLevelName(level),
                     " on ", Describe(resource), " (internal scope)"));
  }
  if (level == AccessLevel::kNone || IsAdmin(principal))
    return absl::OkStatus();
  if (grants_->EffectiveLevel(SubjectsOf(principal), resource,
                              VerifiedEnvironmentId(resource.scope)) >= level) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(principal.Subject(), " lacks ", AccessLevelName(level),
                   " on ", Describe(resource)));
}

std::string GrantAuthorizer::VerifiedEnvironmentId(
    absl::string_view scope) const {
  absl::optional<std::string> id = EnvironmentIdOfScope(scope);
  if (!id.has_value() || !options_.environment_scope) return "";
  {
    absl::MutexLock lock(&env_mu_);
    auto it = env_scopes_.find(*id);
    if (it != env_scopes_.end()) return it->second == scope ? *id : "";
  }
  // Looked up outside the lock: the registry may read the database.
  absl::optional<std::string> own = options_.environment_scope(*id);
  if (!own.has_value()) return "";
  absl::MutexLock lock(&env_mu_);
  if (env_scopes_.size() >= kMaxCachedEnvironments) env_scopes_.clear();
  env_scopes_[*id] = *own;
  return *own == scope ? *id : "";
}

absl::Status GrantAuthorizer::CheckImpersonate(
    const Principal& actor, absl::string_view user,
    const std::vector<std::string>& groups) const {
  std::vector<std::string> asserted = {absl::StrCat("user:", user)};
  for (const std::string& group : groups) {
    asserted.push_back(absl::StrCat("group:", group));
  }
  for (const std::string& subject : asserted) {
    if (actor.IsDelegated() || !ValidateSubject(subject).ok() ||
        !grants_->MayImpersonate(SubjectsOf(actor), subject)) {
      return absl::PermissionDeniedError(
          absl::StrCat(actor.Subject(), " may not act as ", subject));
    }
  }
  return absl::OkStatus();
}

absl::Status GrantAuthorizer::CheckAdmin(const Principal& principal) const {
  if (IsAdmin(principal)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(principal.Subject(), " is not an administrator"));
}

}  // namespace zlayer::secrets
