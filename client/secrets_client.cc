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
  if (options.failover.attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "failover.attempt_timeout must be positive");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both a certificate file and a key file");
  }
  const std::string listed =
      options.address.empty() ? DefaultSocketPath() : options.address;
  absl::StatusOr<std::vector<std::string>> addresses = SplitAddresses(listed);
  if (!addresses.ok()) return addresses.status();
  std::vector<ChannelTarget> targets;
  bool any_tls = false;
  for (const std::string& address : *addresses) {
    absl::StatusOr<ChannelTarget> target = ParseAddress(address);
    if (!target.ok()) return target.status();
    any_tls = any_tls || target->tls;
    targets.push_back(*std::move(target));
  }
  if (!any_tls &&
      (!options.tls_ca_file.empty() || !options.tls_cert_file.empty())) {
    return absl::InvalidArgumentError(
        "TLS options apply to HOST:PORT addresses, not Unix sockets");
  }

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

  std::shared_ptr<grpc::ChannelCredentials> tls_credentials;
  if (any_tls) {
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
    tls_credentials = grpc::SslCredentials(ssl);
    WipeString(&ssl.pem_private_key);
  }
  const SocketOwners owners = TrustedSocketOwners(options.daemon_user);
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < targets.size(); ++i) {
    ChannelTarget& target = targets[i];
    std::shared_ptr<grpc::ChannelCredentials> credentials = tls_credentials;
    if (!target.tls) {
      // Dial the checked real path, so a symlink swapped later changes
      // nothing.
      absl::StatusOr<std::string> socket =
          TrustedSocketTarget(target.grpc_target, owners);
      if (!socket.ok()) return socket.status();
      target.grpc_target = *std::move(socket);
      // A Unix socket is protected by its file permissions; the daemon
      // identifies the peer by its credentials.
      credentials = grpc::InsecureChannelCredentials();
    }
    endpoints.push_back(MakeEndpoint(
        (*addresses)[i],
        grpc::CreateCustomChannel(target.grpc_target, credentials, args)));
  }
  return std::unique_ptr<SecretsClient>(
      new SecretsClient(std::move(endpoints), std::move(options)));
}

std::unique_ptr<SecretsClient> SecretsClient::FromChannel(
    std::shared_ptr<grpc::Channel> channel, ClientOptions options) {
  std::vector<Endpoint> endpoints;
  endpoints.push_back(MakeEndpoint(options.address, std::move(channel)));
  return std::unique_ptr<SecretsClient>(
      new SecretsClient(std::move(endpoints), std::move(options)));
}

SecretsClient::Endpoint SecretsClient::MakeEndpoint(
    std::string address, std::shared_ptr<grpc::Channel> channel) {
  Endpoint e;
  e.address = std::move(address);
  e.secrets = v1::Secrets::NewStub(channel);
  e.admin = v1::Admin::NewStub(channel);
  e.health = grpc::health::v1::Health::NewStub(channel);
  e.channel = std::move(channel);
  return e;
}

SecretsClient::SecretsClient(std::vector<Endpoint> endpoints,
                             ClientOptions options)
    : endpoints_(std::move(endpoints)),
      options_(std::move(options)),
      daemons_(endpoints_.size(), options_.failover, RealClock::Default()) {
  if (!options_.api_key.empty()) {
    authorization_ = absl::StrCat("Bearer ", options_.api_key.InsecureView());
  }
  act_as_groups_ = absl::StrJoin(options_.act_as_groups, ",");
}

SecretsClient::~SecretsClient() { WipeString(&authorization_); }

void SecretsClient::AddIdentityMetadata(grpc::ClientContext* context,
                                        const CallOptions* call) const {
  if (!authorization_.empty()) {
    context->AddMetadata("authorization", authorization_);
  }
  if (call != nullptr && !call->act_as_user.empty()) {
    context->AddMetadata("x-zlayer-act-as-user", call->act_as_user);
    if (!call->act_as_groups.empty()) {
      context->AddMetadata("x-zlayer-act-as-groups",
                           absl::StrJoin(call->act_as_groups, ","));
    }
  } else if (!options_.act_as_user.empty()) {
    context->AddMetadata("x-zlayer-act-as-user", options_.act_as_user);
    if (!act_as_groups_.empty()) {
      context->AddMetadata("x-zlayer-act-as-groups", act_as_groups_);
    }
  }
}

absl::Status SecretsClient::WaitForConnected(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (endpoints_.size() == 1) {
    if (endpoints_[0].channel->WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::OkStatus();
    }
  } else {
    // Any daemon will do: watch each channel for a short slice in turn.
    while (absl::Now() < deadline) {
      for (size_t i : daemons_.AttemptOrder()) {
        grpc::Channel& channel = *endpoints_[i].channel;
        if (channel.GetState(true) == GRPC_CHANNEL_READY ||
            channel.WaitForConnected(absl::ToChronoTime(
                std::min(deadline, absl::Now() + absl::Milliseconds(50))))) {
          return absl::OkStatus();
        }
      }
    }
  }
  return absl::DeadlineExceededError(
      "the daemon did not become reachable in time");
}

std::string SecretsClient::CurrentAddress() const {
  return endpoints_[daemons_.AttemptOrder().front()].address;
}

SecretsClient::Endpoint& SecretsClient::Preferred() {
  return endpoints_[daemons_.AttemptOrder().front()];
}

bool SecretsClient::WaitReady(grpc::Channel& channel,
                              absl::Time deadline) const {
  grpc_connectivity_state state = channel.GetState(true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && !options_.wait_for_ready) {
      return false;
    }
    if (!channel.WaitForStateChange(state, absl::ToChronoTime(deadline))) {
      return false;
    }
    state = channel.GetState(true);
  }
  return true;
}

absl::Duration SecretsClient::NextBackoff(int retry) {
  absl::MutexLock lock(&mu_);
  return BackoffDelay(options_.retry, retry, bitgen_);
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> SecretsClient::Call(
    std::unique_ptr<Stub> Endpoint::*stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, CallKind kind, const CallOptions& call) {
  // One deadline bounds the whole call, retries and failover included.
  const absl::Time deadline =
      absl::Now() + call.timeout.value_or(options_.default_deadline);
  if (call.act_as_user.empty() && !call.act_as_groups.empty()) {
    return absl::InvalidArgumentError(
        "CallOptions::act_as_groups needs act_as_user (nothing was sent)");
  }
  absl::Status last;
  for (int round = 1;; ++round) {
    const std::vector<size_t> order = daemons_.AttemptOrder();
    for (size_t k = 0; k < order.size(); ++k) {
      const absl::Time now = absl::Now();
      if (now >= deadline && !last.ok()) return last;
      Endpoint& endpoint = endpoints_[order[k]];
      // While another daemon is left, one that hangs must leave it time.
      const absl::Time attempt_deadline =
          k + 1 == order.size()
              ? deadline
              : std::min(deadline, now + options_.failover.attempt_timeout);
      AttemptOutcome outcome;
      Response response;
      if (kind == CallKind::kWrite &&
          !WaitReady(*endpoint.channel, attempt_deadline)) {
        // gRPC writes nothing on a channel that is not READY: the request
        // provably never reached this daemon.
        outcome.sent = false;
        outcome.status = absl::UnavailableError(
            absl::StrCat("no connection to the daemon at ", endpoint.address,
                         " (the write was not sent)"));
      } else {
        // A sent write is never repeated on another daemon, so cutting it
        // short of the call's deadline would only turn a write that may
        // still succeed (a daemon waiting out an etcd leader election) into
        // "outcome unknown". Reads keep the short attempt: they move on.
        const absl::Time call_deadline =
            kind == CallKind::kWrite ? deadline : attempt_deadline;
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(call_deadline));
        context.set_wait_for_ready(options_.wait_for_ready);
        AddIdentityMetadata(&context, &call);
        outcome.status = FromGrpcStatus(
            ((*(endpoint.*stub)).*method)(&context, request, &response));
        outcome.attempt_deadline_passed =
            call_deadline < deadline && absl::Now() >= call_deadline;
      }
      if (outcome.status.ok()) {
        daemons_.RecordSuccess(order[k]);
        return response;
      }
      last = outcome.status;
      if (DecideAfterFailure(kind, outcome) == AfterFailure::kReturn) {
        if (!IsUnreachable(outcome.status)) {
          // The daemon's own answer (NotFound, PermissionDenied, ...).
          daemons_.RecordSuccess(order[k]);
          return outcome.status;
        }
        daemons_.RecordFailure(order[k]);
        return kind == CallKind::kWrite ? OutcomeUnknown(outcome.status)
                                        : outcome.status;
      }
      daemons_.RecordFailure(order[k]);
    }
    // Every daemon failed this round, and nothing was applied anywhere.
    if (round >= options_.retry.max_attempts) return last;
    absl::Duration delay = NextBackoff(round);
    if (absl::Now() + delay >= deadline) return last;
    absl::SleepFor(delay);
  }
}

#define ZS_CLIENT_METHOD(Service, stub, Method, Request, Response, kind) \
  absl::StatusOr<v1::Response> SecretsClient::Method(                    \
      const v1::Request& request, const CallOptions& call) {             \
    return Call(&Endpoint::stub, &v1::Service::Stub::Method, request,    \
                CallKind::kind, call);                                   \
  }

absl::StatusOr<std::string> SecretsClient::Backup(const CallOptions& call) {
  std::string file;
  absl::Status status = Backup(
      [&](absl::string_view piece) {
        file.append(piece.data(), piece.size());
        return absl::OkStatus();
      },
      call);
  if (!status.ok()) return status;
  return file;
}

absl::Status SecretsClient::Backup(
    absl::FunctionRef<absl::Status(absl::string_view piece)> sink,
    const CallOptions& call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(
      absl::Now() + call.timeout.value_or(options_.default_deadline)));
  context.set_wait_for_ready(options_.wait_for_ready);
  if (!authorization_.empty()) {
    context.AddMetadata("authorization", authorization_);
  }
  std::unique_ptr<grpc::ClientReader<v1::BackupChunk>> reader =
      Preferred().admin->Backup(&context, v1::BackupRequest());
  v1::BackupChunk chunk;
  absl::Status sunk;
  while (reader->Read(&chunk)) {
    sunk = sink(chunk.data());
    if (!sunk.ok()) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!sunk.ok()) return sunk;
  if (!status.ok()) return FromGrpcStatus(status);
  return absl::OkStatus();
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse>
SecretsClient::CheckHealth(const grpc::health::v1::HealthCheckRequest& request,
                           const CallOptions& call) {
  return Call(&Endpoint::health, &grpc::health::v1::Health::Stub::Check,
              request, CallKind::kRead, call);
}

// The value-revealing reads: CallOptions::seal_to, when set, replaces the
// request's seal_to.
#define ZS_SEALABLE_METHOD(Method, Request, Response)                      \
  absl::StatusOr<v1::Response> SecretsClient::Method(                      \
      const v1::Request& request, const CallOptions& call) {               \
    if (call.seal_to.empty()) {                                            \
      return Call(&Endpoint::secrets, &v1::Secrets::Stub::Method, request, \
                  CallKind::kRead, call);                                  \
    }                                                                      \
    v1::Request sealed = request;                                          \
    sealed.set_seal_to(call.seal_to);                                      \
    return Call(&Endpoint::secrets, &v1::Secrets::Stub::Method, sealed,    \
                CallKind::kRead, call);                                    \
  }

ZS_SEALABLE_METHOD(GetSecret, GetSecretRequest, GetSecretResponse)
ZS_SEALABLE_METHOD(GetSecrets, GetSecretsRequest, GetSecretsResponse)
ZS_CLIENT_METHOD(Secrets, secrets, ListSecrets, ListSecretsRequest,
                 ListSecretsResponse, kRead)
ZS_CLIENT_METHOD(Secrets, secrets, SecretExists, SecretExistsRequest,
                 SecretExistsResponse, kRead)
ZS_CLIENT_METHOD(Secrets, secrets, ListVersions, ListVersionsRequest,
                 ListVersionsResponse, kRead)
ZS_SEALABLE_METHOD(ResolveEnv, ResolveEnvRequest, ResolveEnvResponse)
ZS_CLIENT_METHOD(Secrets, secrets, CheckEnv, CheckEnvRequest, CheckEnvResponse,
                 kRead)
ZS_CLIENT_METHOD(Secrets, secrets, ListConsumers, ListConsumersRequest,
                 ListConsumersResponse, kRead)

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEnvResponse>>
SecretsClient::WatchEnv(grpc::ClientContext* context,
                        const v1::WatchEnvRequest& request) {
  context->set_wait_for_ready(options_.wait_for_ready);
  AddIdentityMetadata(context);
  return Preferred().secrets->WatchEnv(context, request);
}

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchSecretsResponse>>
SecretsClient::WatchSecrets(grpc::ClientContext* context,
                            const v1::WatchSecretsRequest& request) {
  context->set_wait_for_ready(options_.wait_for_ready);
  AddIdentityMetadata(context);
  return Preferred().secrets->WatchSecrets(context, request);
}
ZS_SEALABLE_METHOD(ExportSecrets, ExportSecretsRequest, ExportSecretsResponse)
ZS_CLIENT_METHOD(Secrets, secrets, SetSecret, SetSecretRequest,
                 SetSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, DeleteSecret, DeleteSecretRequest,
                 DeleteSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, UndeleteSecret, UndeleteSecretRequest,
                 UndeleteSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, DestroySecret, DestroySecretRequest,
                 DestroySecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, RotateSecret, RotateSecretRequest,
                 RotateSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, RollbackSecret, RollbackSecretRequest,
                 RollbackSecretResponse, kWrite)
ZS_CLIENT_METHOD(Secrets, secrets, ImportSecrets, ImportSecretsRequest,
                 ImportSecretsResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, GetEnvironment, GetEnvironmentRequest,
                 Environment, kRead)
ZS_CLIENT_METHOD(Admin, admin, ListEnvironments, ListEnvironmentsRequest,
                 ListEnvironmentsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, WhoAmI, WhoAmIRequest, WhoAmIResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, CreateEnvironment, CreateEnvironmentRequest,
                 Environment, kWrite)
ZS_CLIENT_METHOD(Admin, admin, UpdateEnvironment, UpdateEnvironmentRequest,
                 Environment, kWrite)
ZS_CLIENT_METHOD(Admin, admin, DeleteEnvironment, DeleteEnvironmentRequest,
                 DeleteEnvironmentResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, RotateMasterKey, RotateMasterKeyRequest,
                 RotateMasterKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, RekeyDataKeys, RekeyDataKeysRequest,
                 RekeyDataKeysResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, GetRekeyStatus, GetRekeyStatusRequest,
                 RekeyStatus, kRead)
ZS_CLIENT_METHOD(Admin, admin, ListApiKeys, ListApiKeysRequest,
                 ListApiKeysResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, ListClientKeys, ListClientKeysRequest,
                 ListClientKeysResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, RegisterClientKey, RegisterClientKeyRequest,
                 ClientKey, kWrite)
ZS_CLIENT_METHOD(Admin, admin, RevokeClientKey, RevokeClientKeyRequest,
                 ClientKey, kWrite)
ZS_CLIENT_METHOD(Admin, admin, CreateApiKey, CreateApiKeyRequest,
                 CreateApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, RotateApiKey, RotateApiKeyRequest,
                 CreateApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, SetApiKeyRoles, SetApiKeyRolesRequest, ApiKey,
                 kWrite)
ZS_CLIENT_METHOD(Admin, admin, DeleteApiKey, DeleteApiKeyRequest,
                 DeleteApiKeyResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, ListGrants, ListGrantsRequest,
                 ListGrantsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, Grant, GrantRequest, AccessGrant, kWrite)
ZS_CLIENT_METHOD(Admin, admin, Revoke, RevokeRequest, RevokeResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, RevokeMatching, RevokeMatchingRequest,
                 RevokeMatchingResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, ListRegistryCredentials,
                 ListRegistryCredentialsRequest,
                 ListRegistryCredentialsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, GetRegistryCredential,
                 GetRegistryCredentialRequest, GetRegistryCredentialResponse,
                 kRead)
ZS_CLIENT_METHOD(Admin, admin, CreateRegistryCredential,
                 CreateRegistryCredentialRequest, RegistryCredential, kWrite)
ZS_CLIENT_METHOD(Admin, admin, DeleteRegistryCredential,
                 DeleteRegistryCredentialRequest,
                 DeleteRegistryCredentialResponse, kWrite)
ZS_CLIENT_METHOD(Admin, admin, ListGitCredentials, ListGitCredentialsRequest,
                 ListGitCredentialsResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, GetGitCredential, GetGitCredentialRequest,
                 GetGitCredentialResponse, kRead)
ZS_CLIENT_METHOD(Admin, admin, CreateGitCredential, CreateGitCredentialRequest,
                 GitCredential, kWrite)
ZS_CLIENT_METHOD(Admin, admin, DeleteGitCredential, DeleteGitCredentialRequest,
                 DeleteGitCredentialResponse, kWrite)

#undef ZS_CLIENT_METHOD

}  // namespace zlayer::secrets
