// ScopeRoutedProvider: the resolver's source when some scopes live elsewhere
// (a HashiCorp Vault mount, say). Each route names a scope; that scope and
// every scope below it ("{scope}/...", service scopes of a deployment) are
// read from the route's provider, at the route's path prefix; all other
// scopes from the fallback (the daemon's own store).
//
//   VaultSecretsProvider vault(client, "secret");
//   ScopeRoutedProvider source(store, {{"shop", &vault, "apps/shop"}});
//   Resolver resolver(&source, environments);
//   // $S:db in deployment "shop" reads Vault's secret/data/apps/shop/db;
//   // $S:@api/key reads secret/data/apps/shop/api/key.
//
// The longest matching route wins. Metadata returned by ListSecrets carries
// the caller's scope, not the provider's path.
//
// One snapshot: ReadBatch and ReadVersions hand each provider its own keys
// in one batch, so each provider answers at its own snapshot; there is no
// snapshot across providers (docs/vault.md).
//
// Thread-safe if the providers are. Providers are not owned.
#ifndef ZLAYER_SECRETS_CORE_RESOLVE_SCOPE_ROUTED_PROVIDER_H_
#define ZLAYER_SECRETS_CORE_RESOLVE_SCOPE_ROUTED_PROVIDER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct ScopeRoute {
  std::string scope;                    // matches it and "{scope}/..."
  SecretsProvider* provider = nullptr;  // not owned
  // The provider's scope for `scope` itself; "{scope}/x" becomes
  // "{path_prefix}/x" ("" = the provider's top level).
  std::string path_prefix;
};

class ScopeRoutedProvider : public SecretsProvider {
 public:
  ScopeRoutedProvider(SecretsProvider* fallback,
                      std::vector<ScopeRoute> routes);

  // Where `scope` is read: the provider and its scope there.
  std::pair<SecretsProvider*, std::string> Route(absl::string_view scope) const;

  absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                        absl::string_view name) override;
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> GetSecrets(
      absl::string_view scope, const std::vector<std::string>& names) override;
  absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) override;
  absl::StatusOr<bool> Exists(absl::string_view scope,
                              absl::string_view name) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadVersions(
      const std::vector<VersionedKey>& keys) override;

 private:
  // Index into routes_ of the route for `scope`, or -1 for the fallback.
  int RouteIndex(absl::string_view scope) const;

  SecretsProvider* fallback_;
  std::vector<ScopeRoute> routes_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_RESOLVE_SCOPE_ROUTED_PROVIDER_H_
