#include "daemon/api_key_store_verifier.h"

#include <string>

#include "core/status_macros.h"

namespace zlayer::secrets {

absl::StatusOr<Principal> ApiKeyStoreVerifier::Verify(
    absl::string_view key_id, const SecretBytes& secret) const {
  // The joined key is as secret as its parts: build it in SecretBytes and
  // wipe the temporary string.
  std::string joined;
  joined.reserve(key_id.size() + 1 + secret.size());
  joined.append(key_id.data(), key_id.size());
  joined.push_back('.');
  joined.append(secret.InsecureView().data(), secret.size());
  SecretBytes presented = SecretBytes::FromString(joined);
  WipeString(&joined);
  ASSIGN_OR_RETURN(ApiKeyInfo info, keys_->Verify(presented.InsecureView()));
  Principal principal;
  principal.api_key_id = info.id;
  principal.roles = info.roles;
  return principal;
}

}  // namespace zlayer::secrets
