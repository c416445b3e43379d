// Master-key rotation and its crash recovery, against a real KeyManager in a
// temp directory and a "store" that opens only with the key it is sealed by.
#include "core/crypto/master_key_rotation.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/crypto/key_manager.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets {
namespace {

// A store sealed by one key: opens with it (FailedPrecondition otherwise)
// and moves to another on Rekey.
class SealedStore {
 public:
  explicit SealedStore(SecretBytes key) : key_(std::move(key)) {}
  absl::Status Open(SecretBytes key) {
    ++opens_;
    if (!key.ConstantTimeEquals(key_))
      return absl::FailedPreconditionError("wrong key");
    return absl::OkStatus();
  }
  absl::Status Rekey(SecretBytes key) {
    if (fail_rekey_) return absl::InternalError("disk full");
    key_ = std::move(key);
    return absl::OkStatus();
  }
  const SecretBytes& key() const { return key_; }
  void FailNextRekey() { fail_rekey_ = true; }
  int opens() const { return opens_; }

 private:
  SecretBytes key_;
  bool fail_rekey_ = false;
  int opens_ = 0;
};

class MasterKeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KeyManagerOptions options;
    options.deployment = "zlayer";
    options.key_dir = testing::MakeTempDir();
    options.env = [](absl::string_view) {
      return absl::optional<std::string>();
    };
    auto keys = KeyManager::Create(std::move(options));
    ASSERT_OK(keys.status());
    keys_ = *std::move(keys);
    auto master = keys_->GetOrCreateKey();
    ASSERT_OK(master.status());
    ASSERT_EQ(master->source, KeySource::kGenerated);
    store_ = std::make_unique<SealedStore>(master->key.Clone());
  }

  StoreOpener Opener() {
    return [this](SecretBytes key) { return store_->Open(std::move(key)); };
  }
  StoreRekeyer Rekeyer() {
    return [this](SecretBytes key) { return store_->Rekey(std::move(key)); };
  }
  SecretBytes ConfiguredKey() { return keys_->GetOrCreateKey()->key.Clone(); }
  bool StagedKeyExists() {
    struct stat st;
    return stat(keys_->staged_key_path().c_str(), &st) == 0;
  }

  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<SealedStore> store_;
};

TEST_F(MasterKeyRotationTest, RotationMovesStoreAndKeyFileTogether) {
  SecretBytes next = SecretBytes::Random(kKeyBytes);
  ASSERT_OK(
      RotateMasterKey(*keys_, KeySource::kGenerated, next.Clone(), Rekeyer()));
  EXPECT_TRUE(store_->key().ConstantTimeEquals(next));
  EXPECT_TRUE(ConfiguredKey().ConstantTimeEquals(next));
  EXPECT_FALSE(StagedKeyExists());
}

TEST_F(MasterKeyRotationTest, FailedRekeyLeavesKeyFileAndRemovesStage) {
  SecretBytes before = ConfiguredKey();
  store_->FailNextRekey();
  absl::Status stage_not_removed;
  EXPECT_STATUS(RotateMasterKey(*keys_, KeySource::kGenerated,
                                SecretBytes::Random(kKeyBytes), Rekeyer(),
                                &stage_not_removed),
                kInternal);
  EXPECT_OK(stage_not_removed);
  EXPECT_TRUE(ConfiguredKey().ConstantTimeEquals(before));
  EXPECT_FALSE(StagedKeyExists());
}

TEST_F(MasterKeyRotationTest, KeyFromEnvironmentCannotRotate) {
  EXPECT_STATUS(
      RotateMasterKey(*keys_, KeySource::kEnvKey, SecretBytes(), Rekeyer()),
      kFailedPrecondition);
}

TEST_F(MasterKeyRotationTest, CrashAfterStoreCommitIsFinishedAtStart) {
  // A rotation staged its key and moved the store, then the process died
  // before the key file was replaced.
  SecretBytes next = SecretBytes::Random(kKeyBytes);
  ASSERT_OK(keys_->StageNextKey(next));
  ASSERT_OK(store_->Rekey(next.Clone()));
  auto recovery = OpenWithKeyRecovery(*keys_, KeySource::kGenerated,
                                      ConfiguredKey(), Opener());
  ASSERT_OK(recovery.status());
  EXPECT_TRUE(recovery->rotation_completed);
  EXPECT_FALSE(recovery->rotation_discarded);
  EXPECT_TRUE(ConfiguredKey().ConstantTimeEquals(next));
  EXPECT_FALSE(StagedKeyExists());
}

TEST_F(MasterKeyRotationTest, CrashBeforeStoreCommitIsDiscardedAtStart) {
  SecretBytes before = ConfiguredKey();
  ASSERT_OK(keys_->StageNextKey(SecretBytes::Random(kKeyBytes)));
  auto recovery = OpenWithKeyRecovery(*keys_, KeySource::kGenerated,
                                      before.Clone(), Opener());
  ASSERT_OK(recovery.status());
  EXPECT_TRUE(recovery->rotation_discarded);
  EXPECT_FALSE(recovery->rotation_completed);
  EXPECT_TRUE(ConfiguredKey().ConstantTimeEquals(before));
  EXPECT_FALSE(StagedKeyExists());
}

TEST_F(MasterKeyRotationTest, WrongKeyWithNothingStagedFailsWithOpenError) {
  auto recovery = OpenWithKeyRecovery(*keys_, KeySource::kGenerated,
                                      SecretBytes::Random(kKeyBytes), Opener());
  EXPECT_STATUS(recovery.status(), kFailedPrecondition);
}

TEST_F(MasterKeyRotationTest, KeyThatCannotRotateIsOpenedOnceWithoutRecovery) {
  ASSERT_OK(keys_->StageNextKey(SecretBytes::Random(kKeyBytes)));
  auto recovery = OpenWithKeyRecovery(*keys_, KeySource::kEnvKey,
                                      ConfiguredKey(), Opener());
  ASSERT_OK(recovery.status());
  EXPECT_EQ(store_->opens(), 1);
  EXPECT_TRUE(StagedKeyExists());  // not this source's stage to judge
}

}  // namespace
}  // namespace zlayer::secrets
