// ApiKeyVerifier: turns an API key presented over TCP into a Principal.
//
// Callers on the TLS port send `authorization: Bearer <key-id>.<secret>` or
// `x-zlayer-api-key: <key-id>.<secret>`; ApiKeyIdentifier
// (daemon/caller_identity.h) splits the key at the first '.' and asks the
// verifier. The daemon plugs in ApiKeyStoreVerifier
// (daemon/api_key_store_verifier.h): core's ApiKeyStore, hashed with
// Argon2id, with a cache of verified keys so that calls are not bound by
// Argon2.
//
//   absl::StatusOr<Principal> p = verifier->Verify("ci", secret);
#ifndef ZLAYER_SECRETS_DAEMON_API_KEY_VERIFIER_H_
#define ZLAYER_SECRETS_DAEMON_API_KEY_VERIFIER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/access.h"
#include "core/secret_bytes.h"

namespace zlayer::secrets {

class ApiKeyVerifier {
 public:
  virtual ~ApiKeyVerifier() = default;
  // The principal the key belongs to (api_key_id and roles filled in), or
  // Unauthenticated when the key id is unknown, revoked, expired or the
  // secret does not match. The message never contains the secret.
  // Must be thread-safe and should be fast for keys verified before.
  virtual absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                           const SecretBytes& secret) const = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_API_KEY_VERIFIER_H_
