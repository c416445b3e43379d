// Deleting an environment (what Admin.DeleteEnvironment does), independent
// of gRPC: only an environment whose scope holds no live secret goes.
//
//   ASSIGN_OR_RETURN(Environment env, registry->Get(id));
//   RETURN_IF_ERROR(DeleteEmptyEnvironment(registry, store, env));
//
// Thread-safe if the registry and the store are.
#ifndef ZLAYER_SECRETS_CORE_OPS_ENVIRONMENT_OPS_H_
#define ZLAYER_SECRETS_CORE_OPS_ENVIRONMENT_OPS_H_

#include "absl/status/status.h"
#include "core/env/environment_registry.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

// FailedPrecondition "environment 'NAME' still holds secrets; delete them
// first" while the scope lists a live secret (upstream's rule: soft-deleted
// ones stay in the scope and remain reachable by a raw scope target);
// otherwise the registry's Delete. The store's listing errors.
absl::Status DeleteEmptyEnvironment(EnvironmentRegistry* registry,
                                    SecretStore* store, const Environment& env);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_ENVIRONMENT_OPS_H_
