#include "core/crypto/key_manager.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"

namespace zlayer::secrets {
namespace {

static_assert(kPasswordSaltBytes == crypto_pwhash_SALTBYTES,
              "salt size must match libsodium's crypto_pwhash");

// Wipes a std::string that briefly held a secret when leaving scope.
class StringWiper {
 public:
  explicit StringWiper(std::string* s) : s_(s) {}
  ~StringWiper() { WipeString(s_); }
  StringWiper(const StringWiper&) = delete;
  StringWiper& operator=(const StringWiper&) = delete;

 private:
  std::string* s_;
};

// Closes a file descriptor when leaving scope (errors on close of a
// read-only descriptor carry no information worth reporting).
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and reports the result (for descriptors that were written).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string ModeString(mode_t mode) {
  return absl::StrFormat("%04o", static_cast<unsigned>(mode & 07777));
}

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::UnavailableError(message);
    case ENOTDIR:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly kKeyBytes from hex. Messages name `what` and positions,
// never characters of the input.
absl::StatusOr<SecretBytes> DecodeHexKey(absl::string_view hex,
                                         absl::string_view what,
                                         absl::StatusCode code) {
  if (hex.size() % 2 != 0) {
    return absl::Status(
        code,
        absl::StrCat(what, " must be ", 2 * kKeyBytes, " hex characters (",
                     kKeyBytes, " bytes); it has an odd number of characters (",
                     hex.size(), ")"));
  }
  for (size_t i = 0; i < hex.size(); ++i) {
    if (HexNibble(hex[i]) < 0) {
      return absl::Status(
          code,
          absl::StrCat(what, " has a character that is not hex at position ", i,
                       " (0-based)"));
    }
  }
  if (hex.size() != 2 * kKeyBytes) {
    return absl::Status(
        code,
        absl::StrCat(what, " must be ", 2 * kKeyBytes, " hex characters (",
                     kKeyBytes, " bytes); got ", hex.size(), " characters (",
                     hex.size() / 2, " bytes)"));
  }
  SecretBytes key(kKeyBytes);
  for (size_t i = 0; i < kKeyBytes; ++i) {
    key.MutableData()[i] = static_cast<uint8_t>((HexNibble(hex[2 * i]) << 4) |
                                                HexNibble(hex[2 * i + 1]));
  }
  return key;
}

struct FileReadOptions {
  // Refuse a path whose last component is a symbolic link.
  bool no_follow = true;
  // Refuse group/other permission bits (key material).
  bool require_private = true;
  // Read at most this many bytes; a longer file is reported by size.
  size_t max_bytes = 0;
  // For messages: "key file", "salt file", ...
  absl::string_view what;
};

// Reads a small file into secure memory after checking it. NotFound if it
// does not exist; FailedPrecondition if it is not a regular file, has
// group/other permissions (when required) or is larger than max_bytes.
absl::StatusOr<SecretBytes> ReadCheckedFile(const std::string& path,
                                            const FileReadOptions& opts) {
  // O_NONBLOCK: opening a FIFO planted at the path must not hang the daemon.
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (opts.no_follow) flags |= O_NOFOLLOW;
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP && opts.no_follow) {
      return absl::FailedPreconditionError(
          absl::StrCat(opts.what, " ", path,
                       " is a symbolic link; it must be a regular file"));
    }
    return ErrnoStatus(err, absl::StrCat("cannot open ", opts.what), path);
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;  // read before StrCat can allocate
    return ErrnoStatus(err, absl::StrCat("cannot stat ", opts.what), path);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        opts.what, " ", path, " is not a regular file (mode ",
        absl::StrFormat("%06o", static_cast<unsigned>(st.st_mode)), ")"));
  }
  if (opts.require_private && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        opts.what, " ", path, " has mode ", ModeString(st.st_mode),
        "; it must not be accessible by group or others (chmod 600 ", path,
        ")"));
  }
  if (st.st_size < 0 || static_cast<size_t>(st.st_size) > opts.max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(opts.what, " ", path,
                                                      " has the wrong length (",
                                                      st.st_size, " bytes)"));
  }
  // One spare byte detects a file that grew after fstat.
  SecretBytes buffer(opts.max_bytes + 1);
  size_t got = 0;
  while (got < buffer.size()) {
    ssize_t n = ::read(fd, buffer.MutableData() + got, buffer.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;  // read before StrCat can allocate
      return ErrnoStatus(err, absl::StrCat("cannot read ", opts.what), path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > opts.max_bytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(opts.what, " ", path, " has the wrong length (more than ",
                     opts.max_bytes, " bytes)"));
  }
  return SecretBytes::FromString(buffer.InsecureView().substr(0, got));
}

// Creates `dir` and missing parents with mode 0700.
absl::Status EnsureDirectory(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("key directory is empty");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) == 0) continue;
    int err = errno;
    if (err != EEXIST) {
      return ErrnoStatus(err, "cannot create key directory", prefix);
    }
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0) {
      return ErrnoStatus(errno, "cannot stat key directory", prefix);
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(prefix,
                       " is in the key directory path but is not a "
                       "directory"));
    }
  }
  return absl::OkStatus();
}

absl::Status FsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory", dir);
  FdCloser closer(fd);
  if (::fsync(fd) != 0)
    return ErrnoStatus(errno, "cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Moves `from` to `to` unless `to` exists. Returns false if it existed.
absl::StatusOr<bool> RenameNoReplace(const std::string& from,
                                     const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                  RENAME_NOREPLACE) == 0) {
    return true;
  }
  int err = errno;
  if (err == EEXIST) return false;
  if (err != EINVAL && err != ENOSYS) {
    return ErrnoStatus(err, "cannot rename into place", to);
  }
  // File systems without RENAME_NOREPLACE: link() also refuses to replace.
  if (::link(from.c_str(), to.c_str()) != 0) {
    err = errno;
    if (err == EEXIST) return false;
    return ErrnoStatus(err, "cannot link into place", to);
  }
  ::unlink(from.c_str());
  return true;
}

// Writes `bytes` to `path` so that the file never exists with other contents
// or looser permissions: a 0600 temp file is created exclusively in the same
// directory, written, fsynced, then moved into place without replacing an
// existing file, and the directory is fsynced. Returns false (and writes
// nothing) if `path` already exists, e.g. because another process won a race.
absl::StatusOr<bool> CreateFileAtomically(const std::string& dir,
                                          const std::string& path,
                                          absl::string_view bytes) {
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    uint8_t suffix[8];
    randombytes_buf(suffix, sizeof(suffix));
    char hex[2 * sizeof(suffix) + 1];
    sodium_bin2hex(hex, sizeof(hex), suffix, sizeof(suffix));
    tmp = absl::StrCat(path, ".tmp-", hex);
    fd = ::open(tmp.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "cannot create", tmp);
    }
  }
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a unique temporary file beside ", path));
  }
  FdCloser closer(fd);
  absl::Status status = WriteAll(fd, bytes, tmp);
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoStatus(errno, "cannot fsync", tmp);
  }
  if (status.ok() && closer.Close() != 0) {
    status = ErrnoStatus(errno, "cannot close", tmp);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  absl::StatusOr<bool> moved = RenameNoReplace(tmp, path);
  if (!moved.ok() || !*moved) {
    ::unlink(tmp.c_str());
    return moved;
  }
  RETURN_IF_ERROR(FsyncDirectory(dir));
  return true;
}

absl::Status ValidateDeployment(absl::string_view deployment) {
  if (deployment.empty()) {
    return absl::InvalidArgumentError("deployment name must not be empty");
  }
  if (deployment.find('/') != absl::string_view::npos ||
      deployment.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "deployment name must not contain '/' or NUL");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SecretBytes> DecodeKeyFileContents(SecretBytes contents,
                                                  absl::string_view what,
                                                  absl::StatusCode code) {
  absl::string_view bytes = contents.InsecureView();
  if (bytes.size() == kKeyBytes) return contents;
  if (!bytes.empty() && bytes.back() == '\n') bytes.remove_suffix(1);
  if (!bytes.empty() && bytes.back() == '\r') bytes.remove_suffix(1);
  if (bytes.size() != 2 * kKeyBytes) {
    return absl::Status(
        code,
        absl::StrCat(what, " has the wrong length (", contents.size(),
                     " bytes); it must hold ", kKeyBytes, " raw bytes or ",
                     2 * kKeyBytes, " hex characters and an optional newline"));
  }
  return DecodeHexKey(bytes, what, code);
}

std::string FormatPasswordSalt(const PasswordSalt& salt) {
  char hex[2 * kPasswordSaltBytes + 1];
  sodium_bin2hex(hex, sizeof(hex),
                 reinterpret_cast<const unsigned char*>(salt.salt.data()),
                 std::min(salt.salt.size(), kPasswordSaltBytes));
  return absl::StrCat("zlayer-secrets-salt 2\nalg argon2id13\nopslimit ",
                      salt.params.opslimit, "\nmemlimit ", salt.params.memlimit,
                      "\nsalt ", hex, "\n");
}

absl::StatusOr<PasswordSalt> ParsePasswordSalt(absl::string_view bytes,
                                               absl::string_view what) {
  PasswordSalt out;
  if (bytes.size() == kPasswordSaltBytes) {
    // Upstream's layout: the raw salt, no parameters recorded.
    out.format_version = 1;
    out.params = kArgon2Upstream;
    out.salt = std::string(bytes);
    return out;
  }
  auto bad = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is not a salt file this version can read: ", why));
  };
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::StripSuffix(bytes, "\n"), '\n');
  static constexpr const char* kKeys[] = {"zlayer-secrets-salt", "alg",
                                          "opslimit", "memlimit", "salt"};
  if (lines.size() != 5) return bad("expected 5 lines or 16 raw bytes");
  std::string values[5];
  for (size_t i = 0; i < 5; ++i) {
    absl::string_view line = lines[i];
    if (!absl::ConsumePrefix(&line, kKeys[i]) ||
        !absl::ConsumePrefix(&line, " ")) {
      return bad(
          absl::StrCat("line ", i + 1, " must start with '", kKeys[i], " '"));
    }
    values[i] = std::string(line);
  }
  if (values[0] != "2") return bad("unknown format version");
  if (values[1] != "argon2id13") return bad("unknown algorithm");
  uint64_t ops = 0, mem = 0;
  if (!absl::SimpleAtoi(values[2], &ops) || ops < crypto_pwhash_OPSLIMIT_MIN ||
      ops > kArgon2MaxOpsLimit) {
    return bad(absl::StrCat("opslimit must be ", crypto_pwhash_OPSLIMIT_MIN,
                            "..", kArgon2MaxOpsLimit));
  }
  if (!absl::SimpleAtoi(values[3], &mem) || mem < crypto_pwhash_MEMLIMIT_MIN ||
      mem > kArgon2MaxMemLimit) {
    return bad(absl::StrCat("memlimit must be ", crypto_pwhash_MEMLIMIT_MIN,
                            "..", kArgon2MaxMemLimit, " bytes"));
  }
  if (values[4].size() != 2 * kPasswordSaltBytes) {
    return bad("the salt must be 32 hex characters");
  }
  out.salt.resize(kPasswordSaltBytes);
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(&out.salt[0]),
                     out.salt.size(), values[4].data(), values[4].size(),
                     nullptr, &len, nullptr) != 0 ||
      len != kPasswordSaltBytes) {
    return bad("the salt must be 32 hex characters");
  }
  out.format_version = 2;
  out.params = Argon2Params{ops, static_cast<size_t>(mem)};
  return out;
}

bool PathIsInside(const std::string& path, const std::string& dir) {
  auto resolve = [](const std::string& p) {
    char buf[PATH_MAX];
    if (::realpath(p.c_str(), buf) != nullptr) return std::string(buf);
    // Not there yet: resolve the parent, keep the last component.
    size_t slash = p.rfind('/');
    if (slash != std::string::npos && slash > 0 &&
        ::realpath(p.substr(0, slash).c_str(), buf) != nullptr) {
      return absl::StrCat(buf, p.substr(slash));
    }
    return p;
  };
  std::string real_path = resolve(path);
  std::string real_dir = resolve(dir);
  while (real_dir.size() > 1 && real_dir.back() == '/') real_dir.pop_back();
  if (real_path == real_dir) return true;
  return absl::StartsWith(real_path,
                          real_dir == "/" ? real_dir : real_dir + "/");
}

namespace {

// Copies the value of every "NAME=" entry of environ (the first one wins,
// as getenv), wipes each entry's bytes and unsets NAME.
absl::optional<SecretBytes> TakeVariable(absl::string_view name) {
  absl::optional<SecretBytes> value;
  const std::string prefix = absl::StrCat(name, "=");
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, prefix.c_str(), prefix.size()) != 0) continue;
    const size_t length = std::strlen(*entry);
    if (!value.has_value()) {
      value = SecretBytes::FromString(
          absl::string_view(*entry + prefix.size(), length - prefix.size()));
    }
    // The original block (what /proc/PID/environ shows) is writable memory
    // of this process; entries set later live on glibc's heap.
    sodium_memzero(*entry, length);
  }
  // The wiped entries now read as "" and no longer match NAME; unsetenv
  // still removes any entry it finds, and a set variable must be gone.
  ::unsetenv(std::string(name).c_str());
  return value;
}

}  // namespace

std::shared_ptr<KeyEnvironment> KeyEnvironment::TakeFromProcess() {
  if (sodium_init() < 0) std::abort();
  std::shared_ptr<KeyEnvironment> env(new KeyEnvironment());
  env->key_ = TakeVariable(kEnvSecretsKey);
  env->password_ = TakeVariable(kEnvSecretsPassword);
  return env;
}

EnvLookup KeyEnvironment::Lookup() {
  std::shared_ptr<KeyEnvironment> self = shared_from_this();
  return [self](absl::string_view name) -> absl::optional<std::string> {
    const absl::optional<SecretBytes>* taken = nullptr;
    if (name == kEnvSecretsKey) taken = &self->key_;
    if (name == kEnvSecretsPassword) taken = &self->password_;
    if (taken == nullptr) return RealEnvironment()(name);
    if (!taken->has_value()) return absl::nullopt;
    // The caller wipes this copy (KeyManager does, when it returns).
    return std::string((*taken)->InsecureView());
  };
}

void KeyEnvironment::Clear() {
  key_.reset();
  password_.reset();
}

absl::string_view KeySourceName(KeySource source) {
  switch (source) {
    case KeySource::kEnvKey:
      return "env ZLAYER_SECRETS_KEY";
    case KeySource::kPassword:
      return "password";
    case KeySource::kKeyFile:
      return "key file";
    case KeySource::kGenerated:
      return "generated";
    case KeySource::kCredentialFile:
      return "credential file";
  }
  return "unknown";
}

EnvLookup RealEnvironment() {
  return [](absl::string_view name) -> absl::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return absl::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::string> DefaultKeyDir(uid_t euid, absl::string_view home,
                                          absl::string_view xdg_config_home) {
  if (euid == 0) return std::string("/etc/zlayer-secrets");
  auto trimmed = [](absl::string_view dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
    return dir == "/" ? absl::string_view() : dir;
  };
  if (!xdg_config_home.empty() && xdg_config_home[0] == '/') {
    return absl::StrCat(trimmed(xdg_config_home), "/zlayer-secrets");
  }
  if (home.empty() || home[0] != '/') {
    return absl::FailedPreconditionError(
        "HOME is not set to an absolute path; set a key directory explicitly");
  }
  return absl::StrCat(trimmed(home), "/.config/zlayer-secrets");
}

absl::StatusOr<std::unique_ptr<KeyManager>> KeyManager::Create(
    KeyManagerOptions options) {
  RETURN_IF_ERROR(ValidateDeployment(options.deployment));
  if (options.key_file.has_value() && options.key_file->empty()) {
    return absl::InvalidArgumentError("key_file is set but empty");
  }
  if (options.key_file_rotate_to.has_value() &&
      (!options.key_file.has_value() || options.key_file_rotate_to->empty())) {
    return absl::InvalidArgumentError(
        "key_file_rotate_to needs key_file and must not be empty");
  }
  std::string key_dir = options.key_dir;
  if (key_dir.empty()) {
    absl::optional<std::string> home, xdg;
    if (options.env) {
      home = options.env("HOME");
      xdg = options.env("XDG_CONFIG_HOME");
    }
    ASSIGN_OR_RETURN(key_dir, DefaultKeyDir(::geteuid(), home.value_or(""),
                                            xdg.value_or("")));
  }
  if (!options.fallback_key_dir.empty()) {
    auto holds_key = [&](const std::string& dir) {
      for (const char* suffix : {".key", ".salt"}) {
        std::string path =
            absl::StrCat(dir, "/secrets_", options.deployment, suffix);
        struct stat st;
        if (::lstat(path.c_str(), &st) == 0) return true;
      }
      return false;
    };
    if (!holds_key(key_dir) && holds_key(options.fallback_key_dir)) {
      key_dir = options.fallback_key_dir;
    }
  }
  return std::unique_ptr<KeyManager>(
      new KeyManager(std::move(options), std::move(key_dir)));
}

KeyManager::KeyManager(KeyManagerOptions options, std::string key_dir)
    : options_(std::move(options)), key_dir_(std::move(key_dir)) {}

std::string KeyManager::key_path() const {
  return absl::StrCat(key_dir_, "/secrets_", options_.deployment, ".key");
}

std::string KeyManager::salt_path() const {
  return absl::StrCat(key_dir_, "/secrets_", options_.deployment, ".salt");
}

absl::StatusOr<MasterKey> KeyManager::GetOrCreateKey() const {
  ASSIGN_OR_RETURN(MasterKey master, Resolve());
  // The master key lives as long as the daemon: its own guarded region.
  if (!master.key.guarded()) master.key = master.key.CloneGuarded();
  return master;
}

absl::StatusOr<MasterKey> KeyManager::GetExistingKey() const {
  const bool env_key = options_.env && options_.env(kEnvSecretsKey).has_value();
  const bool password =
      !env_key && options_.env && options_.env(kEnvSecretsPassword).has_value();
  if (!env_key && !options_.key_file.has_value()) {
    const std::string path = password ? salt_path() : key_path();
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "no master key: ", path,
          " does not exist (give the store's key with --key-file, --key-dir "
          "or ZLAYER_SECRETS_KEY; nothing was created)"));
    }
  }
  return GetOrCreateKey();
}

absl::StatusOr<MasterKey> KeyManager::Resolve() const {
  if (sodium_init() < 0) {
    return absl::InternalError("libsodium failed to initialise");
  }
  if (options_.env) {
    // Upstream's rule: a set variable wins even when empty (and then fails)
    // rather than silently falling through to the next source.
    absl::optional<std::string> hex = options_.env(kEnvSecretsKey);
    if (hex.has_value()) return FromEnvKey(std::move(*hex));
    absl::optional<std::string> password = options_.env(kEnvSecretsPassword);
    if (password.has_value()) return FromPassword(std::move(*password));
  }
  if (options_.key_file.has_value()) {
    return FromCredentialFile(*options_.key_file);
  }
  return FromKeyDir();
}

absl::StatusOr<MasterKey> KeyManager::FromEnvKey(std::string hex) const {
  StringWiper wiper(&hex);
  ASSIGN_OR_RETURN(SecretBytes key,
                   DecodeHexKey(absl::StripAsciiWhitespace(hex), kEnvSecretsKey,
                                absl::StatusCode::kInvalidArgument));
  return MasterKey{std::move(key), KeySource::kEnvKey, ""};
}

absl::StatusOr<MasterKey> KeyManager::FromPassword(std::string password) const {
  StringWiper wiper(&password);
  if (password.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kEnvSecretsPassword, " is set but empty"));
  }
  const std::string path = salt_path();
  FileReadOptions read_opts;
  read_opts.require_private = false;  // a salt is not secret
  read_opts.max_bytes = 256;          // the version-2 text is ~110 bytes
  read_opts.what = "salt file";

  absl::StatusOr<SecretBytes> contents = ReadCheckedFile(path, read_opts);
  if (absl::IsNotFound(contents.status())) {
    RETURN_IF_ERROR(EnsureDirectory(key_dir_));
    PasswordSalt fresh;
    fresh.salt.resize(kPasswordSaltBytes);
    randombytes_buf(&fresh.salt[0], fresh.salt.size());
    // If another process created the salt first, CreateFileAtomically
    // leaves it alone and the re-read below picks it up.
    RETURN_IF_ERROR(
        CreateFileAtomically(key_dir_, path, FormatPasswordSalt(fresh))
            .status());
    contents = ReadCheckedFile(path, read_opts);
  }
  if (!contents.ok()) return contents.status();
  ASSIGN_OR_RETURN(PasswordSalt salt,
                   ParsePasswordSalt(contents->InsecureView(),
                                     absl::StrCat("salt file ", path)));

  SecretBytes key = SecretBytes::Guarded(kKeyBytes);
  if (crypto_pwhash(key.MutableData(), key.size(), password.data(),
                    password.size(),
                    reinterpret_cast<const unsigned char*>(salt.salt.data()),
                    salt.params.opslimit, salt.params.memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(
        "Argon2id key derivation failed (out of memory?)");
  }
  return MasterKey{std::move(key), KeySource::kPassword, path};
}

absl::StatusOr<MasterKey> KeyManager::FromCredentialFile(
    const std::string& path) const {
  FileReadOptions read_opts;
  // The caller named this path; systemd may expose credentials through links.
  read_opts.no_follow = false;
  read_opts.max_bytes = 2 * kKeyBytes + 2;  // hex plus "\r\n" at most
  read_opts.what = "credential file";
  ASSIGN_OR_RETURN(SecretBytes contents, ReadCheckedFile(path, read_opts));

  ASSIGN_OR_RETURN(SecretBytes key, DecodeKeyFileContents(
                                        std::move(contents),
                                        absl::StrCat("credential file ", path),
                                        absl::StatusCode::kFailedPrecondition));
  return MasterKey{std::move(key), KeySource::kCredentialFile, path};
}

absl::StatusOr<MasterKey> KeyManager::FromKeyDir() const {
  const std::string path = key_path();
  FileReadOptions read_opts;
  read_opts.max_bytes = kKeyBytes;
  read_opts.what = "key file";

  absl::StatusOr<SecretBytes> contents = ReadCheckedFile(path, read_opts);
  if (absl::IsNotFound(contents.status())) {
    RETURN_IF_ERROR(EnsureDirectory(key_dir_));
    SecretBytes fresh = SecretBytes::Random(kKeyBytes);
    ASSIGN_OR_RETURN(bool created, CreateFileAtomically(key_dir_, path,
                                                        fresh.InsecureView()));
    if (created) {
      return MasterKey{std::move(fresh), KeySource::kGenerated, path};
    }
    // Another process created the key first; use theirs.
    contents = ReadCheckedFile(path, read_opts);
  }
  if (!contents.ok()) return contents.status();
  if (contents->size() != kKeyBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key file ", path, " has the wrong length (", contents->size(),
        " bytes, expected ", kKeyBytes, " raw bytes)"));
  }
  return MasterKey{*std::move(contents), KeySource::kKeyFile, path};
}

bool KeyManager::CanRotate(KeySource source) const {
  switch (source) {
    case KeySource::kKeyFile:
    case KeySource::kGenerated:
      return true;
    case KeySource::kCredentialFile:
      return options_.key_file_rotate_to.has_value();
    case KeySource::kEnvKey:
    case KeySource::kPassword:
      return false;
  }
  return false;
}

std::string KeyManager::rotation_path() const {
  if (options_.key_file.has_value() &&
      options_.key_file_rotate_to.has_value()) {
    return *options_.key_file_rotate_to;
  }
  return key_path();
}

std::string KeyManager::staged_key_path() const {
  return absl::StrCat(rotation_path(), ".next");
}

namespace {
std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

absl::Status KeyManager::StageNextKey(const SecretBytes& key) const {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a master key has ", kKeyBytes, " bytes"));
  }
  RETURN_IF_ERROR(DiscardStagedKey());
  const std::string dir = DirOf(staged_key_path());
  RETURN_IF_ERROR(EnsureDirectory(dir));
  ASSIGN_OR_RETURN(bool created, CreateFileAtomically(dir, staged_key_path(),
                                                      key.InsecureView()));
  if (!created) {
    return absl::AbortedError(
        absl::StrCat("another rotation staged ", staged_key_path()));
  }
  return absl::OkStatus();
}

absl::Status KeyManager::PromoteNextKey() const {
  const std::string staged = staged_key_path();
  const std::string target = rotation_path();
  if (::rename(staged.c_str(), target.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot move the new key into place", staged);
  }
  return FsyncDirectory(DirOf(target));
}

absl::StatusOr<SecretBytes> KeyManager::ReadKeyAt(
    const std::string& path, absl::string_view what) const {
  FileReadOptions read_opts;
  read_opts.max_bytes = kKeyBytes;
  read_opts.what = what;
  ASSIGN_OR_RETURN(SecretBytes key, ReadCheckedFile(path, read_opts));
  if (key.size() != kKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " has the wrong length"));
  }
  return key.CloneGuarded();
}

absl::StatusOr<SecretBytes> KeyManager::ReadStagedKey() const {
  return ReadKeyAt(staged_key_path(), "staged key file");
}

absl::StatusOr<SecretBytes> KeyManager::ReadRotatedKey() const {
  if (!options_.key_file.has_value() ||
      !options_.key_file_rotate_to.has_value() ||
      *options_.key_file_rotate_to == *options_.key_file) {
    return absl::NotFoundError("no separate rotation target");
  }
  return ReadKeyAt(*options_.key_file_rotate_to, "rotated key file");
}

absl::Status KeyManager::DiscardStagedKey() const {
  const std::string staged = staged_key_path();
  if (::unlink(staged.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "cannot remove", staged);
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
