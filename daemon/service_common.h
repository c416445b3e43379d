// Pieces every gRPC service handler uses: CallLog (the one log line per
// call, and the status mapping) and TakeSecret (secret request fields into
// SecretBytes).
//
// CallLog: the one log line each RPC handler writes when it finishes.
// Handlers fill in log-safe facts as they learn them (the caller's subject,
// then the scope and name once validated, a short detail such as
// "entries=3") and end with `return log.Finish(status);`, which logs the
// line and maps the status with ToGrpcStatus(). Requests, responses and
// values are never logged: the line holds only what is set here.
//
//   CallLog log("GetSecret");
//   log.subject = principal.Subject();
//   return log.Finish(status);
//
// Successes and client errors log at debug level; DataLoss, Internal and
// Unknown at error level with the status message (the operator's view of
// what the client only sees as a generic message). Core's status messages
// never contain values (core/secret_store.h). Not thread-safe; one per call.
#ifndef ZLAYER_SECRETS_DAEMON_SERVICE_COMMON_H_
#define ZLAYER_SECRETS_DAEMON_SERVICE_COMMON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/secret_bytes.h"
#include "grpcpp/support/status.h"

namespace zlayer::secrets {

class CallLog {
 public:
  explicit CallLog(absl::string_view rpc) : rpc_(rpc) {}

  // Logs the call and returns ToGrpcStatus(status).
  grpc::Status Finish(const absl::Status& status) const;

  std::string subject = "-";  // Principal::Subject(); "-" until identified
  std::string scope;          // set only once validated
  std::string name;           // set only once validated
  std::string detail;         // counts and flags, never values

 private:
  std::string rpc_;
};

// Copies a request's secret field (a value, a key, import content) into
// SecretBytes and wipes the field. The request object belongs to gRPC's call
// and is destroyed unread once the handler returns; it is not itself const
// (the sync API only hands it out as const), so wiping it early merely
// shortens the plaintext's life in ordinary memory.
SecretBytes TakeSecret(const std::string& field);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_SERVICE_COMMON_H_
