#include "core/env/observed_environment_registry.h"

#include <string>
#include <utility>

#include "core/base/status_macros.h"

namespace zlayer::secrets {

void ObservedEnvironmentRegistry::Tell(const Environment& env,
                                       std::string name_now,
                                       std::string name_before) {
  if (observer_ == nullptr) return;
  StoreChange change;
  change.kind = ChangeKind::kEnvironment;
  change.scope = EnvironmentScope(env);
  change.environment_id = env.id;
  change.environment_project = env.project;
  change.environment_name = std::move(name_now);
  change.previous_environment_name = std::move(name_before);
  observer_->OnStoreChange(change);
}

absl::StatusOr<Environment> ObservedEnvironmentRegistry::Create(
    absl::string_view name, absl::string_view project,
    absl::string_view description) {
  ASSIGN_OR_RETURN(Environment env, inner_->Create(name, project, description));
  Tell(env, env.name, "");
  return env;
}

absl::StatusOr<Environment> ObservedEnvironmentRegistry::Update(
    absl::string_view id, absl::string_view name,
    absl::string_view description) {
  // The name before, to tell a rename from a new description. A rename
  // racing this one is told by its own call; the latest name is what
  // watchers re-plan with either way.
  absl::StatusOr<Environment> before = inner_->Get(id);
  ASSIGN_OR_RETURN(Environment env, inner_->Update(id, name, description));
  if (!before.ok() || before->name != env.name) {
    Tell(env, env.name, before.ok() ? before->name : "");
  }
  return env;
}

absl::Status ObservedEnvironmentRegistry::Delete(absl::string_view id) {
  absl::StatusOr<Environment> before = inner_->Get(id);
  RETURN_IF_ERROR(inner_->Delete(id));
  if (before.ok()) Tell(*before, "", before->name);
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
