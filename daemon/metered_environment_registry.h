// MeteredEnvironmentRegistry: an EnvironmentRegistry that forwards every
// call to another one and times it, for --metrics-listen
// (zlayer_secrets_environment_registry_seconds{backend,op}). The registry
// keeps its records beside the secrets (SQLite's `environments` table, or
// etcd keys under the prefix) without going through the SecretStore, so
// MeteredSecretStore does not see these reads; every ResolveEnv that names
// an environment (`$S::staging/db`) makes one.
//
//   auto metered = std::make_unique<MeteredEnvironmentRegistry>(
//       std::move(sqlite_registry), "sqlite");
//   MeteredEnvironmentRegistry* timings = metered.get();
//   ObservedEnvironmentRegistry registry(std::move(metered), &feed);
//   metrics.AddCollector([=](std::string* out) { timings->Collect(out); });
//
// Error codes are the wrapped registry's. Thread-safe when it is.
#ifndef ZLAYER_SECRETS_DAEMON_METERED_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_DAEMON_METERED_ENVIRONMENT_REGISTRY_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/env/environment_registry.h"
#include "daemon/metrics.h"

namespace zlayer::secrets {

// The `op` label values, one per EnvironmentRegistry method.
enum class RegistryOp { kCreate, kGet, kList, kUpdate, kDelete, kFind };
inline constexpr size_t kRegistryOpCount = 6;
const char* RegistryOpName(RegistryOp op);

class MeteredEnvironmentRegistry final : public EnvironmentRegistry {
 public:
  // `backend` is the `backend` label ("sqlite", "etcd").
  MeteredEnvironmentRegistry(std::unique_ptr<EnvironmentRegistry> inner,
                             std::string backend);

  // Appends the zlayer_secrets_environment_registry_seconds family.
  void Collect(std::string* out) const;

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
  class Timer;

  const std::unique_ptr<EnvironmentRegistry> inner_;
  const std::string backend_;
  std::array<std::unique_ptr<Histogram>, kRegistryOpCount> latency_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_METERED_ENVIRONMENT_REGISTRY_H_
