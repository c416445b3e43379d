// Authenticated encryption of stored values, and the keys that do it.
//
// Aead seals a plaintext together with associated data that says where the
// ciphertext lives (scope, name, version, key id; see SecretAssociatedData),
// so a blob copied to another row, name or version fails to open. Nonces are
// drawn inside; no API takes one. The blob layout is documented in
// docs/crypto.md:
//
//   offset 0  1 byte   format version (kBlobFormatV1 = 0x01)
//   offset 1  4 bytes  key id, big-endian
//   offset 5  24 bytes XChaCha20 nonce (random per encryption)
//   offset 29 n bytes  ciphertext (n = plaintext length)
//   then      16 bytes Poly1305 tag
//
// The header (version byte and key id) is authenticated too: libsodium's
// associated data is header || caller's associated data.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
//                    Keyring::Create(1, std::move(key)));
//   std::string ad =
//       SecretAssociatedData("prod", "db", 3, ring->active_key_id());
//   ASSIGN_OR_RETURN(std::string blob, ring->Encrypt(plain, ad));
//   // DataLoss if tampered with, moved, or under another key:
//   ASSIGN_OR_RETURN(SecretBytes back, ring->Decrypt(blob, ad));
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_AEAD_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_AEAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

inline constexpr uint8_t kBlobFormatV1 = 0x01;
inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kBlobOverheadBytes = 1 + 4 + 24 + 16;

// The associated data binding a stored value to its place. `key_id` is the
// id recorded in the blob header. Length-prefixed, so no two different
// tuples give the same bytes.
std::string SecretAssociatedData(absl::string_view scope,
                                 absl::string_view name, uint32_t version,
                                 uint32_t key_id);

// Reads the key id from a blob header without decrypting. DataLoss if the
// blob is too short or of an unknown format version.
absl::StatusOr<uint32_t> BlobKeyId(absl::string_view blob);

// One key: XChaCha20-Poly1305 (IETF) with a 32-byte key.
class Aead {
 public:
  virtual ~Aead() = default;
  // Returns a blob in the layout above. Never fails for valid keys except on
  // impossible sizes (InvalidArgument).
  virtual absl::StatusOr<std::string> Encrypt(
      const SecretBytes& plaintext,
      absl::string_view associated_data) const = 0;
  // DataLoss when the blob is malformed, names another key id, or fails
  // authentication (wrong key, tampering, different associated data).
  virtual absl::StatusOr<SecretBytes> Decrypt(
      absl::string_view blob, absl::string_view associated_data) const = 0;
  virtual uint32_t key_id() const = 0;
};

// libsodium's crypto_aead_xchacha20poly1305_ietf_*.
class SodiumAead final : public Aead {
 public:
  // InvalidArgument unless key is exactly kKeyBytes.
  static absl::StatusOr<std::unique_ptr<SodiumAead>> Create(uint32_t key_id,
                                                            SecretBytes key);
  absl::StatusOr<std::string> Encrypt(
      const SecretBytes& plaintext,
      absl::string_view associated_data) const override;
  absl::StatusOr<SecretBytes> Decrypt(
      absl::string_view blob, absl::string_view associated_data) const override;
  uint32_t key_id() const override { return key_id_; }

  // Test-only seam for known-answer tests: Encrypt with a caller-chosen
  // 24-byte nonce (InvalidArgument otherwise). Never call it outside tests:
  // a repeated nonce under one key breaks XChaCha20-Poly1305.
  absl::StatusOr<std::string> EncryptWithNonceForTesting(
      const SecretBytes& plaintext, absl::string_view associated_data,
      absl::string_view nonce) const;

 private:
  SodiumAead(uint32_t key_id, SecretBytes key);
  absl::StatusOr<std::string> Seal(const SecretBytes& plaintext,
                                   absl::string_view associated_data,
                                   absl::string_view nonce) const;
  uint32_t key_id_;
  SecretBytes key_;
};

// The set of keys a store can open, and the one it seals new values with.
// Thread-safe for concurrent Encrypt/Decrypt; AddKey/SetActive are not
// meant to race with them (the store serialises key rotation).
class Keyring {
 public:
  // A ring holding one key, which is active.
  static absl::StatusOr<std::unique_ptr<Keyring>> Create(uint32_t key_id,
                                                         SecretBytes key);
  // AlreadyExists if the id is taken; InvalidArgument for a bad key.
  absl::Status AddKey(uint32_t key_id, SecretBytes key);
  // NotFound if the id is unknown.
  absl::Status SetActive(uint32_t key_id);
  // Drops (and wipes) a key. NotFound if unknown, FailedPrecondition for
  // the active key.
  absl::Status RemoveKey(uint32_t key_id);
  bool HasKey(uint32_t key_id) const;
  uint32_t active_key_id() const { return active_->key_id(); }

  // Seals with the active key; `associated_data` must have been built with
  // active_key_id().
  absl::StatusOr<std::string> Encrypt(const SecretBytes& plaintext,
                                      absl::string_view associated_data) const;
  // Opens with the key the blob names. DataLoss if unknown or tampered.
  absl::StatusOr<SecretBytes> Decrypt(absl::string_view blob,
                                      absl::string_view associated_data) const;

 private:
  Keyring() = default;
  std::vector<std::unique_ptr<Aead>> keys_;
  const Aead* active_ = nullptr;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_AEAD_H_
