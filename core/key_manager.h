// Finds the master key that seals a deployment's stored secrets.
//
// Resolution order (first match wins; see docs/crypto.md):
//   1. ZLAYER_SECRETS_KEY: 64 hex characters (32 bytes), surrounding
//      whitespace trimmed, either case.
//   2. ZLAYER_SECRETS_PASSWORD: Argon2id over the password with a random
//      16-byte salt kept in {key_dir}/secrets_{deployment}.salt (created 0600
//      on first use and reused afterwards).
//   3. If options.key_file is set (e.g. a systemd credential,
//      $CREDENTIALS_DIRECTORY/<name>): that file, 32 raw bytes or 64 hex
//      characters plus an optional "\n" or "\r\n". Never generated.
//      Otherwise {key_dir}/secrets_{deployment}.key: exactly 32 raw bytes.
//      Either file must be a regular file with no group/other permissions.
//   4. Otherwise 32 random bytes are written to that key file atomically
//      with mode 0600 from the start ({key_dir} is created 0700 if needed).
//
// The environment is read through KeyManagerOptions::env, so tests never
// touch the process environment; the daemon passes RealEnvironment().
//
//   KeyManagerOptions options;
//   options.deployment = "zlayer";
//   options.env = RealEnvironment();
//   ASSIGN_OR_RETURN(std::unique_ptr<KeyManager> keys,
//                    KeyManager::Create(std::move(options)));
//   ASSIGN_OR_RETURN(MasterKey master, keys->GetOrCreateKey());
//   // Log KeySourceName(master.source) and master.path, never master.key.
//
// Error messages name variables, paths and modes, never key material.
#ifndef ZLAYER_SECRETS_CORE_KEY_MANAGER_H_
#define ZLAYER_SECRETS_CORE_KEY_MANAGER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/secret_bytes.h"

namespace zlayer::secrets {

inline constexpr char kEnvSecretsKey[] = "ZLAYER_SECRETS_KEY";
inline constexpr char kEnvSecretsPassword[] = "ZLAYER_SECRETS_PASSWORD";

// Argon2id parameters for ZLAYER_SECRETS_PASSWORD: upstream's (and OWASP's
// minimum recommendation): 19 MiB, 2 passes, parallelism 1 (libsodium's only
// choice). Roughly 0.1 s once per start; see docs/crypto.md for why not
// libsodium's MODERATE (256 MiB, seconds).
inline constexpr uint64_t kArgon2OpsLimit = 2;
inline constexpr size_t kArgon2MemLimitBytes = size_t{19} * 1024 * 1024;
inline constexpr size_t kPasswordSaltBytes = 16;

// Where a master key came from; for logs (never log the key).
enum class KeySource {
  kEnvKey,          // ZLAYER_SECRETS_KEY
  kPassword,        // Argon2id of ZLAYER_SECRETS_PASSWORD
  kKeyFile,         // an existing {key_dir}/secrets_{deployment}.key
  kGenerated,       // freshly generated and written to the key file
  kCredentialFile,  // options.key_file (e.g. a systemd credential)
};

// "env ZLAYER_SECRETS_KEY", "password", "key file", "generated",
// "credential file".
absl::string_view KeySourceName(KeySource source);

// The contents of a key file given by name (a systemd credential, or a new
// key for rotation): exactly kKeyBytes raw bytes, or 2 * kKeyBytes hex
// characters (either case) plus an optional "\n" or "\r\n". Errors carry
// `code` and name `what`, never a byte of the contents.
absl::StatusOr<SecretBytes> DecodeKeyFileContents(SecretBytes contents,
                                                  absl::string_view what,
                                                  absl::StatusCode code);

// Looks up an environment variable; nullopt when unset.
using EnvLookup =
    std::function<absl::optional<std::string>(absl::string_view name)>;

// An EnvLookup over the process environment (getenv).
EnvLookup RealEnvironment();

// Upstream's default key directory: /var/lib/zlayer/secrets for root (euid
// 0), else {home}/.zlayer/secrets. FailedPrecondition when a non-root user
// has no (absolute) home.
absl::StatusOr<std::string> DefaultKeyDir(uid_t euid, absl::string_view home);

struct KeyManagerOptions {
  // Names the key and salt files. Not empty; no '/' or NUL.
  std::string deployment = "zlayer";
  // Directory of the key and salt files. Empty: DefaultKeyDir(geteuid(),
  // $HOME via `env`).
  std::string key_dir;
  // When set, the key is read from this file instead of {key_dir} (which is
  // then used only for the password salt) and is never generated.
  absl::optional<std::string> key_file;
  // Environment lookup. Unset: the environment is treated as empty (no
  // ZLAYER_SECRETS_KEY/PASSWORD, no HOME). The daemon passes
  // RealEnvironment().
  EnvLookup env;
};

// The resolved key and its provenance.
struct MasterKey {
  SecretBytes key;  // kKeyBytes (32) bytes
  KeySource source;
  // The key, credential or salt file involved; empty for kEnvKey.
  std::string path;
};

// Thread-compatible: GetOrCreateKey may touch the file system, so callers do
// not race it with itself (the daemon calls it once at start). Concurrent
// processes are safe: the first file to be created wins and is reused.
class KeyManager {
 public:
  // InvalidArgument for a bad deployment name; FailedPrecondition when no
  // key_dir is given and no default can be found.
  static absl::StatusOr<std::unique_ptr<KeyManager>> Create(
      KeyManagerOptions options);

  // Resolves the key in the order above. Errors (none contains key bytes):
  //   InvalidArgument    ZLAYER_SECRETS_KEY malformed (odd length, bad
  //                      character at a position, wrong length) or an empty
  //                      ZLAYER_SECRETS_PASSWORD.
  //   FailedPrecondition a key, credential or salt file that is not a regular
  //                      file, has the wrong length or bad hex, or (key and
  //                      credential files) is group/world-accessible; a
  //                      key_dir path component that is not a directory.
  //   NotFound           options.key_file does not exist.
  //   PermissionDenied   the key directory or a file cannot be accessed.
  //   Unavailable        disk full while writing a new key or salt.
  //   Internal           other file-system failures (message names the path
  //                      and errno) and Argon2 running out of memory.
  absl::StatusOr<MasterKey> GetOrCreateKey() const;

  // Master-key rotation for keys this manager keeps in its key file
  // (sources kKeyFile and kGenerated). The new key is staged first, so a
  // crash at any point leaves a key that opens the store:
  //   StageNextKey(k)  writes {key_path}.next (0600, fsynced)
  //   ... the store re-encrypts everything under k ...
  //   PromoteNextKey() renames it over the key file (fsynced)
  // At start, a store that the key file cannot open is retried with
  // ReadStagedKey(); DiscardStagedKey() drops a stage that never committed.
  absl::Status StageNextKey(const SecretBytes& key) const;
  absl::Status PromoteNextKey() const;
  // NotFound when nothing is staged; FailedPrecondition for a bad file.
  absl::StatusOr<SecretBytes> ReadStagedKey() const;
  absl::Status DiscardStagedKey() const;
  // {key_path}.next
  std::string staged_key_path() const;

  const std::string& key_dir() const { return key_dir_; }
  // {key_dir}/secrets_{deployment}.key
  std::string key_path() const;
  // {key_dir}/secrets_{deployment}.salt
  std::string salt_path() const;

 private:
  KeyManager(KeyManagerOptions options, std::string key_dir);

  absl::StatusOr<MasterKey> FromEnvKey(std::string hex) const;
  absl::StatusOr<MasterKey> FromPassword(std::string password) const;
  absl::StatusOr<MasterKey> FromCredentialFile(const std::string& path) const;
  absl::StatusOr<MasterKey> FromKeyDir() const;

  KeyManagerOptions options_;
  std::string key_dir_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_KEY_MANAGER_H_
