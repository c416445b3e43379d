// The daemon's gRPC server: health, the queued Secrets/Admin/Watch services
// and embedders' extra_services; message-size limits; gRPC's sync pool for
// reflection and extra_services (16 threads); the interceptors (call
// tracker, metrics, parse errors, the call auditor); idle-connection and
// keepalive settings; and with --listen the TCP port, TLS (or mTLS) from the
// staged files that SIGHUP reloads, or insecure on loopback.
//
//   ASSIGN_OR_RETURN(server_, BuildGrpcServer(options, state, tls, &port));
//
// Unix-socket connections are handed to the server later
// (daemon/transport/unix_listener.h).
#ifndef ZLAYER_SECRETS_DAEMON_GRPC_SERVER_H_
#define ZLAYER_SECRETS_DAEMON_GRPC_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "daemon/config.h"
#include "daemon/daemon_state.h"
#include "daemon/transport/tls_files.h"
#include "grpcpp/grpcpp.h"

namespace zlayer::secrets {

// Builds and starts the server; `tcp_port` gets the bound port (0 without
// --listen). Unavailable when it cannot start or cannot bind --listen.
// `tls_files` null = no TLS.
absl::StatusOr<std::unique_ptr<grpc::Server>> BuildGrpcServer(
    const DaemonOptions& options, DaemonState* state, const TlsFiles* tls_files,
    int* tcp_port);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_GRPC_SERVER_H_
