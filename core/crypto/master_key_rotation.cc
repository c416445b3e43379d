#include "core/crypto/master_key_rotation.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"

namespace zlayer::secrets {

absl::StatusOr<KeyRecovery> OpenWithKeyRecovery(const KeyManager& keys,
                                                KeySource source,
                                                SecretBytes key,
                                                const StoreOpener& open) {
  KeyRecovery recovery;
  absl::Status opened = open(std::move(key));
  if (!keys.CanRotate(source)) {
    if (!opened.ok()) return opened;
    return recovery;
  }
  if (absl::IsFailedPrecondition(opened)) {
    absl::StatusOr<SecretBytes> rotated = keys.ReadRotatedKey();
    if (rotated.ok() && open(*std::move(rotated)).ok()) {
      opened = absl::OkStatus();
      recovery.rotated_key_not_installed = true;
    }
  }
  absl::StatusOr<SecretBytes> staged = keys.ReadStagedKey();
  if (staged.ok() && absl::IsFailedPrecondition(opened)) {
    // The store moved to the staged key but the key file was not replaced.
    opened = open(*std::move(staged));
    if (opened.ok()) {
      RETURN_IF_ERROR(keys.PromoteNextKey());
      recovery.rotation_completed = true;
    }
  } else if (staged.ok() && opened.ok()) {
    // The store never moved: the configured key is still the key.
    RETURN_IF_ERROR(keys.DiscardStagedKey());
    recovery.rotation_discarded = true;
  }
  if (!opened.ok()) return opened;
  return recovery;
}

absl::Status RotateMasterKey(const KeyManager& keys, KeySource source,
                             SecretBytes new_key, const StoreRekeyer& rekey,
                             absl::Status* stage_not_removed) {
  if (!keys.CanRotate(source)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the master key comes from ", KeySourceName(source),
        source == KeySource::kCredentialFile
            ? "; start the daemon with --key-file-rotate-to PATH to rotate it "
              "online (the new key is written there for you to install)"
            : "; only a key in a file can be rotated online"));
  }
  if (new_key.empty()) new_key = SecretBytes::Random(kKeyBytes);
  // Staged before the store changes, promoted after it committed: a crash
  // in between is finished (or discarded) by OpenWithKeyRecovery.
  RETURN_IF_ERROR(keys.StageNextKey(new_key));
  absl::Status rekeyed = rekey(std::move(new_key));
  if (!rekeyed.ok()) {
    absl::Status discarded = keys.DiscardStagedKey();
    if (stage_not_removed != nullptr) *stage_not_removed = discarded;
    return rekeyed;
  }
  return keys.PromoteNextKey();
}

}  // namespace zlayer::secrets
