// The cryptography of an upstream ZLayer secrets store (upstream reference
// §7-§8), for reading one during a migration.
//
// Upstream seals each value with XChaCha20-Poly1305 (IETF) under the master
// key and no associated data; the blob is
//
//   nonce (24 bytes) || ciphertext (plaintext length) || tag (16 bytes)
//
// with no version byte and no key id. Its master key comes from
// ZLAYER_SECRETS_KEY (64 hex chars), else ZLAYER_SECRETS_PASSWORD through
// Argon2id (v=19, m=19456 KiB, t=2, p=1, 32 bytes) salted with the deployment
// name itself, else the key file {dir}/secrets_{deployment}.key (32 raw
// bytes). libsodium's crypto_pwhash takes only 16-byte salts, so Argon2id
// here is libargon2's (the reference implementation).
//
//   ASSIGN_OR_RETURN(SecretBytes key, ResolveUpstreamKey(options));
//   ASSIGN_OR_RETURN(SecretBytes value, OpenUpstreamBlob(key, blob));
//
// Errors never contain key or value bytes. Thread-safe: pure functions.
#ifndef ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_CRYPTO_H_
#define ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_CRYPTO_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/key_manager.h"

namespace zlayer::secrets {

inline constexpr size_t kUpstreamNonceBytes = 24;
inline constexpr size_t kUpstreamTagBytes = 16;

// XChaCha20-Poly1305 (IETF) open of `ciphertext_and_tag` under `key` (32
// bytes) and `nonce` (24 bytes) with `associated_data`. DataLoss when it
// fails authentication; InvalidArgument for bad sizes.
absl::StatusOr<SecretBytes> OpenXChaCha20Poly1305(
    const SecretBytes& key, absl::string_view nonce,
    absl::string_view ciphertext_and_tag, absl::string_view associated_data);

// Opens an upstream blob (layout above, no associated data). DataLoss
// "value too short" (< 40 bytes) or "value fails authentication (wrong key
// or damaged)".
absl::StatusOr<SecretBytes> OpenUpstreamBlob(const SecretBytes& key,
                                             absl::string_view blob);

// Seals `plaintext` the way upstream does (fresh random nonce, no associated
// data). Migration never writes upstream blobs; tests build upstream stores
// with it.
std::string SealUpstreamBlob(const SecretBytes& key,
                             const SecretBytes& plaintext);

// Argon2id (version 0x13) with every input RFC 9106 names.
struct Argon2idInput {
  absl::string_view password;
  absl::string_view salt;             // at least 8 bytes
  absl::string_view secret;           // K, may be empty
  absl::string_view associated_data;  // X, may be empty
  uint32_t passes = 2;                // t
  uint32_t memory_kib = 19456;        // m
  uint32_t lanes = 1;                 // p
  size_t output_bytes = 32;           // T
};
// InvalidArgument naming the problem (salt too short, bad parameters).
absl::StatusOr<SecretBytes> Argon2id(const Argon2idInput& input);

// Upstream's derive_from_password: Argon2id m=19456 KiB, t=2, p=1, 32 bytes,
// salt = the deployment name's bytes. InvalidArgument "salt is too short"
// for a deployment name under 8 bytes (upstream fails the same way).
absl::StatusOr<SecretBytes> DeriveUpstreamKey(const SecretBytes& password,
                                              absl::string_view deployment);

struct UpstreamKeyOptions {
  // --key-file: 32 raw bytes (upstream's key file) or 64 hex characters.
  // When set, the environment is not consulted.
  std::string key_file;
  // Upstream's deployment name (salt of the password; names the key file).
  std::string deployment = "zlayer";
  // Where upstream's key file lives ({dir}/secrets_{deployment}.key): its
  // data directory. Empty: no key file is looked for.
  std::string key_dir;
  // Reads ZLAYER_SECRETS_KEY / ZLAYER_SECRETS_PASSWORD. Unset: none.
  EnvLookup env;
};

// Where the key came from, for the report (never the key).
struct UpstreamKey {
  SecretBytes key;
  std::string source;  // "key file PATH", "env ZLAYER_SECRETS_KEY", ...
};

// Upstream's order: key_file if given; else ZLAYER_SECRETS_KEY; else
// ZLAYER_SECRETS_PASSWORD; else {key_dir}/secrets_{deployment}.key. Never
// generates a key. NotFound when none is available; InvalidArgument for a
// malformed key; FailedPrecondition for an unreadable file.
absl::StatusOr<UpstreamKey> ResolveUpstreamKey(
    const UpstreamKeyOptions& options);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_CRYPTO_H_
