// RemoteSecretsProvider: core's read-only SecretsProvider interface served
// by a zlayer-secretsd daemon, so code written against core (the resolver,
// the agent) runs unchanged against a remote store.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SecretsClient> client,
//                    SecretsClient::Connect(ClientOptions()));
//   RemoteSecretsProvider provider(client.get());
//   ASSIGN_OR_RETURN(SecretBytes v, provider.GetSecret("prod", "db_password"));
//
// Scopes are canonical scope strings ("prod", "prod/api", "env:{id}",
// "project:{p}:env:{id}") and travel as Target.scope; the daemon checks them
// and the caller's access. Error codes are the daemon's (core's), converted by
// FromGrpcStatus: NotFound, DataLoss, PermissionDenied, Unavailable, ...
//
// Consistency: GetSecrets reads one scope at one snapshot. ReadBatch groups
// its keys by scope and sends one GetSecrets per scope, so keys of DIFFERENT
// scopes are NOT read at one snapshot (a write between two GetSecrets calls
// can be seen by one and not the other). Callers that need an all-or-nothing
// snapshot across scopes use ResolveEnv(), which the daemon resolves at one
// store snapshot.
//
// Thread-safe (SecretsClient is). The client is not owned.
#ifndef ZLAYER_SECRETS_CLIENT_REMOTE_SECRETS_PROVIDER_H_
#define ZLAYER_SECRETS_CLIENT_REMOTE_SECRETS_PROVIDER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

// Where the references of an env map are looked up (ResolveContext of the
// proto; core's ResolveContext plus the service recorded for audit).
struct RemoteResolveContext {
  std::string deployment;  // scope of `$S:name`
  std::string project;     // project for environment name lookups; "" = global
  std::string service;     // informational (the daemon's audit trail)
};

// The daemon's answer to ResolveEnv, with values in secure memory.
struct RemoteResolvedEnv {
  std::map<std::string, SecretBytes> values;  // every input key
  std::vector<v1::ResolvedEntry> receipt;     // one per reference, by key
};

class RemoteSecretsProvider final : public SecretsProvider {
 public:
  // `client` is not owned and must outlive the provider.
  explicit RemoteSecretsProvider(SecretsClient* client);

  // SecretsProvider (see core/store/secret_store.h for the contract).
  absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                        absl::string_view name) override;
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> GetSecrets(
      absl::string_view scope, const std::vector<std::string>& names) override;
  // Follows every page.
  absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) override;
  absl::StatusOr<bool> Exists(absl::string_view scope,
                              absl::string_view name) override;
  // One GetSecrets per distinct scope (see the header comment: one snapshot
  // per scope, not across scopes). result[i] answers keys[i]: the value and
  // version, or NotFound. The outer status fails when any GetSecrets fails
  // (e.g. DataLoss, PermissionDenied, Unavailable).
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) override;

  // Resolves every reference of `env` on the daemon, all or nothing, at one
  // snapshot. Errors are the daemon's (its message lists every bad entry
  // "KEY (reference): reason", never values).
  absl::StatusOr<RemoteResolvedEnv> ResolveEnv(
      const std::map<std::string, std::string>& env,
      const RemoteResolveContext& context);
  // The same, as `consumer` (recorded in the daemon's consumer graph; ""
  // = anonymous) and, when `pin` is not empty, pinned to the versions of
  // that receipt (an earlier RemoteResolvedEnv::receipt or a WatchEnv
  // receipt): FailedPrecondition naming every pinned version that is gone.
  absl::StatusOr<RemoteResolvedEnv> ResolveEnv(
      const std::map<std::string, std::string>& env,
      const RemoteResolveContext& context, absl::string_view consumer,
      const std::vector<v1::ResolvedEntry>& pin);

 private:
  SecretsClient* client_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_REMOTE_SECRETS_PROVIDER_H_
