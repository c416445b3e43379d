// VaultClient: HTTP(S) requests to HashiCorp Vault's API (`/v1/...`) through
// libcurl, with the token handling every request needs: the X-Vault-Token
// and X-Vault-Namespace headers, AppRole login (`auth/approle/login`) and
// token renewal (`auth/token/renew-self`) before the lease runs out.
//
//   VaultClientOptions options;
//   options.address = "https://vault.internal:8200";
//   options.token = SecretBytes::FromString(token_from_file);
//   ASSIGN_OR_RETURN(std::unique_ptr<VaultClient> vault,
//                    VaultClient::Create(std::move(options), clock));
//   ASSIGN_OR_RETURN(VaultResponse r,
//                    vault->Request("GET", "secret/data/shop/db"));
//
// Errors (Request):
//   InvalidArgument    bad options (Create); HTTP 400
//   PermissionDenied   HTTP 403 (bad or expired token, policy)
//   NotFound           HTTP 404
//   FailedPrecondition HTTP 412 / a 400 naming check-and-set
//   DeadlineExceeded   no complete answer within `request_timeout`
//   Unavailable        connection failures, HTTP 429 and 5xx
//   ResourceExhausted  an answer larger than `max_response_bytes`
//   DataLoss           an answer that is not JSON
// Messages name the method, the path and Vault's own error strings (with
// the token scrubbed); never the token, a role or secret id, or a request
// or response body.
//
// Thread-safe: each request uses its own curl handle; the token state is
// behind a mutex.
#ifndef ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_CLIENT_H_
#define ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"

namespace zlayer::secrets {

struct VaultClientOptions {
  // Base URL, "http(s)://host:port" (VAULT_ADDR). Required.
  std::string address;
  // A token (VAULT_TOKEN), or empty with an AppRole below.
  SecretBytes token;
  // AppRole credentials: when both are set, the client logs in at
  // `auth/{approle_mount}/login` and again whenever the token cannot be
  // renewed.
  SecretBytes approle_role_id;
  SecretBytes approle_secret_id;
  std::string approle_mount = "approle";
  // Vault Enterprise namespace, sent as X-Vault-Namespace ("" = none).
  std::string vault_namespace;
  // PEM bundle of the CAs that sign Vault's certificate ("" = system CAs).
  std::string ca_file;
  // Each HTTP request (connect included) ends with DeadlineExceeded after
  // this long.
  absl::Duration request_timeout = absl::Seconds(10);
  // Largest answer read; values are at most 1 MiB, JSON escaping can grow
  // them.
  size_t max_response_bytes = 8 << 20;
  // A renewable token is renewed once this fraction of its lease is gone.
  double renew_after_fraction = 2.0 / 3.0;
};

// Reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and VAULT_CACERT through
// `getenv` (upstream's from_env). InvalidArgument naming a missing
// VAULT_ADDR or VAULT_TOKEN (never a value).
absl::StatusOr<VaultClientOptions> VaultClientOptionsFromEnv(
    const std::function<const char*(const char*)>& getenv);

struct VaultResponse {
  long http_status = 0;  // 2xx (others are errors)
  JsonValue body;        // null for an empty body (204)
};

class VaultClient {
 public:
  // InvalidArgument for a missing address, no token and no AppRole, or a
  // half AppRole. Does not contact Vault (the first request logs in).
  // `clock` (not owned) decides when to renew.
  static absl::StatusOr<std::unique_ptr<VaultClient>> Create(
      VaultClientOptions options, const Clock* clock);
  ~VaultClient();

  // `method` GET, POST, PUT, DELETE or LIST; `path` below /v1/ with its
  // segments already escaped (EscapePath) and an optional "?query";
  // `body` JSON or null. Logs in or renews first when due; a 403 on a
  // token obtained by AppRole logs in once more and retries.
  absl::StatusOr<VaultResponse> Request(absl::string_view method,
                                        absl::string_view path,
                                        const WipingString* body = nullptr);

  // Percent-escapes each '/'-separated segment of `path` (RFC 3986
  // unreserved characters stay); empty segments are dropped.
  static std::string EscapePath(absl::string_view path);

  // Whether a token is held and when it must be renewed (tests).
  absl::optional<absl::Time> renew_at() const;

 private:
  VaultClient(VaultClientOptions options, const Clock* clock);

  // Logs in (AppRole) or renews when due.
  absl::Status EnsureToken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Login() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Renew() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes client_token and lease_duration from a login/renew answer.
  absl::Status TakeAuth(const JsonValue& body, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One HTTP exchange with `token` (may be empty).
  absl::StatusOr<VaultResponse> Send(absl::string_view method,
                                     absl::string_view path,
                                     const WipingString* body,
                                     const SecretBytes& token) const;
  bool has_approle() const { return !options_.approle_role_id.empty(); }

  const VaultClientOptions options_;
  const Clock* clock_;
  mutable absl::Mutex mu_;
  SecretBytes token_ ABSL_GUARDED_BY(mu_);
  // Set for a token with a known renewable lease.
  absl::optional<absl::Time> renew_at_ ABSL_GUARDED_BY(mu_);
  bool token_renewable_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_VAULT_VAULT_CLIENT_H_
