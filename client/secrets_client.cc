#include "client/secrets_client.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/socket_trust.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace zlayer::secrets {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::Status(
      static_cast<absl::StatusCode>(static_cast<int>(status.error_code())),
      status.error_message());
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int retry,
                            absl::BitGenRef bitgen) {
  double base = absl::ToDoubleSeconds(policy.initial_backoff) *
                std::pow(policy.multiplier, std::max(0, retry - 1));
  base = std::min(base, absl::ToDoubleSeconds(policy.max_backoff));
  double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  double factor =
      jitter > 0 ? absl::Uniform<double>(absl::IntervalClosedClosed, bitgen,
                                         1.0 - jitter, 1.0 + jitter)
                 : 1.0;
  return absl::Seconds(std::max(0.0, base * factor));
}

std::string DefaultSocketPathFor(const SocketPathInputs& inputs) {
  if (inputs.env_socket.has_value() && !inputs.env_socket->empty()) {
    return *inputs.env_socket;
  }
  if (inputs.euid == 0 || inputs.system_dir_exists) {
    return std::string(kSystemSocket);
  }
  return absl::StrCat(inputs.home, "/.zlayer/secrets/zlayer-secretsd.sock");
}

std::string DefaultSocketPath() {
  SocketPathInputs inputs;
  std::string env_var(kSocketEnvVar);
  if (const char* v = std::getenv(env_var.c_str()); v != nullptr) {
    inputs.env_socket = v;
  }
  std::string system_dir(kSystemSocketDir);
  struct stat st;
  inputs.system_dir_exists = ::stat(system_dir.c_str(), &st) == 0;
  inputs.euid = ::geteuid();
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    inputs.home = home;
  } else if (const struct passwd* pw = ::getpwuid(inputs.euid);
             pw != nullptr && pw->pw_dir != nullptr) {
    inputs.home = pw->pw_dir;
  }
  return DefaultSocketPathFor(inputs);
}

absl::StatusOr<ChannelTarget> ParseAddress(absl::string_view address) {
  if (address.empty()) return ParseAddress(DefaultSocketPath());
  if (absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "unix-abstract:")) {
    return ChannelTarget{std::string(address), false};
  }
  if (absl::StrContains(address, '/') && !absl::StrContains(address, "://")) {
    return ChannelTarget{absl::StrCat("unix:", address), false};
  }
  absl::string_view host_port = address;
  if (absl::StartsWith(host_port, "dns:///")) host_port.remove_prefix(7);
  size_t colon = host_port.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port == 0 ||
      port > 65535 || absl::StrContains(host_port, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", address,
        "' is neither a Unix socket path (unix:PATH or a path with '/') nor "
        "HOST:PORT"));
  }
  return ChannelTarget{std::string(address), true};
}

namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " file '", path, "'"));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "unix:PATH" (or "unix://PATH") -> "unix:" + the verified real path.
// Abstract sockets have no owner or directory to check: any local user can
// claim a name, so they are refused.
absl::StatusOr<std::string> TrustedSocketTarget(absl::string_view target,
                                                const SocketOwners& owners) {
  if (absl::StartsWith(target, "unix-abstract:")) {
    return absl::InvalidArgumentError(
        "abstract Unix sockets are refused: any local user can claim the "
        "name, so the daemon cannot be told apart from an impostor");
  }
  absl::string_view path = target;
  if (!absl::ConsumePrefix(&path, "unix://")) {
    absl::ConsumePrefix(&path, "unix:");
  }
  absl::StatusOr<std::string> real = VerifyUnixSocket(path, owners);
  if (!real.ok()) return real.status();
  return absl::StrCat("unix:", *real);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SecretsClient>> SecretsClient::Connect(
    ClientOptions options) {
  if (options.default_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the default deadline must be positive");
  }
  if (options.retry.max_attempts < 1) {
    return absl::InvalidArgumentError("retry.max_attempts must be at least 1");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both a certificate file and a key file");
  }
  absl::StatusOr<ChannelTarget> target = ParseAddress(options.address);
  if (!target.ok()) return target.status();

  grpc::ChannelArguments args;
  // Our own retry loop decides what is retried; gRPC's must not add attempts.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // Reconnect quickly to a daemon that is (re)starting. The minimum stays
  // at gRPC's default on purpose: GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is also
  // the least time a connection attempt (TCP, TLS handshake, HTTP/2
  // SETTINGS) is given, and at 100 ms a TLS connect on a busy machine failed
  // with "timed out before receiving SETTINGS frame". The call's own
  // deadline still bounds every attempt.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (target->tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          ReadWholeFile(options.tls_ca_file, "TLS CA");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadWholeFile(options.tls_cert_file, "TLS certificate");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadWholeFile(options.tls_key_file, "TLS key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
    credentials = grpc::SslCredentials(ssl);
    WipeString(&ssl.pem_private_key);
  } else {
    if (!options.tls_ca_file.empty() || !options.tls_cert_file.empty()) {
      return absl::InvalidArgumentError(
          "TLS options apply to HOST:PORT addresses, not Unix sockets");
    }
    // Dial the checked real path, so a symlink swapped later changes nothing.
    absl::StatusOr<std::string> socket = TrustedSocketTarget(
        target->grpc_target, TrustedSocketOwners(options.daemon_user));
    if (!socket.ok()) return socket.status();
    target->grpc_target = *std::move(socket);
    // A Unix socket is protected by its file permissions; the daemon
    // identifies the peer by its credentials.
    credentials = grpc::InsecureChannelCredentials();
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target->grpc_target, credentials, args);
  return FromChannel(std::move(channel), std::move(options));
}

std::unique_ptr<SecretsClient> SecretsClient::FromChannel(
    std::shared_ptr<grpc::Channel> channel, ClientOptions options) {
  return std::unique_ptr<SecretsClient>(
      new SecretsClient(std::move(channel), std::move(options)));
}

SecretsClient::SecretsClient(std::shared_ptr<grpc::Channel> channel,
                             ClientOptions options)
    : channel_(std::move(channel)),
      options_(std::move(options)),
      secrets_(v1::Secrets::NewStub(channel_)),
      admin_(v1::Admin::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {
  if (!options_.api_key.empty()) {
    authorization_ = absl::StrCat("Bearer ", options_.api_key.InsecureView());
  }
  act_as_groups_ = absl::StrJoin(options_.act_as_groups, ",");
}

SecretsClient::~SecretsClient() { WipeString(&authorization_); }

void SecretsClient::AddIdentityMetadata(grpc::ClientContext* context) const {
  if (!authorization_.empty()) {
    context->AddMetadata("authorization", authorization_);
  }
  if (!options_.act_as_user.empty()) {
    context->AddMetadata("x-zlayer-act-as-user", options_.act_as_user);
    if (!act_as_groups_.empty()) {
      context->AddMetadata("x-zlayer-act-as-groups", act_as_groups_);
    }
  }
}

absl::Status SecretsClient::WaitForConnected(absl::Duration timeout) {
  if (channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      "the daemon did not become reachable in time");
}

absl::Duration SecretsClient::NextBackoff(int retry) {
  absl::MutexLock lock(&mu_);
  return BackoffDelay(options_.retry, retry, bitgen_);
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> SecretsClient::Call(
    Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, Idempotency idempotency, const CallOptions& call) {
  // One deadline bounds the whole call, retries included.
  const absl::Time deadline =
      absl::Now() + call.timeout.value_or(options_.default_deadline);
  const int max_attempts =
      idempotency == Idempotency::kRead ? options_.retry.max_attempts : 1;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    context.set_wait_for_ready(options_.wait_for_ready);
    AddIdentityMetadata(&context);
    Response response;
    grpc::Status status = (stub->*method)(&context, request, &response);
    if (status.ok()) return response;
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        attempt >= max_attempts) {
      return FromGrpcStatus(status);
    }
    absl::Duration delay = NextBackoff(attempt);
    if (absl::Now() + delay >= deadline) return FromGrpcStatus(status);
    absl::SleepFor(delay);
  }
}

#define ZS_CLIENT_METHOD(Service, stub, Method, Request, Response, kind) \
  absl::StatusOr<v1::Response> SecretsClient::Method(                    \
      const v1::Request& request, const CallOptions& call) {             \
    return Call(stub.get(), &v1::Service::Stub::Method, request,         \
                Idempotency::kind, call);                                \
  }

absl::StatusOr<std::string> SecretsClient::Backup(const CallOptions& call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(
      absl::Now() + call.timeout.value_or(options_.default_deadline)));
  context.set_wait_for_ready(options_.wait_for_ready);
  if (!authorization_.empty()) {
    context.AddMetadata("authorization", authorization_);
  }
  std::unique_ptr<grpc::ClientReader<v1::BackupChunk>> reader =
      admin_->Backup(&context, v1::BackupRequest());
  std::string file;
  v1::BackupChunk chunk;
  while (reader->Read(&chunk)) file += chunk.data();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return file;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse>
SecretsClient::CheckHealth(const grpc::health::v1::HealthCheckRequest& request,
                           const CallOptions& call) {
  return Call(health_.get(), &grpc::health::v1::Health::Stub::Check, request,
              Idempotency::kRead, call);
}

// The value-revealing reads: CallOptions::seal_to, when set, replaces the
// request's seal_to.
#define ZS_SEALABLE_METHOD(Method, Request, Response)                  \
  absl::StatusOr<v1::Response> SecretsClient::Method(                  \
      const v1::Request& request, const CallOptions& call) {           \
    if (call.seal_to.empty()) {                                        \
      return Call(secrets_.get(), &v1::Secrets::Stub::Method, request, \
                  Idempotency::kRead, call);                           \
    }                                                                  \
    v1::Request sealed = request;                                      \
    sealed.set_seal_to(call.seal_to);                                  \
    return Call(secrets_.get(), &v1::Secrets::Stub::Method, sealed,    \
                Idempotency::kRead, call);                             \
  }

ZS_SEALABLE_METHOD(GetSecret, GetSecretRequest, GetSecretResponse)
ZS_SEALABLE_METHOD(GetSecrets, GetSecretsRequest, GetSecretsResponse)
ZS_CLIENT_METHOD(Secrets, secrets_, ListSecrets, ListSecretsRequest,
                 ListSecretsResponse, kRead)
ZS_CLIENT_METHOD(Secrets, secrets_, SecretExists, SecretExistsRequest,
                 SecretExistsResponse, kRead)
ZS_CLIENT_METHOD(Secrets, secrets_, ListVersions, ListVersionsRequest,
                 ListVersionsResponse, kRead)
ZS_SEALABLE_METHOD(ResolveEnv, ResolveEnvRequest, ResolveEnvResponse)
ZS_CLIENT_METHOD(Secrets, secrets_, CheckEnv, CheckEnvRequest, CheckEnvResponse,
                 kRead)
ZS_CLIENT_METHOD(Secrets, secrets_, ListConsumers, ListConsumersRequest,
                 ListConsumersResponse, kRead)

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEnvResponse>>
SecretsClient::WatchEnv(grpc::ClientContext* context,
                        const v1::WatchEnvRequest& request) {
  context->set_wait_for_ready(options_.wait_for_ready);
  AddIdentityMetadata(context);
  return secrets_->WatchEnv(context, request);
}

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchSecretsResponse>>
SecretsClient::WatchSecrets(grpc::ClientContext* context,
                            const v1::WatchSecretsRequest& request) {
  context->set_wait_for_ready(options_.wait_for_ready);
  AddIdentityMetadata(context);
  return secrets_->WatchSecrets(context, request);
}
ZS_SEALABLE_METHOD(ExportSecrets, ExportSecretsRequest, ExportSecretsResponse)
ZS_CLIENT_METHOD(Secrets, secrets_, SetSecret, SetSecretRequest,
                 SetSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, DeleteSecret, DeleteSecretRequest,
                 DeleteSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, UndeleteSecret, UndeleteSecretRequest,
                 UndeleteSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, DestroySecret, DestroySecretRequest,
                 DestroySecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, RotateSecret, RotateSecretRequest,
                 RotateSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, RollbackSecret, RollbackSecretRequest,
                 RollbackSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets_, ImportSecrets, ImportSecretsRequest,
                 ImportSecretsResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, GetEnvironment, GetEnvironmentRequest,
                 Environment, kRead)
ZS_CLIENT_METHOD(Admin, admin_, ListEnvironments, ListEnvironmentsRequest,
                 ListEnvironmentsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, WhoAmI, WhoAmIRequest, WhoAmIResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, CreateEnvironment, CreateEnvironmentRequest,
                 Environment, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, UpdateEnvironment, UpdateEnvironmentRequest,
                 Environment, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, DeleteEnvironment, DeleteEnvironmentRequest,
                 DeleteEnvironmentResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, RotateMasterKey, RotateMasterKeyRequest,
                 RotateMasterKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, RekeyDataKeys, RekeyDataKeysRequest,
                 RekeyDataKeysResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, GetRekeyStatus, GetRekeyStatusRequest,
                 RekeyStatus, kRead)
ZS_CLIENT_METHOD(Admin, admin_, ListApiKeys, ListApiKeysRequest,
                 ListApiKeysResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, ListClientKeys, ListClientKeysRequest,
                 ListClientKeysResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, RegisterClientKey, RegisterClientKeyRequest,
                 ClientKey, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, RevokeClientKey, RevokeClientKeyRequest,
                 ClientKey, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, CreateApiKey, CreateApiKeyRequest,
                 CreateApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, RotateApiKey, RotateApiKeyRequest,
                 CreateApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, SetApiKeyRoles, SetApiKeyRolesRequest, ApiKey,
                 kWrite)
ZS_CLIENT_METHOD(Admin, admin_, DeleteApiKey, DeleteApiKeyRequest,
                 DeleteApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, ListGrants, ListGrantsRequest,
                 ListGrantsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, Grant, GrantRequest, AccessGrant, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, Revoke, RevokeRequest, RevokeResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, RevokeMatching, RevokeMatchingRequest,
                 RevokeMatchingResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, ListRegistryCredentials,
                 ListRegistryCredentialsRequest,
                 ListRegistryCredentialsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, GetRegistryCredential,
                 GetRegistryCredentialRequest, GetRegistryCredentialResponse,
                 kRead)
ZS_CLIENT_METHOD(Admin, admin_, CreateRegistryCredential,
                 CreateRegistryCredentialRequest, RegistryCredential, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, DeleteRegistryCredential,
                 DeleteRegistryCredentialRequest,
                 DeleteRegistryCredentialResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, ListGitCredentials, ListGitCredentialsRequest,
                 ListGitCredentialsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, GetGitCredential, GetGitCredentialRequest,
                 GetGitCredentialResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin_, CreateGitCredential, CreateGitCredentialRequest,
                 GitCredential, kWrite)
ZS_CLIENT_METHOD(Admin, admin_, DeleteGitCredential, DeleteGitCredentialRequest,
                 DeleteGitCredentialResponse, kWrite)

#undef ZS_CLIENT_METHOD

}  // namespace zlayer::secrets
