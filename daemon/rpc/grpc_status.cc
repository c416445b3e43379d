#include "daemon/rpc/grpc_status.h"

#include <string>

namespace zlayer::secrets {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering (both follow
  // google.rpc.Code).
  auto code = static_cast<grpc::StatusCode>(static_cast<int>(status.code()));
  if (status.code() == absl::StatusCode::kDataLoss) {
    return grpc::Status(code, "stored data failed its integrity check");
  }
  return grpc::Status(code, std::string(status.message()));
}

}  // namespace zlayer::secrets
