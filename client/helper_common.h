// What the credential helpers (docker-credential-zlayer,
// git-credential-zlayer) share: their few connection flags and the
// connection to the daemon. The helpers are thin clients: every decision
// (who may read which credential) is the daemon's.
//
//   absl::StatusOr<HelperArgs> args = ParseHelperArgs(argc, argv);
//   ASSIGN_OR_RETURN(auto client, ConnectHelper(*args));
//
// Flags (before or after the operation): --socket PATH, --address HOST:PORT,
// --tls-ca FILE, --tls-server-name NAME, --api-key-file FILE, --timeout
// SECONDS. Without --socket/--address the client's default socket applies
// ($ZLAYER_SECRETS_SOCKET first; see client/secrets_client.h).
#ifndef ZLAYER_SECRETS_CLIENT_HELPER_COMMON_H_
#define ZLAYER_SECRETS_CLIENT_HELPER_COMMON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/secrets_client.h"

namespace zlayer::secrets {

struct HelperArgs {
  std::string operation;  // the one positional argument (get, store, ...)
  ClientOptions client;
};

// InvalidArgument for an unknown flag, a missing value, or not exactly one
// operation. Reads --api-key-file.
absl::StatusOr<HelperArgs> ParseHelperArgs(int argc, char** argv);

absl::StatusOr<std::unique_ptr<SecretsClient>> ConnectHelper(HelperArgs args);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_HELPER_COMMON_H_
