// DaemonState: what the daemon owns between Create() and the end of the
// drain (stores, identity, audit, listener, services, metrics), in
// destruction order. daemon/server.cc runs the lifecycle over it;
// daemon/storage.h, daemon/identity_setup.h, daemon/metrics_wiring.h and
// daemon/grpc_server.h fill in their parts.
//
// Not thread-safe by itself: the members are set during start-up, before any
// call is served, and torn down after the drain.
#ifndef ZLAYER_SECRETS_DAEMON_DAEMON_STATE_H_
#define ZLAYER_SECRETS_DAEMON_DAEMON_STATE_H_

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/audit/audit_log.h"
#include "core/audit/auth_failure_audit.h"
#include "core/base/clock.h"
#include "core/crypto/key_manager.h"
#include "core/env/environment_registry.h"
#include "core/identity/api_key_store.h"
#include "core/identity/auth_failure_budget.h"
#include "core/identity/client_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/identity/registry_credential_store.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "core/store/etcd/etcd_watcher.h"
#include "core/store/observed_secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "core/watch/change_feed.h"
#include "core/watch/consumer_graph.h"
#include "daemon/cluster_change_relay.h"
#include "daemon/metered_environment_registry.h"
#include "daemon/metered_secret_store.h"
#include "daemon/metrics.h"
#include "daemon/metrics_server.h"
#include "daemon/rpc/admin_service.h"
#include "daemon/rpc/call_auditor.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/call_tracker.h"
#include "daemon/rpc/health_service.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "daemon/rpc/watch_service.h"
#include "daemon/systemd_notify.h"
#include "daemon/transport/api_key_verifier.h"
#include "daemon/transport/caller_identity.h"
#include "daemon/transport/unix_listener.h"
#include "daemon/vault_setup.h"
#include "grpcpp/impl/service_type.h"

namespace zlayer::secrets {

// What the services use, in destruction order (services last out).
struct DaemonState {
  RealClock clock;
  CallTracker calls;
  // Writes every call's audit record with its final status.
  std::unique_ptr<CallAuditor> auditor;
  // grpc.health.v1.Health; outlives the server (server_ goes first).
  HealthService health;
  std::unique_ptr<KeyManager> keys;
  KeySource key_source = KeySource::kGenerated;
  absl::Mutex rotation_mu;  // one master-key rotation at a time
  // Declared before the services, so destroyed after them.
  // One of the two, by --store; `data` points at whichever is open.
  std::unique_ptr<SqliteSecretStore> store;
  std::unique_ptr<EtcdSecretStore> etcd_store;
  SecretStore* data = nullptr;
  // With --metrics-listen: times every call the services and identity
  // stores make on `data` (observed -> metered -> data).
  std::unique_ptr<MeteredSecretStore> metered;
  // With --metrics-listen: times the environment registry's calls; owned
  // by `environments` (observed -> metered -> backend registry).
  MeteredEnvironmentRegistry* metered_environments = nullptr;
  // Every write made through `observed` (what the services and the
  // identity stores use) reaches the change feed that watchers follow.
  std::unique_ptr<ChangeFeed> feed;
  std::unique_ptr<ObservedSecretStore> observed;
  std::unique_ptr<ConsumerGraph> consumers;
  // --vault-scope: ResolveEnv's source (Vault for mapped scopes, `observed`
  // for the rest); null without a mapping.
  std::unique_ptr<VaultSource> vault;
  // Cluster mode: etcd's Watch, from the revision current before the
  // grants were loaded, into the identity caches and the feed; stopped
  // before any of them goes.
  int64_t cluster_start_revision = 0;
  std::unique_ptr<ClusterChangeRelay> cluster_relay;
  std::unique_ptr<EtcdWatcher> cluster_watch;
  std::unique_ptr<EnvironmentRegistry> environments;
  std::unique_ptr<GrantStore> grants;
  std::unique_ptr<ApiKeyStore> api_keys;
  std::unique_ptr<RegistryCredentialStore> registry_credentials;
  std::unique_ptr<GitCredentialStore> git_credentials;
  std::unique_ptr<ClientKeyStore> client_keys;
  std::unique_ptr<FileAuditSink> audit_sink;
  std::unique_ptr<AuditLog> audit;
  // Failed API-key checks: budget and coalesced audit (before the audit log
  // goes, the destructor flushes what is pending).
  std::unique_ptr<AuthFailureBudget> auth_budget;
  std::unique_ptr<AuthFailureAudit> auth_audit;
  std::unique_ptr<GrantAuthorizer> authorizer;
  std::unique_ptr<ApiKeyVerifier> verifier;
  std::unique_ptr<UnixListener> listener;
  std::unique_ptr<UnixPeerIdentifier> unix_identifier;
  std::unique_ptr<ApiKeyIdentifier> tcp_identifier;
  std::unique_ptr<TransportIdentifier> identifier;
  ServiceContext context;
  // The handlers, the worker pool that runs them, and the callback services
  // that queue onto it; destroyed in reverse: the pool joins its workers
  // before the handlers go.
  std::unique_ptr<SecretsService> secrets;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<CallQueue> queue;
  std::unique_ptr<WatchService> watch;
  std::vector<std::unique_ptr<grpc::Service>> services;
  // $NOTIFY_SOCKET (Type=notify); a no-op outside systemd.
  std::unique_ptr<SystemdNotifier> notifier;
  // Last: its server reads the members above and goes first.
  Metrics metrics;
  std::unique_ptr<MetricsServer> metrics_server;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_DAEMON_STATE_H_
