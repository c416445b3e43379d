#include "core/env/memory_environment_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"

namespace zlayer::secrets {
namespace {

absl::Status AlreadyTaken() {
  return absl::AlreadyExistsError(
      "an environment with this name already exists in this project");
}

absl::Status NoSuchId() {
  return absl::NotFoundError("no environment has this id");
}

}  // namespace

MemoryEnvironmentRegistry::MemoryEnvironmentRegistry(Clock* clock)
    : clock_(clock) {}

const Environment* MemoryEnvironmentRegistry::FindByName(
    absl::string_view name, absl::string_view project) const {
  for (const auto& [id, env] : by_id_) {
    if (env.project == project && env.name == name) return &env;
  }
  return nullptr;
}

std::vector<Environment> MemoryEnvironmentRegistry::ListLocked(
    absl::string_view project) const {
  std::vector<Environment> out;
  for (const auto& [id, env] : by_id_) {
    if (env.project == project) out.push_back(env);
  }
  std::sort(out.begin(), out.end(),
            [](const Environment& a, const Environment& b) {
              return a.name < b.name;
            });
  return out;
}

absl::StatusOr<Environment> MemoryEnvironmentRegistry::Create(
    absl::string_view name, absl::string_view project,
    absl::string_view description) {
  ASSIGN_OR_RETURN(std::string clean, NormalizeEnvironmentName(name));
  RETURN_IF_ERROR(ValidateProject(project));
  RETURN_IF_ERROR(ValidateDescription(description));
  absl::MutexLock lock(&mu_);
  if (FindByName(clean, project) != nullptr) return AlreadyTaken();
  Environment env;
  env.id = NewUuidV4();
  env.name = std::move(clean);
  env.project = std::string(project);
  env.description = std::string(description);
  env.created_at = env.updated_at = clock_->NowUnixSeconds();
  by_id_.emplace(env.id, env);
  return env;
}

absl::StatusOr<Environment> MemoryEnvironmentRegistry::Get(
    absl::string_view id) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_id_.find(absl::AsciiStrToLower(id));
  if (it == by_id_.end()) return NoSuchId();
  return it->second;
}

absl::StatusOr<std::vector<Environment>> MemoryEnvironmentRegistry::List(
    absl::string_view project) {
  RETURN_IF_ERROR(ValidateProject(project));
  absl::ReaderMutexLock lock(&mu_);
  return ListLocked(project);
}

absl::StatusOr<Environment> MemoryEnvironmentRegistry::Update(
    absl::string_view id, absl::string_view name,
    absl::string_view description) {
  std::string clean;
  if (!name.empty()) {
    ASSIGN_OR_RETURN(clean, NormalizeEnvironmentName(name));
  }
  RETURN_IF_ERROR(ValidateDescription(description));
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(absl::AsciiStrToLower(id));
  if (it == by_id_.end()) return NoSuchId();
  Environment& env = it->second;
  if (!clean.empty() && clean != env.name) {
    if (FindByName(clean, env.project) != nullptr) return AlreadyTaken();
    env.name = std::move(clean);
  }
  env.description = std::string(description);
  env.updated_at = clock_->NowUnixSeconds();
  return env;
}

absl::Status MemoryEnvironmentRegistry::Delete(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  if (by_id_.erase(absl::AsciiStrToLower(id)) == 0) return NoSuchId();
  return absl::OkStatus();
}

absl::StatusOr<Environment> MemoryEnvironmentRegistry::Find(
    absl::string_view name_or_id, absl::string_view project) {
  RETURN_IF_ERROR(
      ValidateText(name_or_id, "environment", 1, kMaxEnvironmentNameBytes));
  RETURN_IF_ERROR(ValidateProject(project));
  absl::ReaderMutexLock lock(&mu_);
  if (LooksLikeUuid(name_or_id)) {
    auto it = by_id_.find(absl::AsciiStrToLower(name_or_id));
    if (it != by_id_.end()) return it->second;
    return EnvironmentNotFound(name_or_id, project, {});
  }
  if (const Environment* env = FindByName(name_or_id, project)) return *env;
  std::vector<std::string> known;
  for (const Environment& e : ListLocked(project)) known.push_back(e.name);
  return EnvironmentNotFound(name_or_id, project, known);
}

}  // namespace zlayer::secrets
