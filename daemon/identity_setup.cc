#include "daemon/identity_setup.h"

#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/identity/access.h"
#include "core/identity/identity_records.h"
#include "daemon/bootstrap_admin.h"
#include "daemon/storage.h"
#include "daemon/transport/api_key_store_verifier.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// Where stores before schema 2 kept their audit name-hash key
// (--audit-hash-names); newer stores derive it from the subkey seed.
constexpr absl::string_view kAuditScope = "system:audit";
constexpr absl::string_view kAuditNameKey = "name_hash_key";

// The audit name-hash key.

absl::StatusOr<SecretBytes> AuditNameKey(DaemonState* state) {
  // Stores that hashed names before schema 2 keep their stored random key,
  // so hashes in older audit records still match; others use the subkey.
  absl::StatusOr<VersionedValue> legacy =
      state->data->GetVersioned(kAuditScope, kAuditNameKey, 0);
  if (legacy.ok()) return std::move(legacy->value);
  if (!absl::IsNotFound(legacy.status())) return legacy.status();
  return DeriveStoreSubkey(state, SubkeyPurpose::kAuditNameHash);
}

}  // namespace

std::string BootstrapAdminKeyPath(const DaemonOptions& options) {
  if (!options.bootstrap_admin_key_file.empty()) {
    return options.bootstrap_admin_key_file;
  }
  return absl::StrCat(absl::StripSuffix(options.data_dir, "/"), "/admin.key");
}

absl::Status OpenIdentity(const DaemonOptions& options, DaemonState* state) {
  SecretStore* store = state->observed.get();
  // The grant store reports its own changes, once they are in its index,
  // so it reads below the feed (but through the timer, when there is one).
  SecretStore* unobserved =
      state->metered != nullptr
          ? static_cast<SecretStore*>(state->metered.get())
          : state->data;
  ASSIGN_OR_RETURN(state->grants, GrantStore::Open(unobserved, &state->clock));
  // (Cluster mode: the etcd watch tells the feed, StartClusterWatch.)
  if (state->etcd_store == nullptr) {
    state->grants->set_change_observer(state->feed.get());
  }
  ApiKeyStoreOptions key_options;
  // From the store's subkey seed, so master-key rotation never changes it.
  ASSIGN_OR_RETURN(key_options.hash_key,
                   DeriveStoreSubkey(state, SubkeyPurpose::kApiKeyHash));
  ASSIGN_OR_RETURN(
      state->api_keys,
      ApiKeyStore::Create(store, &state->clock, std::move(key_options)));
  const std::string admin_key_path = BootstrapAdminKeyPath(options);
  ASSIGN_OR_RETURN(bool created,
                   PrepareBootstrapAdminKey(
                       state->api_keys.get(), options.bootstrap_admin_key,
                       admin_key_path, !options.listen.empty()));
  if (created) {
    spdlog::info("event=bootstrap_admin_key id={} path={} mode={}",
                 std::string(kBootstrapAdminId), admin_key_path,
                 options.bootstrap_admin_key == BootstrapAdminKey::kOnce
                     ? "once"
                     : "keep");
  }
  state->registry_credentials =
      std::make_unique<RegistryCredentialStore>(store, &state->clock);
  state->git_credentials =
      std::make_unique<GitCredentialStore>(store, &state->clock);
  state->client_keys = std::make_unique<ClientKeyStore>(store, &state->clock);

  GrantAuthorizerOptions authz;
  authz.admin_uids = {0, static_cast<int64_t>(geteuid()),
                      static_cast<int64_t>(getuid())};
  authz.admin_uids.insert(options.admin_uids.begin(), options.admin_uids.end());
  authz.admin_gids.insert(options.admin_gids.begin(), options.admin_gids.end());
  // Environment grants cover an environment's own scope only.
  EnvironmentRegistry* environments = state->environments.get();
  authz.environment_scope =
      [environments](absl::string_view id) -> absl::optional<std::string> {
    absl::StatusOr<Environment> env = environments->Get(id);
    if (!env.ok()) return absl::nullopt;
    return EnvironmentScope(*env);
  };
  state->authorizer =
      std::make_unique<GrantAuthorizer>(state->grants.get(), authz);

  const std::string audit_path =
      options.audit_log.empty()
          ? absl::StrCat(absl::StripSuffix(options.data_dir, "/"), "/audit.log")
          : options.audit_log;
  FileAuditSinkOptions sink_options;
  sink_options.sync_every_record = options.audit_fsync;
  absl::StatusOr<std::unique_ptr<FileAuditSink>> sink =
      FileAuditSink::Open(audit_path, sink_options);
  if (!sink.ok()) {
    return absl::Status(sink.status().code(),
                        absl::StrCat("--audit-log: ", sink.status().message()));
  }
  state->audit_sink = *std::move(sink);
  AuditLogOptions audit_options;
  if (options.audit_hash_names) {
    ASSIGN_OR_RETURN(audit_options.name_hash_key, AuditNameKey(state));
    audit_options.hash_names = true;
  }
  // The hash chain continues where the last run (or the last rotation)
  // left it.
  audit_options.chain = true;
  ASSIGN_OR_RETURN(audit_options.chain_start, LoadAuditChainHead(audit_path));
  audit_options.head_path = AuditHeadPath(audit_path);
  ASSIGN_OR_RETURN(state->audit,
                   AuditLog::Create(state->audit_sink.get(), &state->clock,
                                    std::move(audit_options)));
  spdlog::info("event=audit_log path={} hash_names={} fsync={}", audit_path,
               options.audit_hash_names, options.audit_fsync);
  return absl::OkStatus();
}

void OpenTransportIdentity(const DaemonOptions& options, DaemonState* state) {
  state->unix_identifier =
      std::make_unique<UnixPeerIdentifier>(state->listener.get());
  if (!options.listen.empty()) {
    const Transport transport =
        options.tls_cert.empty() ? Transport::kInsecureTcp : Transport::kTls;
    state->auth_budget = std::make_unique<AuthFailureBudget>(
        &state->clock, AuthFailureBudgetOptions{});
    AuthFailureAuditOptions failure_audit;
    failure_audit.transport = transport;
    state->auth_audit = std::make_unique<AuthFailureAudit>(
        state->audit.get(), &state->clock, failure_audit);
    state->verifier = std::make_unique<ApiKeyStoreVerifier>(
        state->api_keys.get(), &state->clock, state->auth_budget.get(),
        state->auth_audit.get());
    if (options.bootstrap_admin_key == BootstrapAdminKey::kOnce) {
      state->verifier = std::make_unique<BootstrapKeyFileRemover>(
          std::move(state->verifier), BootstrapAdminKeyPath(options));
    }
    state->tcp_identifier =
        std::make_unique<ApiKeyIdentifier>(state->verifier.get(), transport);
  }
  state->identifier = std::make_unique<TransportIdentifier>(
      state->unix_identifier.get(), state->tcp_identifier.get());
}

}  // namespace zlayer::secrets
