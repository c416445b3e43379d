// ApiKeyStoreVerifier: the ApiKeyVerifier the daemon plugs into its TCP
// identifier, backed by core's ApiKeyStore (Argon2id hashes with a cache of
// verified keys, so a call with a known key costs one keyed hash).
//
// ApiKeyIdentifier splits the presented "zs_<id>.<secret>" at its first '.';
// this adapter joins the two parts again and asks ApiKeyStore::Verify, which
// parses the whole key. The principal gets api_key_id = the key's id (no
// "zs_" prefix) and its roles.
//
//   ApiKeyStoreVerifier verifier(api_keys.get());
//   ApiKeyIdentifier tcp(&verifier, Transport::kTls);
//
// Thread-safe (ApiKeyStore is).
#ifndef ZLAYER_SECRETS_DAEMON_API_KEY_STORE_VERIFIER_H_
#define ZLAYER_SECRETS_DAEMON_API_KEY_STORE_VERIFIER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/access.h"
#include "core/api_key_store.h"
#include "core/secret_bytes.h"
#include "daemon/api_key_verifier.h"

namespace zlayer::secrets {

class ApiKeyStoreVerifier final : public ApiKeyVerifier {
 public:
  // `keys` is not owned and must outlive the verifier.
  explicit ApiKeyStoreVerifier(ApiKeyStore* keys) : keys_(keys) {}

  // Unauthenticated "invalid API key" for an unknown id, a wrong secret or
  // a deleted key (at once: deletion drops the cache entry); other store
  // errors propagate (the identifier reports them as UNAVAILABLE).
  absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                   const SecretBytes& secret) const override;

 private:
  ApiKeyStore* keys_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_API_KEY_STORE_VERIFIER_H_
