#include "daemon/server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/backup/backup.h"
#include "core/backup/cluster_backup.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "daemon/daemon_state.h"
#include "daemon/grpc_server.h"
#include "daemon/identity_setup.h"
#include "daemon/metrics_wiring.h"
#include "daemon/process_setup.h"
#include "daemon/rpc/callback_services.h"
#include "daemon/secret_memory.h"
#include "daemon/storage.h"
#include "daemon/transport/socket_activation.h"
#include "daemon/transport/tls_files.h"
#include "grpcpp/ext/channelz_service_plugin.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// File descriptors kept out of the default --max-connections: the store,
// the audit log, gRPC's own pipes and epoll, TCP clients.
constexpr rlim_t kReservedFds = 128;
// While the audit log cannot be written, Run() tries to reopen it this
// often, so health returns to SERVING even when no call arrives.
constexpr absl::Duration kAuditRetryInterval = absl::Seconds(1);

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

  RETURN_IF_ERROR(OpenStorage(options_, state_.get()));
  RETURN_IF_ERROR(OpenIdentity(options_, state_.get()));
  if (state_->etcd_store != nullptr) StartClusterWatch();

  OpenTransportIdentity(options_, state_.get());

  ServiceContext& context = state_->context;
  context.store = state_->observed.get();
  ASSIGN_OR_RETURN(state_->vault, OpenVaultSource(options_, &state_->clock,
                                                  state_->observed.get()));
  if (state_->vault != nullptr) {
    context.resolve_source = state_->vault->source.get();
  }
  context.environments = state_->environments.get();
  context.rotate_master_key = [this](SecretBytes key) {
    return RotateStoreMasterKey(options_, state_.get(), std::move(key));
  };
  SqliteSecretStore* sqlite_store = state_->store.get();
  EtcdSecretStore* etcd_store = state_->etcd_store.get();
  context.start_rekey = [this, sqlite_store, etcd_store] {
    return StartRekey(options_, sqlite_store, etcd_store);
  };
  context.create_backup =
      [this, sqlite_store,
       etcd_store]() -> absl::StatusOr<std::unique_ptr<BackupSource>> {
    if (etcd_store != nullptr) {
      return OpenClusterBackup(*etcd_store, state_->clock);
    }
    if (sqlite_store == nullptr) return NotInClusterMode("backup");
    return OpenBackup(*sqlite_store, state_->clock);
  };
  context.rekey_status = [sqlite_store, etcd_store] {
    return RekeyStatus(sqlite_store, etcd_store);
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
  context.client_keys = state_->client_keys.get();
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
  context.describe_peer = [listener](absl::string_view peer) {
    absl::optional<PeerCredentials> cred = listener->PeerOf(peer);
    return cred.has_value() ? absl::StrCat("pid:", cred->pid)
                            : std::string(peer);
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
  // A process-wide plugin: every server built from here on serves
  // grpc.channelz.v1.Channelz (the daemon builds one).
  if (options_.channelz) grpc::channelz::experimental::InitChannelzService();

  // Our own health service, not gRPC's default one (which is left disabled):
  // its Watch streams end by themselves when the drain starts (see
  // daemon/rpc/health_service.h), and reflection can describe it. NOT_SERVING
  // for every service until Run() is serving.
  SetHealth(false);
  ASSIGN_OR_RETURN(server_, BuildGrpcServer(options_, state_.get(),
                                            tls_files_.get(), &tcp_port_));
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

void Daemon::StartClusterWatch() {
  state_->cluster_relay = std::make_unique<ClusterChangeRelay>(
      state_->grants.get(), state_->api_keys.get(), state_->feed.get());
  ClusterChangeRelay* relay = state_->cluster_relay.get();
  state_->cluster_watch = state_->etcd_store->WatchChanges(
      state_->cluster_start_revision, relay,
      [relay] { return relay->Resync(); },
      [](const absl::Status& why) {
        spdlog::warn("event=etcd_watch_interrupted error=\"{}\"",
                     std::string(why.message()));
      });
  spdlog::info("event=etcd_watch_started revision={}",
               state_->cluster_start_revision);
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
  // The watch reads the stores and the identity caches: it goes first.
  state_->cluster_watch.reset();
  state_->environments.reset();
  state_->metered_environments = nullptr;
  state_->observed.reset();
  state_->metered.reset();
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
