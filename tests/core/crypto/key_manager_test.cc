#include "core/crypto/key_manager.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A fresh directory under TEST_TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ =
        absl::StrCat(base != nullptr ? base : "/tmp", "/km-XXXXXX");
    char* made = ::mkdtemp(&templ[0]);
    EXPECT_NE(made, nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// 32 bytes with no repeated 8-hex-digit window, so a leak is detectable.
constexpr char kHexKey[] =
    "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0";

std::string HexKeyBytes() {
  std::string out(kKeyBytes, '\0');
  size_t len = 0;
  EXPECT_EQ(sodium_hex2bin(reinterpret_cast<unsigned char*>(&out[0]),
                           out.size(), kHexKey, 64, nullptr, &len, nullptr),
            0);
  EXPECT_EQ(len, kKeyBytes);
  return out;
}

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             absl::string_view name) -> absl::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return absl::nullopt;
    return it->second;
  };
}

void WriteFile(const std::string& path, const std::string& bytes, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Asserts that `message` contains no 8-character window of `secret`.
void ExpectNoSecretIn(absl::string_view message, absl::string_view secret) {
  for (size_t i = 0; i + 8 <= secret.size(); ++i) {
    EXPECT_THAT(std::string(message),
                Not(HasSubstr(std::string(secret.substr(i, 8)))))
        << "window at " << i;
  }
}

std::unique_ptr<KeyManager> Manager(const std::string& dir,
                                    std::map<std::string, std::string> env = {},
                                    absl::optional<std::string> key_file = {},
                                    std::string deployment = "zlayer") {
  KeyManagerOptions options;
  options.deployment = std::move(deployment);
  options.key_dir = dir;
  options.key_file = std::move(key_file);
  options.env = FakeEnv(std::move(env));
  auto manager = KeyManager::Create(std::move(options));
  EXPECT_TRUE(manager.ok()) << manager.status();
  return std::move(manager).value();
}

// --- ZLAYER_SECRETS_KEY ---------------------------------------------------

TEST(KeyManagerTest, EnvKeyIsDecodedAndNoFileIsWritten) {
  TempDir dir;
  auto key = Manager(dir.path(), {{kEnvSecretsKey, kHexKey}})->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kEnvKey);
  EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
  EXPECT_THAT(key->path, IsEmpty());
  EXPECT_THAT(ListDir(dir.path()), IsEmpty());
}

TEST(KeyManagerTest, EnvKeyAcceptsUpperCaseAndSurroundingWhitespace) {
  TempDir dir;
  std::string upper = kHexKey;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  auto key = Manager(dir.path(), {{kEnvSecretsKey, " \t" + upper + "\n"}})
                 ->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
}

TEST(KeyManagerTest, EnvKeyWithOddLengthIsInvalidArgument) {
  TempDir dir;
  std::string hex = std::string(kHexKey).substr(0, 63);
  auto key = Manager(dir.path(), {{kEnvSecretsKey, hex}})->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("odd number"));
  EXPECT_THAT(std::string(key.status().message()), HasSubstr(kEnvSecretsKey));
  ExpectNoSecretIn(key.status().message(), hex);
}

TEST(KeyManagerTest, EnvKeyWithBadCharacterReportsItsPosition) {
  TempDir dir;
  std::string hex = kHexKey;
  hex[10] = 'g';
  auto key = Manager(dir.path(), {{kEnvSecretsKey, hex}})->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("position 10"));
  EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr("'g'")));
  ExpectNoSecretIn(key.status().message(), hex);
}

TEST(KeyManagerTest, EnvKeyOfWrongLengthIsInvalidArgument) {
  TempDir dir;
  for (const std::string& hex :
       {std::string(kHexKey).substr(0, 62), std::string(kHexKey) + "ab",
        std::string(kHexKey).substr(0, 32), std::string("")}) {
    SCOPED_TRACE(hex.size());
    auto key = Manager(dir.path(), {{kEnvSecretsKey, hex}})->GetOrCreateKey();
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(key.status().message()), HasSubstr("64 hex"));
    ExpectNoSecretIn(key.status().message(), hex);
  }
  // A bad ZLAYER_SECRETS_KEY never falls through to generating a key.
  EXPECT_THAT(ListDir(dir.path()), IsEmpty());
}

TEST(KeyManagerTest, EnvKeyTakesPriorityOverPasswordAndFiles) {
  TempDir dir;
  TempDir cred_dir;
  std::string cred = cred_dir.path() + "/master";
  WriteFile(cred, std::string(kKeyBytes, 'c'), 0600);
  WriteFile(dir.path() + "/secrets_zlayer.key", std::string(kKeyBytes, 'k'),
            0600);
  auto key =
      Manager(dir.path(),
              {{kEnvSecretsKey, kHexKey}, {kEnvSecretsPassword, "pw"}}, cred)
          ->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kEnvKey);
  EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
}

// --- ZLAYER_SECRETS_PASSWORD ----------------------------------------------

// Argon2id of `password` with libsodium directly (an independent check).
std::string Argon2id(const std::string& password, const std::string& salt,
                     uint64_t ops, size_t mem) {
  std::string out(kKeyBytes, '\0');
  EXPECT_EQ(crypto_pwhash(reinterpret_cast<unsigned char*>(&out[0]), out.size(),
                          password.data(), password.size(),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          ops, mem, crypto_pwhash_ALG_ARGON2ID13),
            0);
  return out;
}

TEST(KeyManagerTest, PasswordKeyIsArgon2idOfPasswordAndStoredSalt) {
  TempDir dir;
  auto key = Manager(dir.path(), {{kEnvSecretsPassword, "correct horse"}})
                 ->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kPassword);
  const std::string salt_path = dir.path() + "/secrets_zlayer.salt";
  EXPECT_EQ(key->path, salt_path);
  EXPECT_EQ(ModeOf(salt_path), 0600u);

  // A new salt file is version 2 and records t=3, m=64 MiB.
  const std::string text = ReadFile(salt_path);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), 6u) << text;
  EXPECT_EQ(lines[0], "zlayer-secrets-salt 2");
  EXPECT_EQ(lines[1], "alg argon2id13");
  EXPECT_EQ(lines[2], "opslimit 3");
  EXPECT_EQ(lines[3], "memlimit 67108864");
  ASSERT_EQ(lines[4].size(), 5 + 32u);
  std::string salt(kPasswordSaltBytes, '\0');
  ASSERT_EQ(
      sodium_hex2bin(reinterpret_cast<unsigned char*>(&salt[0]), salt.size(),
                     lines[4].data() + 5, 32, nullptr, nullptr, nullptr),
      0);
  EXPECT_EQ(lines[5], "");

  // Independent derivation with the recorded parameters, which are at least
  // 64 MiB (current Argon2id guidance).
  EXPECT_GE(kArgon2Default.memlimit, size_t{64} << 20);
  EXPECT_TRUE(key->key.ConstantTimeEquals(
      Argon2id("correct horse", salt, 3, size_t{64} << 20)));
  EXPECT_FALSE(key->key.ConstantTimeEquals(
      Argon2id("correct horse", salt, 2, size_t{19} << 20)));
  // The password path does not create a key file.
  EXPECT_EQ(ListDir(dir.path()),
            std::vector<std::string>{"secrets_zlayer.salt"});
}

TEST(KeyManagerTest, UpstreamSaltFileIsReadWithUpstreamParameters) {
  TempDir dir;
  // Upstream's layout: 16 raw bytes, no header.
  const std::string salt = "0123456789abcdef";
  WriteFile(dir.path() + "/secrets_zlayer.salt", salt, 0600);
  auto key =
      Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(
      key->key.ConstantTimeEquals(Argon2id("pw", salt, 2, size_t{19} << 20)));
  // The old file is left as it is (rewriting it would change the key).
  EXPECT_EQ(ReadFile(dir.path() + "/secrets_zlayer.salt"), salt);
}

TEST(KeyManagerTest, VersionedSaltFileParametersAreHonoured) {
  TempDir dir;
  PasswordSalt recorded;
  recorded.params = Argon2Params{1, size_t{8} << 20};
  recorded.salt = "fedcba9876543210";
  WriteFile(dir.path() + "/secrets_zlayer.salt", FormatPasswordSalt(recorded),
            0600);
  auto key =
      Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->key.ConstantTimeEquals(
      Argon2id("pw", recorded.salt, 1, size_t{8} << 20)));
}

TEST(KeyManagerTest, SaltFileWithUnknownVersionOrHugeParametersIsRefused) {
  const std::string hex_salt = "00112233445566778899aabbccddeeff";
  for (const std::string& text :
       {"zlayer-secrets-salt 3\nalg argon2id13\nopslimit 3\nmemlimit "
        "67108864\nsalt " +
            hex_salt + "\n",
        "zlayer-secrets-salt 2\nalg argon2i13\nopslimit 3\nmemlimit "
        "67108864\nsalt " +
            hex_salt + "\n",
        "zlayer-secrets-salt 2\nalg argon2id13\nopslimit 3\nmemlimit "
        "1099511627776\nsalt " +
            hex_salt + "\n",
        "zlayer-secrets-salt 2\nalg argon2id13\nopslimit 0\nmemlimit "
        "67108864\nsalt " +
            hex_salt + "\n",
        std::string("zlayer-secrets-salt 2\nalg argon2id13\nopslimit 3\n"
                    "memlimit 67108864\nsalt xyz\n")}) {
    TempDir dir;
    WriteFile(dir.path() + "/secrets_zlayer.salt", text, 0600);
    auto key =
        Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition)
        << text;
  }
}

TEST(KeyManagerTest, PasswordSaltIsCreatedOnceAndReused) {
  TempDir dir;
  auto first =
      Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string salt = ReadFile(dir.path() + "/secrets_zlayer.salt");

  auto second =
      Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(first->key.ConstantTimeEquals(second->key));
  EXPECT_EQ(ReadFile(dir.path() + "/secrets_zlayer.salt"), salt);
}

TEST(KeyManagerTest, SamePasswordWithDifferentSaltDirsGivesDifferentKeys) {
  TempDir a;
  TempDir b;
  auto key_a =
      Manager(a.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  auto key_b =
      Manager(b.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(key_a.ok() && key_b.ok());
  EXPECT_NE(ReadFile(a.path() + "/secrets_zlayer.salt"),
            ReadFile(b.path() + "/secrets_zlayer.salt"));
  EXPECT_FALSE(key_a->key.ConstantTimeEquals(key_b->key));
}

TEST(KeyManagerTest, DifferentPasswordsWithSameSaltGiveDifferentKeys) {
  TempDir dir;
  auto one =
      Manager(dir.path(), {{kEnvSecretsPassword, "one"}})->GetOrCreateKey();
  auto two =
      Manager(dir.path(), {{kEnvSecretsPassword, "two"}})->GetOrCreateKey();
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_FALSE(one->key.ConstantTimeEquals(two->key));
}

TEST(KeyManagerTest, ShortDeploymentNameWorksWithPassword) {
  // Upstream salts with the deployment name and fails below 8 bytes.
  TempDir dir;
  auto key = Manager(dir.path(), {{kEnvSecretsPassword, "pw"}}, {}, "a")
                 ->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->path, dir.path() + "/secrets_a.salt");
}

TEST(KeyManagerTest, PasswordTakesPriorityOverKeyFile) {
  TempDir dir;
  WriteFile(dir.path() + "/secrets_zlayer.key", std::string(kKeyBytes, 'k'),
            0600);
  auto key =
      Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kPassword);
  EXPECT_FALSE(key->key.ConstantTimeEquals(std::string(kKeyBytes, 'k')));
}

TEST(KeyManagerTest, EmptyPasswordIsInvalidArgument) {
  TempDir dir;
  auto key = Manager(dir.path(), {{kEnvSecretsPassword, ""}})->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ListDir(dir.path()), IsEmpty());
}

TEST(KeyManagerTest, SaltFileOfWrongLengthIsRefused) {
  TempDir dir;
  const std::string salt_path = dir.path() + "/secrets_zlayer.salt";
  for (size_t size : {0, 8, 17}) {
    WriteFile(salt_path, std::string(size, 's'), 0600);
    auto key =
        Manager(dir.path(), {{kEnvSecretsPassword, "pw"}})->GetOrCreateKey();
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(salt_path));
    EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr("pw")));
  }
}

// --- key file in the key directory ---------------------------------------

TEST(KeyManagerTest, ExistingKeyFileIsRead) {
  TempDir dir;
  const std::string path = dir.path() + "/secrets_prod.key";
  const std::string raw = HexKeyBytes();
  WriteFile(path, raw, 0600);
  auto key = Manager(dir.path(), {}, {}, "prod")->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kKeyFile);
  EXPECT_EQ(key->path, path);
  EXPECT_TRUE(key->key.ConstantTimeEquals(raw));
}

TEST(KeyManagerTest, ReadOnlyKeyFileIsAccepted) {
  TempDir dir;
  WriteFile(dir.path() + "/secrets_zlayer.key", HexKeyBytes(), 0400);
  auto key = Manager(dir.path())->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kKeyFile);
}

TEST(KeyManagerTest, KeyFileAccessibleByGroupOrOthersIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/secrets_zlayer.key";
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    SCOPED_TRACE(mode);
    WriteFile(path, HexKeyBytes(), mode);
    auto key = Manager(dir.path())->GetOrCreateKey();
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    const std::string message(key.status().message());
    EXPECT_THAT(message, HasSubstr(path));
    EXPECT_THAT(message, HasSubstr(absl::StrCat("mode 0", (mode >> 6) & 7,
                                                (mode >> 3) & 7, mode & 7)));
    ExpectNoSecretIn(message, HexKeyBytes());
    // The refused file is left alone, not replaced.
    EXPECT_EQ(ReadFile(path), HexKeyBytes());
  }
}

TEST(KeyManagerTest, KeyFileOfWrongLengthIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/secrets_zlayer.key";
  for (const std::string& contents :
       {std::string(), HexKeyBytes().substr(0, 31), HexKeyBytes() + "x",
        std::string(kHexKey)}) {
    SCOPED_TRACE(contents.size());
    WriteFile(path, contents, 0600);
    auto key = Manager(dir.path())->GetOrCreateKey();
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(path));
    EXPECT_THAT(std::string(key.status().message()), HasSubstr("wrong length"));
    ExpectNoSecretIn(key.status().message(), kHexKey);
  }
}

TEST(KeyManagerTest, KeyPathThatIsNotARegularFileIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/secrets_zlayer.key";
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  auto key = Manager(dir.path())->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(key.status().message()),
              HasSubstr("not a regular file"));
}

TEST(KeyManagerTest, KeyFileThatIsASymlinkIsRefused) {
  TempDir dir;
  const std::string target = dir.path() + "/elsewhere";
  WriteFile(target, HexKeyBytes(), 0600);
  ASSERT_EQ(
      ::symlink(target.c_str(), (dir.path() + "/secrets_zlayer.key").c_str()),
      0);
  auto key = Manager(dir.path())->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("symbolic link"));
}

TEST(KeyManagerTest, MissingKeyIsGenerated0600AndReusedNextTime) {
  TempDir dir;
  // Mode 0600 must not depend on a strict umask.
  mode_t old_umask = ::umask(0);
  const std::string key_dir = dir.path() + "/new/secrets";
  auto first = Manager(key_dir)->GetOrCreateKey();
  ::umask(old_umask);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->source, KeySource::kGenerated);
  const std::string path = key_dir + "/secrets_zlayer.key";
  EXPECT_EQ(first->path, path);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(key_dir), 0700u);
  EXPECT_EQ(ModeOf(dir.path() + "/new"), 0700u);
  EXPECT_TRUE(first->key.ConstantTimeEquals(ReadFile(path)));
  // No temporary file is left behind.
  EXPECT_EQ(ListDir(key_dir), std::vector<std::string>{"secrets_zlayer.key"});

  auto second = Manager(key_dir)->GetOrCreateKey();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->source, KeySource::kKeyFile);
  EXPECT_TRUE(second->key.ConstantTimeEquals(first->key));
}

TEST(KeyManagerTest, EachDeploymentGetsItsOwnGeneratedKey) {
  TempDir dir;
  auto a = Manager(dir.path(), {}, {}, "alpha")->GetOrCreateKey();
  auto b = Manager(dir.path(), {}, {}, "beta")->GetOrCreateKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->source, KeySource::kGenerated);
  EXPECT_EQ(b->source, KeySource::kGenerated);
  EXPECT_FALSE(a->key.ConstantTimeEquals(b->key));
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{
                                     "secrets_alpha.key", "secrets_beta.key"}));
}

TEST(KeyManagerTest, KeyDirUnderARegularFileIsFailedPrecondition) {
  TempDir dir;
  WriteFile(dir.path() + "/file", "x", 0600);
  auto key = Manager(dir.path() + "/file/secrets")->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
}

// --- explicit key_file (systemd credentials) ------------------------------

TEST(KeyManagerTest, CredentialFileWithRawBytesIsUsed) {
  TempDir dir;
  TempDir creds;
  const std::string cred = creds.path() + "/zlayer-secrets-key";
  WriteFile(cred, HexKeyBytes(), 0400);
  auto key = Manager(dir.path(), {}, cred)->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kCredentialFile);
  EXPECT_EQ(key->path, cred);
  EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
}

TEST(KeyManagerTest, CredentialFileWithHexAndOptionalNewlineIsUsed) {
  TempDir dir;
  TempDir creds;
  const std::string cred = creds.path() + "/key";
  for (const std::string& contents :
       {std::string(kHexKey), std::string(kHexKey) + "\n",
        std::string(kHexKey) + "\r\n"}) {
    WriteFile(cred, contents, 0600);
    auto key = Manager(dir.path(), {}, cred)->GetOrCreateKey();
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
  }
}

TEST(KeyManagerTest, CredentialFileReplacesKeyDirectoryLookup) {
  TempDir dir;
  TempDir creds;
  WriteFile(dir.path() + "/secrets_zlayer.key", std::string(kKeyBytes, 'k'),
            0600);
  const std::string cred = creds.path() + "/key";
  WriteFile(cred, HexKeyBytes(), 0600);
  auto key = Manager(dir.path(), {}, cred)->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kCredentialFile);
  EXPECT_TRUE(key->key.ConstantTimeEquals(HexKeyBytes()));
}

TEST(KeyManagerTest, MissingCredentialFileIsNotFoundAndNothingIsGenerated) {
  TempDir dir;
  auto key =
      Manager(dir.path(), {}, dir.path() + "/no-such-cred")->GetOrCreateKey();
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ListDir(dir.path()), IsEmpty());
}

TEST(KeyManagerTest, CredentialFileWithBadContentsIsRefusedWithoutEcho) {
  TempDir dir;
  TempDir creds;
  const std::string cred = creds.path() + "/key";
  std::string bad_hex = kHexKey;
  bad_hex[33] = 'z';
  struct Case {
    std::string contents;
    mode_t mode;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {bad_hex + "\n", 0600, "position 33"},
           {std::string(kHexKey).substr(0, 40), 0600, "wrong length"},
           {std::string(kHexKey) + "\n\n", 0600, "wrong length"},
           {HexKeyBytes(), 0644, "mode 0644"},
       }) {
    SCOPED_TRACE(c.expect);
    WriteFile(cred, c.contents, c.mode);
    auto key = Manager(dir.path(), {}, cred)->GetOrCreateKey();
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(c.expect));
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(cred));
    ExpectNoSecretIn(key.status().message(), c.contents);
  }
}

// --- options, names, defaults ---------------------------------------------

TEST(KeyManagerTest, CreateRejectsBadDeploymentNames) {
  TempDir dir;
  for (const std::string& name :
       {std::string(""), std::string("a/b"), std::string("../x"),
        std::string("a\0b", 3)}) {
    KeyManagerOptions options;
    options.deployment = name;
    options.key_dir = dir.path();
    auto manager = KeyManager::Create(std::move(options));
    ASSERT_FALSE(manager.ok());
    EXPECT_EQ(manager.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(KeyManagerTest, PathsFollowUpstreamNaming) {
  auto manager = Manager("/some/dir", {}, {}, "prod");
  EXPECT_EQ(manager->key_dir(), "/some/dir");
  EXPECT_EQ(manager->key_path(), "/some/dir/secrets_prod.key");
  EXPECT_EQ(manager->salt_path(), "/some/dir/secrets_prod.salt");
}

TEST(KeyManagerTest, DefaultKeyDirIsOutsideTheDefaultDataDir) {
  auto root = DefaultKeyDir(0, "/root");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, "/etc/zlayer-secrets");
  auto user = DefaultKeyDir(1000, "/home/ann");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, "/home/ann/.config/zlayer-secrets");
  auto trailing = DefaultKeyDir(1000, "/home/ann/");
  ASSERT_TRUE(trailing.ok());
  EXPECT_EQ(*trailing, "/home/ann/.config/zlayer-secrets");
  auto xdg = DefaultKeyDir(1000, "/home/ann", "/xdg/");
  ASSERT_TRUE(xdg.ok());
  EXPECT_EQ(*xdg, "/xdg/zlayer-secrets");
  // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
  EXPECT_EQ(*DefaultKeyDir(1000, "/home/ann", "rel"),
            "/home/ann/.config/zlayer-secrets");
  EXPECT_EQ(DefaultKeyDir(1000, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DefaultKeyDir(1000, "relative").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(KeyManagerTest, CreateWithoutKeyDirUsesDefaultFromEnvironment) {
  KeyManagerOptions options;
  options.env = FakeEnv({{"HOME", "/home/ann"}});
  auto manager = KeyManager::Create(std::move(options));
  ASSERT_TRUE(manager.ok()) << manager.status();
  if (::geteuid() == 0) {
    EXPECT_EQ((*manager)->key_dir(), "/etc/zlayer-secrets");
  } else {
    EXPECT_EQ((*manager)->key_dir(), "/home/ann/.config/zlayer-secrets");
  }
}

TEST(KeyManagerTest, KeyFoundOnlyInFallbackDirIsUsedAndNotRegenerated) {
  TempDir keys, data;
  const std::string old_key = HexKeyBytes();
  WriteFile(data.path() + "/secrets_zlayer.key", old_key, 0600);
  KeyManagerOptions options;
  options.key_dir = keys.path() + "/k";
  options.fallback_key_dir = data.path();
  auto manager = KeyManager::Create(std::move(options));
  ASSERT_TRUE(manager.ok());
  auto key = (*manager)->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->key.ConstantTimeEquals(old_key));
  EXPECT_EQ(key->path, data.path() + "/secrets_zlayer.key");
  EXPECT_FALSE(fs::exists(keys.path() + "/k"));
}

TEST(KeyManagerTest, NewKeyGoesToKeyDirNotFallback) {
  TempDir keys, data;
  KeyManagerOptions options;
  options.key_dir = keys.path() + "/k";
  options.fallback_key_dir = data.path();
  auto key = (*KeyManager::Create(std::move(options)))->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kGenerated);
  EXPECT_EQ(key->path, keys.path() + "/k/secrets_zlayer.key");
  EXPECT_THAT(ListDir(data.path()), IsEmpty());
  EXPECT_FALSE(PathIsInside(key->path, data.path()));
  EXPECT_TRUE(PathIsInside(data.path() + "/secrets_zlayer.key", data.path()));
  EXPECT_TRUE(
      PathIsInside(data.path() + "/./x/../secrets_zlayer.key", data.path()));
  EXPECT_FALSE(PathIsInside(data.path() + "-other/k", data.path()));
}

TEST(KeyManagerTest, ResolvedMasterKeyIsInGuardedMemory) {
  TempDir dir;
  for (auto env : std::vector<std::map<std::string, std::string>>{
           {{kEnvSecretsKey, kHexKey}}, {}}) {
    auto key = Manager(dir.path(), env)->GetOrCreateKey();
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_TRUE(key->key.guarded());
  }
}

TEST(KeyManagerTest, CredentialFileRotatesToTheConfiguredPath) {
  TempDir dir;
  const std::string cred = dir.path() + "/cred";
  const std::string target = dir.path() + "/state/new-master-key";
  WriteFile(cred, HexKeyBytes(), 0400);
  // Without a rotate-to path a credential cannot be rotated.
  EXPECT_FALSE(
      Manager(dir.path(), {}, cred)->CanRotate(KeySource::kCredentialFile));

  KeyManagerOptions options;
  options.key_dir = dir.path();
  options.key_file = cred;
  options.key_file_rotate_to = target;
  auto manager = *KeyManager::Create(std::move(options));
  EXPECT_TRUE(manager->CanRotate(KeySource::kCredentialFile));
  EXPECT_FALSE(manager->CanRotate(KeySource::kPassword));
  EXPECT_EQ(manager->rotation_path(), target);
  EXPECT_EQ(manager->ReadRotatedKey().status().code(),
            absl::StatusCode::kNotFound);
  SecretBytes next = SecretBytes::Random(kKeyBytes);
  ASSERT_TRUE(manager->StageNextKey(next).ok());
  EXPECT_EQ(ModeOf(target + ".next"), 0600u);
  auto staged = manager->ReadStagedKey();
  ASSERT_TRUE(staged.ok());
  EXPECT_TRUE(staged->ConstantTimeEquals(next));
  ASSERT_TRUE(manager->PromoteNextKey().ok());
  EXPECT_FALSE(fs::exists(target + ".next"));
  EXPECT_EQ(ModeOf(target), 0600u);
  auto rotated = manager->ReadRotatedKey();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_TRUE(rotated->ConstantTimeEquals(next));
  // The credential itself is never written by the daemon.
  EXPECT_EQ(ReadFile(cred), HexKeyBytes());
}

TEST(KeyManagerTest, RotateToWithoutKeyFileIsInvalid) {
  KeyManagerOptions options;
  options.key_dir = "/k";
  options.key_file_rotate_to = "/x";
  EXPECT_EQ(KeyManager::Create(std::move(options)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyManagerTest, UnsetEnvLookupReadsNoVariables) {
  TempDir dir;
  KeyManagerOptions options;
  options.key_dir = dir.path();
  auto manager = KeyManager::Create(std::move(options));
  ASSERT_TRUE(manager.ok());
  auto key = (*manager)->GetOrCreateKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->source, KeySource::kGenerated);
}

TEST(KeyManagerTest, KeySourceNamesAreDistinct) {
  std::vector<std::string> names;
  for (KeySource s :
       {KeySource::kEnvKey, KeySource::kPassword, KeySource::kKeyFile,
        KeySource::kGenerated, KeySource::kCredentialFile}) {
    names.emplace_back(KeySourceName(s));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
}

TEST(KeyManagerTest, ResolvedKeyOpensAnAead) {
  TempDir dir;
  auto key = Manager(dir.path())->GetOrCreateKey();
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->key.size(), kKeyBytes);
  EXPECT_TRUE(Keyring::Create(1, std::move(key->key)).ok());
}

}  // namespace
}  // namespace zlayer::secrets
