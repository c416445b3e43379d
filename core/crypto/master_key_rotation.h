// Master-key rotation that survives a crash, and the recovery at start.
//
// A rotation stages the new key beside the key file, moves the store to it,
// then promotes it over the key file (core/crypto/key_manager.h). A crash
// can stop it at any point; OpenWithKeyRecovery, called at start, finishes
// a rotation whose store change committed and discards one that did not.
// Neither function knows what a store is: the caller passes a function that
// opens (or re-keys) its store with a given key.
//
//   StoreOpener open = [&](SecretBytes key) -> absl::Status {
//     ASSIGN_OR_RETURN(store, OpenStoreWithKey(options, std::move(key)));
//     return absl::OkStatus();
//   };
//   ASSIGN_OR_RETURN(KeyRecovery recovery,
//                    OpenWithKeyRecovery(*keys, master.source,
//                                        std::move(master.key), open));
//   // Log recovery's flags; never a key.
//
// Thread-compatible: run at start, or under the caller's rotation lock.
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_MASTER_KEY_ROTATION_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_MASTER_KEY_ROTATION_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/key_manager.h"

namespace zlayer::secrets {

// Opens the caller's store with `key`. Must return FailedPrecondition when
// the key does not open it (a wrong key), any other code for other errors.
using StoreOpener = std::function<absl::Status(SecretBytes key)>;

// Moves the caller's store to `key` (re-wraps its data keys); on error the
// store is unchanged.
using StoreRekeyer = std::function<absl::Status(SecretBytes key)>;

// What OpenWithKeyRecovery had to do besides opening the store.
struct KeyRecovery {
  // --key-file-rotate-to: the store is sealed by the rotated key, which the
  // operator has not installed as the key file yet.
  bool rotated_key_not_installed = false;
  // A rotation committed in the store but stopped before its key replaced
  // the key file: the staged key was promoted.
  bool rotation_completed = false;
  // A rotation never committed: the staged key was deleted.
  bool rotation_discarded = false;
};

// Opens the store with `key`; when `source` can be rotated (KeyManager::
// CanRotate) and the key no longer opens it, tries the rotated key
// (ReadRotatedKey) and the staged key (ReadStagedKey), promoting the latter
// when it opens the store. A staged key left while `key` opens the store is
// discarded. Returns the first open error when no key opens the store, or
// the error of promoting/discarding the staged key.
absl::StatusOr<KeyRecovery> OpenWithKeyRecovery(const KeyManager& keys,
                                                KeySource source,
                                                SecretBytes key,
                                                const StoreOpener& open);

// Rotates to `new_key` (random kKeyBytes when empty): stages it, calls
// `rekey`, promotes it. FailedPrecondition when `source` cannot be rotated
// (the message says why and what to do); `rekey`'s error otherwise, with the
// stage removed again (a removal failure is only reported through
// `stage_not_removed`, which may be null).
absl::Status RotateMasterKey(const KeyManager& keys, KeySource source,
                             SecretBytes new_key, const StoreRekeyer& rekey,
                             absl::Status* stage_not_removed = nullptr);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_MASTER_KEY_ROTATION_H_
