// Rekey (DEK rotation, issue 19): values move to a new data-key generation
// in batches in the background while reads go on; an interrupted rekey
// resumes; old generations leave the keyring once no row names them.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/security/crypto/raw_db.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

SecretBytes Key(char fill) {
  return SecretBytes::FromString(std::string(kKeyBytes, fill));
}

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStore(
    const std::string& path, SecretBytes key, Clock* clock) {
  ASSIGN_OR_RETURN(uint32_t key_id, SqliteSecretStore::RecordedKeyId(path));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(key_id, std::move(key)));
  SqliteStoreOptions options;
  options.path = path;
  return SqliteSecretStore::Open(options, std::move(ring), clock);
}

constexpr int kSecrets = 400;
constexpr int kVersions = 3;  // 1,200 versions: three batches of 500

std::string ValueOf(int secret, int version) {
  return absl::StrCat("value-", secret, "-v", version);
}

class RekeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = MakeTempDir() + "/secrets.db";
    Reopen();
    for (int v = 1; v <= kVersions; ++v) {
      for (int i = 0; i < kSecrets; ++i) {
        ASSERT_OK(store_->SetSecret("prod", absl::StrCat("s", i),
                                    SecretBytes::FromString(ValueOf(i, v)),
                                    {}));
      }
    }
  }

  void Reopen() {
    store_.reset();
    auto store = OpenStore(path_, Key('A'), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  void ExpectEverySecret() {
    for (int i = 0; i < kSecrets; ++i) {
      for (int v = 1; v <= kVersions; ++v) {
        auto got = store_->GetVersioned("prod", absl::StrCat("s", i), v);
        ASSERT_OK(got);
        ASSERT_EQ(got->value.InsecureView(), ValueOf(i, v));
      }
    }
  }

  FakeClock clock_;
  std::string path_;
  std::unique_ptr<SqliteSecretStore> store_;
};

TEST_F(RekeyTest, MovesEveryVersionWhileReadsGoOn) {
  const std::string before =
      RawDb(path_).Bytes("SELECT ciphertext FROM secret_versions LIMIT 1");
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    // Reads of every kind of row (moved or not) throughout the rekey.
    for (int i = 0; !done.load(); i = (i + 1) % kSecrets) {
      auto got = store_->GetVersioned("prod", absl::StrCat("s", i), 1 + i % 3);
      if (!got.ok() || got->value.InsecureView() != ValueOf(i, 1 + i % 3)) {
        failures.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  });
  auto generation = store_->StartRekey();
  ASSERT_OK(generation);
  EXPECT_EQ(*generation, 2u);
  // New writes use the new generation at once.
  auto m = store_->SetSecret("prod", "fresh", SecretBytes::FromString("x"), {});
  ASSERT_OK(m);
  EXPECT_EQ(m->key_id, 2u);
  ASSERT_OK(store_->WaitForRekey());
  done.store(true);
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);

  RekeyProgress progress = store_->rekey_progress();
  EXPECT_FALSE(progress.running);
  EXPECT_EQ(progress.generation, 2u);
  EXPECT_EQ(progress.done, progress.total);
  EXPECT_GE(progress.total, static_cast<uint64_t>(kSecrets * kVersions));
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id <> 2"),
              0);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM keyring"), 1);
    EXPECT_EQ(raw.Int("SELECT generation FROM keyring"), 2);
    EXPECT_NE(raw.Bytes("SELECT ciphertext FROM secret_versions LIMIT 1"),
              before);
  }
  ExpectEverySecret();
  Reopen();
  EXPECT_EQ(store_->ActiveDataKeyGeneration(), 2u);
  ExpectEverySecret();
  // A master-key rotation after a rekey re-wraps the one generation left.
  uint64_t rewrapped = 0;
  ASSERT_OK(store_->RotateKey(2, Key('B'), &rewrapped));
  EXPECT_EQ(rewrapped, 1u);
}

// A rekey stopped by a failed batch commit is, on disk, what a crash after
// the new generation's commit leaves: the next StartRekey (here after a
// reopen) resumes with the same generation rather than adding another.
TEST_F(RekeyTest, InterruptedRekeyResumesWithTheSameGeneration) {
  // Commit 1 adds generation 2; commit 2 (the first batch) fails.
  store_->FailCommitForTesting(/*commits_to_skip=*/1);
  auto generation = store_->StartRekey();
  ASSERT_OK(generation);
  EXPECT_EQ(*generation, 2u);
  EXPECT_FALSE(store_->WaitForRekey().ok());
  EXPECT_EQ(store_->rekey_progress().done, 0u);
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM keyring"), 2);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id = 1"),
              kSecrets * kVersions);
  }
  ExpectEverySecret();

  Reopen();
  EXPECT_EQ(store_->ActiveDataKeyGeneration(), 2u);
  ExpectEverySecret();
  generation = store_->StartRekey();
  ASSERT_OK(generation);
  EXPECT_EQ(*generation, 2u);
  ASSERT_OK(store_->WaitForRekey());
  EXPECT_EQ(store_->rekey_progress().total,
            static_cast<uint64_t>(kSecrets * kVersions));
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM keyring"), 1);
    EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id = 1"),
              0);
  }
  ExpectEverySecret();
  // With nothing left to move, the next rekey starts generation 3.
  generation = store_->StartRekey();
  ASSERT_OK(generation);
  EXPECT_EQ(*generation, 3u);
  ASSERT_OK(store_->WaitForRekey());
  ExpectEverySecret();
}

}  // namespace
}  // namespace zlayer::secrets::testing
