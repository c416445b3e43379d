// The byte formats of the v2 at-rest key hierarchy (docs/crypto.md, "Key
// hierarchy" and "Associated data v2"): what each sealed thing is bound to,
// and the MACs over the metadata rows that decide what a reference resolves
// to (docs/storage.md, "Authenticated metadata").
//
//   master key (KEK) --seals--> data keys (DEKs, one per generation)
//                    --seals--> subkey seed --crypto_kdf--> metadata MAC key,
//                                                           API-key hash key,
//                                                           audit name key
//   DEK of generation g --seals--> every value row naming generation g
//
// Every function here is pure: the store and the environment registry call
// them with the store's id and keys. Each associated-data string starts with
// its own domain tag and is length-prefixed field by field, so no two
// different tuples (of one kind or across kinds) give the same bytes.
//
//   std::string ad = ValueAssociatedData(
//       {store_id, "prod", "db", 3, incarnation, /*generation=*/1});
//   ASSIGN_OR_RETURN(std::string mac,
//                    SecretRowMac(mac_key, store_id, fields));
//
// Thread-safe: pure functions.
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_STORE_CRYPTO_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_STORE_CRYPTO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

// Random per store, recorded in meta when the store is created.
inline constexpr size_t kStoreIdBytes = 16;
// Random per secret, new when the secret is created (also after a destroy).
inline constexpr size_t kIncarnationBytes = 16;
// BLAKE2b-256 keyed with the metadata-MAC subkey.
inline constexpr size_t kRowMacBytes = 32;
// The format version carried inside every v2 associated data.
inline constexpr uint8_t kAtRestFormatV2 = 0x02;

// What a stored value is bound to.
struct ValueBinding {
  absl::string_view store_id;
  absl::string_view scope;
  absl::string_view name;
  uint32_t version = 0;
  absl::string_view incarnation;
  uint32_t generation = 0;  // the DEK generation that seals it
};

// Associated data of a value sealed by a DEK.
std::string ValueAssociatedData(const ValueBinding& binding);

// Associated data of DEK `generation` sealed by the master key.
std::string DataKeyAssociatedData(absl::string_view store_id,
                                  uint32_t generation);

// Associated data of the subkey seed sealed by the master key.
std::string SubkeySeedAssociatedData(absl::string_view store_id);

// Associated data of the key check value sealed by master key `kek_id`.
std::string KeyCheckAssociatedData(absl::string_view store_id, uint32_t kek_id);

// The fields of a `secrets` row the MAC covers.
struct SecretRowFields {
  absl::string_view scope;
  absl::string_view name;
  absl::string_view incarnation;
  uint32_t current_version = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  uint32_t max_versions = 0;
  bool deleted = false;
  int64_t deleted_at = 0;
  // Encoded node affinity (core/store/node_affinity.h). Covered only when
  // non-empty, so the MACs of rows written before it existed stay valid;
  // an edit that empties it still changes the MAC.
  absl::string_view node_affinity;
};

// The fields of an `environments` row the MAC covers.
struct EnvironmentRowFields {
  absl::string_view id;
  absl::string_view name;
  absl::string_view project;
  absl::string_view description;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// kRowMacBytes of keyed BLAKE2b. InvalidArgument for a key that is not
// 32 bytes; Internal if libsodium fails.
absl::StatusOr<std::string> SecretRowMac(const SecretBytes& mac_key,
                                         absl::string_view store_id,
                                         const SecretRowFields& row);
absl::StatusOr<std::string> EnvironmentRowMac(const SecretBytes& mac_key,
                                              absl::string_view store_id,
                                              const EnvironmentRowFields& row);

// Compares `stored` with `expected` in constant time. DataLoss naming `what`
// (never a value) when they differ.
absl::Status CheckRowMac(absl::string_view stored, absl::string_view expected,
                         absl::string_view what);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_STORE_CRYPTO_H_
