// Master-key rotation through the real daemon: Admin.RotateMasterKey
// re-wraps the store's data keys under a new key id, the new key replaces the
// key file, and a restart opens the store again. A rotation interrupted between
// the store's commit and the key file's replacement is finished at the next
// start; one that never committed is discarded.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::ReadFile;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);

class KeyRotationTest : public ::testing::Test {
 protected:
  std::string KeyPath() const { return dir_.Sub("data/secrets_zlayer.key"); }

  void Start() {
    daemon_ = testing::StartReadyDaemon(
        dir_,
        {"--data-dir", dir_.Sub("data"), "--key-dir", dir_.Sub("data"),
         "--bootstrap-admin-key", "keep", "--socket", dir_.Sub("d.sock")},
        kWait);
    ASSERT_NE(daemon_, nullptr);
    auto channel = UnixChannel(dir_.Sub("d.sock"));
    secrets_ = v1::Secrets::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }

  void Stop() { testing::StopDaemonCleanly(daemon_, kWait); }

  grpc::Status Set(const std::string& name, const std::string& value) {
    v1::SetSecretRequest req;
    req.mutable_target()->set_scope("app");
    req.set_name(name);
    req.set_value(value);
    v1::SetSecretResponse resp;
    grpc::ClientContext ctx;
    return secrets_->SetSecret(&ctx, req, &resp);
  }

  std::string Get(const std::string& name, uint32_t version = 0) {
    v1::GetSecretRequest req;
    req.mutable_target()->set_scope("app");
    req.set_name(name);
    req.set_version(version);
    v1::GetSecretResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = secrets_->GetSecret(&ctx, req, &resp);
    if (!s.ok()) return "<error " + std::to_string(s.error_code()) + ">";
    return resp.value();
  }

  grpc::Status Rotate(v1::RotateMasterKeyResponse* resp,
                      const std::string& key = "") {
    v1::RotateMasterKeyRequest req;
    req.set_new_key(key);
    grpc::ClientContext ctx;
    return admin_->RotateMasterKey(&ctx, req, resp);
  }

  void ExpectAllReadable() {
    EXPECT_EQ(Get("db"), "db-v2");
    EXPECT_EQ(Get("db", 1), "db-v1");
    EXPECT_EQ(Get("token"), "token-v1");
  }

  void SeedAndRotate(std::string* old_key, std::string* new_key) {
    Start();
    ASSERT_TRUE(Set("db", "db-v1").ok());
    ASSERT_TRUE(Set("db", "db-v2").ok());
    ASSERT_TRUE(Set("token", "token-v1").ok());
    *old_key = *ReadFile(KeyPath());
    v1::RotateMasterKeyResponse resp;
    grpc::Status s = Rotate(&resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.new_key_id(), 2u);
    // Schema 2: rotation re-wraps the data keys only; no value is sealed
    // anew (docs/crypto.md, "Key hierarchy").
    EXPECT_EQ(resp.versions_reencrypted(), 0u);
    *new_key = *ReadFile(KeyPath());
    ExpectAllReadable();
    Stop();
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Secrets::Stub> secrets_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(KeyRotationTest, RotationReplacesTheKeyFileAndSurvivesRestart) {
  std::string old_key, new_key;
  SeedAndRotate(&old_key, &new_key);
  EXPECT_EQ(new_key.size(), 32u);
  EXPECT_NE(new_key, old_key);
  EXPECT_FALSE(ReadFile(KeyPath() + ".next").ok());
  struct stat st;
  ASSERT_EQ(::stat(KeyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Start();
  ExpectAllReadable();
  // A second rotation moves to key id 3; new writes use it too.
  v1::RotateMasterKeyResponse resp;
  ASSERT_TRUE(Rotate(&resp).ok());
  EXPECT_EQ(resp.new_key_id(), 3u);
  ASSERT_TRUE(Set("token", "token-v2").ok());
  Stop();
  Start();
  EXPECT_EQ(Get("token"), "token-v2");
  EXPECT_EQ(Get("db", 1), "db-v1");
  Stop();
}

TEST_F(KeyRotationTest, OldKeyNoLongerOpensTheRotatedStore) {
  std::string old_key, new_key;
  SeedAndRotate(&old_key, &new_key);
  ASSERT_TRUE(testing::WriteFile(KeyPath(), old_key, 0600).ok());
  auto process = DaemonProcess::Start(
      {"--data-dir", dir_.Sub("data"), "--key-dir", dir_.Sub("data"),
       "--bootstrap-admin-key", "keep", "--socket", dir_.Sub("d.sock")},
      dir_.path());
  ASSERT_TRUE(process.ok());
  auto status = (*process)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_TRUE(absl::StrContains((*process)->Stderr(),
                                "master key does not match this store"));
}

TEST_F(KeyRotationTest, RotationInterruptedBeforePromotionIsFinishedAtStart) {
  std::string old_key, new_key;
  SeedAndRotate(&old_key, &new_key);
  // The state a crash leaves between the store's commit and the rename: the
  // old key in the key file, the new key staged beside it.
  ASSERT_TRUE(testing::WriteFile(KeyPath(), old_key, 0600).ok());
  ASSERT_TRUE(testing::WriteFile(KeyPath() + ".next", new_key, 0600).ok());
  Start();
  EXPECT_TRUE(absl::StrContains(daemon_->Stderr(),
                                "master_key_rotation_completed_at_start"));
  ExpectAllReadable();
  EXPECT_EQ(*ReadFile(KeyPath()), new_key);
  EXPECT_FALSE(ReadFile(KeyPath() + ".next").ok());
  Stop();
}

TEST_F(KeyRotationTest, StagedKeyThatNeverCommittedIsDiscarded) {
  Start();
  ASSERT_TRUE(Set("db", "db-v1").ok());
  ASSERT_TRUE(Set("db", "db-v2").ok());
  ASSERT_TRUE(Set("token", "token-v1").ok());
  Stop();
  const std::string key = *ReadFile(KeyPath());
  ASSERT_TRUE(
      testing::WriteFile(KeyPath() + ".next", std::string(32, 'n'), 0600).ok());
  Start();
  EXPECT_TRUE(
      absl::StrContains(daemon_->Stderr(), "master_key_rotation_discarded"));
  ExpectAllReadable();
  EXPECT_EQ(*ReadFile(KeyPath()), key);
  EXPECT_FALSE(ReadFile(KeyPath() + ".next").ok());
  Stop();
}

TEST_F(KeyRotationTest, SuppliedKeyOfWrongLengthIsRejected) {
  Start();
  ASSERT_TRUE(Set("db", "v").ok());
  v1::RotateMasterKeyResponse resp;
  grpc::Status s = Rotate(&resp, "short");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("db"), "v");
  Stop();
}

}  // namespace
}  // namespace zlayer::secrets
