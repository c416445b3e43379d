#include "core/crypto/sealed_box.h"

#include <sodium.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

static_assert(crypto_box_PUBLICKEYBYTES == kClientPublicKeyBytes, "X25519");
static_assert(crypto_box_SECRETKEYBYTES == kClientSecretKeyBytes, "X25519");
static_assert(crypto_box_SEALBYTES == kSealOverheadBytes, "sealed box");

absl::Status ValidateClientPublicKey(absl::string_view public_key) {
  if (public_key.size() != kClientPublicKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("client public key must be ", kClientPublicKeyBytes,
                     " bytes (got ", public_key.size(), ")"));
  }
  // A low-order point (all-zero among them) gives an all-zero shared secret
  // whatever the scalar: crypto_scalarmult then fails, and so would every
  // box sealed to it. Try with a random scalar once, here, at registration.
  SecretBytes scalar = SecretBytes::Random(crypto_scalarmult_SCALARBYTES);
  SecretBytes shared(crypto_scalarmult_BYTES);
  if (crypto_scalarmult(
          shared.MutableData(),
          reinterpret_cast<const unsigned char*>(scalar.InsecureView().data()),
          reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return absl::InvalidArgumentError(
        "client public key is not a usable X25519 key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SealToPublicKey(absl::string_view public_key,
                                            absl::string_view plaintext) {
  if (public_key.size() != kClientPublicKeyBytes) {
    return ValidateClientPublicKey(public_key);  // the length message
  }
  std::string box(plaintext.size() + kSealOverheadBytes, '\0');
  // Fails only for a low-order point (an all-zero shared secret).
  if (crypto_box_seal(
          reinterpret_cast<unsigned char*>(box.data()),
          reinterpret_cast<const unsigned char*>(plaintext.data()),
          plaintext.size(),
          reinterpret_cast<const unsigned char*>(public_key.data())) != 0) {
    return absl::InvalidArgumentError(
        "client public key is not a usable X25519 key");
  }
  return box;
}

absl::StatusOr<SealKeyPair> SealKeyPair::Generate() {
  std::string pk(kClientPublicKeyBytes, '\0');
  SecretBytes sk = SecretBytes::Guarded(kClientSecretKeyBytes);
  if (crypto_box_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                         sk.MutableData()) != 0) {
    return absl::InternalError("crypto_box_keypair failed");
  }
  return SealKeyPair(std::move(pk), std::move(sk));
}

absl::StatusOr<SealKeyPair> SealKeyPair::FromSecretKey(
    const SecretBytes& secret) {
  if (secret.size() != kClientSecretKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("client secret key must be ", kClientSecretKeyBytes,
                     " bytes (got ", secret.size(), ")"));
  }
  std::string pk(kClientPublicKeyBytes, '\0');
  if (crypto_scalarmult_base(reinterpret_cast<unsigned char*>(pk.data()),
                             reinterpret_cast<const unsigned char*>(
                                 secret.InsecureView().data())) != 0) {
    return absl::InvalidArgumentError("client secret key is not usable");
  }
  return SealKeyPair(std::move(pk), secret.CloneGuarded());
}

absl::StatusOr<SecretBytes> SealKeyPair::Open(absl::string_view box) const {
  const absl::Status refused =
      absl::DataLossError("sealed value does not open with this client key");
  if (box.size() < kSealOverheadBytes) return refused;
  SecretBytes out(box.size() - kSealOverheadBytes);
  if (crypto_box_seal_open(
          out.MutableData(), reinterpret_cast<const unsigned char*>(box.data()),
          box.size(),
          reinterpret_cast<const unsigned char*>(public_key_.data()),
          reinterpret_cast<const unsigned char*>(
              secret_key_.InsecureView().data())) != 0) {
    return refused;
  }
  return out;
}

}  // namespace zlayer::secrets
