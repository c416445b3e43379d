#include "daemon/config.h"

#include <arpa/inet.h>

#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/crypto/key_manager.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {
namespace {

enum class Kind { kValue, kBool, kList };

using Setter = std::function<absl::Status(absl::string_view, DaemonOptions*)>;

struct OptionSpec {
  OptionSpec(const char* name, Kind kind, const char* help, Setter set,
             std::function<void(DaemonOptions*)> clear = nullptr)
      : name(name),
        kind(kind),
        help(help),
        set(std::move(set)),
        clear(std::move(clear)) {}

  const char* name;
  Kind kind;
  const char* help;
  Setter set;
  // For kList: empties the list (a command-line list replaces the file's).
  std::function<void(DaemonOptions*)> clear;
};

absl::Status BadValue(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", why));
}

absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view v) {
  std::string lower = absl::AsciiStrToLower(v);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return BadValue(name, absl::StrCat("expected true or false, got '", v, "'"));
}

template <typename T>
std::function<absl::Status(absl::string_view, DaemonOptions*)> SetString(
    T DaemonOptions::*field) {
  return [field](absl::string_view v, DaemonOptions* o) {
    o->*field = std::string(v);
    return absl::OkStatus();
  };
}

std::function<absl::Status(absl::string_view, DaemonOptions*)> SetSize(
    const char* name, size_t DaemonOptions::*field) {
  return [name, field](absl::string_view v, DaemonOptions* o) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(v, &n) || n == 0) {
      return BadValue(
          name, absl::StrCat("expected a positive integer, got '", v, "'"));
    }
    o->*field = static_cast<size_t>(n);
    return absl::OkStatus();
  };
}

// A duration flag: "10s", "500ms", or a bare number of seconds, within
// [min, max] (`range` says so in the error).
std::function<absl::Status(absl::string_view, DaemonOptions*)> SetDuration(
    const char* name, absl::Duration DaemonOptions::*field, absl::Duration min,
    absl::Duration max, const char* range) {
  return [=](absl::string_view v, DaemonOptions* o) {
    absl::Duration d;
    int64_t seconds = 0;
    if (absl::SimpleAtoi(v, &seconds)) {
      d = absl::Seconds(seconds);
    } else if (!absl::ParseDuration(std::string(v), &d)) {
      return BadValue(name, absl::StrCat("expected a duration, got '", v, "'"));
    }
    if (d < min || d > max) return BadValue(name, range);
    o->*field = d;
    return absl::OkStatus();
  };
}

std::function<absl::Status(absl::string_view, DaemonOptions*)> AppendIds(
    const char* name, std::vector<int64_t> DaemonOptions::*field) {
  return [name, field](absl::string_view v, DaemonOptions* o) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      part = absl::StripAsciiWhitespace(part);
      int64_t id = -1;
      if (!absl::SimpleAtoi(part, &id) || id < 0 ||
          id > std::numeric_limits<uint32_t>::max()) {
        return BadValue(
            name, absl::StrCat("expected a numeric id, got '", part, "'"));
      }
      (o->*field).push_back(id);
    }
    return absl::OkStatus();
  };
}

const std::vector<OptionSpec>& Specs() {
  static const auto* specs = new std::vector<OptionSpec>{
      {"data-dir", Kind::kValue,
       "store, key file and TLS state (created 0700). Default: "
       "/var/lib/zlayer/secrets for root, else ~/.zlayer/secrets",
       SetString(&DaemonOptions::data_dir)},
      {"socket", Kind::kValue,
       "Unix socket path. Default: {data-dir}/zlayer-secretsd.sock",
       SetString(&DaemonOptions::socket_path)},
      {"deployment", Kind::kValue,
       "deployment name; names the key file secrets_{deployment}.key. "
       "Default: zlayer",
       SetString(&DaemonOptions::deployment)},
      {"key-dir", Kind::kValue,
       "directory of the master key secrets_{deployment}.key (generated 0600 "
       "if missing) and the password salt; keep it off the data directory's "
       "backups. Default: /etc/zlayer-secrets for root, else "
       "$XDG_CONFIG_HOME/zlayer-secrets or ~/.config/zlayer-secrets",
       SetString(&DaemonOptions::key_dir)},
      {"key-file", Kind::kValue,
       "read the master key from this file (32 raw bytes or 64 hex chars, "
       "mode 0600 or stricter), e.g. a systemd credential; never generated",
       [](absl::string_view v, DaemonOptions* o) {
         if (v.empty()) return BadValue("key-file", "empty path");
         o->key_file = std::string(v);
         return absl::OkStatus();
       }},
      {"key-file-rotate-to", Kind::kValue,
       "with --key-file: online master-key rotation writes the new key here "
       "(0600) for you to install as the key file (may be the --key-file "
       "path itself if it is writable). Default: rotation refused",
       [](absl::string_view v, DaemonOptions* o) {
         if (v.empty()) return BadValue("key-file-rotate-to", "empty path");
         o->key_file_rotate_to = std::string(v);
         return absl::OkStatus();
       }},
      {"bootstrap-admin-key", Kind::kValue,
       "the 'admin' API key for TCP: once (default; written 0600 at the "
       "first start with --listen, the file deleted after its first "
       "successful use), keep (file kept, rewritten when missing) or none",
       [](absl::string_view v, DaemonOptions* o) {
         if (v == "once") {
           o->bootstrap_admin_key = BootstrapAdminKey::kOnce;
         } else if (v == "keep") {
           o->bootstrap_admin_key = BootstrapAdminKey::kKeep;
         } else if (v == "none") {
           o->bootstrap_admin_key = BootstrapAdminKey::kNone;
         } else {
           return BadValue(
               "bootstrap-admin-key",
               absl::StrCat("expected once, keep or none, got '", v, "'"));
         }
         return absl::OkStatus();
       }},
      {"bootstrap-admin-key-file", Kind::kValue,
       "where the bootstrap admin key is written. Default: "
       "{data-dir}/admin.key",
       SetString(&DaemonOptions::bootstrap_admin_key_file)},
      {"listen", Kind::kValue,
       "also serve TCP on HOST:PORT (TLS required; see --insecure-loopback)",
       SetString(&DaemonOptions::listen)},
      {"tls-cert", Kind::kValue, "PEM certificate chain for --listen",
       SetString(&DaemonOptions::tls_cert)},
      {"tls-key", Kind::kValue, "PEM private key for --listen",
       SetString(&DaemonOptions::tls_key)},
      {"tls-client-ca", Kind::kValue,
       "PEM CA bundle; when set, TCP clients must present a certificate it "
       "signed (mTLS)",
       SetString(&DaemonOptions::tls_client_ca)},
      {"insecure-loopback", Kind::kBool,
       "allow plaintext TCP when --listen is a loopback address and no TLS "
       "files are given",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<bool> b = ParseBool("insecure-loopback", v);
         if (!b.ok()) return b.status();
         o->insecure_loopback = *b;
         return absl::OkStatus();
       }},
      {"admin-uid", Kind::kList,
       "uid treated as administrator (repeatable or comma-separated); the "
       "daemon's own uid and root always are",
       AppendIds("admin-uid", &DaemonOptions::admin_uids),
       [](DaemonOptions* o) { o->admin_uids.clear(); }},
      {"admin-gid", Kind::kList,
       "primary gid treated as administrator (repeatable or comma-separated)",
       AppendIds("admin-gid", &DaemonOptions::admin_gids),
       [](DaemonOptions* o) { o->admin_gids.clear(); }},
      {"audit-log", Kind::kValue,
       "audit trail, one JSON line per call (created 0600; SIGHUP reopens "
       "it). Default: {data-dir}/audit.log",
       SetString(&DaemonOptions::audit_log)},
      {"audit-hash-names", Kind::kBool,
       "write a keyed hash instead of each secret name into the audit log",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<bool> b = ParseBool("audit-hash-names", v);
         if (!b.ok()) return b.status();
         o->audit_hash_names = *b;
         return absl::OkStatus();
       }},
      {"audit-fsync", Kind::kBool,
       "fdatasync the audit log after every record (survives power loss; "
       "one disk flush per call). Default: off (survives a daemon crash)",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<bool> b = ParseBool("audit-fsync", v);
         if (!b.ok()) return b.status();
         o->audit_fsync = *b;
         return absl::OkStatus();
       }},
      {"synchronous", Kind::kValue,
       "SQLite durability: full (default; acknowledged writes survive power "
       "loss) or normal",
       [](absl::string_view v, DaemonOptions* o) {
         if (v == "full") {
           o->synchronous = SynchronousMode::kFull;
         } else if (v == "normal") {
           o->synchronous = SynchronousMode::kNormal;
         } else {
           return BadValue("synchronous", absl::StrCat("expected full or "
                                                       "normal, got '",
                                                       v, "'"));
         }
         return absl::OkStatus();
       }},
      {"store", Kind::kValue,
       "where secrets live: sqlite (default; {data-dir}/secrets.db) or etcd "
       "(cluster mode: several daemons on one etcd v3 cluster, see "
       "docs/cluster.md; needs --etcd-endpoints)",
       [](absl::string_view v, DaemonOptions* o) {
         if (v == "sqlite") {
           o->store = StoreBackend::kSqlite;
         } else if (v == "etcd") {
           o->store = StoreBackend::kEtcd;
         } else {
           return BadValue("store", absl::StrCat("expected sqlite or etcd, "
                                                 "got '",
                                                 v, "'"));
         }
         return absl::OkStatus();
       }},
      {"etcd-endpoints", Kind::kList,
       "etcd members' client addresses, host:port (comma-separated or "
       "repeated), e.g. 10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379",
       [](absl::string_view v, DaemonOptions* o) {
         for (absl::string_view part :
              absl::StrSplit(v, ',', absl::SkipEmpty())) {
           o->etcd_endpoints.emplace_back(absl::StripAsciiWhitespace(part));
         }
         return absl::OkStatus();
       },
       [](DaemonOptions* o) { o->etcd_endpoints.clear(); }},
      {"etcd-prefix", Kind::kValue,
       "etcd key prefix of the store; daemons sharing it share the secrets. "
       "Default: /zlayer-secrets",
       SetString(&DaemonOptions::etcd_prefix)},
      {"etcd-cacert", Kind::kValue,
       "PEM CA bundle that signed the etcd members' certificates (turns on "
       "TLS to etcd)",
       SetString(&DaemonOptions::etcd_cacert)},
      {"etcd-cert", Kind::kValue,
       "PEM client certificate for etcd (with --etcd-key)",
       SetString(&DaemonOptions::etcd_cert)},
      {"etcd-key", Kind::kValue, "PEM private key of --etcd-cert",
       SetString(&DaemonOptions::etcd_key)},
      {"etcd-timeout", Kind::kValue,
       "bound on one etcd request with its retries over the members (e.g. "
       "4s, 1500ms; a bare number is seconds); past it a call fails "
       "UNAVAILABLE (no quorum, or no member reachable). Default: 4s",
       SetDuration("etcd-timeout", &DaemonOptions::etcd_timeout,
                   absl::Milliseconds(100), absl::Minutes(5),
                   "must be between 100ms and 5m")},
      {"vault-scope", Kind::kList,
       "SCOPE=MOUNT[/PREFIX]: $S: references in SCOPE (and SCOPE/...) "
       "resolve from Vault KV v2 mount MOUNT at PREFIX (repeatable; "
       "docs/vault.md)",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<VaultScopeMapping> m = ParseVaultScope(v);
         if (!m.ok()) return BadValue("vault-scope", m.status().message());
         o->vault_scopes.push_back(*std::move(m));
         return absl::OkStatus();
       },
       [](DaemonOptions* o) { o->vault_scopes.clear(); }},
      {"vault-addr", Kind::kValue, "Vault's URL, http(s)://HOST:PORT",
       SetString(&DaemonOptions::vault_addr)},
      {"vault-token-file", Kind::kValue, "file holding the Vault token",
       SetString(&DaemonOptions::vault_token_file)},
      {"vault-approle-role-id-file", Kind::kValue,
       "file holding the AppRole role_id (with --vault-approle-secret-id-file)",
       SetString(&DaemonOptions::vault_approle_role_id_file)},
      {"vault-approle-secret-id-file", Kind::kValue,
       "file holding the AppRole secret_id",
       SetString(&DaemonOptions::vault_approle_secret_id_file)},
      {"vault-ca-file", Kind::kValue,
       "PEM CA bundle that signed Vault's certificate",
       SetString(&DaemonOptions::vault_ca_file)},
      {"vault-namespace", Kind::kValue,
       "Vault Enterprise namespace (X-Vault-Namespace)",
       SetString(&DaemonOptions::vault_namespace)},
      {"vault-timeout", Kind::kValue,
       "deadline of each request to Vault (e.g. 5s, 500ms). Default: 10s",
       [](absl::string_view v, DaemonOptions* o) {
         absl::Duration d;
         if (!absl::ParseDuration(std::string(v), &d) ||
             d <= absl::ZeroDuration() || d > absl::Minutes(5)) {
           return BadValue(
               "vault-timeout",
               absl::StrCat("expected a duration in (0, 5m], got '", v, "'"));
         }
         o->vault_timeout = d;
         return absl::OkStatus();
       }},
      {"drain-timeout", Kind::kValue,
       "how long in-flight calls may finish after SIGTERM (e.g. 10s, 500ms; "
       "a bare number is seconds). Default: 10s",
       SetDuration("drain-timeout", &DaemonOptions::drain_timeout,
                   absl::ZeroDuration(), absl::Hours(1),
                   "must be between 0 and 1h")},
      {"workers", Kind::kValue,
       "threads running calls; excess calls queue (1..1024). Default: "
       "max(16, 4 x cores)",
       [](absl::string_view v, DaemonOptions* o) {
         int n = 0;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1024) {
           return BadValue("workers",
                           absl::StrCat("expected 1..1024, got '", v, "'"));
         }
         o->workers = n;
         return absl::OkStatus();
       }},
      {"max-queued-calls", Kind::kValue,
       "calls that may wait for a worker before new ones are refused "
       "RESOURCE_EXHAUSTED. Default: 10000",
       SetSize("max-queued-calls", &DaemonOptions::max_queued_calls)},
      {"max-watch-streams", Kind::kValue,
       "open WatchEnv/WatchSecrets streams before new ones are refused "
       "RESOURCE_EXHAUSTED. Default: 4096",
       SetSize("max-watch-streams", &DaemonOptions::max_watch_streams)},
      {"max-watch-streams-per-caller", Kind::kValue,
       "open watch streams per caller before its new ones are refused "
       "RESOURCE_EXHAUSTED. Default: 256",
       SetSize("max-watch-streams-per-caller",
               &DaemonOptions::max_watch_streams_per_caller)},
      {"max-threads", Kind::kValue, "deprecated alias of --workers (2..1024)",
       [](absl::string_view v, DaemonOptions* o) {
         int n = 0;
         if (!absl::SimpleAtoi(v, &n) || n < 2 || n > 1024) {
           return BadValue("max-threads",
                           absl::StrCat("expected 2..1024, got '", v, "'"));
         }
         o->max_threads = n;
         return absl::OkStatus();
       }},
      {"max-message-bytes", Kind::kValue,
       "largest gRPC message in either direction. Default: 8388608",
       SetSize("max-message-bytes", &DaemonOptions::max_message_bytes)},
      {"max-value-bytes", Kind::kValue,
       "largest secret value. Default: 1048576",
       SetSize("max-value-bytes", &DaemonOptions::max_value_bytes)},
      {"max-batch-names", Kind::kValue,
       "most names in one GetSecrets call. Default: 1000",
       SetSize("max-batch-names", &DaemonOptions::max_names_per_batch)},
      {"max-env-entries", Kind::kValue,
       "most entries in one ResolveEnv/CheckEnv call. Default: 1000",
       SetSize("max-env-entries", &DaemonOptions::max_env_entries)},
      {"max-import-bytes", Kind::kValue,
       "largest ImportSecrets content. Default: 4194304",
       SetSize("max-import-bytes", &DaemonOptions::max_import_bytes)},
      {"max-response-bytes", Kind::kValue,
       "largest ResolveEnv/GetSecrets answer, checked before it is built; "
       "below --max-message-bytes. Default: 4194304",
       SetSize("max-response-bytes", &DaemonOptions::max_response_bytes)},
      {"max-connections-per-uid", Kind::kValue,
       "most open Unix-socket connections of one uid. Default: 64",
       SetSize("max-connections-per-uid",
               &DaemonOptions::max_connections_per_uid)},
      {"max-connections", Kind::kValue,
       "most open Unix-socket connections in all. Default: the raised "
       "RLIMIT_NOFILE soft limit minus 128",
       SetSize("max-connections", &DaemonOptions::max_connections)},
      {"admin-connection-reserve", Kind::kValue,
       "connections under --max-connections kept for uid 0 and the daemon's "
       "uid. Default: 16",
       SetSize("admin-connection-reserve",
               &DaemonOptions::admin_connection_reserve)},
      {"idle-connection-timeout", Kind::kValue,
       "close a connection with no call for this long (e.g. 30s, 500ms; a "
       "bare number is seconds; 100ms..1h). Default: 30s",
       SetDuration("idle-connection-timeout",
                   &DaemonOptions::idle_connection_timeout,
                   absl::Milliseconds(100), absl::Hours(1),
                   "must be between 100ms and 1h")},
      {"log-level", Kind::kValue,
       "trace, debug, info (default), warn, error or off",
       [](absl::string_view v, DaemonOptions* o) {
         static const auto* levels = new absl::flat_hash_set<std::string>{
             "trace", "debug", "info", "warn", "error", "off"};
         if (!levels->contains(v)) {
           return BadValue("log-level",
                           absl::StrCat("expected trace, debug, info, warn, "
                                        "error or off, got '",
                                        v, "'"));
         }
         o->log_level = std::string(v);
         return absl::OkStatus();
       }},
      {"metrics-listen", Kind::kValue,
       "serve Prometheus metrics over HTTP at /metrics on a loopback "
       "HOST:PORT or unix:/PATH. Default: off",
       [](absl::string_view v, DaemonOptions* o) {
         if (absl::StartsWith(v, "unix:")) {
           if (v.size() < 7 || v[5] != '/') {
             return BadValue("metrics-listen", "unix: needs an absolute path");
           }
         } else if (!v.empty()) {
           absl::StatusOr<HostPort> hp = ParseHostPort(v);
           if (!hp.ok() || !IsLoopbackHost(hp->host)) {
             return BadValue("metrics-listen",
                             absl::StrCat("expected a loopback HOST:PORT or "
                                          "unix:/PATH, got '",
                                          v, "'"));
           }
         }
         o->metrics_listen = std::string(v);
         return absl::OkStatus();
       }},
      {"metrics-name-labels", Kind::kBool,
       "label per-secret read counts with the secret's scope and name on "
       "--metrics-listen (at most 100 secrets, the rest as one series). "
       "Default: off (no secret name in the metrics)",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<bool> b = ParseBool("metrics-name-labels", v);
         if (!b.ok()) return b.status();
         o->metrics_name_labels = *b;
         return absl::OkStatus();
       }},
      {"channelz", Kind::kBool,
       "serve gRPC channelz (grpc.channelz.v1.Channelz: connection and call "
       "counts) on the Unix socket, to any local caller; not with --listen. "
       "Default: off",
       [](absl::string_view v, DaemonOptions* o) {
         absl::StatusOr<bool> b = ParseBool("channelz", v);
         if (!b.ok()) return b.status();
         o->channelz = *b;
         return absl::OkStatus();
       }},
      {"log-format", Kind::kValue,
       "text (default; key=value fields) or json (one object per line). "
       "Under systemd, lines carry journald priorities either way",
       [](absl::string_view v, DaemonOptions* o) {
         if (v != "text" && v != "json") {
           return BadValue(
               "log-format",
               absl::StrCat("expected text or json, got '", v, "'"));
         }
         o->log_format = std::string(v);
         return absl::OkStatus();
       }},
  };
  return *specs;
}

const OptionSpec* FindSpec(absl::string_view name) {
  for (const OptionSpec& spec : Specs()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view listen) {
  HostPort out;
  absl::string_view port_text;
  if (absl::StartsWith(listen, "[")) {
    size_t close = listen.find(']');
    if (close == absl::string_view::npos || close + 1 >= listen.size() ||
        listen[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen: expected [IPV6]:PORT, got '", listen, "'"));
    }
    out.host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos || listen.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen: expected HOST:PORT (IPv6 as [ADDR]:PORT), got '", listen,
          "'"));
    }
    out.host = std::string(listen.substr(0, colon));
    port_text = listen.substr(colon + 1);
  }
  if (out.host.empty() || !absl::SimpleAtoi(port_text, &out.port) ||
      out.port < 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: bad host or port in '", listen, "'"));
  }
  return out;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::StatusOr<VaultScopeMapping> ParseVaultScope(absl::string_view text) {
  const size_t eq = text.rfind('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected SCOPE=MOUNT[/PREFIX], got '", text, "'"));
  }
  VaultScopeMapping m;
  m.scope = std::string(text.substr(0, eq));
  absl::string_view target = absl::StripSuffix(text.substr(eq + 1), "/");
  const size_t slash = target.find('/');
  m.mount = std::string(target.substr(0, slash));
  if (slash != absl::string_view::npos) {
    m.prefix = std::string(absl::StripSuffix(target.substr(slash + 1), "/"));
  }
  if (m.mount.empty() || !ValidateScope(m.scope).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected SCOPE=MOUNT[/PREFIX], got '", text, "'"));
  }
  return m;
}

absl::Status ValidateOptions(const DaemonOptions& o) {
  if (o.data_dir.empty()) {
    return absl::InvalidArgumentError("--data-dir: must not be empty");
  }
  if (o.metrics_name_labels && o.metrics_listen.empty()) {
    return absl::InvalidArgumentError(
        "--metrics-name-labels: needs --metrics-listen");
  }
  // Channelz answers before any caller is identified (it is not one of
  // our services): on the Unix socket only local users reach it, over TCP
  // anyone who completes TLS would see every client's address.
  if (o.channelz && !o.listen.empty()) {
    return absl::InvalidArgumentError(
        "--channelz: only without --listen (channelz identifies no caller; "
        "over TCP it would show every client's address to anyone)");
  }
  if (o.deployment.empty() || o.deployment == "." || o.deployment == ".." ||
      o.deployment.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    return absl::InvalidArgumentError(
        "--deployment: must be non-empty, without '/', and not . or ..");
  }
  if (o.store == StoreBackend::kEtcd && o.etcd_endpoints.empty()) {
    return absl::InvalidArgumentError(
        "--store etcd needs --etcd-endpoints host:port[,host:port...]");
  }
  if (o.store != StoreBackend::kEtcd &&
      (!o.etcd_endpoints.empty() || !o.etcd_cacert.empty() ||
       !o.etcd_cert.empty() || !o.etcd_key.empty())) {
    return absl::InvalidArgumentError("--etcd-* flags need --store etcd");
  }
  if (o.etcd_cert.empty() != o.etcd_key.empty()) {
    return absl::InvalidArgumentError("--etcd-cert and --etcd-key go together");
  }
  const bool any_vault = !o.vault_addr.empty() || !o.vault_token_file.empty() ||
                         !o.vault_approle_role_id_file.empty() ||
                         !o.vault_approle_secret_id_file.empty() ||
                         !o.vault_ca_file.empty() || !o.vault_namespace.empty();
  if (o.vault_scopes.empty() && any_vault) {
    return absl::InvalidArgumentError("--vault-* flags need --vault-scope");
  }
  if (!o.vault_scopes.empty()) {
    if (o.vault_addr.empty()) {
      return absl::InvalidArgumentError("--vault-scope needs --vault-addr");
    }
    if (o.vault_approle_role_id_file.empty() !=
        o.vault_approle_secret_id_file.empty()) {
      return absl::InvalidArgumentError(
          "--vault-approle-role-id-file and --vault-approle-secret-id-file go "
          "together");
    }
    if (o.vault_token_file.empty() && o.vault_approle_role_id_file.empty()) {
      return absl::InvalidArgumentError(
          "--vault-scope needs --vault-token-file or the --vault-approle-* "
          "files");
    }
  }
  if (o.key_file_rotate_to.has_value() && !o.key_file.has_value()) {
    return absl::InvalidArgumentError(
        "--key-file-rotate-to needs --key-file (a key in --key-dir is "
        "rotated in place)");
  }
  if (o.max_response_bytes >= o.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-response-bytes (", o.max_response_bytes,
        ") must be below --max-message-bytes (", o.max_message_bytes,
        "): gRPC would refuse such an answer only after it was built"));
  }
  if (o.max_connections != 0 &&
      o.admin_connection_reserve >= o.max_connections) {
    return absl::InvalidArgumentError(
        "--admin-connection-reserve must be below --max-connections");
  }
  const bool any_tls =
      !o.tls_cert.empty() || !o.tls_key.empty() || !o.tls_client_ca.empty();
  if (o.listen.empty()) {
    if (any_tls) {
      return absl::InvalidArgumentError(
          "--tls-cert/--tls-key/--tls-client-ca need --listen");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<HostPort> hp = ParseHostPort(o.listen);
  if (!hp.ok()) return hp.status();
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key must be given together");
  }
  if (o.tls_cert.empty()) {
    if (!o.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca needs --tls-cert and --tls-key");
    }
    if (!IsLoopbackHost(hp->host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", o.listen,
          ": plaintext TCP is refused on a non-loopback address; give "
          "--tls-cert and --tls-key"));
    }
    if (!o.insecure_loopback) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", o.listen,
          ": plaintext TCP needs --insecure-loopback (or give --tls-cert and "
          "--tls-key)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DefaultDataDir(const ProcessEnvironment& env) {
  if (env.euid == 0) return std::string("/var/lib/zlayer/secrets");
  if (env.home.empty() || env.home[0] != '/') {
    return absl::FailedPreconditionError(
        "no --data-dir given and $HOME is not an absolute path");
  }
  return absl::StrCat(absl::StripSuffix(env.home, "/"), "/.zlayer/secrets");
}

absl::Status ApplyConfigText(absl::string_view text, absl::string_view source,
                             DaemonOptions* options) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", why));
    };
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return error("expected 'key = value'");
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const OptionSpec* spec = FindSpec(key);
    if (spec == nullptr) {
      return error(absl::StrCat("unknown key '", key, "'"));
    }
    absl::Status status = spec->set(value, options);
    if (!status.ok()) return error(status.message());
  }
  return absl::OkStatus();
}

absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args, const ProcessEnvironment& env) {
  CommandLine result;
  struct Assignment {
    const OptionSpec* spec;
    std::string value;
  };
  std::vector<Assignment> assignments;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", args[i], "' (flags start with --)"));
    }
    absl::string_view name = arg;
    absl::optional<std::string> value;
    size_t eq = arg.find('=');
    if (eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    if (name == "help" || name == "version") {
      if (value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value"));
      }
      (name == "help" ? result.help : result.version) = true;
      continue;
    }
    const OptionSpec* spec = FindSpec(name);
    if (spec == nullptr && name != "config") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!value.has_value()) {
      if (spec != nullptr && spec->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
    }
    if (spec == nullptr) {
      result.config_file = *value;
      continue;
    }
    assignments.push_back({spec, *std::move(value)});
  }
  if (result.help || result.version) return result;

  DaemonOptions& options = result.options;
  if (!result.config_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(result.config_file);
    if (!text.ok()) return text.status();
    absl::Status status = ApplyConfigText(*text, result.config_file, &options);
    if (!status.ok()) return status;
  }
  absl::flat_hash_set<const OptionSpec*> cleared;
  for (const Assignment& a : assignments) {
    if (a.spec->kind == Kind::kList && cleared.insert(a.spec).second) {
      a.spec->clear(&options);
    }
    absl::Status status = a.spec->set(a.value, &options);
    if (!status.ok()) return status;
  }
  if (options.data_dir.empty()) {
    absl::StatusOr<std::string> dir = DefaultDataDir(env);
    if (!dir.ok()) return dir.status();
    options.data_dir = *dir;
  }
  if (options.key_dir.empty()) {
    absl::StatusOr<std::string> dir =
        DefaultKeyDir(env.euid, env.home, env.xdg_config_home);
    if (!dir.ok()) return dir.status();
    options.key_dir = *dir;
  }
  if (options.socket_path.empty()) {
    options.socket_path = absl::StrCat(absl::StripSuffix(options.data_dir, "/"),
                                       "/zlayer-secretsd.sock");
  }
  absl::Status status = ValidateOptions(options);
  if (!status.ok()) return status;
  return result;
}

std::string UsageText(absl::string_view program) {
  std::string out = absl::StrCat(
      "Usage: ", program, " [flags]\n\n",
      "zlayer-secretsd serves encrypted secrets over gRPC on a Unix socket "
      "(and optionally TLS TCP).\n\nFlags:\n",
      "  --config FILE\n      read 'key = value' lines (keys are flag names); "
      "flags override them\n");
  for (const OptionSpec& spec : Specs()) {
    absl::StrAppend(&out, "  --", spec.name,
                    spec.kind == Kind::kBool ? "" : " VALUE", "\n      ",
                    spec.help, "\n");
  }
  absl::StrAppend(&out,
                  "  --help\n      print this text\n"
                  "  --version\n      print the version\n\n",
                  "Master key: ZLAYER_SECRETS_KEY (64 hex), else "
                  "ZLAYER_SECRETS_PASSWORD (Argon2id), else --key-file, else\n"
                  "{key-dir}/secrets_{deployment}.key (generated 0600 if "
                  "missing). Both variables are wiped from the\n"
                  "process environment once read.\n"
                  "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads "
                  "the TLS files.\n");
  return out;
}

}  // namespace zlayer::secrets
