// The one place where absl::Status becomes grpc::Status.
//
// Codes map one to one. Messages pass through, except for DataLoss, whose
// detail (which row, which check) goes to the operator log and not to the
// client: clients learn that stored data failed its integrity check.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_GRPC_STATUS_H_
#define ZLAYER_SECRETS_DAEMON_RPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace zlayer::secrets {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_GRPC_STATUS_H_
