// ParseErrorInterceptor: gives requests that gRPC could not parse the status
// the API promises for bad input.
//
// When a request body is not a valid protobuf message of the method's type
// (garbage bytes, a truncated message, a `string` field that is not UTF-8),
// gRPC C++ (1.51) answers before any handler runs with an empty message and
// INTERNAL on the sync API (proto3 messages have no
// InitializationErrorString), UNIMPLEMENTED on the callback API (its unary
// handler fails a call it could not deserialise that way). Both read as a
// server fault and tell the caller nothing. This interceptor rewrites exactly
// those statuses - INTERNAL, or UNIMPLEMENTED on a unary method, with an
// empty message - into INVALID_ARGUMENT "request message could not be parsed
// ...". Handlers never produce them: their errors go through ToGrpcStatus()
// and carry a message. An unknown method keeps its UNIMPLEMENTED: gRPC
// serves it through a generic (streaming) handler.
//
//   std::vector<std::unique_ptr<ServerInterceptorFactoryInterface>> f = ...;
//   f.push_back(std::make_unique<ParseErrorInterceptorFactory>());
//   builder.experimental().SetInterceptorCreators(std::move(f));
//
// Thread-safe (stateless).
#ifndef ZLAYER_SECRETS_DAEMON_RPC_PARSE_ERROR_INTERCEPTOR_H_
#define ZLAYER_SECRETS_DAEMON_RPC_PARSE_ERROR_INTERCEPTOR_H_

#include "grpcpp/support/server_interceptor.h"

namespace zlayer::secrets {

inline constexpr char kUnparsableRequestMessage[] =
    "request message could not be parsed (malformed protobuf, or a string "
    "field that is not valid UTF-8)";

class ParseErrorInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_PARSE_ERROR_INTERCEPTOR_H_
