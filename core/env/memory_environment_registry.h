// MemoryEnvironmentRegistry: an EnvironmentRegistry held in process memory,
// for tests and ephemeral daemons. Behaves like SqliteEnvironmentRegistry
// (tests/core/env/environment_registry_conformance.h checks both).
//
//   MemoryEnvironmentRegistry registry(&clock);
//   ASSIGN_OR_RETURN(Environment e, registry.Create("staging", "", ""));
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_ENV_MEMORY_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_CORE_ENV_MEMORY_ENVIRONMENT_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/base/clock.h"
#include "core/env/environment_registry.h"

namespace zlayer::secrets {

class MemoryEnvironmentRegistry final : public EnvironmentRegistry {
 public:
  // `clock` is not owned and must outlive the registry.
  explicit MemoryEnvironmentRegistry(Clock* clock);

  absl::StatusOr<Environment> Create(absl::string_view name,
                                     absl::string_view project,
                                     absl::string_view description) override;
  absl::StatusOr<Environment> Get(absl::string_view id) override;
  absl::StatusOr<std::vector<Environment>> List(
      absl::string_view project) override;
  absl::StatusOr<Environment> Update(absl::string_view id,
                                     absl::string_view name,
                                     absl::string_view description) override;
  absl::Status Delete(absl::string_view id) override;
  absl::StatusOr<Environment> Find(absl::string_view name_or_id,
                                   absl::string_view project) override;

 private:
  const Environment* FindByName(absl::string_view name,
                                absl::string_view project) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<Environment> ListLocked(absl::string_view project) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Environment> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_ENV_MEMORY_ENVIRONMENT_REGISTRY_H_
