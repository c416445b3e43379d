// Data-key rotation (rekey) over the API, against the real daemon over TLS:
// Admin.RekeyDataKeys starts it, Admin.GetRekeyStatus reports progress until
// it is done; every version reads back, ListVersions and the metadata name
// the new data-key generation, and only administrators may do either.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using testing::E2eDaemon;
using testing::Transport;

constexpr char kScope[] = "rekey";
// More versions than one rekey batch (SqliteSecretStore::kRekeyBatchSize).
constexpr int kSecrets = 350;
constexpr int kVersions = 2;
constexpr absl::Duration kRekeyTimeout = absl::Seconds(120);

v1::Target Scope() {
  v1::Target t;
  t.set_scope(kScope);
  return t;
}

std::unique_ptr<SecretsClient> Connect(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::string Value(int secret, int version) {
  return absl::StrCat("value-", secret, "-", version);
}

class RekeyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<E2eDaemon>> started =
        E2eDaemon::Start(Transport::kTls);
    ASSERT_TRUE(started.ok()) << started.status();
    daemon_ = *std::move(started);
    admin_ = Connect(daemon_->client_options());
    ASSERT_NE(admin_, nullptr);
  }

  // Polls GetRekeyStatus until no rekey runs (each answer is a fresh read
  // of the daemon's progress; the loop ends on that condition, not a timer).
  v1::RekeyStatus WaitUntilDone() {
    const absl::Time deadline = absl::Now() + kRekeyTimeout;
    v1::RekeyStatus last;
    while (absl::Now() < deadline) {
      absl::StatusOr<v1::RekeyStatus> status = admin_->GetRekeyStatus({});
      EXPECT_TRUE(status.ok()) << status.status();
      if (!status.ok()) return last;
      EXPECT_LE(status->done(), status->total());
      last = *status;
      if (!last.running()) return last;
    }
    ADD_FAILURE() << "rekey still running after " << kRekeyTimeout;
    return last;
  }

  // Every version of every secret reads back and names `generation`.
  void ExpectEveryVersion(uint32_t generation) {
    for (int i = 0; i < kSecrets; ++i) {
      const std::string name = absl::StrCat("S", i);
      for (int v = 1; v <= kVersions; ++v) {
        v1::GetSecretRequest req;
        *req.mutable_target() = Scope();
        req.set_name(name);
        req.set_version(v);
        absl::StatusOr<v1::GetSecretResponse> got = admin_->GetSecret(req);
        ASSERT_TRUE(got.ok()) << name << " v" << v << ": " << got.status();
        EXPECT_EQ(got->value(), Value(i, v));
      }
      v1::ListVersionsRequest list;
      *list.mutable_target() = Scope();
      list.set_name(name);
      absl::StatusOr<v1::ListVersionsResponse> versions =
          admin_->ListVersions(list);
      ASSERT_TRUE(versions.ok()) << versions.status();
      ASSERT_EQ(versions->versions_size(), kVersions);
      for (const v1::VersionInfo& info : versions->versions()) {
        EXPECT_EQ(info.key_id(), generation) << name << " v" << info.version();
      }
    }
    v1::GetSecretRequest current;
    *current.mutable_target() = Scope();
    current.set_name("S0");
    absl::StatusOr<v1::GetSecretResponse> got = admin_->GetSecret(current);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->metadata().key_id(), generation);
  }

  std::unique_ptr<E2eDaemon> daemon_;
  std::unique_ptr<SecretsClient> admin_;
};

TEST_F(RekeyE2eTest, MovesEveryVersionToANewGenerationAndReportsProgress) {
  for (int i = 0; i < kSecrets; ++i) {
    for (int v = 1; v <= kVersions; ++v) {
      v1::SetSecretRequest req;
      *req.mutable_target() = Scope();
      req.set_name(absl::StrCat("S", i));
      req.set_value(Value(i, v));
      ASSERT_TRUE(admin_->SetSecret(req).ok());
    }
  }
  absl::StatusOr<v1::RekeyStatus> before = admin_->GetRekeyStatus({});
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(before->running());
  EXPECT_EQ(before->generation(), 0u);
  EXPECT_EQ(before->active_generation(), 1u);
  ExpectEveryVersion(1);

  absl::StatusOr<v1::RekeyDataKeysResponse> started = admin_->RekeyDataKeys({});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->generation(), 2u);
  v1::RekeyStatus done = WaitUntilDone();
  EXPECT_EQ(done.generation(), 2u);
  EXPECT_EQ(done.active_generation(), 2u);
  // Every version in the store, the daemon's own records (the bootstrap
  // admin key's) included.
  EXPECT_GE(done.total(), static_cast<uint64_t>(kSecrets * kVersions));
  EXPECT_EQ(done.done(), done.total());
  EXPECT_EQ(done.error(), "");
  ExpectEveryVersion(2);

  // The new generation survives a restart, and the next rekey adds a third.
  admin_.reset();
  absl::Status restarted = daemon_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  admin_ = Connect(daemon_->client_options());
  ASSERT_NE(admin_, nullptr);
  ExpectEveryVersion(2);
  started = admin_->RekeyDataKeys({});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->generation(), 3u);
  done = WaitUntilDone();
  EXPECT_GE(done.done(), static_cast<uint64_t>(kSecrets * kVersions));
  EXPECT_EQ(done.done(), done.total());
  EXPECT_EQ(done.error(), "");
  ExpectEveryVersion(3);
}

TEST_F(RekeyE2eTest, OnlyAdministratorsRekey) {
  v1::CreateApiKeyRequest create;
  create.set_id("reader");
  absl::StatusOr<v1::CreateApiKeyResponse> created =
      admin_->CreateApiKey(create);
  ASSERT_TRUE(created.ok()) << created.status();
  ClientOptions options = daemon_->client_options();
  options.api_key = SecretBytes::FromString(created->presentable_key());
  std::unique_ptr<SecretsClient> reader = Connect(std::move(options));
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WhoAmI({}).ok());

  EXPECT_EQ(reader->RekeyDataKeys({}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader->GetRekeyStatus({}).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<v1::RekeyStatus> status = admin_->GetRekeyStatus({});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->generation(), 0u);  // nothing was started
  EXPECT_EQ(status->active_generation(), 1u);
}

}  // namespace
}  // namespace zlayer::secrets
