#include "daemon/service_common.h"

#include <string_view>

#include "daemon/grpc_status.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// fmt knows std::string_view, not Abseil's own string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace

grpc::Status CallLog::Finish(const absl::Status& status) const {
  const std::string code = absl::StatusCodeToString(status.code());
  const char* sep = detail.empty() ? "" : " ";
  switch (status.code()) {
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      spdlog::error("rpc={} subject={} scope={} name={}{}{} -> {}: {}", rpc_,
                    subject, scope, name, sep, detail, code,
                    Std(status.message()));
      break;
    default:
      spdlog::debug("rpc={} subject={} scope={} name={}{}{} -> {}", rpc_,
                    subject, scope, name, sep, detail, code);
      break;
  }
  return ToGrpcStatus(status);
}

SecretBytes TakeSecret(const std::string& field) {
  SecretBytes out = SecretBytes::FromString(field);
  WipeString(const_cast<std::string*>(&field));
  return out;
}

}  // namespace zlayer::secrets
