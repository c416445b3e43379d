// ObservedEnvironmentRegistry: an EnvironmentRegistry that tells a
// StoreChangeObserver (the daemon's change feed) about every environment
// created, renamed or deleted, as a ChangeKind::kEnvironment change
// (core/store/store_change.h). References by environment name
// (`$S::staging/db`) resolve through the registry, so a watcher of an env
// map re-plans its references when it hears of one (docs/watch.md).
//
//   ObservedEnvironmentRegistry registry(std::move(sqlite_registry), &feed);
//   registry.Update(id, "stage2", "");  // feed sees kEnvironment,
//                                       // "staging" -> "stage2"
//
// A description-only update changes no resolution and is not told. The
// observer runs on the writer's thread after the registry's write, outside
// its locks. Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_ENV_OBSERVED_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_CORE_ENV_OBSERVED_ENVIRONMENT_REGISTRY_H_

#include <memory>
#include <vector>

#include "core/env/environment_registry.h"
#include "core/store/store_change.h"

namespace zlayer::secrets {

class ObservedEnvironmentRegistry final : public EnvironmentRegistry {
 public:
  // `observer` is not owned, may be null (nobody is told) and must outlive
  // the registry.
  ObservedEnvironmentRegistry(std::unique_ptr<EnvironmentRegistry> inner,
                              StoreChangeObserver* observer)
      : inner_(std::move(inner)), observer_(observer) {}

  absl::StatusOr<Environment> Create(absl::string_view name,
                                     absl::string_view project,
                                     absl::string_view description) override;
  absl::StatusOr<Environment> Get(absl::string_view id) override {
    return inner_->Get(id);
  }
  absl::StatusOr<std::vector<Environment>> List(
      absl::string_view project) override {
    return inner_->List(project);
  }
  absl::StatusOr<Environment> Update(absl::string_view id,
                                     absl::string_view name,
                                     absl::string_view description) override;
  absl::Status Delete(absl::string_view id) override;
  absl::StatusOr<Environment> Find(absl::string_view name_or_id,
                                   absl::string_view project) override {
    return inner_->Find(name_or_id, project);
  }

 private:
  void Tell(const Environment& env, std::string name_now,
            std::string name_before);

  const std::unique_ptr<EnvironmentRegistry> inner_;
  StoreChangeObserver* const observer_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_ENV_OBSERVED_ENVIRONMENT_REGISTRY_H_
