#include "daemon/grpc_server.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/rpc/parse_error_interceptor.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace zlayer::secrets {
namespace {

// gRPC's thread cap for the sync services (reflection, extra_services).
constexpr int kSyncServiceThreads = 16;
// Server keepalive pings find dead peers of long-lived calls (health Watch)
// and of idle connections.
constexpr int kKeepaliveTimeMs = 2 * 60 * 1000;
constexpr int kKeepaliveTimeoutMs = 20 * 1000;
// How often gRPC's FileWatcherCertificateProvider re-reads the staged TLS
// files (they change only when SIGHUP stages new ones).
constexpr unsigned int kTlsRefreshSeconds = 1;

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::Server>> BuildGrpcServer(
    const DaemonOptions& options, DaemonState* state, const TlsFiles* tls_files,
    int* tcp_port) {
  grpc::ServerBuilder builder;
  builder.RegisterService(&state->health);
  for (auto& service : state->services) builder.RegisterService(service.get());
  for (grpc::Service* service : options.extra_services) {
    builder.RegisterService(service);
  }
  const int max_message =
      static_cast<int>(std::min<size_t>(options.max_message_bytes, INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // Only sync services use gRPC's own thread pool: reflection, and what an
  // embedder adds (extra_services). Secrets and Admin queue on the
  // CallQueue; health never blocks.
  grpc::ResourceQuota quota("zlayer-secretsd");
  quota.SetMaxThreads(kSyncServiceThreads);
  builder.SetResourceQuota(quota);
  auto interceptors = state->calls.Factories();
  interceptors.push_back(state->metrics.InterceptorFactory());
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  for (auto& factory : state->auditor->Factories()) {
    interceptors.push_back(std::move(factory));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Connections with no call for this long are closed. It also bounds
  // connections handed over with AddInsecureChannelFromFd, which the
  // handshake timeout does not cover.
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(options.idle_connection_timeout),
          INT32_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC keeps channelz data only while this is on (its default in 1.51,
  // stated so that --channelz does not depend on it).
  if (options.channelz) builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 1);

  if (!options.listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (tls_files != nullptr) {
      auto provider =
          tls_files->mutual()
              ? std::make_shared<
                    grpc::experimental::FileWatcherCertificateProvider>(
                    tls_files->key_path(), tls_files->cert_path(),
                    tls_files->ca_path(), kTlsRefreshSeconds)
              : std::make_shared<
                    grpc::experimental::FileWatcherCertificateProvider>(
                    tls_files->key_path(), tls_files->cert_path(),
                    kTlsRefreshSeconds);
      grpc::experimental::TlsServerCredentialsOptions tls(provider);
      tls.watch_identity_key_cert_pairs();
      if (tls_files->mutual()) {
        tls.watch_root_certs();
        tls.set_cert_request_type(
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      } else {
        tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      }
      credentials = grpc::experimental::TlsServerCredentials(tls);
    } else {
      // ValidateOptions allowed this only for loopback + --insecure-loopback.
      credentials = grpc::InsecureServerCredentials();
    }
    builder.AddListeningPort(options.listen, credentials, tcp_port);
  }

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(
        options.listen.empty()
            ? std::string("cannot start the gRPC server")
            : absl::StrCat("cannot start the gRPC server (is --listen ",
                           options.listen, " free and valid?)"));
  }
  if (!options.listen.empty() && *tcp_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  return server;
}

}  // namespace zlayer::secrets
