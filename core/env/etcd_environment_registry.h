// EtcdEnvironmentRegistry: environments kept in etcd under the prefix of an
// EtcdSecretStore (cluster mode), so every daemon on the cluster sees the
// same ones. Each record carries the same MAC as SQLite's `environments`
// rows (EnvironmentRowMac with the store's metadata-MAC subkey); a record
// edited in etcd reads as DataLoss.
//
// Keys: P/env/id/<id> holds the record; P/env/name/<hex(project)>/<name>
// holds the id and makes names unique per project: Create, Update (rename)
// and Delete are each one Txn whose compares guard both keys.
//
//   ASSIGN_OR_RETURN(auto registry,
//                    EtcdEnvironmentRegistry::Create(etcd_store, clock));
//   ASSIGN_OR_RETURN(Environment e, registry->Create("staging", "", ""));
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_ENV_ETCD_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_CORE_ENV_ETCD_ENVIRONMENT_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/env/environment_registry.h"
#include "core/store/etcd/etcd_secret_store.h"

namespace zlayer::secrets {

class EtcdEnvironmentRegistry final : public EnvironmentRegistry {
 public:
  // `store` and `clock` are not owned and must outlive the registry.
  // InvalidArgument if either is null.
  static absl::StatusOr<std::unique_ptr<EtcdEnvironmentRegistry>> Create(
      EtcdSecretStore* store, Clock* clock);

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
  struct Read;
  EtcdEnvironmentRegistry(EtcdSecretStore* store, Clock* clock,
                          SecretBytes mac_key);
  std::string IdKey(absl::string_view id) const;
  std::string NameKey(absl::string_view project, absl::string_view name) const;
  absl::StatusOr<std::string> Encode(const Environment& env) const;
  absl::StatusOr<Environment> Decode(absl::string_view id,
                                     absl::string_view value) const;
  // The record of `id` (lowercased); found = false if there is none.
  absl::StatusOr<Read> ReadId(absl::string_view id);
  absl::StatusOr<std::vector<Environment>> ListAll();

  EtcdSecretStore* const store_;
  Clock* const clock_;
  const SecretBytes mac_key_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_ENV_ETCD_ENVIRONMENT_REGISTRY_H_
