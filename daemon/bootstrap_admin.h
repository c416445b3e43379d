// The bootstrap admin API key ("admin"): created at start according to
// DaemonOptions::bootstrap_admin_key, and (mode kOnce) its file deleted after
// the first call it authenticates. See docs/identity.md, "Bootstrap".
//
//   ASSIGN_OR_RETURN(bool written,
//                    PrepareBootstrapAdminKey(api_keys, mode, path, has_tcp));
//   ...
//   auto verifier = std::make_unique<BootstrapKeyFileRemover>(
//       std::move(inner), path);  // mode kOnce only
//
// Thread-safe where noted.
#ifndef ZLAYER_SECRETS_DAEMON_BOOTSTRAP_ADMIN_H_
#define ZLAYER_SECRETS_DAEMON_BOOTSTRAP_ADMIN_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "daemon/config.h"
#include "daemon/transport/api_key_verifier.h"

namespace zlayer::secrets {

// Applies `mode` at start. Returns true when a key was written to `path`:
//   kOnce  only when the daemon serves TCP (`serves_tcp`; over the Unix
//          socket administrators are known by uid and need no key) and no
//          "admin" key exists yet. A missing file is not rewritten.
//   kKeep  ApiKeyStore::EnsureBootstrapAdmin(path): created, or rotated and
//          rewritten when the file is missing.
//   kNone  nothing.
// Errors are those of ApiKeyStore (file write, store).
absl::StatusOr<bool> PrepareBootstrapAdminKey(ApiKeyStore* keys,
                                              BootstrapAdminKey mode,
                                              const std::string& path,
                                              bool serves_tcp);

// An ApiKeyVerifier that deletes the bootstrap key's file (once) after the
// first successful verification of the "admin" key, and logs it. The key
// itself stays valid: whoever read the file keeps it. Thread-safe.
class BootstrapKeyFileRemover final : public ApiKeyVerifier {
 public:
  BootstrapKeyFileRemover(std::unique_ptr<ApiKeyVerifier> inner,
                          std::string path)
      : inner_(std::move(inner)), path_(std::move(path)) {}

  absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                   const SecretBytes& secret) const override;
  absl::StatusOr<Principal> VerifyFrom(
      absl::string_view key_id, const SecretBytes& secret,
      const ApiKeyAttempt& attempt) const override;

 private:
  // Removes the file after the first success of the bootstrap key.
  absl::StatusOr<Principal> AfterVerify(
      absl::StatusOr<Principal> principal) const;

  std::unique_ptr<ApiKeyVerifier> inner_;
  const std::string path_;
  mutable std::atomic<bool> removed_{false};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_BOOTSTRAP_ADMIN_H_
