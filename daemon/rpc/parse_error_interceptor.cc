#include "daemon/rpc/parse_error_interceptor.h"

#include "grpcpp/support/status.h"

namespace zlayer::secrets {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(bool unary) : unary_(unary) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_message().empty() &&
          (status.error_code() == grpc::StatusCode::INTERNAL ||
           (unary_ &&
            status.error_code() == grpc::StatusCode::UNIMPLEMENTED))) {
        methods->ModifySendStatus(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT, kUnparsableRequestMessage));
      }
    }
    methods->Proceed();
  }

 private:
  // Unknown methods reach gRPC's generic handler (a streaming method) and
  // keep their UNIMPLEMENTED.
  const bool unary_;
};

}  // namespace

grpc::experimental::Interceptor*
ParseErrorInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new ParseErrorInterceptor(
      info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY);
}

}  // namespace zlayer::secrets
