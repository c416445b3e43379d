// Sealed reveals (docs/identity.md, "Sealed reveals"): libsodium sealed boxes
// (crypto_box_seal: an ephemeral X25519 key, XSalsa20-Poly1305) to a client's
// X25519 public key, so a value can pass through a proxy that cannot read it.
//
// The daemon seals with SealToPublicKey; the end client holds a SealKeyPair
// (its secret key in guarded sodium memory) and opens with Open.
//
//   ASSIGN_OR_RETURN(SealKeyPair pair, SealKeyPair::Generate());
//   // register pair.public_key() with Admin.RegisterClientKey
//   ASSIGN_OR_RETURN(std::string box,
//                    SealToPublicKey(pair.public_key(), value));
//   ASSIGN_OR_RETURN(SecretBytes opened, pair.Open(box));
//
// A box is kSealOverheadBytes (48) longer than its plaintext. All functions
// are thread-safe; a SealKeyPair is immutable after creation.
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_SEALED_BOX_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_SEALED_BOX_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

// X25519 key sizes and the sealed-box overhead (ephemeral key + MAC).
inline constexpr size_t kClientPublicKeyBytes = 32;
inline constexpr size_t kClientSecretKeyBytes = 32;
inline constexpr size_t kSealOverheadBytes = 48;

// OK for a usable X25519 public key. InvalidArgument "client public key must
// be 32 bytes (got N)" for any other length, and "client public key is not a
// usable X25519 key" for the all-zero key and the other low-order points
// (a box sealed to them would be readable by anyone).
absl::Status ValidateClientPublicKey(absl::string_view public_key);

// A sealed box of `plaintext` to `public_key`. InvalidArgument for a key
// that is not 32 bytes or is a low-order point (crypto_box_seal itself
// refuses those, so registered keys are not checked again: that check costs
// one more X25519 multiplication per value). The plaintext is only read;
// the caller wipes its own copy.
absl::StatusOr<std::string> SealToPublicKey(absl::string_view public_key,
                                            absl::string_view plaintext);

// A client's X25519 key pair; the secret key lives in guarded sodium memory
// (SecretBytes::Guarded) and is wiped when the pair is destroyed. Move-only.
class SealKeyPair {
 public:
  // A fresh pair from libsodium's CSPRNG.
  static absl::StatusOr<SealKeyPair> Generate();
  // The pair of a stored secret key (kClientSecretKeyBytes). InvalidArgument
  // for another length.
  static absl::StatusOr<SealKeyPair> FromSecretKey(const SecretBytes& secret);

  SealKeyPair(SealKeyPair&&) = default;
  SealKeyPair& operator=(SealKeyPair&&) = default;

  // 32 raw bytes.
  const std::string& public_key() const { return public_key_; }
  const SecretBytes& secret_key() const { return secret_key_; }

  // Opens a box sealed to this pair. DataLoss "sealed value does not open
  // with this client key" for a box that is too short, altered or sealed to
  // another key.
  absl::StatusOr<SecretBytes> Open(absl::string_view box) const;

 private:
  SealKeyPair(std::string public_key, SecretBytes secret_key)
      : public_key_(std::move(public_key)),
        secret_key_(std::move(secret_key)) {}

  std::string public_key_;
  SecretBytes secret_key_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_SEALED_BOX_H_
