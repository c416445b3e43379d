// Issue 19: a rekey interrupted (here a batch commit that fails, which on
// disk is what a crash after the new generation's commit leaves) is resumed
// by the daemon at start: Admin.GetRekeyStatus shows it running or done for
// the same generation, every version moves, the old generation leaves the
// keyring, and every value reads back through the daemon.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/security/crypto/raw_db.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::RawDb;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr int kSecrets = 300;
constexpr int kVersions = 2;  // 600 versions: two batches

std::string ValueOf(int secret, int version) {
  return absl::StrCat("value-", secret, "-v", version);
}

TEST(DaemonRekeyResumeTest, DaemonResumesAnInterruptedRekeyAtStart) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);
  const std::string key_path = dir.Sub("master.key");
  const std::string key(kKeyBytes, 'K');
  {
    int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, key.data(), key.size()),
              static_cast<ssize_t>(key.size()));
    ::close(fd);
  }
  const std::string db_path = data + "/secrets.db";

  // The store, written and left mid-rekey, as the daemon will find it.
  {
    RealClock clock;
    auto ring = Keyring::Create(SqliteSecretStore::kFirstKeyId,
                                SecretBytes::FromString(key));
    ASSERT_TRUE(ring.ok()) << ring.status();
    SqliteStoreOptions options;
    options.path = db_path;
    auto store = SqliteSecretStore::Open(options, *std::move(ring), &clock);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int v = 1; v <= kVersions; ++v) {
      for (int i = 0; i < kSecrets; ++i) {
        ASSERT_TRUE((*store)
                        ->SetSecret("prod", absl::StrCat("s", i),
                                    SecretBytes::FromString(ValueOf(i, v)), {})
                        .ok());
      }
    }
    // Commit 1 adds generation 2; commit 2 (the first batch) fails.
    (*store)->FailCommitForTesting(/*commits_to_skip=*/1);
    auto generation = (*store)->StartRekey();
    ASSERT_TRUE(generation.ok()) << generation.status();
    ASSERT_EQ(*generation, 2u);
    ASSERT_FALSE((*store)->WaitForRekey().ok());
    auto awaiting = (*store)->VersionsAwaitingRekey();
    ASSERT_TRUE(awaiting.ok());
    EXPECT_EQ(*awaiting, static_cast<uint64_t>(kSecrets * kVersions));
  }
  {
    RawDb raw(db_path);
    ASSERT_EQ(raw.Int("SELECT COUNT(*) FROM keyring"), 2);
    ASSERT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id = 1"),
              kSecrets * kVersions);
  }

  auto daemon = DaemonProcess::Start({"--data-dir", data, "--key-file",
                                      key_path, "--socket", dir.Sub("d.sock")},
                                     dir.path());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto resumed = (*daemon)->WaitForLog("event=rekey_resumed", kWait);
  ASSERT_TRUE(resumed.ok()) << resumed.status() << (*daemon)->Stderr();
  EXPECT_NE(resumed->find("generation=2"), std::string::npos) << *resumed;
  ASSERT_TRUE((*daemon)->WaitForLog("event=ready", kWait).ok())
      << (*daemon)->Stderr();
  auto channel = UnixChannel(dir.Sub("d.sock"));
  auto admin = v1::Admin::NewStub(channel);
  auto secrets = v1::Secrets::NewStub(channel);

  // Progress until done (each answer a fresh read of the daemon's state).
  v1::RekeyStatus status;
  const absl::Time deadline = absl::Now() + kWait;
  do {
    grpc::ClientContext ctx;
    grpc::Status s = admin->GetRekeyStatus(&ctx, {}, &status);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_LT(absl::Now(), deadline) << "rekey did not finish";
  } while (status.running());
  EXPECT_EQ(status.generation(), 2u);  // resumed, not a third generation
  EXPECT_EQ(status.active_generation(), 2u);
  EXPECT_EQ(status.error(), "");
  EXPECT_EQ(status.total(), static_cast<uint64_t>(kSecrets * kVersions));
  EXPECT_EQ(status.done(), status.total());

  for (int i = 0; i < kSecrets; ++i) {
    for (int v = 1; v <= kVersions; ++v) {
      v1::GetSecretRequest req;
      req.mutable_target()->set_scope("prod");
      req.set_name(absl::StrCat("s", i));
      req.set_version(v);
      v1::GetSecretResponse resp;
      grpc::ClientContext ctx;
      grpc::Status s = secrets->GetSecret(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(resp.value(), ValueOf(i, v));
    }
  }

  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitForExit(kWait);
  ASSERT_TRUE(exited.ok());
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0)
      << (*daemon)->Stderr();
  RawDb raw(db_path);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM keyring"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM secret_versions WHERE key_id = 1"),
            0);
}

}  // namespace
}  // namespace zlayer::secrets
