#include "daemon/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/audit/audit_log.h"
#include "core/audit/auth_failure_audit.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/crypto/key_manager.h"
#include "core/crypto/master_key_rotation.h"
#include "core/crypto/subkeys.h"
#include "core/env/etcd_environment_registry.h"
#include "core/env/sqlite_environment_registry.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/auth_failure_budget.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/identity/identity_records.h"
#include "core/identity/registry_credential_store.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "core/store/observed_secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "core/watch/change_feed.h"
#include "core/watch/consumer_graph.h"
#include "daemon/bootstrap_admin.h"
#include "daemon/metrics.h"
#include "daemon/metrics_server.h"
#include "daemon/process_setup.h"
#include "daemon/rpc/admin_service.h"
#include "daemon/rpc/call_auditor.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/call_tracker.h"
#include "daemon/rpc/callback_services.h"
#include "daemon/rpc/health_service.h"
#include "daemon/rpc/parse_error_interceptor.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "daemon/rpc/watch_service.h"
#include "daemon/secret_memory.h"
#include "daemon/systemd_notify.h"
#include "daemon/transport/api_key_store_verifier.h"
#include "daemon/transport/caller_identity.h"
#include "daemon/transport/socket_activation.h"
#include "daemon/transport/tls_expiry.h"
#include "daemon/transport/tls_files.h"
#include "daemon/transport/unix_listener.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// File descriptors kept out of the default --max-connections: the store,
// the audit log, gRPC's own pipes and epoll, TCP clients.
constexpr rlim_t kReservedFds = 128;
// gRPC's thread cap for the sync services (reflection, extra_services).
constexpr int kSyncServiceThreads = 16;
// Server keepalive pings find dead peers of long-lived calls (health Watch)
// and of idle connections.
constexpr int kKeepaliveTimeMs = 2 * 60 * 1000;
constexpr int kKeepaliveTimeoutMs = 20 * 1000;
// How often gRPC's FileWatcherCertificateProvider re-reads the staged TLS
// files (they change only when SIGHUP stages new ones).
constexpr unsigned int kTlsRefreshSeconds = 1;
// While the audit log cannot be written, Run() tries to reopen it this
// often, so health returns to SERVING even when no call arrives.
constexpr absl::Duration kAuditRetryInterval = absl::Seconds(1);
// Where stores before schema 2 kept their audit name-hash key
// (--audit-hash-names); newer stores derive it from the subkey seed.
constexpr absl::string_view kAuditScope = "system:audit";
constexpr absl::string_view kAuditNameKey = "name_hash_key";

}  // namespace

namespace {
absl::Status NotInClusterMode(absl::string_view what);
}  // namespace

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
  // Every write made through `observed` (what the services and the
  // identity stores use) reaches the change feed that watchers follow.
  std::unique_ptr<ChangeFeed> feed;
  std::unique_ptr<ObservedSecretStore> observed;
  std::unique_ptr<ConsumerGraph> consumers;
  std::unique_ptr<EnvironmentRegistry> environments;
  std::unique_ptr<GrantStore> grants;
  std::unique_ptr<ApiKeyStore> api_keys;
  std::unique_ptr<RegistryCredentialStore> registry_credentials;
  std::unique_ptr<GitCredentialStore> git_credentials;
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

namespace {

// The daemon-wide families beside the per-call ones (daemon/metrics.h), and
// the --metrics-listen endpoint. Nothing here names a secret.
absl::Status StartMetrics(const DaemonOptions& options, const TlsFiles* tls,
                          const std::atomic<bool>* serving,
                          const std::atomic<bool>* audit_healthy,
                          DaemonState* state) {
  if (options.metrics_listen.empty()) return absl::OkStatus();
  Metrics& m = state->metrics;
  m.AddFunction("zlayer_secrets_build_info", MetricType::kGauge,
                absl::StrCat("Always 1; version ", kDaemonVersion, "."),
                [] { return 1.0; });
  m.AddFunction("zlayer_secrets_serving", MetricType::kGauge,
                "1 while health is SERVING for calls, 0 before start-up "
                "ends, while the audit log fails, and during the drain.",
                [serving, audit_healthy] {
                  return serving->load() && audit_healthy->load() ? 1.0 : 0.0;
                });
  UnixListener* listener = state->listener.get();
  m.AddFunction("zlayer_secrets_unix_connections_total", MetricType::kCounter,
                "Connections accepted on the Unix socket.", [listener] {
                  return static_cast<double>(listener->accepted_connections());
                });
  ApiKeyStore* keys = state->api_keys.get();
  m.AddFunction(
      "zlayer_secrets_api_key_verifications_total", MetricType::kCounter,
      "API keys checked against their Argon2id hash (cache misses).", [keys] {
        return static_cast<double>(keys->stats().argon2_verifications);
      });
  m.AddFunction("zlayer_secrets_api_key_cache_hits_total", MetricType::kCounter,
                "API keys accepted from the verification cache.", [keys] {
                  return static_cast<double>(keys->stats().cache_hits);
                });
  m.AddFunction("zlayer_secrets_master_key_id", MetricType::kGauge,
                "Id (generation) of the master key new values are sealed "
                "with; it grows by one per rotation.",
                // Drain() stops the metrics server before it closes the
                // store, so the store is there for every scrape.
                [state]() -> absl::optional<double> {
                  // Not reported in cluster mode (no rotation there yet).
                  if (state->store == nullptr) return absl::nullopt;
                  absl::StatusOr<uint32_t> id = state->store->ActiveKeyId();
                  if (!id.ok()) return absl::nullopt;
                  return static_cast<double>(*id);
                });
  if (tls != nullptr) {
    const std::string cert = tls->cert_path();
    m.AddFunction(
        "zlayer_secrets_tls_certificate_expiry_seconds", MetricType::kGauge,
        "Seconds until the served TLS certificate expires (negative once "
        "expired).",
        [cert]() -> absl::optional<double> {
          absl::StatusOr<absl::Time> not_after = CertificateNotAfter(cert);
          if (!not_after.ok()) return absl::nullopt;
          return absl::ToDoubleSeconds(*not_after - absl::Now());
        });
  }
  ASSIGN_OR_RETURN(state->metrics_server,
                   MetricsServer::Start(options.metrics_listen, &m));
  return absl::OkStatus();
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)), state_(std::make_unique<DaemonState>()) {}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Create(DaemonOptions options) {
  // Before any thread exists, so that every thread inherits the mask.
  BlockDaemonSignals();
  RETURN_IF_ERROR(DisableCoreDumps());
  InstallMemoryLockWarning();
  RETURN_IF_ERROR(ValidateOptions(options));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  auto daemon = std::unique_ptr<Daemon>(new Daemon(std::move(options)));
  RETURN_IF_ERROR(daemon->Init());
  return daemon;
}

absl::Status Daemon::Init() {
  RETURN_IF_ERROR(PrepareDataDir(options_.data_dir));

  state_->notifier = SystemdNotifier::FromEnvironment();
  // The socket first: a second daemon on the same socket stops here, before
  // it touches the key or the store. Under socket activation it is the
  // inherited one (daemon/transport/socket_activation.h).
  const rlim_t nofile = RaiseFileLimit();
  UnixListenerOptions listener_options;
  listener_options.path = options_.socket_path;
  listener_options.max_connections_per_uid = options_.max_connections_per_uid;
  listener_options.max_connections =
      options_.max_connections != 0
          ? options_.max_connections
          : static_cast<size_t>(
                nofile > 2 * kReservedFds ? nofile - kReservedFds : nofile / 2);
  listener_options.admin_reserve = std::min(
      options_.admin_connection_reserve, listener_options.max_connections / 2);
  spdlog::info(
      "event=connection_limits per_uid={} total={} admin_reserve={} "
      "idle_timeout_ms={}",
      listener_options.max_connections_per_uid,
      listener_options.max_connections, listener_options.admin_reserve,
      absl::ToInt64Milliseconds(options_.idle_connection_timeout));
  ASSIGN_OR_RETURN(state_->listener,
                   OpenUnixListener(std::move(listener_options)));

  RETURN_IF_ERROR(OpenStorage());
  RETURN_IF_ERROR(OpenIdentity());

  state_->unix_identifier =
      std::make_unique<UnixPeerIdentifier>(state_->listener.get());
  if (!options_.listen.empty()) {
    const Transport transport =
        options_.tls_cert.empty() ? Transport::kInsecureTcp : Transport::kTls;
    state_->auth_budget = std::make_unique<AuthFailureBudget>(
        &state_->clock, AuthFailureBudgetOptions{});
    AuthFailureAuditOptions failure_audit;
    failure_audit.transport = transport;
    state_->auth_audit = std::make_unique<AuthFailureAudit>(
        state_->audit.get(), &state_->clock, failure_audit);
    state_->verifier = std::make_unique<ApiKeyStoreVerifier>(
        state_->api_keys.get(), &state_->clock, state_->auth_budget.get(),
        state_->auth_audit.get());
    if (options_.bootstrap_admin_key == BootstrapAdminKey::kOnce) {
      state_->verifier = std::make_unique<BootstrapKeyFileRemover>(
          std::move(state_->verifier), BootstrapAdminKeyPath());
    }
    state_->tcp_identifier =
        std::make_unique<ApiKeyIdentifier>(state_->verifier.get(), transport);
  }
  state_->identifier = std::make_unique<TransportIdentifier>(
      state_->unix_identifier.get(), state_->tcp_identifier.get());

  ServiceContext& context = state_->context;
  context.store = state_->observed.get();
  context.environments = state_->environments.get();
  context.rotate_master_key = [this](SecretBytes key) {
    return RotateMasterKey(std::move(key));
  };
  SqliteSecretStore* sqlite_store = state_->store.get();
  context.start_rekey = [sqlite_store]() -> absl::StatusOr<uint32_t> {
    if (sqlite_store == nullptr) return NotInClusterMode("data-key rekey");
    ASSIGN_OR_RETURN(uint32_t generation, sqlite_store->StartRekey());
    spdlog::info("event=rekey_started generation={}", generation);
    return generation;
  };
  EtcdSecretStore* etcd_store = state_->etcd_store.get();
  context.rekey_status = [sqlite_store, etcd_store] {
    if (sqlite_store == nullptr) {
      RekeyStatusInfo info;
      info.active_generation = etcd_store->ActiveDataKeyGeneration();
      return info;
    }
    const RekeyProgress progress = sqlite_store->rekey_progress();
    RekeyStatusInfo info;
    info.running = progress.running;
    info.generation = progress.generation;
    info.done = progress.done;
    info.total = progress.total;
    info.last_status = progress.status;
    info.active_generation = sqlite_store->ActiveDataKeyGeneration();
    return info;
  };
  context.authorizer = state_->authorizer.get();
  context.identifier = state_->identifier.get();
  context.clock = &state_->clock;
  context.limits.max_message_bytes = options_.max_message_bytes;
  context.limits.max_value_bytes = options_.max_value_bytes;
  context.limits.max_names_per_batch = options_.max_names_per_batch;
  context.limits.max_env_entries = options_.max_env_entries;
  context.limits.max_import_bytes = options_.max_import_bytes;
  context.limits.max_response_bytes = options_.max_response_bytes;
  context.api_keys = state_->api_keys.get();
  context.grants = state_->grants.get();
  context.registry_credentials = state_->registry_credentials.get();
  context.git_credentials = state_->git_credentials.get();
  context.audit = state_->audit.get();
  context.audit_written = [this](bool written) {
    if (!written) state_->metrics.AuditWriteFailed();
    OnAuditWritten(written);
  };
  CallAuditorOptions auditor_options;
  auditor_options.max_send_message_bytes = options_.max_message_bytes;
  const UnixListener* listener = state_->listener.get();
  auditor_options.source_of_peer = [listener](absl::string_view peer) {
    absl::optional<PeerCredentials> cred = listener->PeerOf(peer);
    return cred.has_value() ? absl::StrCat("uid:", cred->uid) : std::string();
  };
  state_->auditor =
      std::make_unique<CallAuditor>(&context, std::move(auditor_options));
  context.auditor = state_->auditor.get();

  state_->secrets = std::make_unique<SecretsService>(&context);
  state_->admin = std::make_unique<AdminService>(&context);
  CallQueueOptions queue_options;
  queue_options.workers = options_.workers;
  if (options_.max_threads != 0) {
    spdlog::warn(
        "event=deprecated_option option=max-threads replacement=workers "
        "detail=\"calls now queue for a worker pool; --max-threads sets its "
        "size unless --workers is given\"");
    if (queue_options.workers == 0)
      queue_options.workers = options_.max_threads;
  }
  queue_options.max_queued_calls = options_.max_queued_calls;
  state_->queue = std::make_unique<CallQueue>(queue_options);
  ConsumerGraphOptions consumer_options;
  consumer_options.expiry = options_.consumer_expiry;
  state_->consumers =
      std::make_unique<ConsumerGraph>(&state_->clock, consumer_options);
  context.consumers = state_->consumers.get();
  state_->watch = std::make_unique<WatchService>(&context, state_->feed.get(),
                                                 state_->consumers.get(),
                                                 state_->queue.get());
  state_->services.push_back(
      MakeQueuedSecretsService(state_->secrets.get(), state_->queue.get(),
                               &context, state_->watch.get()));
  state_->services.push_back(MakeQueuedAdminService(
      state_->admin.get(), state_->queue.get(), &context));
  service_names_.push_back(v1::Secrets::service_full_name());
  service_names_.push_back(v1::Admin::service_full_name());

  if (!options_.tls_cert.empty()) {
    ASSIGN_OR_RETURN(
        tls_files_, TlsFiles::Create(options_.data_dir, options_.tls_cert,
                                     options_.tls_key, options_.tls_client_ca));
  }
  RETURN_IF_ERROR(StartServer());
  return StartMetrics(options_, tls_files_.get(), &serving_, &audit_healthy_,
                      state_.get());
}

namespace {

// Opens the store with `key` under the key id the store records (a master
// key has no id of its own; rotation moves the store to id 2, 3, ...).
absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStoreWithKey(
    const SqliteStoreOptions& options, SecretBytes key, Clock* clock) {
  ASSIGN_OR_RETURN(uint32_t key_id,
                   SqliteSecretStore::RecordedKeyId(options.path));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(key_id, std::move(key)));
  return SqliteSecretStore::Open(options, std::move(ring), clock);
}

// What cluster mode does not do yet (docs/cluster.md, "Not done").
absl::Status NotInClusterMode(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, " is not available with --store etcd yet (docs/cluster.md)"));
}

// A key that is read from a file (not the password's salt file).
bool KeyComesFromFile(KeySource source) {
  return source == KeySource::kKeyFile || source == KeySource::kGenerated ||
         source == KeySource::kCredentialFile;
}

}  // namespace

absl::Status Daemon::OpenStorage() {
  KeyManagerOptions key_options;
  key_options.deployment = options_.deployment;
  key_options.key_dir =
      options_.key_dir.empty() ? options_.data_dir : options_.key_dir;
  // Keys that older versions kept in the data directory keep working.
  key_options.fallback_key_dir = options_.data_dir;
  key_options.key_file = options_.key_file;
  key_options.key_file_rotate_to = options_.key_file_rotate_to;
  key_options.env = options_.key_environment
                        ? options_.key_environment->Lookup()
                        : RealEnvironment();
  ASSIGN_OR_RETURN(state_->keys, KeyManager::Create(std::move(key_options)));
  absl::StatusOr<MasterKey> resolved = state_->keys->GetOrCreateKey();
  // The password (or hex key) taken from the environment is not needed
  // again; the derived key now lives in the store's keyring.
  if (options_.key_environment) options_.key_environment->Clear();
  if (!resolved.ok()) return resolved.status();
  MasterKey master = *std::move(resolved);
  state_->key_source = master.source;
  // The source and the file, never the key.
  spdlog::info("event=master_key source=\"{}\" path={} deployment={}",
               std::string(KeySourceName(master.source)),
               master.path.empty() ? "-" : master.path, options_.deployment);
  if (KeyComesFromFile(master.source) &&
      PathIsInside(master.path, options_.data_dir)) {
    spdlog::warn(
        "event=master_key_in_data_dir path={} data_dir={} detail=\"a copy of "
        "the data directory (a backup, a snapshot) decrypts every secret; "
        "move the key out (--key-dir, or --key-file with a systemd "
        "credential), see docs/crypto.md\"",
        master.path, options_.data_dir);
  }
  if (options_.store == StoreBackend::kEtcd) {
    return OpenEtcdStorage(std::move(master.key));
  }
  SqliteStoreOptions store_options;
  store_options.path = absl::StrCat(options_.data_dir, "/secrets.db");
  store_options.synchronous = options_.synchronous == SynchronousMode::kFull
                                  ? SqliteStoreOptions::Synchronous::kFull
                                  : SqliteStoreOptions::Synchronous::kNormal;
  StoreOpener open = [&](SecretBytes key) -> absl::Status {
    ASSIGN_OR_RETURN(
        state_->store,
        OpenStoreWithKey(store_options, std::move(key), &state_->clock));
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(KeyRecovery recovery,
                   OpenWithKeyRecovery(*state_->keys, master.source,
                                       std::move(master.key), open));
  if (recovery.rotated_key_not_installed) {
    spdlog::warn(
        "event=master_key_not_installed key_file={} rotated_key={} "
        "detail=\"the store is sealed by the rotated key; install it "
        "as the key file\"",
        *options_.key_file, state_->keys->rotation_path());
  }
  if (recovery.rotation_completed) {
    spdlog::warn("event=master_key_rotation_completed_at_start path={}",
                 state_->keys->rotation_path());
  }
  if (recovery.rotation_discarded) {
    spdlog::warn("event=master_key_rotation_discarded path={}",
                 state_->keys->staged_key_path());
  }
  state_->data = state_->store.get();
  AttachChangeFeed();
  // A rekey stopped by a crash or a shutdown goes on where it stopped.
  ASSIGN_OR_RETURN(uint64_t awaiting, state_->store->VersionsAwaitingRekey());
  if (awaiting > 0) {
    ASSIGN_OR_RETURN(uint32_t generation, state_->store->StartRekey());
    spdlog::warn("event=rekey_resumed generation={} versions_left={}",
                 generation, awaiting);
  }
  ASSIGN_OR_RETURN(
      state_->environments,
      SqliteEnvironmentRegistry::Create(state_->store.get(), &state_->clock));
  spdlog::info(
      "event=store_opened path={} synchronous={}", store_options.path,
      options_.synchronous == SynchronousMode::kFull ? "full" : "normal");
  return absl::OkStatus();
}

// Wraps the opened store so that every write made through this daemon
// reaches the change feed that WatchEnv/WatchSecrets streams follow.
// (Cluster mode: writes made through another daemon do not reach it yet;
// docs/watch.md.)
void Daemon::AttachChangeFeed() {
  ChangeFeedOptions feed_options;
  feed_options.max_streams = options_.max_watch_streams;
  feed_options.max_streams_per_caller = options_.max_watch_streams_per_caller;
  // The epoch tells positions of this run from those of an earlier one.
  state_->feed = std::make_unique<ChangeFeed>(
      feed_options, static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  state_->observed =
      std::make_unique<ObservedSecretStore>(state_->data, state_->feed.get());
}

absl::Status Daemon::OpenEtcdStorage(SecretBytes key) {
  EtcdStoreOptions etcd;
  etcd.client.endpoints = options_.etcd_endpoints;
  etcd.client.ca_cert_file = options_.etcd_cacert;
  etcd.client.cert_file = options_.etcd_cert;
  etcd.client.key_file = options_.etcd_key;
  etcd.prefix = options_.etcd_prefix;
  ASSIGN_OR_RETURN(uint32_t key_id, EtcdSecretStore::RecordedKeyId(etcd));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(key_id, std::move(key)));
  absl::StatusOr<std::unique_ptr<EtcdSecretStore>> store =
      EtcdSecretStore::Open(etcd, std::move(ring), &state_->clock);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("--store etcd: ", store.status().message()));
  }
  state_->etcd_store = *std::move(store);
  state_->data = state_->etcd_store.get();
  AttachChangeFeed();
  ASSIGN_OR_RETURN(state_->environments,
                   EtcdEnvironmentRegistry::Create(state_->etcd_store.get(),
                                                   &state_->clock));
  spdlog::info("event=store_opened backend=etcd endpoints={} prefix={}",
               absl::StrJoin(options_.etcd_endpoints, ","),
               options_.etcd_prefix);
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> Daemon::DeriveStoreSubkey(SubkeyPurpose purpose) {
  if (state_->etcd_store != nullptr) {
    return state_->etcd_store->DeriveSubkey(purpose);
  }
  return state_->store->DeriveSubkey(purpose);
}

absl::StatusOr<KeyRotationResult> Daemon::RotateMasterKey(SecretBytes new_key) {
  absl::MutexLock lock(&state_->rotation_mu);
  if (state_->store == nullptr) return NotInClusterMode("master-key rotation");
  KeyRotationResult result;
  // Only the store's data keys and subkey seed are re-wrapped; no value is
  // re-encrypted (versions_reencrypted stays 0; RekeyDataKeys does that).
  uint64_t keys_rewrapped = 0;
  StoreRekeyer rekey = [&](SecretBytes key) -> absl::Status {
    ASSIGN_OR_RETURN(uint32_t active, state_->store->ActiveKeyId());
    result.new_key_id = active + 1;
    return state_->store->RotateKey(result.new_key_id, std::move(key),
                                    &keys_rewrapped);
  };
  absl::Status stage_not_removed;
  absl::Status rotated =
      secrets::RotateMasterKey(*state_->keys, state_->key_source,
                               std::move(new_key), rekey, &stage_not_removed);
  if (!stage_not_removed.ok()) {
    spdlog::error("event=master_key_stage_not_removed error=\"{}\"",
                  std::string(stage_not_removed.message()));
  }
  RETURN_IF_ERROR(rotated);
  const uint32_t new_id = result.new_key_id;
  spdlog::info(
      "event=master_key_rotated key_id={} data_keys_rewrapped={} path={}",
      new_id, keys_rewrapped, state_->keys->rotation_path());
  if (state_->key_source == KeySource::kCredentialFile &&
      state_->keys->rotation_path() != *options_.key_file) {
    spdlog::warn(
        "event=master_key_install_needed key_file={} new_key={} "
        "detail=\"install the new key as the key file (until then the daemon "
        "opens the store with the new key at start), then delete it\"",
        *options_.key_file, state_->keys->rotation_path());
  }
  return result;
}

std::string Daemon::BootstrapAdminKeyPath() const {
  if (!options_.bootstrap_admin_key_file.empty()) {
    return options_.bootstrap_admin_key_file;
  }
  return absl::StrCat(absl::StripSuffix(options_.data_dir, "/"), "/admin.key");
}

absl::Status Daemon::OpenIdentity() {
  SecretStore* store = state_->observed.get();
  // The grant store reports its own changes, once they are in its index.
  ASSIGN_OR_RETURN(state_->grants,
                   GrantStore::Open(state_->data, &state_->clock));
  state_->grants->set_change_observer(state_->feed.get());
  ApiKeyStoreOptions key_options;
  // From the store's subkey seed, so master-key rotation never changes it.
  ASSIGN_OR_RETURN(key_options.hash_key,
                   DeriveStoreSubkey(SubkeyPurpose::kApiKeyHash));
  ASSIGN_OR_RETURN(
      state_->api_keys,
      ApiKeyStore::Create(store, &state_->clock, std::move(key_options)));
  const std::string admin_key_path = BootstrapAdminKeyPath();
  ASSIGN_OR_RETURN(bool created,
                   PrepareBootstrapAdminKey(
                       state_->api_keys.get(), options_.bootstrap_admin_key,
                       admin_key_path, !options_.listen.empty()));
  if (created) {
    spdlog::info("event=bootstrap_admin_key id={} path={} mode={}",
                 std::string(kBootstrapAdminId), admin_key_path,
                 options_.bootstrap_admin_key == BootstrapAdminKey::kOnce
                     ? "once"
                     : "keep");
  }
  state_->registry_credentials =
      std::make_unique<RegistryCredentialStore>(store, &state_->clock);
  state_->git_credentials =
      std::make_unique<GitCredentialStore>(store, &state_->clock);

  GrantAuthorizerOptions authz;
  authz.admin_uids = {0, static_cast<int64_t>(geteuid()),
                      static_cast<int64_t>(getuid())};
  authz.admin_uids.insert(options_.admin_uids.begin(),
                          options_.admin_uids.end());
  authz.admin_gids.insert(options_.admin_gids.begin(),
                          options_.admin_gids.end());
  // Environment grants cover an environment's own scope only.
  EnvironmentRegistry* environments = state_->environments.get();
  authz.environment_scope =
      [environments](absl::string_view id) -> absl::optional<std::string> {
    absl::StatusOr<Environment> env = environments->Get(id);
    if (!env.ok()) return absl::nullopt;
    return EnvironmentScope(*env);
  };
  state_->authorizer =
      std::make_unique<GrantAuthorizer>(state_->grants.get(), authz);

  const std::string audit_path =
      options_.audit_log.empty()
          ? absl::StrCat(absl::StripSuffix(options_.data_dir, "/"),
                         "/audit.log")
          : options_.audit_log;
  FileAuditSinkOptions sink_options;
  sink_options.sync_every_record = options_.audit_fsync;
  absl::StatusOr<std::unique_ptr<FileAuditSink>> sink =
      FileAuditSink::Open(audit_path, sink_options);
  if (!sink.ok()) {
    return absl::Status(sink.status().code(),
                        absl::StrCat("--audit-log: ", sink.status().message()));
  }
  state_->audit_sink = *std::move(sink);
  AuditLogOptions audit_options;
  if (options_.audit_hash_names) {
    ASSIGN_OR_RETURN(audit_options.name_hash_key, AuditNameKey());
    audit_options.hash_names = true;
  }
  ASSIGN_OR_RETURN(state_->audit,
                   AuditLog::Create(state_->audit_sink.get(), &state_->clock,
                                    std::move(audit_options)));
  spdlog::info("event=audit_log path={} hash_names={} fsync={}", audit_path,
               options_.audit_hash_names, options_.audit_fsync);
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> Daemon::AuditNameKey() {
  // Stores that hashed names before schema 2 keep their stored random key,
  // so hashes in older audit records still match; others use the subkey.
  absl::StatusOr<VersionedValue> legacy =
      state_->data->GetVersioned(kAuditScope, kAuditNameKey, 0);
  if (legacy.ok()) return std::move(legacy->value);
  if (!absl::IsNotFound(legacy.status())) return legacy.status();
  return DeriveStoreSubkey(SubkeyPurpose::kAuditNameHash);
}

void Daemon::OnAuditWritten(bool written) {
  // Every call reports here: the common case (no change) takes no lock.
  if (audit_healthy_.load() == written) return;
  absl::MutexLock lock(&audit_mu_);
  if (audit_healthy_.load() == written) return;
  audit_healthy_ = written;
  // Health first, then the log line: whoever sees the line sees the health.
  if (serving_) SetHealth(written);
  if (written) {
    spdlog::info("event=audit_log_recovered action=serving");
  } else {
    spdlog::error(
        "event=audit_log_unwritable action=not_serving "
        "detail=\"value-revealing calls are refused until it recovers\"");
  }
}

void Daemon::RetryAudit() {
  if (state_->audit_sink == nullptr || state_->audit_sink->healthy()) return;
  if (state_->audit_sink->Reopen().ok()) OnAuditWritten(true);
}

absl::Status Daemon::StartServer() {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Our own health service, not gRPC's default one (which is left disabled):
  // its Watch streams end by themselves when the drain starts (see
  // daemon/rpc/health_service.h), and reflection can describe it. NOT_SERVING
  // for every service until Run() is serving.
  SetHealth(false);
  grpc::ServerBuilder builder;
  builder.RegisterService(&state_->health);
  for (auto& service : state_->services) builder.RegisterService(service.get());
  for (grpc::Service* service : options_.extra_services) {
    builder.RegisterService(service);
  }
  const int max_message =
      static_cast<int>(std::min<size_t>(options_.max_message_bytes, INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // Only sync services use gRPC's own thread pool: reflection, and what an
  // embedder adds (extra_services). Secrets and Admin queue on the
  // CallQueue; health never blocks.
  grpc::ResourceQuota quota("zlayer-secretsd");
  quota.SetMaxThreads(kSyncServiceThreads);
  builder.SetResourceQuota(quota);
  auto interceptors = state_->calls.Factories();
  interceptors.push_back(state_->metrics.InterceptorFactory());
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  for (auto& factory : state_->auditor->Factories()) {
    interceptors.push_back(std::move(factory));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Connections with no call for this long are closed. It also bounds
  // connections handed over with AddInsecureChannelFromFd, which the
  // handshake timeout does not cover.
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(options_.idle_connection_timeout),
          INT32_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);

  if (!options_.listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (tls_files_ != nullptr) {
      auto provider =
          tls_files_->mutual()
              ? std::make_shared<
                    grpc::experimental::FileWatcherCertificateProvider>(
                    tls_files_->key_path(), tls_files_->cert_path(),
                    tls_files_->ca_path(), kTlsRefreshSeconds)
              : std::make_shared<
                    grpc::experimental::FileWatcherCertificateProvider>(
                    tls_files_->key_path(), tls_files_->cert_path(),
                    kTlsRefreshSeconds);
      grpc::experimental::TlsServerCredentialsOptions tls(provider);
      tls.watch_identity_key_cert_pairs();
      if (tls_files_->mutual()) {
        tls.watch_root_certs();
        tls.set_cert_request_type(
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      } else {
        tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      }
      credentials = grpc::experimental::TlsServerCredentials(tls);
    } else {
      // ValidateOptions allowed this only for loopback + --insecure-loopback.
      credentials = grpc::InsecureServerCredentials();
    }
    builder.AddListeningPort(options_.listen, credentials, &tcp_port_);
  }

  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(
        options_.listen.empty()
            ? std::string("cannot start the gRPC server")
            : absl::StrCat("cannot start the gRPC server (is --listen ",
                           options_.listen, " free and valid?)"));
  }
  if (!options_.listen.empty() && tcp_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen));
  }
  return absl::OkStatus();
}

void Daemon::SetHealth(bool serving) {
  state_->health.SetServingStatus("", serving);
  for (const std::string& name : service_names_) {
    state_->health.SetServingStatus(name, serving);
  }
}

absl::Status Daemon::Run() {
  {
    absl::MutexLock lock(&mu_);
    if (ran_) return absl::FailedPreconditionError("Daemon::Run called twice");
    ran_ = true;
  }
  signal_thread_ = std::thread([this] { SignalLoop(); });
  absl::Status status = state_->listener->Start(server_.get());
  if (status.ok()) {
    {
      absl::MutexLock lock(&audit_mu_);
      serving_ = true;
      SetHealth(audit_healthy_.load());
    }
    spdlog::info(
        "event=ready socket={} tcp_port={} tls={} mtls={} workers={} "
        "max_queued_calls={} pid={}",
        state_->listener->path(), tcp_port_, tls_files_ != nullptr,
        tls_files_ != nullptr && tls_files_->mutual(), state_->queue->workers(),
        state_->queue->options().max_queued_calls, getpid());
    state_->notifier->Ready("serving");
    // Wakes up now and then while the audit log is failing, to reopen it,
    // and for the systemd watchdog: pings come from this loop, so a daemon
    // whose main loop is stuck stops pinging and is restarted.
    const absl::optional<absl::Duration> watchdog =
        state_->notifier->watchdog_interval();
    const absl::Duration tick = watchdog.has_value()
                                    ? std::min(*watchdog, kAuditRetryInterval)
                                    : kAuditRetryInterval;
    if (watchdog.has_value()) state_->notifier->Watchdog();
    mu_.Lock();
    while (!mu_.AwaitWithTimeout(absl::Condition(&shutdown_requested_), tick)) {
      mu_.Unlock();
      RetryAudit();
      if (state_->auth_audit != nullptr) state_->auth_audit->FlushDue();
      if (watchdog.has_value()) state_->notifier->Watchdog();
      mu_.Lock();
    }
    mu_.Unlock();
  }
  Drain();
  if (state_->auth_audit != nullptr) {
    absl::Status flushed = state_->auth_audit->Flush();
    if (!flushed.ok()) {
      spdlog::error("event=audit_write_failed rpc=ApiKeyAuth error=\"{}\"",
                    std::string(flushed.message()));
    }
  }
  signal_thread_exit_ = true;
  // Wakes sigwait() in the signal thread if it is still waiting; the signal
  // is directed at that thread only, where it is blocked and consumed.
  pthread_kill(signal_thread_.native_handle(), SIGHUP);
  signal_thread_.join();
  return status;
}

void Daemon::RequestShutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_requested_ = true;
}

void Daemon::SignalLoop() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (!signal_thread_exit_) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (signal_thread_exit_) return;
    if (sig == SIGHUP) {
      // RELOADING=1 now, READY=1 when this block is left.
      SystemdNotifier::ReloadScope reload(state_->notifier.get());
      if (state_->audit_sink != nullptr) {
        // Log rotation: the next record goes to a fresh file at the path.
        absl::Status reopened = state_->audit_sink->Reopen();
        OnAuditWritten(reopened.ok());
        spdlog::info("event=audit_log_reopened ok={}", reopened.ok());
      }
      if (tls_files_ == nullptr) {
        spdlog::info("event=signal signal=SIGHUP action=none reason=no_tls");
        continue;
      }
      absl::Status status = ReloadTls();
      if (status.ok()) {
        spdlog::info("event=tls_reloaded");
      } else {
        spdlog::error("event=tls_reload_failed error=\"{}\" action=kept_old",
                      std::string(status.message()));
      }
      continue;
    }
    spdlog::info("event=signal signal={} action=drain drain_timeout={}",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 absl::FormatDuration(options_.drain_timeout));
    RequestShutdown();
    return;
  }
}

absl::Status Daemon::ReloadTls() {
  if (tls_files_ == nullptr) {
    return absl::FailedPreconditionError("TLS is not configured");
  }
  return tls_files_->Stage();
}

void Daemon::Drain() {
  {
    absl::MutexLock lock(&mu_);
    if (drained_) return;
    drained_ = true;
  }
  serving_ = false;
  state_->notifier->Stopping("draining");
  absl::Time start = absl::Now();
  absl::Time deadline = start + options_.drain_timeout;
  // NOT_SERVING for everything, and frozen there. Every health Watch stream
  // is sent NOT_SERVING and then finished with OK once that write is done,
  // so watchers learn about the drain before connections go away and no
  // stream is left open to hold up Shutdown().
  const int in_flight = state_->calls.calls_in_flight();
  const int watchers = state_->health.watchers();
  const int watch_streams = state_->watch->streams();
  state_->health.Shutdown();
  // Every WatchEnv/WatchSecrets stream ends with OK the same way.
  state_->watch->Shutdown();
  state_->listener->Stop();
  // Shutdown() refuses new calls at once and waits for the ones in flight
  // (the watchers' too, which are ending) until the deadline, then cancels
  // what is left. The tracker tells which of the two happened.
  std::thread shutdown(
      [this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
  if (!state_->calls.WaitForCalls(deadline)) {
    spdlog::warn(
        "event=drain_deadline_reached drain_timeout={} action=cancel "
        "calls={}",
        absl::FormatDuration(options_.drain_timeout),
        state_->calls.calls_in_flight());
  }
  shutdown.join();
  server_->Wait();
  // Every call is answered, so the queue is empty: this joins the workers.
  state_->queue->Stop();
  // calls: in flight when the drain began, health watchers included.
  spdlog::info(
      "event=drained duration_ms={} calls={} watchers={} watch_streams={}",
      absl::ToInt64Milliseconds(absl::Now() - start), in_flight, watchers,
      watch_streams);
  // Close the store before returning: SQLite checkpoints and releases its
  // files here. No call is running any more, and no scrape (metrics read
  // the store).
  state_->metrics_server.reset();
  state_->context.store = nullptr;
  state_->context.environments = nullptr;
  state_->environments.reset();
  state_->observed.reset();
  state_->data = nullptr;
  state_->store.reset();
  state_->etcd_store.reset();
  spdlog::info("event=store_closed");
  tls_files_.reset();
}

Daemon::~Daemon() {
  if (server_ != nullptr) {
    bool drained;
    {
      absl::MutexLock lock(&mu_);
      drained = drained_;
    }
    if (!drained) {
      // Never ran: stop at once.
      state_->health.Shutdown();
      if (state_->watch != nullptr) state_->watch->Shutdown();
      if (state_->listener != nullptr) state_->listener->Stop();
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
    }
  }
  server_.reset();
  if (state_->queue != nullptr) state_->queue->Stop();
}

}  // namespace zlayer::secrets
