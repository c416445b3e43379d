// SecretsClient: the C++ client of zlayer-secretsd (Secrets and Admin
// services of proto/secrets.proto).
//
// It wraps the generated stubs and adds what every caller needs:
//   * a deadline on every call (ClientOptions::default_deadline, or a
//     per-call CallOptions::timeout);
//   * retries with exponential backoff and jitter on UNAVAILABLE, for
//     idempotent reads only (Get*, List*, SecretExists, CheckEnv,
//     ExportSecrets, ResolveEnv, WhoAmI). Writes are sent at most once: a
//     write that timed out or failed UNAVAILABLE after it was sent may or
//     may not have been applied (the error says "outcome unknown"), and
//     only the caller can decide whether to repeat it;
//   * failover over several daemons of one cluster (a comma-separated
//     address list, client/failover.h): reads go to the next daemon when
//     one is unreachable; a write goes to the next daemon only when no
//     connection to the first could be made, so it was provably not sent.
//     The daemon that last answered is tried first (sticky); one that
//     failed is passed over for a growing backoff;
//   * an API key sent as `authorization: Bearer <key>` metadata;
//   * grpc::Status turned into absl::Status by FromGrpcStatus (codes one to
//     one, messages kept).
//
//   ClientOptions options;                  // default socket, 5 s deadline
//   ASSIGN_OR_RETURN(std::unique_ptr<SecretsClient> client,
//                    SecretsClient::Connect(std::move(options)));
//   v1::GetSecretRequest req;
//   req.mutable_target()->set_scope("prod");
//   req.set_name("db_password");
//   ASSIGN_OR_RETURN(v1::GetSecretResponse resp, client->GetSecret(req));
//
// Addresses (ClientOptions::address), one or a comma-separated list of
// daemons sharing one store ("unix:/run/a.sock,/run/b.sock",
// "h1:7000,h2:7000"; $ZLAYER_SECRETS_SOCKET may hold a list too):
//   ""                  the default Unix socket (DefaultSocketPath())
//   "unix:/run/x.sock"  a Unix socket, as gRPC spells it
//   "/run/x.sock", "./x.sock", "x/y.sock"  a Unix socket path (contains '/')
//   "host:port", "dns:///host:port", "[::1]:port"  TCP with TLS (always; the
//                       daemon refuses plaintext TCP)
//
// Default socket path (DefaultSocketPath()), first match wins:
//   1. $ZLAYER_SECRETS_SOCKET when set and non-empty;
//   2. /run/zlayer-secrets/zlayer-secretsd.sock (deploy/'s unit) when
//      running as root or when /run/zlayer-secrets exists;
//   3. $HOME/.zlayer/secrets/zlayer-secretsd.sock otherwise (upstream's
//      per-user data directory, the daemon's default for a non-root user).
// The current directory is never searched: a repository could carry a
// `.data/zlayer-secretsd.sock` symlink to a socket an attacker serves.
//
// Before dialling a Unix socket, Connect checks its owner and the
// directories above it (client/socket_trust.h) and dials the resolved path.
//
// SecretsClient is thread-safe; responses that carry values (GetSecret,
// GetSecrets, ResolveEnv, ExportSecrets) hold them in plain protobuf strings:
// callers should move them into SecretBytes and WipeString() the field.
#ifndef ZLAYER_SECRETS_CLIENT_SECRETS_CLIENT_H_
#define ZLAYER_SECRETS_CLIENT_SECRETS_CLIENT_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "client/failover.h"
#include "core/base/secret_bytes.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "proto/secrets.grpc.pb.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

// The one conversion of a gRPC status into an absl::Status: the numeric codes
// are shared (both follow google.rpc.Code) and the message is kept verbatim.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Retries of idempotent reads that failed with UNAVAILABLE.
//
// The delay before retry n (n = 1 after the first attempt) is
//   min(max_backoff, initial_backoff * multiplier^(n-1)) * U(1-jitter,
//   1+jitter)
// and no retry starts if its delay would pass the call's deadline: the
// deadline bounds the whole call, retries included.
struct RetryPolicy {
  int max_attempts = 4;  // attempts in total; 1 disables retries
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
  double multiplier = 2.0;
  double jitter = 0.2;  // 0..1: fraction of the delay drawn at random
};

// The delay before retry `retry` (1-based) under `policy`, drawing the
// jitter from `bitgen`. Pure apart from the random draw.
absl::Duration BackoffDelay(const RetryPolicy& policy, int retry,
                            absl::BitGenRef bitgen);

struct ClientOptions {
  // See the header comment: one address or a comma-separated list of
  // daemons to fail over between; "" = DefaultSocketPath().
  std::string address;
  // TLS (TCP addresses only). Empty CA file = the system's trust store.
  std::string tls_ca_file;
  // Client certificate and key for mutual TLS: both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Overrides the name checked against the server certificate.
  std::string tls_server_name;
  // Sent as `authorization: Bearer <key>` on every call when non-empty.
  SecretBytes api_key;
  // Delegated identity (docs/identity.md): when `act_as_user` is set, every
  // call carries `x-zlayer-act-as-user` (and `x-zlayer-act-as-groups`, the
  // groups joined by ','), and the daemon authorizes it as that user and
  // those groups. Needs an impersonate grant covering them.
  std::string act_as_user;
  std::vector<std::string> act_as_groups;
  // Deadline of every call that does not set its own; must be positive.
  absl::Duration default_deadline = absl::Seconds(5);
  // With several daemons, one round tries each once; reads, and writes
  // that were never sent, start another round (up to retry.max_attempts
  // rounds) after the backoff.
  RetryPolicy retry;
  // Several daemons: the per-daemon attempt bound and backoff.
  FailoverOptions failover;
  // Calls wait (up to their deadline) for the daemon to become reachable
  // instead of failing fast with UNAVAILABLE; handy right after starting it.
  bool wait_for_ready = false;
  // Unix sockets: the user the daemon runs as, trusted (with root and the
  // caller) to own the socket and the directories above it. A name or a
  // numeric uid; "" = $ZLAYER_SECRETS_DAEMON_USER, else "zlayer-secrets".
  std::string daemon_user;
};

// Per-call overrides.
struct CallOptions {
  absl::optional<absl::Duration> timeout;  // unset = default_deadline
  // Sealed reveals (docs/identity.md): for GetSecret, GetSecrets, ResolveEnv
  // and ExportSecrets, the id of a client key (RegisterClientKey) to seal
  // every value of the answer to; it replaces the request's own seal_to.
  // The answer then holds only sealed boxes (open them with
  // client/sealed_reveal.h). "" = the request's seal_to. Ignored by other
  // calls. (The explicit initializers keep `{timeout}` aggregate
  // initialisation free of -Wmissing-field-initializers.)
  std::string seal_to{};
  // Delegated identity for this call only (docs/identity.md): when
  // `act_as_user` is set, the call carries `x-zlayer-act-as-user` = it and
  // `x-zlayer-act-as-groups` = `act_as_groups` joined by ',' (none when
  // empty), instead of ClientOptions::act_as_user / act_as_groups. So one
  // client (one API key, one channel) serves every end user of a proxy.
  // "" = the client's own setting. Groups without a user are refused
  // (InvalidArgument) without sending anything. Unary calls only (the
  // Watch* streams and Backup take no CallOptions).
  std::string act_as_user{};
  std::vector<std::string> act_as_groups{};
};

// What DefaultSocketPathFor() looks at (DefaultSocketPath() fills it from the
// process: getenv, stat, geteuid, $HOME / getpwuid).
struct SocketPathInputs {
  absl::optional<std::string> env_socket;  // $ZLAYER_SECRETS_SOCKET
  bool system_dir_exists = false;          // /run/zlayer-secrets
  uid_t euid = 0;
  std::string home;
};

inline constexpr absl::string_view kSocketEnvVar = "ZLAYER_SECRETS_SOCKET";
// deploy/zlayer-secretsd.service: RuntimeDirectory=zlayer-secrets and
// --socket /run/zlayer-secrets/zlayer-secretsd.sock.
inline constexpr absl::string_view kSystemSocketDir = "/run/zlayer-secrets";
inline constexpr absl::string_view kSystemSocket =
    "/run/zlayer-secrets/zlayer-secretsd.sock";

std::string DefaultSocketPathFor(const SocketPathInputs& inputs);
std::string DefaultSocketPath();

// How an address is dialled.
struct ChannelTarget {
  std::string grpc_target;  // what grpc::CreateChannel gets
  bool tls = false;
};
// InvalidArgument when `address` is neither a socket path nor host:port.
// "" yields the default socket.
absl::StatusOr<ChannelTarget> ParseAddress(absl::string_view address);

class SecretsClient {
 public:
  // Validates `options`, reads the TLS files, and creates one channel per
  // daemon address. Channels connect lazily: an unreachable daemon shows up
  // as UNAVAILABLE on the first call (after every listed daemon was tried).
  // InvalidArgument for a bad address or address list, a non-positive
  // deadline, or half a client certificate; NotFound/PermissionDenied when a
  // TLS file cannot be read.
  static absl::StatusOr<std::unique_ptr<SecretsClient>> Connect(
      ClientOptions options);

  // For tests and embedders with their own channel (e.g. in-process).
  static std::unique_ptr<SecretsClient> FromChannel(
      std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  SecretsClient(const SecretsClient&) = delete;
  SecretsClient& operator=(const SecretsClient&) = delete;
  ~SecretsClient();

  // Waits until a channel to one of the daemons is connected;
  // DeadlineExceeded otherwise.
  absl::Status WaitForConnected(absl::Duration timeout);

  // The address of the daemon calls go to first: the one that last
  // answered (sticky), or the first listed before any call.
  std::string CurrentAddress() const;

  // Secrets service. Reads (retried on UNAVAILABLE):
  absl::StatusOr<v1::GetSecretResponse> GetSecret(
      const v1::GetSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::GetSecretsResponse> GetSecrets(
      const v1::GetSecretsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListSecretsResponse> ListSecrets(
      const v1::ListSecretsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::SecretExistsResponse> SecretExists(
      const v1::SecretExistsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListVersionsResponse> ListVersions(
      const v1::ListVersionsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ResolveEnvResponse> ResolveEnv(
      const v1::ResolveEnvRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::CheckEnvResponse> CheckEnv(
      const v1::CheckEnvRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListConsumersResponse> ListConsumers(
      const v1::ListConsumersRequest& request, const CallOptions& call = {});
  // Opens a WatchEnv / WatchSecrets stream (docs/watch.md) on `context`,
  // which the caller owns and keeps until the stream is finished. No
  // deadline is set (streams are long-lived; set one on `context` to bound
  // it); the caller's credentials are added. Read() until it returns false,
  // then Finish() for the status.
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEnvResponse>> WatchEnv(
      grpc::ClientContext* context, const v1::WatchEnvRequest& request);
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchSecretsResponse>>
  WatchSecrets(grpc::ClientContext* context,
               const v1::WatchSecretsRequest& request);
  absl::StatusOr<v1::ExportSecretsResponse> ExportSecrets(
      const v1::ExportSecretsRequest& request, const CallOptions& call = {});
  // Writes (sent at most once; failed over only when not sent):
  absl::StatusOr<v1::SetSecretResponse> SetSecret(
      const v1::SetSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::DeleteSecretResponse> DeleteSecret(
      const v1::DeleteSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::UndeleteSecretResponse> UndeleteSecret(
      const v1::UndeleteSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::DestroySecretResponse> DestroySecret(
      const v1::DestroySecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::RotateSecretResponse> RotateSecret(
      const v1::RotateSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::RollbackSecretResponse> RollbackSecret(
      const v1::RollbackSecretRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ImportSecretsResponse> ImportSecrets(
      const v1::ImportSecretsRequest& request, const CallOptions& call = {});

  // Admin.Backup (admin only): the bytes of a backup file of the whole
  // store, gathered from the stream. Sent once (never retried).
  absl::StatusOr<std::string> Backup(const CallOptions& call = {});
  // The same, each piece handed to `sink` as it arrives (nothing gathered);
  // a sink error cancels the call. On an error the pieces so far are no
  // backup: the caller discards them (BackupFileWriter does).
  absl::Status Backup(
      absl::FunctionRef<absl::Status(absl::string_view piece)> sink,
      const CallOptions& call = {});

  // Admin service. Reads (retried):
  absl::StatusOr<v1::Environment> GetEnvironment(
      const v1::GetEnvironmentRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListEnvironmentsResponse> ListEnvironments(
      const v1::ListEnvironmentsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI(const v1::WhoAmIRequest& request,
                                            const CallOptions& call = {});

  // grpc.health.v1.Health/Check (read, retried): the daemon's serving status
  // for `request.service()` ("" = the daemon as a whole). NotFound for a
  // service the daemon does not know; UNAVAILABLE when unreachable.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> CheckHealth(
      const grpc::health::v1::HealthCheckRequest& request,
      const CallOptions& call = {});
  // Writes (never retried):
  absl::StatusOr<v1::Environment> CreateEnvironment(
      const v1::CreateEnvironmentRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::Environment> UpdateEnvironment(
      const v1::UpdateEnvironmentRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::DeleteEnvironmentResponse> DeleteEnvironment(
      const v1::DeleteEnvironmentRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::RotateMasterKeyResponse> RotateMasterKey(
      const v1::RotateMasterKeyRequest& request, const CallOptions& call = {});
  // Data-key rotation: starts it (not retried) and reads its progress.
  absl::StatusOr<v1::RekeyDataKeysResponse> RekeyDataKeys(
      const v1::RekeyDataKeysRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::RekeyStatus> GetRekeyStatus(
      const v1::GetRekeyStatusRequest& request, const CallOptions& call = {});

  // Identity (Admin): reads are retried, writes are not. Responses of
  // CreateApiKey, RotateApiKey, GetRegistryCredential and GetGitCredential
  // hold secrets
  // (presentable_key, password, value): wipe them after use.
  absl::StatusOr<v1::ListApiKeysResponse> ListApiKeys(
      const v1::ListApiKeysRequest& request, const CallOptions& call = {});
  // Client keys for sealed reveals (any caller, for itself).
  absl::StatusOr<v1::ListClientKeysResponse> ListClientKeys(
      const v1::ListClientKeysRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ClientKey> RegisterClientKey(
      const v1::RegisterClientKeyRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::ClientKey> RevokeClientKey(
      const v1::RevokeClientKeyRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::CreateApiKeyResponse> CreateApiKey(
      const v1::CreateApiKeyRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::CreateApiKeyResponse> RotateApiKey(
      const v1::RotateApiKeyRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ApiKey> SetApiKeyRoles(
      const v1::SetApiKeyRolesRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::DeleteApiKeyResponse> DeleteApiKey(
      const v1::DeleteApiKeyRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListGrantsResponse> ListGrants(
      const v1::ListGrantsRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::AccessGrant> Grant(const v1::GrantRequest& request,
                                        const CallOptions& call = {});
  absl::StatusOr<v1::RevokeResponse> Revoke(const v1::RevokeRequest& request,
                                            const CallOptions& call = {});
  absl::StatusOr<v1::RevokeMatchingResponse> RevokeMatching(
      const v1::RevokeMatchingRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::ListRegistryCredentialsResponse> ListRegistryCredentials(
      const v1::ListRegistryCredentialsRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::GetRegistryCredentialResponse> GetRegistryCredential(
      const v1::GetRegistryCredentialRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::RegistryCredential> CreateRegistryCredential(
      const v1::CreateRegistryCredentialRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::DeleteRegistryCredentialResponse> DeleteRegistryCredential(
      const v1::DeleteRegistryCredentialRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::ListGitCredentialsResponse> ListGitCredentials(
      const v1::ListGitCredentialsRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::GetGitCredentialResponse> GetGitCredential(
      const v1::GetGitCredentialRequest& request, const CallOptions& call = {});
  absl::StatusOr<v1::GitCredential> CreateGitCredential(
      const v1::CreateGitCredentialRequest& request,
      const CallOptions& call = {});
  absl::StatusOr<v1::DeleteGitCredentialResponse> DeleteGitCredential(
      const v1::DeleteGitCredentialRequest& request,
      const CallOptions& call = {});

 private:
  // One daemon: its address (as listed) and its channel and stubs.
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Secrets::Stub> secrets;
    std::unique_ptr<v1::Admin::Stub> admin;
    std::unique_ptr<grpc::health::v1::Health::Stub> health;
  };
  static Endpoint MakeEndpoint(std::string address,
                               std::shared_ptr<grpc::Channel> channel);

  SecretsClient(std::vector<Endpoint> endpoints, ClientOptions options);

  // Runs one RPC with deadline, metadata, retries and failover
  // (client/failover.h decides what may be repeated where).
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(
      std::unique_ptr<Stub> Endpoint::*stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      const Request& request, CallKind kind, const CallOptions& call);

  // Waits until `channel` is READY, up to `deadline`. False when it is not
  // by then, or (unless wait_for_ready) as soon as it fails to connect.
  bool WaitReady(grpc::Channel& channel, absl::Time deadline) const;

  // The endpoint streams (Watch*, Backup) open on: the first in order.
  Endpoint& Preferred();

  absl::Duration NextBackoff(int retry);

  std::vector<Endpoint> endpoints_;
  ClientOptions options_;
  DaemonSet daemons_;
  std::string authorization_;  // "Bearer <key>" or ""; wiped on destruction
  std::string act_as_groups_;  // act_as_groups joined by ','

  // authorization and act-as metadata: `call`'s act-as when it sets one,
  // else the client's (`call` may be null).
  void AddIdentityMetadata(grpc::ClientContext* context,
                           const CallOptions* call = nullptr) const;
  absl::Mutex mu_;
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_SECRETS_CLIENT_H_
