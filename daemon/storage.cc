#include "daemon/storage.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/crypto/master_key_rotation.h"
#include "core/env/etcd_environment_registry.h"
#include "core/env/observed_environment_registry.h"
#include "core/env/sqlite_environment_registry.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
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

// A key that is read from a file (not the password's salt file).
bool KeyComesFromFile(KeySource source) {
  return source == KeySource::kKeyFile || source == KeySource::kGenerated ||
         source == KeySource::kCredentialFile;
}

// Wraps the opened store so that every write made through this daemon
// reaches the change feed that WatchEnv/WatchSecrets streams follow.
// (Cluster mode: writes made through another daemon do not reach it yet;
// docs/watch.md.)
void AttachChangeFeed(const DaemonOptions& options, DaemonState* state) {
  ChangeFeedOptions feed_options;
  feed_options.max_streams = options.max_watch_streams;
  feed_options.max_streams_per_caller = options.max_watch_streams_per_caller;
  // The epoch tells positions of this run from those of an earlier one.
  state->feed = std::make_unique<ChangeFeed>(
      feed_options, static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  // Store latency for --metrics-listen, timed below the feed so that only
  // the backend's own time is counted.
  SecretStore* backend = state->data;
  if (!options.metrics_listen.empty()) {
    state->metered = std::make_unique<MeteredSecretStore>(
        state->data, state->etcd_store != nullptr ? "etcd" : "sqlite",
        options.metrics_name_labels);
    backend = state->metered.get();
  }
  // In cluster mode the feed hears every change, this daemon's own
  // included, from etcd's Watch instead (StartClusterWatch), so the wrapper
  // tells no one.
  state->observed = std::make_unique<ObservedSecretStore>(
      backend, state->etcd_store != nullptr ? nullptr : state->feed.get());
}

// Puts the registry behind the change feed (every environment created,
// renamed or deleted through this daemon reaches its watchers) and, with
// --metrics-listen, behind a timer.
void AttachEnvironments(const DaemonOptions& options,
                        std::unique_ptr<EnvironmentRegistry> registry,
                        DaemonState* state) {
  if (!options.metrics_listen.empty()) {
    auto metered = std::make_unique<MeteredEnvironmentRegistry>(
        std::move(registry), state->etcd_store != nullptr ? "etcd" : "sqlite");
    state->metered_environments = metered.get();
    registry = std::move(metered);
  }
  state->environments = std::make_unique<ObservedEnvironmentRegistry>(
      std::move(registry), state->feed.get());
}

// Names this daemon in the cluster's key-rotation lock (never a key).
std::string RotationHolder(const DaemonOptions& options) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "?", " pid ", ::getpid(),
                      " socket ",
                      options.socket_path.empty() ? "-" : options.socket_path);
}

absl::Status OpenEtcdStorage(const DaemonOptions& options, MasterKey master,
                             DaemonState* state) {
  EtcdStoreOptions etcd;
  etcd.client.endpoints = options.etcd_endpoints;
  etcd.client.ca_cert_file = options.etcd_cacert;
  etcd.client.cert_file = options.etcd_cert;
  etcd.client.key_file = options.etcd_key;
  etcd.client.total_timeout = options.etcd_timeout;
  etcd.client.call_timeout = std::min(absl::Seconds(2), options.etcd_timeout);
  etcd.prefix = options.etcd_prefix;
  // The key check decides as in SQLite, and a master-key rotation this
  // daemon made that a crash cut short is finished or discarded the same
  // way (its staged key file; core/crypto/master_key_rotation.h).
  StoreOpener open = [&](SecretBytes key) -> absl::Status {
    ASSIGN_OR_RETURN(uint32_t key_id, EtcdSecretStore::RecordedKeyId(etcd));
    ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                     Keyring::Create(key_id, std::move(key)));
    absl::StatusOr<std::unique_ptr<EtcdSecretStore>> store =
        EtcdSecretStore::Open(etcd, std::move(ring), &state->clock);
    if (!store.ok()) return store.status();
    state->etcd_store = *std::move(store);
    return absl::OkStatus();
  };
  absl::StatusOr<KeyRecovery> recovery = OpenWithKeyRecovery(
      *state->keys, master.source, std::move(master.key), open);
  if (!recovery.ok()) {
    return absl::Status(
        recovery.status().code(),
        absl::StrCat("--store etcd: ", recovery.status().message()));
  }
  if (recovery->rotation_completed) {
    spdlog::warn("event=master_key_rotation_completed_at_start path={}",
                 state->keys->rotation_path());
  }
  if (recovery->rotation_discarded) {
    spdlog::warn("event=master_key_rotation_discarded path={}",
                 state->keys->staged_key_path());
  }
  if (recovery->rotated_key_not_installed) {
    spdlog::warn(
        "event=master_key_not_installed key_file={} rotated_key={} "
        "detail=\"the store is sealed by the rotated key; install it "
        "as the key file\"",
        options.key_file.value_or("-"), state->keys->rotation_path());
  }
  state->data = state->etcd_store.get();
  // Before anything is read into a cache: the watch starts after it.
  ASSIGN_OR_RETURN(int64_t revision,
                   EtcdWatcher::CurrentRevision(state->etcd_store->client()));
  state->cluster_start_revision = revision + 1;
  AttachChangeFeed(options, state);
  ASSIGN_OR_RETURN(
      std::unique_ptr<EtcdEnvironmentRegistry> environments,
      EtcdEnvironmentRegistry::Create(state->etcd_store.get(), &state->clock));
  // Environment changes reach this daemon's watchers from here; the etcd
  // watch relays secret records only (docs/cluster.md).
  AttachEnvironments(options, std::move(environments), state);
  spdlog::info("event=store_opened backend=etcd endpoints={} prefix={}",
               absl::StrJoin(options.etcd_endpoints, ","), options.etcd_prefix);
  return absl::OkStatus();
}

}  // namespace

absl::Status NotInClusterMode(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, " is not available with --store etcd yet (docs/cluster.md)"));
}

absl::Status OpenStorage(const DaemonOptions& options, DaemonState* state) {
  KeyManagerOptions key_options;
  key_options.deployment = options.deployment;
  key_options.key_dir =
      options.key_dir.empty() ? options.data_dir : options.key_dir;
  // Keys that older versions kept in the data directory keep working.
  key_options.fallback_key_dir = options.data_dir;
  key_options.key_file = options.key_file;
  key_options.key_file_rotate_to = options.key_file_rotate_to;
  key_options.env = options.key_environment ? options.key_environment->Lookup()
                                            : RealEnvironment();
  ASSIGN_OR_RETURN(state->keys, KeyManager::Create(std::move(key_options)));
  absl::StatusOr<MasterKey> resolved = state->keys->GetOrCreateKey();
  // The password (or hex key) taken from the environment is not needed
  // again; the derived key now lives in the store's keyring.
  if (options.key_environment) options.key_environment->Clear();
  if (!resolved.ok()) return resolved.status();
  MasterKey master = *std::move(resolved);
  state->key_source = master.source;
  // The source and the file, never the key.
  spdlog::info("event=master_key source=\"{}\" path={} deployment={}",
               std::string(KeySourceName(master.source)),
               master.path.empty() ? "-" : master.path, options.deployment);
  if (KeyComesFromFile(master.source) &&
      PathIsInside(master.path, options.data_dir)) {
    spdlog::warn(
        "event=master_key_in_data_dir path={} data_dir={} detail=\"a copy of "
        "the data directory (a backup, a snapshot) decrypts every secret; "
        "move the key out (--key-dir, or --key-file with a systemd "
        "credential), see docs/crypto.md\"",
        master.path, options.data_dir);
  }
  if (options.store == StoreBackend::kEtcd) {
    RETURN_IF_ERROR(OpenEtcdStorage(options, std::move(master), state));
    // A rekey whose daemon died (or was stopped) goes on here, once the
    // dead holder's lock lease has expired.
    ASSIGN_OR_RETURN(bool pending, state->etcd_store->RekeyPending());
    if (pending) {
      state->etcd_store->ResumeRekeyWhenFree(RotationHolder(options));
      spdlog::warn(
          "event=rekey_resuming detail=\"an unfinished rekey is "
          "resumed as soon as the key-rotation lock is free\"");
    }
    return absl::OkStatus();
  }
  SqliteStoreOptions store_options;
  store_options.path = absl::StrCat(options.data_dir, "/secrets.db");
  store_options.synchronous = options.synchronous == SynchronousMode::kFull
                                  ? SqliteStoreOptions::Synchronous::kFull
                                  : SqliteStoreOptions::Synchronous::kNormal;
  StoreOpener open = [&](SecretBytes key) -> absl::Status {
    ASSIGN_OR_RETURN(
        state->store,
        OpenStoreWithKey(store_options, std::move(key), &state->clock));
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(KeyRecovery recovery,
                   OpenWithKeyRecovery(*state->keys, master.source,
                                       std::move(master.key), open));
  if (recovery.rotated_key_not_installed) {
    spdlog::warn(
        "event=master_key_not_installed key_file={} rotated_key={} "
        "detail=\"the store is sealed by the rotated key; install it "
        "as the key file\"",
        *options.key_file, state->keys->rotation_path());
  }
  if (recovery.rotation_completed) {
    spdlog::warn("event=master_key_rotation_completed_at_start path={}",
                 state->keys->rotation_path());
  }
  if (recovery.rotation_discarded) {
    spdlog::warn("event=master_key_rotation_discarded path={}",
                 state->keys->staged_key_path());
  }
  state->data = state->store.get();
  AttachChangeFeed(options, state);
  // A rekey stopped by a crash or a shutdown goes on where it stopped.
  ASSIGN_OR_RETURN(uint64_t awaiting, state->store->VersionsAwaitingRekey());
  if (awaiting > 0) {
    ASSIGN_OR_RETURN(uint32_t generation, state->store->StartRekey());
    spdlog::warn("event=rekey_resumed generation={} versions_left={}",
                 generation, awaiting);
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<SqliteEnvironmentRegistry> environments,
      SqliteEnvironmentRegistry::Create(state->store.get(), &state->clock));
  AttachEnvironments(options, std::move(environments), state);
  spdlog::info(
      "event=store_opened path={} synchronous={}", store_options.path,
      options.synchronous == SynchronousMode::kFull ? "full" : "normal");
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> DeriveStoreSubkey(DaemonState* state,
                                              SubkeyPurpose purpose) {
  if (state->etcd_store != nullptr) {
    return state->etcd_store->DeriveSubkey(purpose);
  }
  return state->store->DeriveSubkey(purpose);
}

absl::StatusOr<KeyRotationResult> RotateStoreMasterKey(
    const DaemonOptions& options, DaemonState* state, SecretBytes new_key) {
  absl::MutexLock lock(&state->rotation_mu);
  KeyRotationResult result;
  // Only the store's data keys and subkey seed are re-wrapped; no value is
  // re-encrypted (versions_reencrypted stays 0; RekeyDataKeys does that).
  uint64_t keys_rewrapped = 0;
  StoreRekeyer rekey = [&](SecretBytes key) -> absl::Status {
    if (state->etcd_store != nullptr) {
      // Cluster mode: one Txn under the cluster's key-rotation lock; the
      // other daemons need the new key file before their next start
      // (docs/cluster.md, "Key handling").
      ASSIGN_OR_RETURN(uint32_t active, state->etcd_store->MasterKeyId());
      result.new_key_id = active + 1;
      return state->etcd_store->RotateKey(result.new_key_id, std::move(key),
                                          RotationHolder(options),
                                          &keys_rewrapped);
    }
    ASSIGN_OR_RETURN(uint32_t active, state->store->ActiveKeyId());
    result.new_key_id = active + 1;
    return state->store->RotateKey(result.new_key_id, std::move(key),
                                   &keys_rewrapped);
  };
  absl::Status stage_not_removed;
  absl::Status rotated =
      secrets::RotateMasterKey(*state->keys, state->key_source,
                               std::move(new_key), rekey, &stage_not_removed);
  if (!stage_not_removed.ok()) {
    spdlog::error("event=master_key_stage_not_removed error=\"{}\"",
                  std::string(stage_not_removed.message()));
  }
  RETURN_IF_ERROR(rotated);
  const uint32_t new_id = result.new_key_id;
  spdlog::info(
      "event=master_key_rotated key_id={} data_keys_rewrapped={} path={}",
      new_id, keys_rewrapped, state->keys->rotation_path());
  if (state->key_source == KeySource::kCredentialFile &&
      state->keys->rotation_path() != *options.key_file) {
    spdlog::warn(
        "event=master_key_install_needed key_file={} new_key={} "
        "detail=\"install the new key as the key file (until then the daemon "
        "opens the store with the new key at start), then delete it\"",
        *options.key_file, state->keys->rotation_path());
  }
  return result;
}

absl::StatusOr<uint32_t> StartRekey(const DaemonOptions& options,
                                    SqliteSecretStore* sqlite_store,
                                    EtcdSecretStore* etcd_store) {
  uint32_t generation = 0;
  if (sqlite_store != nullptr) {
    ASSIGN_OR_RETURN(generation, sqlite_store->StartRekey());
  } else {
    ASSIGN_OR_RETURN(generation,
                     etcd_store->StartRekey(RotationHolder(options)));
  }
  spdlog::info("event=rekey_started generation={}", generation);
  return generation;
}

RekeyStatusInfo RekeyStatus(SqliteSecretStore* sqlite_store,
                            EtcdSecretStore* etcd_store) {
  if (sqlite_store == nullptr) {
    // This daemon's run; another daemon's run shows on that daemon.
    const EtcdRekeyProgress progress = etcd_store->rekey_progress();
    RekeyStatusInfo info;
    info.running = progress.running;
    info.generation = progress.generation;
    info.done = progress.done;
    info.total = progress.total;
    info.last_status = progress.status;
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
}

}  // namespace zlayer::secrets
