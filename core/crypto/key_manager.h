// Finds the master key that seals a deployment's stored secrets.
//
// Resolution order (first match wins; see docs/crypto.md):
//   1. ZLAYER_SECRETS_KEY: 64 hex characters (32 bytes), surrounding
//      whitespace trimmed, either case.
//   2. ZLAYER_SECRETS_PASSWORD: Argon2id over the password with a random
//      16-byte salt kept, with the Argon2id parameters, in the versioned salt
//      file {key_dir}/secrets_{deployment}.salt (created 0600 on first use
//      with kArgon2Default; a 16-byte file without a header is upstream's
//      layout and is read with kArgon2Upstream).
//   3. If options.key_file is set (e.g. a systemd credential,
//      $CREDENTIALS_DIRECTORY/<name>): that file, 32 raw bytes or 64 hex
//      characters plus an optional "\n" or "\r\n". Never generated.
//      Otherwise {key_dir}/secrets_{deployment}.key: exactly 32 raw bytes.
//      Either file must be a regular file with no group/other permissions.
//   4. Otherwise 32 random bytes are written to that key file atomically
//      with mode 0600 from the start ({key_dir} is created 0700 if needed).
//
// {key_dir} defaults to DefaultKeyDir() (outside the data directory). When
// options.fallback_key_dir is set and {key_dir} holds neither the key nor
// the salt file but the fallback does, the fallback is used: the data
// directory, where keys lived before --key-dir existed.
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
#ifndef ZLAYER_SECRETS_CORE_CRYPTO_KEY_MANAGER_H_
#define ZLAYER_SECRETS_CORE_CRYPTO_KEY_MANAGER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

inline constexpr char kEnvSecretsKey[] = "ZLAYER_SECRETS_KEY";
inline constexpr char kEnvSecretsPassword[] = "ZLAYER_SECRETS_PASSWORD";

// Argon2id parameters for ZLAYER_SECRETS_PASSWORD (libsodium's
// crypto_pwhash, parallelism 1, its only choice).
struct Argon2Params {
  uint64_t opslimit = 0;  // passes (t)
  size_t memlimit = 0;    // bytes (m)
};
// New salt files: t=3, m=64 MiB, RFC 9106's second recommended option and
// above OWASP's minimum. Recorded in the salt file, so a later change of
// this default never changes the key of an existing store.
inline constexpr Argon2Params kArgon2Default{3, size_t{64} << 20};
// Upstream's parameters (t=2, m=19 MiB), used only to read a salt file in
// upstream's headerless 16-byte layout; never for a new salt file.
inline constexpr Argon2Params kArgon2Upstream{2, size_t{19} << 20};
// Bounds a salt file may name (a larger memlimit would let an edited salt
// file exhaust memory at start).
inline constexpr uint64_t kArgon2MaxOpsLimit = 32;
inline constexpr size_t kArgon2MaxMemLimit = size_t{4} << 30;
inline constexpr size_t kPasswordSaltBytes = 16;

// The salt file: the salt and the parameters that go with it.
//
// Version 2 (what new stores get), text, exactly these five lines:
//   zlayer-secrets-salt 2
//   alg argon2id13
//   opslimit 3
//   memlimit 67108864
//   salt 00112233445566778899aabbccddeeff
// Version 1: exactly 16 raw bytes (upstream's layout): kArgon2Upstream.
struct PasswordSalt {
  int format_version = 2;
  Argon2Params params = kArgon2Default;
  std::string salt;  // kPasswordSaltBytes raw bytes (not secret)
};
// The version-2 text of `salt`.
std::string FormatPasswordSalt(const PasswordSalt& salt);
// Parses either version. FailedPrecondition naming `what` for anything else
// (unknown version or algorithm, parameters out of bounds, bad salt).
absl::StatusOr<PasswordSalt> ParsePasswordSalt(absl::string_view bytes,
                                               absl::string_view what);

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

// The default key directory, kept apart from the data directory so that a
// copy of the data directory alone decrypts nothing: /etc/zlayer-secrets for
// root (euid 0); else $XDG_CONFIG_HOME/zlayer-secrets when that is absolute,
// else {home}/.config/zlayer-secrets. FailedPrecondition when a non-root
// user has neither.
absl::StatusOr<std::string> DefaultKeyDir(
    uid_t euid, absl::string_view home, absl::string_view xdg_config_home = "");

// True when `path` is `dir` or below it, comparing real paths (symbolic
// links and "..", resolved) where they exist. For the daemon's warning about
// a key kept inside the data directory.
bool PathIsInside(const std::string& path, const std::string& dir);

// ZLAYER_SECRETS_KEY and ZLAYER_SECRETS_PASSWORD moved out of the process
// environment, so that /proc/PID/environ (readable by the same uid, and by
// root) no longer shows them.
//
//   // First thing in main(), before any thread exists:
//   std::shared_ptr<KeyEnvironment> key_env =
//   KeyEnvironment::TakeFromProcess(); options.env = key_env->Lookup();
//   ... GetOrCreateKey() ...
//   key_env->Clear();  // the password leaves memory too
//
// Thread-compatible; TakeFromProcess is not thread-safe at all (it edits
// environ, which getenv in other threads reads).
class KeyEnvironment : public std::enable_shared_from_this<KeyEnvironment> {
 public:
  // Copies each variable that is set into secure memory, overwrites every
  // "NAME=value" entry of environ with zeros (sodium_memzero, so the
  // original block that /proc/PID/environ shows holds NULs) and unsets it.
  static std::shared_ptr<KeyEnvironment> TakeFromProcess();

  // An EnvLookup that answers the two variables from what was taken (until
  // Clear) and any other name from the process environment. Shares
  // ownership of this object.
  EnvLookup Lookup();
  // Wipes the taken values; the lookup then reports them unset.
  void Clear();

  bool has_key() const { return key_.has_value(); }
  bool has_password() const { return password_.has_value(); }

 private:
  KeyEnvironment() = default;
  absl::optional<SecretBytes> key_;
  absl::optional<SecretBytes> password_;
};

struct KeyManagerOptions {
  // Names the key and salt files. Not empty; no '/' or NUL.
  std::string deployment = "zlayer";
  // Directory of the key and salt files. Empty: DefaultKeyDir(geteuid(),
  // $HOME via `env`).
  std::string key_dir;
  // Used instead of key_dir when key_dir holds neither key nor salt file
  // and this directory does (keys kept in the data directory by older
  // versions keep working). Empty: none.
  std::string fallback_key_dir;
  // When set, the key is read from this file instead of {key_dir} (which is
  // then used only for the password salt) and is never generated.
  absl::optional<std::string> key_file;
  // With key_file: where an online rotation writes the new key (0600) for
  // the operator to install as key_file; may be key_file itself when that
  // file is writable. Unset: a key_file key cannot be rotated online.
  absl::optional<std::string> key_file_rotate_to;
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

  // As GetOrCreateKey, but never creates a key or salt file: NotFound
  // (naming the file it looked for) when the key would have to be generated.
  // For the offline tools (restore, migrate --dry-run) that must only open
  // an existing store.
  absl::StatusOr<MasterKey> GetExistingKey() const;

  // Master-key rotation. Possible (CanRotate) for a key this manager keeps
  // in its key file (sources kKeyFile and kGenerated; the new key replaces
  // key_path()) and for a key_file with key_file_rotate_to (the new key goes
  // to that path: rotation_path()). The new key is staged first, so a crash
  // at any point leaves a key that opens the store:
  //   StageNextKey(k)  writes {rotation_path}.next (0600, fsynced)
  //   ... the store moves to k ...
  //   PromoteNextKey() renames it over rotation_path (fsynced)
  // At start, a store that the configured key cannot open is retried with
  // ReadRotatedKey() (a committed rotation the operator has not installed
  // yet; key_file mode only) and ReadStagedKey(); DiscardStagedKey() drops
  // a stage that never committed.
  bool CanRotate(KeySource source) const;
  // {key_path} or key_file_rotate_to.
  std::string rotation_path() const;
  absl::Status StageNextKey(const SecretBytes& key) const;
  absl::Status PromoteNextKey() const;
  // NotFound when nothing is staged; FailedPrecondition for a bad file.
  absl::StatusOr<SecretBytes> ReadStagedKey() const;
  // key_file mode with a rotate-to path other than key_file: the key at
  // that path. NotFound when there is none (or outside that mode).
  absl::StatusOr<SecretBytes> ReadRotatedKey() const;
  absl::Status DiscardStagedKey() const;
  // {rotation_path}.next
  std::string staged_key_path() const;

  const std::string& key_dir() const { return key_dir_; }
  // {key_dir}/secrets_{deployment}.key
  std::string key_path() const;
  // {key_dir}/secrets_{deployment}.salt
  std::string salt_path() const;

 private:
  KeyManager(KeyManagerOptions options, std::string key_dir);

  absl::StatusOr<MasterKey> Resolve() const;
  absl::StatusOr<MasterKey> FromEnvKey(std::string hex) const;
  absl::StatusOr<MasterKey> FromPassword(std::string password) const;
  absl::StatusOr<MasterKey> FromCredentialFile(const std::string& path) const;
  absl::StatusOr<MasterKey> FromKeyDir() const;
  absl::StatusOr<SecretBytes> ReadKeyAt(const std::string& path,
                                        absl::string_view what) const;

  KeyManagerOptions options_;
  std::string key_dir_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_CRYPTO_KEY_MANAGER_H_
