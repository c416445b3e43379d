// SqliteEnvironmentRegistry: the durable EnvironmentRegistry. Environments
// live in the `environments` table of the SqliteSecretStore's own file
// (docs/storage.md), written through the store's writer connection, so a
// backup of the file carries secrets and environments together. Each row
// carries a MAC (the store's metadata-MAC subkey) over id, name, project,
// description and times, checked on every read: a row edited outside the
// registry reads as DataLoss (docs/storage.md, "Authenticated metadata").
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SqliteSecretStore> store,
//                    SqliteSecretStore::Open(options, std::move(ring), clock));
//   ASSIGN_OR_RETURN(std::unique_ptr<SqliteEnvironmentRegistry> envs,
//                    SqliteEnvironmentRegistry::Create(store.get(), clock));
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_ENV_SQLITE_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_CORE_ENV_SQLITE_ENVIRONMENT_REGISTRY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/env/environment_registry.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zlayer::secrets {

class SqliteEnvironmentRegistry final : public EnvironmentRegistry {
 public:
  // `store` and `clock` are not owned and must outlive the registry.
  // InvalidArgument if either is null.
  // Reads return DataLoss for a row whose MAC does not match.
  static absl::StatusOr<std::unique_ptr<SqliteEnvironmentRegistry>> Create(
      SqliteSecretStore* store, Clock* clock);

  absl::StatusOr<Environment> Create(absl::string_view name,
                                     absl::string_view project,
                                     absl::string_view description) override;
  // Create() under a given id (core/migrate keeps upstream's environment
  // ids, which its scopes "env:{id}" name). InvalidArgument for an id that
  // is empty, longer than 64 bytes, or holds anything but [A-Za-z0-9_-];
  // AlreadyExists when the id or the name (in that project) is taken.
  absl::StatusOr<Environment> CreateWithId(absl::string_view id,
                                           absl::string_view name,
                                           absl::string_view project,
                                           absl::string_view description);
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
  SqliteEnvironmentRegistry(SqliteSecretStore* store, Clock* clock,
                            SecretBytes mac_key)
      : store_(store), clock_(clock), mac_key_(std::move(mac_key)) {}

  SqliteSecretStore* const store_;
  Clock* const clock_;
  const SecretBytes mac_key_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_ENV_SQLITE_ENVIRONMENT_REGISTRY_H_
