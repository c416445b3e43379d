// The daemon's options (DaemonOptions) and how they are read from the command
// line and an optional config file.
//
// Flags take `--name=value` or `--name value`; booleans may be bare
// (`--insecure-loopback`). `--config FILE` reads `key = value` lines whose keys
// are the flag names without the dashes ('#' starts a comment, values may be
// double-quoted); flags given on the command line override the file, and a
// list flag given on the command line replaces the file's list.
//
//   ProcessEnvironment env{geteuid(), getenv("HOME") ? getenv("HOME") : ""};
//   absl::StatusOr<CommandLine> cl = ParseCommandLine(args, env);
//   if (!cl.ok()) { /* one-line error */ }
//   if (cl->help) std::cout << UsageText("zlayer-secretsd");
//
// Defaults (documented in UsageText too):
//   --data-dir  /var/lib/zlayer/secrets for root, else ~/.zlayer/secrets
//               (`./x run` passes .data)
//   --socket    {data-dir}/zlayer-secretsd.sock
//   --key-dir   /etc/zlayer-secrets for root, else
//               $XDG_CONFIG_HOME/zlayer-secrets or ~/.config/zlayer-secrets
//               (`./x run` passes .data; a key found only in {data-dir} is
//               still used, with a warning)
//   --bootstrap-admin-key  once
#ifndef ZLAYER_SECRETS_DAEMON_CONFIG_H_
#define ZLAYER_SECRETS_DAEMON_CONFIG_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace zlayer::secrets {

class KeyEnvironment;  // core/crypto/key_manager.h

inline constexpr char kDaemonVersion[] = "0.1.0";

// SQLite's PRAGMA synchronous: FULL makes every acknowledged write durable
// across power loss; NORMAL (in WAL mode) may lose the last commits on power
// loss but never corrupts.
enum class SynchronousMode { kFull, kNormal };

// Where secrets live: one SQLite file (default) or an etcd v3 cluster shared
// by several daemons (cluster mode, docs/cluster.md).
enum class StoreBackend { kSqlite, kEtcd };

// What happens to the bootstrap admin API key ("admin"), see
// docs/identity.md:
//   kOnce  (default) created on the first start with --listen, written 0600
//          to bootstrap_admin_key_file, and that file is deleted by the
//          daemon after the first call authenticated with the key; a
//          missing file is never rewritten (`zlayer-secret apikey rotate
//          admin` over the Unix socket prints a new key once).
//   kKeep  upstream's behaviour: created on first start, the file stays,
//          and is rewritten (the key rotated) whenever it is missing.
//   kNone  no bootstrap key; administrators create keys over the socket.
enum class BootstrapAdminKey { kOnce, kKeep, kNone };

// `--vault-scope SCOPE=MOUNT[/PREFIX]`: `$S:` references in SCOPE (and in
// "SCOPE/...", its service scopes) resolve from HashiCorp Vault's KV v2
// mount MOUNT (its first path segment) at PREFIX (docs/vault.md).
struct VaultScopeMapping {
  std::string scope;
  std::string mount;
  std::string prefix;  // "" = the top of the mount
};

// Parses "SCOPE=MOUNT[/PREFIX]"; InvalidArgument naming the problem.
absl::StatusOr<VaultScopeMapping> ParseVaultScope(absl::string_view text);

struct DaemonOptions {
  // Where the store, the key file (unless --key-file) and TLS state live.
  // Created 0700 if missing. Required (ParseCommandLine fills the default).
  std::string data_dir;
  // Unix socket path ("" = {data_dir}/zlayer-secretsd.sock); its directory
  // is created 0750 if missing, the socket is 0660.
  std::string socket_path;
  // Names the key file secrets_{deployment}.key.
  std::string deployment = "zlayer";
  // Directory of secrets_{deployment}.key (generated 0600 if missing) and
  // of the password salt file. "" = data_dir, for embedding and tests only
  // (the daemon warns that a copy of the data directory then decrypts
  // everything); ParseCommandLine fills DefaultKeyDir(), outside it.
  std::string key_dir;
  // Explicit master key file (e.g. a systemd credential, --key-file
  // %d/master-key); never generated.
  absl::optional<std::string> key_file;
  // With key_file: where an online master-key rotation writes the new key
  // (0600) for the operator to install as key_file; may equal key_file when
  // that file is writable. Unset: such a key cannot be rotated online.
  absl::optional<std::string> key_file_rotate_to;
  // ZLAYER_SECRETS_KEY/PASSWORD as taken out of the environment by main()
  // (KeyEnvironment::TakeFromProcess); wiped once the key is resolved.
  // Unset: the variables are read with getenv and left in place.
  std::shared_ptr<KeyEnvironment> key_environment;

  BootstrapAdminKey bootstrap_admin_key = BootstrapAdminKey::kOnce;
  // Where the bootstrap key is written ("" = {data_dir}/admin.key).
  std::string bootstrap_admin_key_file;

  // Optional TCP endpoint "HOST:PORT" ("[::1]:PORT" for IPv6; port 0 picks
  // a free one). Requires TLS (tls_cert + tls_key) unless HOST is a loopback
  // address and insecure_loopback is set.
  std::string listen;
  std::string tls_cert;       // PEM certificate chain
  std::string tls_key;        // PEM private key
  std::string tls_client_ca;  // PEM CA bundle: set = mTLS (client certs
                              // required and verified)
  bool insecure_loopback = false;

  // Unix peers treated as administrators besides the daemon's uid and root.
  std::vector<int64_t> admin_uids;
  std::vector<int64_t> admin_gids;

  // The audit trail: one JSON line per call (core/audit/audit_log.h), created
  // 0600
  // ("" = {data_dir}/audit.log). SIGHUP reopens it (log rotation).
  std::string audit_log;
  // Replace secret names in audit records by a keyed hash (the key is kept,
  // encrypted, in the store's internal scope "system:audit").
  bool audit_hash_names = false;
  // fdatasync the audit log after every record. Off: a record reaches the
  // page cache before the call's response is sent (it survives a daemon
  // crash, not a power loss); on: it is on disk, at one flush per call
  // (GetSecret ~4x slower, bench/auth_overhead_bench).
  bool audit_fsync = false;

  SynchronousMode synchronous = SynchronousMode::kFull;

  // Cluster mode (docs/cluster.md). With kEtcd, etcd_endpoints is required
  // ("host:port" of each member's client URL) and the store lives under
  // etcd_prefix; etcd_cacert turns on TLS, etcd_cert + etcd_key add a client
  // certificate. The data dir still holds the socket, key file and audit log.
  StoreBackend store = StoreBackend::kSqlite;
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix = "/zlayer-secrets";
  std::string etcd_cacert;
  std::string etcd_cert;
  std::string etcd_key;
  // Bound on one etcd request with its retries over the members
  // (EtcdClientOptions::total_timeout; one attempt gets at most 2 s of it).
  // Past it the call fails UNAVAILABLE "etcd unavailable (no quorum, or no
  // member reachable)". Below the client's default 5 s deadline, so a
  // client hears that instead of its own DEADLINE_EXCEEDED.
  absl::Duration etcd_timeout = absl::Seconds(4);
  // Vault as a resolver source (docs/vault.md): scopes mapped to KV v2
  // mounts; with any mapping, vault_addr and either vault_token_file or both
  // AppRole files are required. Secrets come from files, never flags.
  std::vector<VaultScopeMapping> vault_scopes;
  std::string vault_addr;
  std::string vault_token_file;
  std::string vault_approle_role_id_file;
  std::string vault_approle_secret_id_file;
  std::string vault_ca_file;
  std::string vault_namespace;
  absl::Duration vault_timeout = absl::Seconds(10);
  // How long in-flight calls may run after SIGTERM/SIGINT before they are
  // cancelled.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Worker threads that run the Secrets/Admin handlers
  // (daemon/rpc/call_queue.h; the serving model is in daemon/server.h). 0 =
  // max(16, 4 x cores).
  int workers = 0;
  // Calls that may wait for a worker; past it a call is refused with
  // RESOURCE_EXHAUSTED "server overloaded ..." (audited). Queued requests
  // are also held to 256 MiB of request bytes (CallQueueOptions).
  size_t max_queued_calls = 10000;
  // Open WatchEnv/WatchSecrets streams in total and per caller (principal);
  // past either a new stream ends RESOURCE_EXHAUSTED (docs/watch.md).
  size_t max_watch_streams = 4096;
  size_t max_watch_streams_per_caller = 256;
  // A consumer with no open watch is dropped from the consumer graph this
  // long after its last resolve.
  absl::Duration consumer_expiry = absl::Hours(1);
  // Deprecated alias of `workers` (--max-threads; the sync server's thread
  // cap before the callback API). 0 = not given.
  int max_threads = 0;

  // Request limits (see Limits in daemon/rpc/service_context.h).
  size_t max_message_bytes = size_t{8} << 20;
  size_t max_value_bytes = size_t{1} << 20;
  size_t max_names_per_batch = 1000;
  size_t max_env_entries = 1000;
  size_t max_import_bytes = size_t{4} << 20;
  // Largest answer of one ResolveEnv/GetSecrets call (keys, values, receipt),
  // checked before the answer is built: RESOURCE_EXHAUSTED beyond it. Must
  // be below max_message_bytes (gRPC's send limit, which would refuse the
  // answer only after the daemon had built it).
  size_t max_response_bytes = size_t{4} << 20;

  // Connections on the Unix socket (daemon/transport/unix_listener.h). One uid
  // may hold at most max_connections_per_uid; all uids together at most
  // max_connections (0 = derived at start from RLIMIT_NOFILE: the soft
  // limit, after it is raised to the hard limit, minus 128 fds for the
  // daemon's own files and TCP clients), of which the last
  // admin_connection_reserve are kept for uid 0 and the daemon's own uid.
  size_t max_connections_per_uid = 64;
  size_t max_connections = 0;
  size_t admin_connection_reserve = 16;
  // A connection with no call for this long is closed (gRPC
  // max_connection_idle), on the Unix socket and over TCP.
  absl::Duration idle_connection_timeout = absl::Seconds(30);

  // trace, debug, info, warn, error, off.
  std::string log_level = "info";
  // "text" (key=value fields) or "json" (one object per line); see
  // daemon/log_setup.h. main() applies it.
  std::string log_format = "text";
  // Prometheus endpoint (daemon/metrics_server.h): "" = off (default),
  // loopback "HOST:PORT", or "unix:/PATH".
  std::string metrics_listen;
  // Per-secret read counts labelled with scope and name (bounded, see
  // daemon/metered_secret_store.h). Off: no secret name in the metrics.
  bool metrics_name_labels = false;
  // gRPC channelz service on the daemon's server (grpcpp_channelz); Unix
  // socket only: refused with `listen` (it identifies no caller).
  bool channelz = false;

  // Embedding and tests only: further services registered on the server
  // (not owned; must outlive the Daemon). Never set from flags.
  std::vector<grpc::Service*> extra_services;
};

// Checks the combination of options: TLS/plaintext rules, ranges, names.
// InvalidArgument naming the offending flag.
absl::Status ValidateOptions(const DaemonOptions& options);

// The host and port of DaemonOptions::listen. InvalidArgument if malformed.
struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view listen);
// True for "localhost", 127.0.0.0/8 and ::1.
bool IsLoopbackHost(absl::string_view host);

// What the process environment contributes to the defaults.
struct ProcessEnvironment {
  uid_t euid = 0;
  std::string home;             // $HOME; may be empty
  std::string xdg_config_home;  // $XDG_CONFIG_HOME; may be empty
};

// The default --data-dir: /var/lib/zlayer/secrets for root, else
// {home}/.zlayer/secrets. FailedPrecondition without an absolute home.
absl::StatusOr<std::string> DefaultDataDir(const ProcessEnvironment& env);

struct CommandLine {
  DaemonOptions options;
  bool help = false;     // --help: print UsageText and exit 0
  bool version = false;  // --version
  std::string config_file;
};

// Parses `args` (argv without argv[0]), reading --config if given, fills the
// defaults and validates. InvalidArgument with a one-line message for an
// unknown flag, a missing or bad value, or a bad config line
// ("FILE:LINE: ..."); NotFound when the config file is missing.
absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args, const ProcessEnvironment& env);

// Parses config file text onto `options` (keys as in the file format above).
// `source` names the file in error messages.
absl::Status ApplyConfigText(absl::string_view text, absl::string_view source,
                             DaemonOptions* options);

std::string UsageText(absl::string_view program);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_CONFIG_H_
