// ApiKeyVerifier: turns an API key presented over TCP into a Principal.
//
// Callers on the TLS port send `authorization: Bearer <key-id>.<secret>` or
// `x-zlayer-api-key: <key-id>.<secret>`; ApiKeyIdentifier
// (daemon/transport/caller_identity.h) splits the key at the first '.' and asks
// the verifier, saying where the call came from. The daemon plugs in
// ApiKeyStoreVerifier (daemon/transport/api_key_store_verifier.h): core's
// ApiKeyStore (keyed hashes), a failure budget per source and per id, and
// coalesced audit records for failures.
//
//   absl::StatusOr<Principal> p =
//       verifier->VerifyFrom("ci", secret, {"ipv4:10.0.0.7", deadline});
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_VERIFIER_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_VERIFIER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"

namespace zlayer::secrets {

// Where an attempt comes from.
struct ApiKeyAttempt {
  // The caller's address without its port ("ipv4:127.0.0.1", "ipv6:[::1]"),
  // see SourceOfPeer().
  std::string source;
  // The call's deadline (waiting for a verification slot stops there).
  absl::Time deadline = absl::InfiniteFuture();
};

class ApiKeyVerifier {
 public:
  virtual ~ApiKeyVerifier() = default;
  // The principal the key belongs to (api_key_id and roles filled in), or
  // Unauthenticated when the key id is unknown, revoked, expired or the
  // secret does not match. The message never contains the secret.
  // Must be thread-safe and should be fast for keys verified before.
  virtual absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                           const SecretBytes& secret) const = 0;
  // The same, knowing the source: implementations may refuse with
  // ResourceExhausted (failure budget) or DeadlineExceeded. By default the
  // source is ignored.
  virtual absl::StatusOr<Principal> VerifyFrom(
      absl::string_view key_id, const SecretBytes& secret,
      const ApiKeyAttempt& attempt) const {
    return Verify(key_id, secret);
  }
};

// "ipv4:1.2.3.4:5678" -> "ipv4:1.2.3.4"; "ipv6:[::1]:5678" -> "ipv6:[::1]";
// anything else unchanged.
inline std::string SourceOfPeer(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  const size_t bracket = peer.rfind(']');
  if (peer.substr(0, 5) == "ipv4:" && colon > 4) {
    return std::string(peer.substr(0, colon));
  }
  if (peer.substr(0, 5) == "ipv6:" && bracket != absl::string_view::npos &&
      colon == bracket + 1) {
    return std::string(peer.substr(0, bracket + 1));
  }
  return std::string(peer);
}

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_VERIFIER_H_
