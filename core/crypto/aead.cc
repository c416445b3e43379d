#include "core/crypto/aead.h"

#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kHeaderBytes = 1 + 4;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kCiphertextOffset = kHeaderBytes + kNonceBytes;

static_assert(kNonceBytes == 24, "blob layout assumes a 24-byte nonce");
static_assert(kTagBytes == 16, "blob layout assumes a 16-byte tag");
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes,
              "kKeyBytes must match libsodium");
static_assert(kBlobOverheadBytes == kCiphertextOffset + kTagBytes,
              "kBlobOverheadBytes must match the layout");

// Domain-separation tag for SecretAssociatedData; changing it (or the
// encoding) makes every stored value unreadable.
constexpr absl::string_view kAssociatedDataTag = "zlayer-secrets/value-ad/v1";

// One generic message per failure class: callers (and logs) learn that a blob
// did not open, never anything about its contents.
absl::Status MalformedBlob() {
  return absl::DataLossError("encrypted value is malformed");
}
absl::Status AuthenticationFailed() {
  return absl::DataLossError("encrypted value failed authentication");
}
absl::Status UnknownKey() {
  return absl::DataLossError("encrypted value names a key that is not loaded");
}

void AppendU32(std::string* out, uint32_t v) {
  const char bytes[4] = {
      static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
      static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
  out->append(bytes, sizeof(bytes));
}

void AppendU64(std::string* out, uint64_t v) {
  AppendU32(out, static_cast<uint32_t>(v >> 32));
  AppendU32(out, static_cast<uint32_t>(v & 0xffffffffu));
}

// A field preceded by its length as 8 bytes big-endian.
void AppendField(std::string* out, absl::string_view field) {
  AppendU64(out, field.size());
  out->append(field.data(), field.size());
}

uint32_t ReadU32(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// What libsodium authenticates: the blob header (so the version byte and key
// id cannot be altered) followed by the caller's associated data. The header
// has a fixed length, so the concatenation is unambiguous.
std::string SealedAssociatedData(absl::string_view header,
                                 absl::string_view associated_data) {
  std::string ad;
  ad.reserve(header.size() + associated_data.size());
  ad.append(header.data(), header.size());
  ad.append(associated_data.data(), associated_data.size());
  return ad;
}

absl::Status CheckKey(const SecretBytes& key) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AEAD key must be ", kKeyBytes, " bytes, got ", key.size()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string SecretAssociatedData(absl::string_view scope,
                                 absl::string_view name, uint32_t version,
                                 uint32_t key_id) {
  std::string out;
  out.reserve(8 + kAssociatedDataTag.size() + 8 + scope.size() + 8 +
              name.size() + 4 + 4);
  AppendField(&out, kAssociatedDataTag);
  AppendField(&out, scope);
  AppendField(&out, name);
  AppendU32(&out, version);
  AppendU32(&out, key_id);
  return out;
}

absl::StatusOr<uint32_t> BlobKeyId(absl::string_view blob) {
  if (blob.size() < kBlobOverheadBytes) return MalformedBlob();
  if (static_cast<uint8_t>(blob[0]) != kBlobFormatV1) return MalformedBlob();
  return ReadU32(blob.substr(1, 4));
}

absl::StatusOr<std::unique_ptr<SodiumAead>> SodiumAead::Create(
    uint32_t key_id, SecretBytes key) {
  RETURN_IF_ERROR(CheckKey(key));
  if (sodium_init() < 0) {
    return absl::InternalError("libsodium failed to initialise");
  }
  return std::unique_ptr<SodiumAead>(new SodiumAead(key_id, std::move(key)));
}

SodiumAead::SodiumAead(uint32_t key_id, SecretBytes key)
    : key_id_(key_id), key_(std::move(key)) {}

absl::StatusOr<std::string> SodiumAead::Encrypt(
    const SecretBytes& plaintext, absl::string_view associated_data) const {
  uint8_t nonce[kNonceBytes];
  randombytes_buf(nonce, kNonceBytes);
  return Seal(
      plaintext, associated_data,
      absl::string_view(reinterpret_cast<const char*>(nonce), kNonceBytes));
}

absl::StatusOr<std::string> SodiumAead::EncryptWithNonceForTesting(
    const SecretBytes& plaintext, absl::string_view associated_data,
    absl::string_view nonce) const {
  if (nonce.size() != kNonceBytes) {
    return absl::InvalidArgumentError("nonce must be 24 bytes");
  }
  return Seal(plaintext, associated_data, nonce);
}

absl::StatusOr<std::string> SodiumAead::Seal(const SecretBytes& plaintext,
                                             absl::string_view associated_data,
                                             absl::string_view nonce_in) const {
  const size_t n = plaintext.size();
  if (n > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
      n > std::numeric_limits<size_t>::max() - kBlobOverheadBytes) {
    return absl::InvalidArgumentError("plaintext is too large to encrypt");
  }

  std::string blob(kBlobOverheadBytes + n, '\0');
  auto* out = reinterpret_cast<uint8_t*>(&blob[0]);
  out[0] = kBlobFormatV1;
  out[1] = static_cast<uint8_t>(key_id_ >> 24);
  out[2] = static_cast<uint8_t>(key_id_ >> 16);
  out[3] = static_cast<uint8_t>(key_id_ >> 8);
  out[4] = static_cast<uint8_t>(key_id_);
  uint8_t* nonce = out + kHeaderBytes;
  std::memcpy(nonce, nonce_in.data(), kNonceBytes);

  const std::string ad = SealedAssociatedData(
      absl::string_view(blob.data(), kHeaderBytes), associated_data);
  // libsodium reads no bytes of an empty message, but give it a valid pointer
  // anyway rather than SecretBytes' null.
  static const uint8_t kEmpty = 0;
  const uint8_t* m = n == 0 ? &kEmpty : plaintext.data();
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          out + kCiphertextOffset, &clen, m, n,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(),
          /*nsec=*/nullptr, nonce, key_.data()) != 0 ||
      clen != n + kTagBytes) {
    sodium_memzero(&blob[0], blob.size());
    return absl::InternalError("encryption failed");
  }
  return blob;
}

absl::StatusOr<SecretBytes> SodiumAead::Decrypt(
    absl::string_view blob, absl::string_view associated_data) const {
  ASSIGN_OR_RETURN(uint32_t blob_key_id, BlobKeyId(blob));
  if (blob_key_id != key_id_) return UnknownKey();

  const size_t n = blob.size() - kBlobOverheadBytes;
  const auto* in = reinterpret_cast<const uint8_t*>(blob.data());
  const std::string ad =
      SealedAssociatedData(blob.substr(0, kHeaderBytes), associated_data);

  SecretBytes plaintext(n);
  // Decrypt into a scratch byte for empty plaintexts (SecretBytes(0) has no
  // storage); nothing is written to it.
  uint8_t empty_sink = 0;
  uint8_t* m = n == 0 ? &empty_sink : plaintext.MutableData();
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          m, &mlen, /*nsec=*/nullptr, in + kCiphertextOffset,
          blob.size() - kCiphertextOffset,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(),
          in + kHeaderBytes, key_.data()) != 0) {
    // libsodium leaves nothing in `m` on failure; SecretBytes wipes on free.
    return AuthenticationFailed();
  }
  if (mlen != n) return AuthenticationFailed();
  return plaintext;
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::Create(uint32_t key_id,
                                                         SecretBytes key) {
  std::unique_ptr<Keyring> ring(new Keyring());
  RETURN_IF_ERROR(ring->AddKey(key_id, std::move(key)));
  RETURN_IF_ERROR(ring->SetActive(key_id));
  return ring;
}

absl::Status Keyring::AddKey(uint32_t key_id, SecretBytes key) {
  for (const auto& k : keys_) {
    if (k->key_id() == key_id) {
      return absl::AlreadyExistsError(
          absl::StrCat("key id ", key_id, " is already in the keyring"));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SodiumAead> aead,
                   SodiumAead::Create(key_id, std::move(key)));
  keys_.push_back(std::move(aead));
  return absl::OkStatus();
}

absl::Status Keyring::SetActive(uint32_t key_id) {
  for (const auto& k : keys_) {
    if (k->key_id() == key_id) {
      active_ = k.get();
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(
      absl::StrCat("key id ", key_id, " is not in the keyring"));
}

absl::Status Keyring::RemoveKey(uint32_t key_id) {
  for (auto it = keys_.begin(); it != keys_.end(); ++it) {
    if ((*it)->key_id() != key_id) continue;
    if (it->get() == active_) {
      return absl::FailedPreconditionError("the active key cannot be removed");
    }
    keys_.erase(it);  // SodiumAead's SecretBytes wipes the key
    return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("key id ", key_id, " is not in the keyring"));
}

bool Keyring::HasKey(uint32_t key_id) const {
  for (const auto& k : keys_) {
    if (k->key_id() == key_id) return true;
  }
  return false;
}

absl::StatusOr<std::string> Keyring::Encrypt(
    const SecretBytes& plaintext, absl::string_view associated_data) const {
  return active_->Encrypt(plaintext, associated_data);
}

absl::StatusOr<SecretBytes> Keyring::Decrypt(
    absl::string_view blob, absl::string_view associated_data) const {
  ASSIGN_OR_RETURN(uint32_t key_id, BlobKeyId(blob));
  for (const auto& k : keys_) {
    if (k->key_id() == key_id) return k->Decrypt(blob, associated_data);
  }
  return UnknownKey();
}

}  // namespace zlayer::secrets
