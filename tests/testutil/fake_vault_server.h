// A small HashiCorp Vault stand-in for tests: the KV v2 secrets engine at one
// mount, AppRole login and token renewal, over plain HTTP/1.1 on a loopback
// port the kernel picks. It follows Vault's documented request and answer
// shapes (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2,
// .../auth/approle, .../auth/token); it is not Vault, and no real Vault was
// available to compare it with (docs/vault.md).
//
//   FakeVaultServer::Options o;
//   o.token = "root-token";
//   auto vault = FakeVaultServer::Start(o);
//   VaultClientOptions c;
//   c.address = (*vault)->address();
//
// Served:
//   GET|POST|PUT|DELETE  /v1/{mount}/data/{path}[?version=N]
//   GET|LIST             /v1/{mount}/metadata/{path}[?list=true]
//   POST                 /v1/auth/approle/login, /v1/auth/token/renew-self
// Every other route is 404. A request without a known X-Vault-Token is 403
// {"errors":["permission denied"]}, as is one whose X-Vault-Namespace
// differs from Options::vault_namespace. One request per connection.
//
// Thread-safe; a thread per connection. The destructor stops everything.
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_FAKE_VAULT_SERVER_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_FAKE_VAULT_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/format/json.h"

namespace zlayer::secrets::testing {

class FakeVaultServer {
 public:
  // How the server answers every request from now on.
  enum class Mode {
    kNormal,
    kStall,            // reads the request, never answers
    kOversizedBody,    // 200 with `oversized_bytes` of body
    kMalformedJson,    // 200 with a truncated JSON document
    kEchoTokenInError  // 403 whose error text repeats the token it was sent
  };

  struct Options {
    std::string mount = "secret";
    std::string token;  // accepted as X-Vault-Token ("" = only AppRole's)
    std::string vault_namespace;  // required X-Vault-Namespace ("" = none)
    std::string role_id;          // AppRole credentials ("" = no AppRole)
    std::string secret_id;
    int64_t lease_seconds = 3600;  // of AppRole and renewed tokens
    size_t oversized_bytes = 1 << 20;
  };

  static absl::StatusOr<std::unique_ptr<FakeVaultServer>> Start(
      Options options);
  ~FakeVaultServer();

  // "http://127.0.0.1:PORT".
  std::string address() const;
  void set_mode(Mode mode);
  // The time Vault stamps on the next write (each write then adds 1 s).
  void set_time(absl::Time t);
  // Writes `data_json` (any JSON object, e.g. {"value": 42}) as a new
  // version at `path`, as a KV v2 write would.
  void PutRaw(const std::string& path, const std::string& data_json);
  // A writer racing the reader: the next `times` metadata reads of `path`
  // each first write a new version {"value":"moved-N"}.
  void WriteBeforeMetadataReads(const std::string& path, int times);
  // Requests seen whose path (below /v1/) starts with `prefix`.
  int RequestCount(absl::string_view prefix) const;
  // Tokens issued by AppRole login so far.
  int logins() const;
  // Makes `token` unknown (later requests with it are 403).
  void RevokeToken(const std::string& token);
  // Connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  struct Version {
    std::string data_json;
    absl::Time created;
    absl::Time deleted = absl::InfinitePast();  // InfinitePast = live
  };
  struct Entry {
    std::vector<Version> versions;  // versions[i] is version i + 1
  };
  struct Response {
    int status = 200;
    std::string body;
  };

  explicit FakeVaultServer(Options options);
  void AcceptLoop();
  void Serve(int fd);
  Response Handle(const std::string& method, const std::string& target,
                  const std::map<std::string, std::string>& headers,
                  const std::string& body);
  Response Kv(const std::string& method, const std::string& kind,
              const std::string& path, const std::string& query,
              const std::string& body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Response Auth(const std::string& token, const std::string& what,
                const std::string& body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string MetadataJson(const Entry& e) const;
  std::string VersionMetadataJson(const Entry& e, size_t version) const;
  absl::Time NextTime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kNormal;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Entry> kv_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  int logins_ ABSL_GUARDED_BY(mu_) = 0;
  std::string racing_path_ ABSL_GUARDED_BY(mu_);
  int racing_writes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> paths_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_FAKE_VAULT_SERVER_H_
