#include "core/crypto/store_crypto.h"

#include <sodium.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

// Domain tags. Changing one (or the encoding) makes every stored value,
// data key or MAC of that kind unreadable.
constexpr absl::string_view kValueTag = "zlayer-secrets/value-ad/v2";
constexpr absl::string_view kDataKeyTag = "zlayer-secrets/data-key-ad/v2";
constexpr absl::string_view kSeedTag = "zlayer-secrets/subkey-seed-ad/v2";
constexpr absl::string_view kKeyCheckTag = "zlayer-secrets/key-check-ad/v2";
constexpr absl::string_view kSecretRowTag = "zlayer-secrets/secret-row-mac/v2";
constexpr absl::string_view kEnvironmentRowTag =
    "zlayer-secrets/environment-row-mac/v2";

static_assert(kRowMacBytes == crypto_generichash_BYTES, "BLAKE2b-256");

// Big-endian integers, appended in one piece (these strings are built on
// every read: one append instead of a capacity check per byte).
void AppendU32(std::string* out, uint32_t v) {
  const char bytes[4] = {
      static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
      static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
  out->append(bytes, sizeof(bytes));
}

void AppendU64(std::string* out, uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  }
  out->append(bytes, sizeof(bytes));
}

// A field preceded by its length as 8 bytes big-endian.
void AppendField(std::string* out, absl::string_view field) {
  AppendU64(out, field.size());
  out->append(field.data(), field.size());
}

// Tag, then the format version: the prefix of every v2 string. Reserves
// room for the usual fields, so building the rest does not reallocate.
std::string Begin(absl::string_view tag) {
  std::string out;
  out.reserve(256);
  AppendField(&out, tag);
  out.push_back(static_cast<char>(kAtRestFormatV2));
  return out;
}

absl::StatusOr<std::string> KeyedHash(const SecretBytes& key,
                                      absl::string_view message) {
  if (key.size() != crypto_generichash_KEYBYTES) {
    return absl::InvalidArgumentError("row MAC key must be 32 bytes");
  }
  std::string mac(kRowMacBytes, '\0');
  if (crypto_generichash(reinterpret_cast<unsigned char*>(&mac[0]), mac.size(),
                         reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), key.data(), key.size()) != 0) {
    return absl::InternalError("computing a row MAC failed");
  }
  return mac;
}

}  // namespace

std::string ValueAssociatedData(const ValueBinding& b) {
  std::string out = Begin(kValueTag);
  AppendField(&out, b.store_id);
  AppendField(&out, b.scope);
  AppendField(&out, b.name);
  AppendU32(&out, b.version);
  AppendField(&out, b.incarnation);
  AppendU32(&out, b.generation);
  return out;
}

std::string DataKeyAssociatedData(absl::string_view store_id,
                                  uint32_t generation) {
  std::string out = Begin(kDataKeyTag);
  AppendField(&out, store_id);
  AppendU32(&out, generation);
  return out;
}

std::string SubkeySeedAssociatedData(absl::string_view store_id) {
  std::string out = Begin(kSeedTag);
  AppendField(&out, store_id);
  return out;
}

std::string KeyCheckAssociatedData(absl::string_view store_id,
                                   uint32_t kek_id) {
  std::string out = Begin(kKeyCheckTag);
  AppendField(&out, store_id);
  AppendU32(&out, kek_id);
  return out;
}

absl::StatusOr<std::string> SecretRowMac(const SecretBytes& mac_key,
                                         absl::string_view store_id,
                                         const SecretRowFields& row) {
  std::string message = Begin(kSecretRowTag);
  AppendField(&message, store_id);
  AppendField(&message, row.scope);
  AppendField(&message, row.name);
  AppendField(&message, row.incarnation);
  AppendU32(&message, row.current_version);
  AppendU64(&message, static_cast<uint64_t>(row.created_at));
  AppendU64(&message, static_cast<uint64_t>(row.updated_at));
  AppendU32(&message, row.max_versions);
  message.push_back(row.deleted ? 1 : 0);
  AppendU64(&message, static_cast<uint64_t>(row.deleted ? row.deleted_at : 0));
  // Appended after the fixed-size fields, length-prefixed: a row with an
  // affinity can never produce the message of a row without one.
  if (!row.node_affinity.empty()) AppendField(&message, row.node_affinity);
  return KeyedHash(mac_key, message);
}

absl::StatusOr<std::string> EnvironmentRowMac(const SecretBytes& mac_key,
                                              absl::string_view store_id,
                                              const EnvironmentRowFields& row) {
  std::string message = Begin(kEnvironmentRowTag);
  AppendField(&message, store_id);
  AppendField(&message, row.id);
  AppendField(&message, row.name);
  AppendField(&message, row.project);
  AppendField(&message, row.description);
  AppendU64(&message, static_cast<uint64_t>(row.created_at));
  AppendU64(&message, static_cast<uint64_t>(row.updated_at));
  return KeyedHash(mac_key, message);
}

absl::Status CheckRowMac(absl::string_view stored, absl::string_view expected,
                         absl::string_view what) {
  if (stored.size() != expected.size() ||
      sodium_memcmp(stored.data(), expected.data(), expected.size()) != 0) {
    return absl::DataLossError(
        absl::StrCat("stored ", what, " failed its integrity check"));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
