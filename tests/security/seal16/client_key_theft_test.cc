// Attacks on sealed reveals (issue 16): an identity that learned (copied
// from a log, a URL, a shared config) or guessed another user's client key
// id tries to have values sealed to it, to revoke it, to list it. A real
// daemon on its Unix socket; the test's uid is the socket's administrator
// and holds an impersonate grant, so it plays both end users through
// x-zlayer-act-as-user, and itself.
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "core/base/ids.h"
#include "core/crypto/sealed_box.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::TempDir;

constexpr char kCanary[] = "theft-canary-0d4b";

class ClientKeyTheftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", dir_.Sub("data"), "--key-dir", dir_.Sub("data"),
         "--socket", dir_.Sub("d.sock"), "--log-level", "info"},
        dir_.path());
    ASSERT_TRUE(proc.ok()) << proc.status();
    daemon_ = *std::move(proc);
    ASSERT_TRUE(daemon_->WaitForLog("event=ready", absl::Seconds(30)).ok())
        << daemon_->Stderr();
    admin_ = As("");
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("shop");
    set.set_name("db");
    set.set_value(kCanary);
    ASSERT_TRUE(admin_->SetSecret(set).ok());
    // Both users may read and resolve the secret: only the key's owner
    // decides whether a value may be sealed to it.
    Grant("user:alice", v1::RESOURCE_KIND_SCOPE, "shop");
    Grant("user:mallory", v1::RESOURCE_KIND_SCOPE, "shop");
    Grant(absl::StrCat("uid:", getuid()), v1::RESOURCE_KIND_IMPERSONATE,
          "user:*");
    alice_ = As("alice");
    mallory_ = As("mallory");
    absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
    ASSERT_TRUE(pair.ok());
    v1::RegisterClientKeyRequest reg;
    reg.set_public_key(pair->public_key());
    absl::StatusOr<v1::ClientKey> key = alice_->RegisterClientKey(reg);
    ASSERT_TRUE(key.ok()) << key.status();
    alice_key_ = key->id();
  }

  std::unique_ptr<SecretsClient> As(const std::string& user) {
    ClientOptions options;
    options.address = "unix:" + dir_.Sub("d.sock");
    options.act_as_user = user;
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  void Grant(const std::string& subject, v1::ResourceKind kind,
             const std::string& id) {
    v1::GrantRequest grant;
    grant.set_subject(subject);
    grant.mutable_resource()->set_kind(kind);
    grant.mutable_resource()->set_id(id);
    grant.set_level(v1::ACCESS_LEVEL_EXECUTE);
    ASSERT_TRUE(admin_->Grant(grant).ok()) << subject;
  }

  // Each value-revealing RPC with `seal_to`; their status codes.
  std::vector<absl::StatusCode> SealedCalls(SecretsClient* c,
                                            const std::string& seal_to) {
    CallOptions call;
    call.seal_to = seal_to;
    v1::GetSecretRequest get;
    get.mutable_target()->set_scope("shop");
    get.set_name("db");
    v1::GetSecretsRequest batch;
    batch.mutable_target()->set_scope("shop");
    batch.add_names("db");
    v1::ResolveEnvRequest resolve;
    (*resolve.mutable_env())["DB"] = "$S:db";
    resolve.mutable_context()->set_deployment("shop");
    v1::ExportSecretsRequest exp;
    exp.mutable_target()->set_scope("shop");
    return {c->GetSecret(get, call).status().code(),
            c->GetSecrets(batch, call).status().code(),
            c->ResolveEnv(resolve, call).status().code(),
            c->ExportSecrets(exp, call).status().code()};
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<SecretsClient> admin_;
  std::unique_ptr<SecretsClient> alice_;
  std::unique_ptr<SecretsClient> mallory_;
  std::string alice_key_;
};

using Codes = std::vector<absl::StatusCode>;
const Codes kAllOk(4, absl::StatusCode::kOk);
const Codes kAllDenied(4, absl::StatusCode::kPermissionDenied);

TEST_F(ClientKeyTheftTest, CopiedKeyIdOfAnotherUserIsRefused) {
  ASSERT_EQ(SealedCalls(alice_.get(), alice_key_), kAllOk);
  EXPECT_EQ(SealedCalls(mallory_.get(), alice_key_), kAllDenied);
  // Being an administrator (or the proxy itself) gives no right to another
  // identity's key either.
  EXPECT_EQ(SealedCalls(admin_.get(), alice_key_), kAllDenied);
  // Case games on the id do not reach alice's key.
  std::string upper = alice_key_;
  for (char& ch : upper) ch = static_cast<char>(toupper(ch));
  EXPECT_NE(SealedCalls(mallory_.get(), upper), kAllOk);
  absl::StatusOr<std::string> audit = ReadFile(dir_.Sub("data/audit.log"));
  ASSERT_TRUE(audit.ok());
  EXPECT_THAT(*audit, Not(HasSubstr(kCanary)));
  EXPECT_THAT(*audit, HasSubstr("user:mallory may not use client key"));
}

TEST_F(ClientKeyTheftTest, GuessedKeyIdsAreNotFound) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(SealedCalls(mallory_.get(), NewUuidV4()),
              Codes(4, absl::StatusCode::kNotFound));
  }
  EXPECT_EQ(SealedCalls(mallory_.get(), "../alice")[0],
            absl::StatusCode::kNotFound);
}

TEST_F(ClientKeyTheftTest, AnotherUserCannotRevokeOrListTheKey) {
  v1::RevokeClientKeyRequest revoke;
  revoke.set_id(alice_key_);
  EXPECT_EQ(mallory_->RevokeClientKey(revoke).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(SealedCalls(alice_.get(), alice_key_), kAllOk);  // still usable

  absl::StatusOr<v1::ListClientKeysResponse> mine =
      mallory_->ListClientKeys({});
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->keys_size(), 0);
  v1::ListClientKeysRequest all;
  all.set_all(true);
  EXPECT_EQ(mallory_->ListClientKeys(all).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The administrator (not acting as anyone) sees every key and may revoke.
  absl::StatusOr<v1::ListClientKeysResponse> every = admin_->ListClientKeys(all);
  ASSERT_TRUE(every.ok()) << every.status();
  ASSERT_EQ(every->keys_size(), 1);
  EXPECT_EQ(every->keys(0).owner(), "user:alice");
  ASSERT_TRUE(admin_->RevokeClientKey(revoke).ok());
  EXPECT_EQ(SealedCalls(alice_.get(), alice_key_),
            Codes(4, absl::StatusCode::kFailedPrecondition));
}

TEST_F(ClientKeyTheftTest, ARegisteredKeyBelongsToTheAssertedUserNotTheProxy) {
  // Registering while acting as mallory binds the key to mallory, never to
  // the proxy's own uid, and alice cannot use it.
  absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
  ASSERT_TRUE(pair.ok());
  v1::RegisterClientKeyRequest reg;
  reg.set_public_key(pair->public_key());
  absl::StatusOr<v1::ClientKey> key = mallory_->RegisterClientKey(reg);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->owner(), "user:mallory");
  EXPECT_EQ(SealedCalls(alice_.get(), key->id()), kAllDenied);
  EXPECT_EQ(SealedCalls(admin_.get(), key->id()), kAllDenied);
  EXPECT_EQ(SealedCalls(mallory_.get(), key->id()), kAllOk);
}

}  // namespace
}  // namespace zlayer::secrets
