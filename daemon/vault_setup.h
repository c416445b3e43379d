// Vault as the daemon's resolver source for the scopes --vault-scope maps
// (docs/vault.md): one VaultClient (token or AppRole from files, namespace,
// CA, per-request deadline), one VaultSecretsProvider per KV v2 mount, and
// the ScopeRoutedProvider ResolveEnv reads through (the daemon's own store
// for every other scope).
#ifndef ZLAYER_SECRETS_DAEMON_VAULT_SETUP_H_
#define ZLAYER_SECRETS_DAEMON_VAULT_SETUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/clock.h"
#include "core/resolve/scope_routed_provider.h"
#include "core/store/secret_store.h"
#include "core/store/vault/vault_client.h"
#include "core/store/vault/vault_secrets_provider.h"
#include "daemon/config.h"

namespace zlayer::secrets {

struct VaultSource {
  std::unique_ptr<VaultClient> client;
  std::vector<std::unique_ptr<VaultSecretsProvider>> mounts;
  std::unique_ptr<ScopeRoutedProvider> source;  // what ResolveEnv reads
};

// nullptr when `options` maps no scope to Vault. Reads the token or AppRole
// files (InvalidArgument naming the file, never its content); does not
// contact Vault. `clock` and `store` are not owned.
absl::StatusOr<std::unique_ptr<VaultSource>> OpenVaultSource(
    const DaemonOptions& options, const Clock* clock, SecretsProvider* store);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_VAULT_SETUP_H_
