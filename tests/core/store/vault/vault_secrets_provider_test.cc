// VaultSecretsProvider and VaultClient against FakeVaultServer, a KV v2
// server written for these tests from Vault's documented API (no real Vault
// is available here; docs/vault.md).
#include "core/store/vault/vault_secrets_provider.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/vault/vault_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fake_vault_server.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using testing::FakeVaultServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "hvs.test-root-token-4f1c";
constexpr char kCanary[] = "canary-value-7d2e9b";

SecretBytes S(absl::string_view s) { return SecretBytes::FromString(s); }

class VaultProviderTest : public ::testing::Test {
 protected:
  void StartServer(FakeVaultServer::Options options) {
    absl::StatusOr<std::unique_ptr<FakeVaultServer>> server =
        FakeVaultServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void SetUp() override {
    FakeVaultServer::Options o;
    o.token = kToken;
    StartServer(std::move(o));
  }

  VaultClientOptions ClientOptions() {
    VaultClientOptions o;
    o.address = server_->address();
    o.token = S(kToken);
    o.request_timeout = absl::Seconds(5);
    return o;
  }

  std::unique_ptr<VaultSecretsProvider> Provider(VaultClientOptions o) {
    absl::StatusOr<std::unique_ptr<VaultClient>> client =
        VaultClient::Create(std::move(o), &clock_);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    client_ = *std::move(client);
    return std::make_unique<VaultSecretsProvider>(client_.get(), "secret");
  }
  std::unique_ptr<VaultSecretsProvider> Provider() {
    return Provider(ClientOptions());
  }

  FakeClock clock_;
  std::unique_ptr<FakeVaultServer> server_;
  std::unique_ptr<VaultClient> client_;
};

TEST_F(VaultProviderTest, SetThenGetListExists) {
  auto p = Provider();
  ASSERT_OK(p->SetSecret("shop", "db", S("pw-1")));
  ASSERT_OK(p->SetSecret("shop", "api key", S("k?#%/")));
  ASSERT_OK(p->SetSecret("shop/svc", "nested", S("n")));
  absl::StatusOr<SecretBytes> got = p->GetSecret("shop", "db");
  ASSERT_OK(got);
  EXPECT_EQ(got->InsecureView(), "pw-1");
  got = p->GetSecret("shop", "api key");
  ASSERT_OK(got);
  EXPECT_EQ(got->InsecureView(), "k?#%/");
  // Stored exactly as upstream stores it: {"value": ...} at scope/name.
  EXPECT_GT(server_->RequestCount("secret/data/shop/db"), 0);

  absl::StatusOr<std::vector<SecretMetadata>> list = p->ListSecrets("shop");
  ASSERT_OK(list);
  std::vector<std::string> names;
  for (const SecretMetadata& m : *list) names.push_back(m.name);
  // The sub-folder "svc/" is left out.
  EXPECT_THAT(names, ElementsAre("api key", "db"));
  EXPECT_THAT(*p->Exists("shop", "db"), true);
  EXPECT_THAT(*p->Exists("shop", "nope"), false);
  absl::StatusOr<std::vector<SecretMetadata>> empty = p->ListSecrets("none");
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());

  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> many =
      p->GetSecrets("shop", {"db", "missing", "api key"});
  ASSERT_OK(many);
  EXPECT_EQ(many->size(), 2u);
  EXPECT_EQ(many->at("db").InsecureView(), "pw-1");
}

TEST_F(VaultProviderTest, VersionsAndTimesComeFromKvMetadata) {
  auto p = Provider();
  server_->set_time(absl::FromUnixSeconds(1600000000));
  ASSERT_OK(p->SetSecret("shop", "db", S("v1")));
  ASSERT_OK(p->SetSecret("shop", "db", S("v2")));
  ASSERT_OK(p->SetSecret("shop", "db", S("v3")));
  absl::StatusOr<RotationResult> rotated =
      p->RotateSecret("shop", "db", S("v4"));
  ASSERT_OK(rotated);
  // Upstream reports 1 -> 1 through Vault.
  EXPECT_EQ(rotated->previous_version, 3u);
  EXPECT_EQ(rotated->new_version, 4u);
  absl::StatusOr<SecretMetadata> m = p->GetMetadata("shop", "db");
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 4u);
  // Vault's created_time of version 1 and of the newest, not "now" (the
  // test clock is elsewhere).
  EXPECT_EQ(m->created_at, 1600000000);
  EXPECT_EQ(m->updated_at, 1600000003);
  absl::StatusOr<std::vector<SecretMetadata>> list = p->ListSecrets("shop");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 4u);
  EXPECT_EQ((*list)[0].created_at, 1600000000);

  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> batch =
      p->ReadBatch({{"shop", "db"}, {"shop", "gone"}});
  ASSERT_OK(batch);
  ASSERT_OK((*batch)[0]);
  EXPECT_EQ((*batch)[0]->version, 4u);
  EXPECT_EQ((*batch)[0]->value.InsecureView(), "v4");
  EXPECT_STATUS((*batch)[1], kNotFound);

  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> pinned =
      p->ReadVersions({{{"shop", "db"}, 2}, {{"shop", "db"}, 9}});
  ASSERT_OK(pinned);
  ASSERT_OK((*pinned)[0]);
  EXPECT_EQ((*pinned)[0]->value.InsecureView(), "v2");
  EXPECT_EQ((*pinned)[0]->version, 2u);
  EXPECT_STATUS((*pinned)[1], kNotFound);
}

TEST_F(VaultProviderTest, BatchReadRetriesOnceWhenAVersionMovesMidRead) {
  auto p = Provider();
  ASSERT_OK(p->SetSecret("shop", "a", S("a1")));
  ASSERT_OK(p->SetSecret("shop", "b", S("b1")));
  // A write to "b" lands between the read and the re-check: the batch is
  // read again, and answers b's new version with a's.
  server_->WriteBeforeMetadataReads("shop/b", 1);
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> batch =
      p->ReadBatch({{"shop", "a"}, {"shop", "b"}});
  ASSERT_OK(batch);
  ASSERT_OK((*batch)[1]);
  EXPECT_EQ((*batch)[1]->version, 2u);
  EXPECT_EQ((*batch)[1]->value.InsecureView(), "moved-2");
  EXPECT_EQ((*batch)[0]->value.InsecureView(), "a1");
  // Moving on both attempts: no answer claimed consistent.
  server_->WriteBeforeMetadataReads("shop/b", 2);
  EXPECT_STATUS(p->ReadBatch({{"shop", "a"}, {"shop", "b"}}), kAborted);
}

TEST_F(VaultProviderTest, DotSegmentsCannotLeaveTheMappedPath) {
  auto p = Provider();
  server_->PutRaw("apps", R"({"value":"outside"})");
  EXPECT_STATUS(p->GetSecret("apps/shop", ".."), kInvalidArgument);
  EXPECT_STATUS(p->GetSecret("apps/shop/..", "x"), kInvalidArgument);
  EXPECT_STATUS(p->GetSecret("apps//shop", "x"), kInvalidArgument);
  EXPECT_STATUS(p->ListSecrets("apps/."), kInvalidArgument);
  EXPECT_STATUS(p->SetSecret("a/../b", "x", S("v")), kInvalidArgument);
  EXPECT_STATUS(p->DeleteSecret("apps", "."), kInvalidArgument);
  EXPECT_EQ(server_->RequestCount(""), 0);
}

TEST_F(VaultProviderTest, CheckAndSetMismatchIsFailedPrecondition) {
  auto p = Provider();
  ASSERT_OK(p->SetSecret("shop", "db", S("v1")));
  WriteOptions cas;
  cas.expected_version = 7;
  EXPECT_STATUS(p->SetSecret("shop", "db", S("v2"), cas), kFailedPrecondition);
  EXPECT_STATUS(p->RotateSecret("shop", "absent", S("x")), kNotFound);
}

TEST_F(VaultProviderTest, DeleteIsSoftAndLatestVersionOnly) {
  auto p = Provider();
  ASSERT_OK(p->SetSecret("shop", "db", S("v1")));
  ASSERT_OK(p->SetSecret("shop", "db", S("v2")));
  ASSERT_OK(p->DeleteSecret("shop", "db"));
  EXPECT_STATUS(p->GetSecret("shop", "db"), kNotFound);
  EXPECT_THAT(*p->Exists("shop", "db"), false);
  EXPECT_TRUE(p->ListSecrets("shop")->empty());
  EXPECT_STATUS(p->DeleteSecret("shop", "db"), kNotFound);
  // Only the latest version was deleted: version 1 is still readable.
  absl::StatusOr<VersionedValue> old = p->GetVersioned("shop", "db", 1);
  ASSERT_OK(old);
  EXPECT_EQ(old->value.InsecureView(), "v1");
  // Upstream's message names the full path.
  absl::Status missing = p->GetSecret("shop", "never").status();
  EXPECT_THAT(std::string(missing.message()), HasSubstr("shop/never"));
}

TEST_F(VaultProviderTest, BadTokenIsPermissionDeniedNotNotFound) {
  VaultClientOptions o = ClientOptions();
  o.token = S("hvs.wrong-token-0000");
  auto p = Provider(std::move(o));
  server_->PutRaw("shop/db", R"({"value":"x"})");
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("hvs.wrong-token")));
  EXPECT_STATUS(p->Exists("shop", "db"), kPermissionDenied);
  EXPECT_STATUS(p->ListSecrets("shop"), kPermissionDenied);
  // A batch read refused by Vault fails per key, never as "missing".
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> batch =
      p->ReadBatch({{"shop", "db"}});
  ASSERT_OK(batch);
  EXPECT_STATUS((*batch)[0], kPermissionDenied);
  EXPECT_STATUS(p->GetSecrets("shop", {"db"}), kPermissionDenied);
}

TEST_F(VaultProviderTest, TokenEchoedByServerIsScrubbedFromErrors) {
  auto p = Provider();
  server_->set_mode(FakeVaultServer::Mode::kEchoTokenInError);
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("<token>"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kToken)));
}

TEST_F(VaultProviderTest, StalledServerIsDeadlineExceeded) {
  VaultClientOptions o = ClientOptions();
  o.request_timeout = absl::Milliseconds(300);
  auto p = Provider(std::move(o));
  server_->set_mode(FakeVaultServer::Mode::kStall);
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> batch =
      p->ReadBatch({{"shop", "a"}, {"shop", "b"}});
  EXPECT_STATUS(batch, kDeadlineExceeded);
  EXPECT_GE(server_->connections(), 2);
}

TEST_F(VaultProviderTest, OversizedAnswerIsResourceExhausted) {
  VaultClientOptions o = ClientOptions();
  o.max_response_bytes = 64 << 10;
  auto p = Provider(std::move(o));
  server_->set_mode(FakeVaultServer::Mode::kOversizedBody);
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds"));
}

TEST_F(VaultProviderTest, MalformedJsonIsDataLoss) {
  auto p = Provider();
  server_->set_mode(FakeVaultServer::Mode::kMalformedJson);
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not JSON"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("abc")));
}

TEST_F(VaultProviderTest, ValueThatIsNotAStringIsDataLoss) {
  auto p = Provider();
  server_->PutRaw("shop/number", R"({"value":42})");
  server_->PutRaw("shop/other", R"({"password":"x"})");
  server_->PutRaw("shop/object", R"({"value":{"nested":"x"}})");
  for (const char* name : {"number", "other", "object"}) {
    absl::Status s = p->GetSecret("shop", name).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << name << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("no string \"value\""));
  }
}

TEST_F(VaultProviderTest, UnreachableServerIsUnavailable) {
  VaultClientOptions o = ClientOptions();
  const std::string address = server_->address();
  server_.reset();  // the port is closed now
  o.address = address;
  auto p = Provider(std::move(o));
  EXPECT_STATUS(p->GetSecret("shop", "db"), kUnavailable);
}

TEST_F(VaultProviderTest, ValuesNeverAppearInErrors) {
  auto p = Provider();
  ASSERT_OK(p->SetSecret("shop", "db", S(kCanary)));
  WriteOptions cas;
  cas.expected_version = 5;
  absl::Status s = p->SetSecret("shop", "db", S(kCanary), cas).status();
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kCanary)));
  server_->PutRaw("shop/db", absl::StrCat(R"({"value":[")", kCanary, R"("]})"));
  s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kCanary)));
}

TEST_F(VaultProviderTest, NamespaceHeaderIsSent) {
  FakeVaultServer::Options so;
  so.token = kToken;
  so.vault_namespace = "team-a";
  StartServer(std::move(so));
  VaultClientOptions o = ClientOptions();
  auto without = Provider(ClientOptions());
  EXPECT_STATUS(without->SetSecret("s", "n", S("v")), kPermissionDenied);
  o.vault_namespace = "team-a";
  auto with = Provider(std::move(o));
  ASSERT_OK(with->SetSecret("s", "n", S("v")));
  EXPECT_EQ(with->GetSecret("s", "n")->InsecureView(), "v");
}

class VaultAppRoleTest : public VaultProviderTest {
 protected:
  void SetUp() override {
    FakeVaultServer::Options o;
    o.role_id = "role-1";
    o.secret_id = "secret-id-9a8b";
    o.lease_seconds = 600;
    StartServer(std::move(o));
  }
  VaultClientOptions AppRoleOptions() {
    VaultClientOptions o;
    o.address = server_->address();
    o.approle_role_id = S("role-1");
    o.approle_secret_id = S("secret-id-9a8b");
    return o;
  }
};

TEST_F(VaultAppRoleTest, LogsInRenewsBeforeExpiryAndLogsInAgainWhenRevoked) {
  auto p = Provider(AppRoleOptions());
  ASSERT_OK(p->SetSecret("shop", "db", S("v")));
  EXPECT_EQ(server_->logins(), 1);
  EXPECT_EQ(server_->RequestCount("auth/token/renew-self"), 0);
  ASSERT_TRUE(client_->renew_at().has_value());
  // Two thirds of the 600 s lease: renewed before the next request.
  clock_.Advance(absl::Seconds(401));
  ASSERT_OK(p->GetSecret("shop", "db"));
  EXPECT_EQ(server_->RequestCount("auth/token/renew-self"), 1);
  EXPECT_EQ(server_->logins(), 1);
  clock_.Advance(absl::Seconds(100));  // renewed lease not yet 2/3 gone
  ASSERT_OK(p->GetSecret("shop", "db"));
  EXPECT_EQ(server_->RequestCount("auth/token/renew-self"), 1);
  // Vault forgets the token: one new login, the request succeeds.
  server_->RevokeToken("hvs.approle-1");
  ASSERT_OK(p->GetSecret("shop", "db"));
  EXPECT_EQ(server_->logins(), 2);
}

TEST_F(VaultAppRoleTest, WrongSecretIdIsAClearErrorWithoutTheSecretId) {
  VaultClientOptions o = AppRoleOptions();
  o.approle_secret_id = S("wrong-secret-id-55");
  auto p = Provider(std::move(o));
  absl::Status s = p->GetSecret("shop", "db").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("AppRole login failed"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("wrong-secret-id")));
}

TEST(VaultClientOptionsTest, FromEnvNamesTheMissingVariable) {
  auto none = [](const char*) -> const char* { return nullptr; };
  absl::StatusOr<VaultClientOptions> o = VaultClientOptionsFromEnv(none);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("VAULT_ADDR"));
  auto addr_only = [](const char* n) -> const char* {
    return std::string(n) == "VAULT_ADDR" ? "http://127.0.0.1:1" : nullptr;
  };
  o = VaultClientOptionsFromEnv(addr_only);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("VAULT_TOKEN"));
  EXPECT_STATUS(VaultClient::Create(VaultClientOptions(), RealClock::Default()),
                kInvalidArgument);
}

}  // namespace
}  // namespace zlayer::secrets
