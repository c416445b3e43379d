// Registry and git credential stores: CRUD on real stores, and matching.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/identity_records.h"
#include "core/identity/registry_credential_store.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::MakeStore;
using ::zlayer::secrets::testing::StoreKind;

class CredentialStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_ = MakeStore(GetParam(), &clock_);
    registry_ =
        std::make_unique<RegistryCredentialStore>(store_.get(), &clock_);
    git_ = std::make_unique<GitCredentialStore>(store_.get(), &clock_);
  }

  RegistryCredential AddRegistry(const std::string& registry,
                                 const std::string& user,
                                 const std::string& password) {
    auto c =
        registry_->Create(registry, user, SecretBytes::FromString(password),
                          RegistryAuthType::kBasic);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : RegistryCredential();
  }

  GitCredential AddGit(const std::string& name, const std::string& value,
                       GitCredentialKind kind, const std::string& host,
                       const std::string& prefix) {
    GitCredentialMatch m;
    m.host = host;
    m.path_prefix = prefix;
    auto c = git_->Create(name, SecretBytes::FromString(value), kind, m);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : GitCredential();
  }

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
  std::unique_ptr<RegistryCredentialStore> registry_;
  std::unique_ptr<GitCredentialStore> git_;
};

TEST_P(CredentialStoreTest, RegistryCrud) {
  auto created =
      registry_->Create(" ghcr.io ", "bot", SecretBytes::FromString("pw-1"),
                        RegistryAuthType::kToken);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(LooksLikeUuid(created->id));
  EXPECT_EQ(created->registry, "ghcr.io");
  EXPECT_EQ(created->auth_type, RegistryAuthType::kToken);

  auto got = registry_->Get(created->id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->username, "bot");
  EXPECT_EQ(got->auth_type, RegistryAuthType::kToken);
  EXPECT_EQ(got->created_at, 1700000000);
  auto pw = registry_->GetPassword(created->id);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->InsecureView(), "pw-1");

  // Kept in the internal scopes: metadata without the password.
  auto meta = store_->GetSecret(kRegistryCredentialsMetaScope, created->id);
  ASSERT_TRUE(meta.ok());
  EXPECT_FALSE(absl::StrContains(meta->InsecureView(), "pw-1"));
  EXPECT_TRUE(
      absl::StrContains(meta->InsecureView(), "\"auth_type\":\"token\""));

  // Identical fields make a second entry.
  AddRegistry("ghcr.io", "bot", "pw-1");
  auto list = registry_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_LT((*list)[0].id, (*list)[1].id);

  ASSERT_TRUE(registry_->Delete(created->id).ok());
  EXPECT_TRUE(absl::IsNotFound(registry_->Get(created->id).status()));
  EXPECT_TRUE(absl::IsNotFound(registry_->GetPassword(created->id).status()));
  EXPECT_TRUE(absl::IsNotFound(registry_->Delete(created->id)));
  EXPECT_EQ(registry_->List()->size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(
      store_->GetSecret(kRegistryCredentialsScope, created->id).status()));
}

TEST_P(CredentialStoreTest, RegistryRejectsBadInput) {
  const SecretBytes pw = SecretBytes::FromString("pw");
  EXPECT_TRUE(absl::IsInvalidArgument(
      registry_->Create(" ", "u", pw, RegistryAuthType::kBasic).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      registry_->Create("r.io", "", pw, RegistryAuthType::kBasic).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      registry_->Create("r.io", "u", SecretBytes(), RegistryAuthType::kBasic)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Get("not-a-uuid").status()));
  EXPECT_TRUE(registry_->List()->empty());
}

TEST_P(CredentialStoreTest, CorruptRegistryMetadataIsDataLoss) {
  const std::string id = NewUuidV4();
  ASSERT_TRUE(store_
                  ->SetSecret(kRegistryCredentialsMetaScope, id,
                              SecretBytes::FromString("not json"), {})
                  .ok());
  EXPECT_TRUE(absl::IsDataLoss(registry_->Get(id).status()));
  EXPECT_TRUE(absl::IsDataLoss(registry_->List().status()));
}

TEST_P(CredentialStoreTest, FindByRegistryNormalisesHostsAndPrefersNewest) {
  RegistryCredential hub =
      AddRegistry("https://index.docker.io/v1/", "me", "h");
  clock_.Advance(absl::Seconds(10));
  RegistryCredential ghcr_old = AddRegistry("ghcr.io", "old", "o");
  clock_.Advance(absl::Seconds(10));
  RegistryCredential ghcr_new = AddRegistry("GHCR.io", "new", "n");
  AddRegistry("registry.example.com:5000", "p", "x");

  for (const char* q : {"docker.io", "index.docker.io", "registry-1.docker.io",
                        "https://index.docker.io/v1/"}) {
    SCOPED_TRACE(q);
    auto found = registry_->FindByRegistry(q);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->id, hub.id);
  }
  auto found = registry_->FindByRegistry("https://ghcr.io/acme/app");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, ghcr_new.id);
  EXPECT_TRUE(registry_->FindByRegistry("registry.example.com:5000").ok());
  EXPECT_TRUE(absl::IsNotFound(
      registry_->FindByRegistry("registry.example.com").status()));
  EXPECT_TRUE(absl::IsNotFound(registry_->FindByRegistry("quay.io").status()));
  EXPECT_TRUE(absl::IsNotFound(registry_->FindByRegistry("").status()));
  ASSERT_TRUE(registry_->Delete(ghcr_new.id).ok());
  EXPECT_EQ(registry_->FindByRegistry("ghcr.io")->id, ghcr_old.id);
}

TEST_P(CredentialStoreTest, GitCrud) {
  GitCredential pat = AddGit("acme bot", "ghp_token", GitCredentialKind::kPat,
                             "GitHub.com", "/acme/");
  EXPECT_EQ(pat.match.host, "github.com");
  EXPECT_EQ(pat.match.path_prefix, "acme");
  GitCredential key =
      AddGit("deploy key", "-----BEGIN OPENSSH PRIVATE KEY-----",
             GitCredentialKind::kSshKey, "", "");
  auto got = git_->Get(key.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "deploy key");
  EXPECT_EQ(got->kind, GitCredentialKind::kSshKey);
  auto value = git_->GetValue(pat.id);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->InsecureView(), "ghp_token");
  auto meta = store_->GetSecret(kGitCredentialsMetaScope, key.id);
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(absl::StrContains(meta->InsecureView(), "\"kind\":\"ssh_key\""));
  EXPECT_FALSE(absl::StrContains(meta->InsecureView(), "OPENSSH"));
  EXPECT_EQ(git_->List()->size(), 2u);

  ASSERT_TRUE(git_->Delete(pat.id).ok());
  EXPECT_TRUE(absl::IsNotFound(git_->Get(pat.id).status()));
  EXPECT_TRUE(absl::IsNotFound(git_->GetValue(pat.id).status()));
  EXPECT_TRUE(absl::IsNotFound(git_->Delete(pat.id)));
  EXPECT_EQ(git_->List()->size(), 1u);

  EXPECT_TRUE(
      absl::IsInvalidArgument(git_->Create(" ", SecretBytes::FromString("v"),
                                           GitCredentialKind::kPat, {})
                                  .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      git_->Create("n", SecretBytes(), GitCredentialKind::kPat, {}).status()));
  GitCredentialMatch bad;
  bad.host = "github.com/acme";
  EXPECT_TRUE(
      absl::IsInvalidArgument(git_->Create("n", SecretBytes::FromString("v"),
                                           GitCredentialKind::kPat, bad)
                                  .status()));
}

TEST_P(CredentialStoreTest, GitKindNames) {
  EXPECT_EQ(ParseGitCredentialKind("pat"), GitCredentialKind::kPat);
  EXPECT_EQ(ParseGitCredentialKind("ssh_key"), GitCredentialKind::kSshKey);
  EXPECT_EQ(ParseGitCredentialKind("ssh-key"), GitCredentialKind::kSshKey);
  EXPECT_FALSE(ParseGitCredentialKind("password").has_value());
  EXPECT_EQ(GitCredentialKindName(GitCredentialKind::kSshKey), "ssh_key");
}

TEST_P(CredentialStoreTest, FindForUrlMatchesHostAndPathSegments) {
  GitCredential host_wide =
      AddGit("all of github", "t0", GitCredentialKind::kPat, "github.com", "");
  GitCredential acme =
      AddGit("acme", "t1", GitCredentialKind::kPat, "github.com", "acme");
  GitCredential acme_app = AddGit("acme app", "t2", GitCredentialKind::kPat,
                                  "github.com", "acme/app");
  AddGit("ssh", "k", GitCredentialKind::kSshKey, "github.com", "acme");
  GitCredential other_port = AddGit("gitea", "t3", GitCredentialKind::kPat,
                                    "git.example.com:8443", "");

  auto find = [&](const char* proto, const char* host, const char* path) {
    return git_->FindForUrl(proto, host, path);
  };
  EXPECT_EQ(find("https", "github.com", "acme/app.git")->id, acme_app.id);
  EXPECT_EQ(find("https", "github.com", "/acme/app/")->id, acme_app.id);
  EXPECT_EQ(find("https", "GitHub.com", "acme/lib.git")->id, acme.id);
  EXPECT_EQ(find("https", "github.com", "acme")->id, acme.id);
  // Segment-wise: "acme" is not a prefix of "acme-corp".
  EXPECT_EQ(find("https", "github.com", "acme-corp/x.git")->id, host_wide.id);
  EXPECT_EQ(find("https", "github.com", "")->id, host_wide.id);
  EXPECT_EQ(find("https", "git.example.com:8443", "a/b")->id, other_port.id);
  EXPECT_TRUE(
      absl::IsNotFound(find("https", "git.example.com", "a/b").status()));
  // Tokens go only over https.
  EXPECT_TRUE(
      absl::IsNotFound(find("http", "github.com", "acme/app").status()));
  EXPECT_TRUE(absl::IsNotFound(find("ssh", "github.com", "acme/app").status()));
  EXPECT_TRUE(absl::IsNotFound(find("https", "gitlab.com", "acme").status()));
}

TEST_P(CredentialStoreTest, FindForUrlPrefersTheNewestAmongEquals) {
  AddGit("old", "t1", GitCredentialKind::kPat, "github.com", "acme");
  clock_.Advance(absl::Seconds(5));
  GitCredential newer =
      AddGit("new", "t2", GitCredentialKind::kPat, "github.com", "acme");
  auto found = git_->FindForUrl("https", "github.com", "acme/app");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, newer.id);
}

// The daemon, the CLI and the credential helpers pass these on as they are.
TEST_P(CredentialStoreTest, ErrorMessagesNameTheKindOfCredential) {
  const std::string id = NewUuidV4();
  EXPECT_EQ(registry_->Get(id).status(),
            absl::NotFoundError(
                absl::StrCat("registry credential ", id, " not found")));
  EXPECT_EQ(registry_->GetPassword(id).status(),
            absl::NotFoundError(
                absl::StrCat("registry credential ", id, " not found")));
  EXPECT_EQ(git_->Get(id).status(), absl::NotFoundError(absl::StrCat(
                                        "git credential ", id, " not found")));
  EXPECT_EQ(git_->Delete(id), absl::NotFoundError(absl::StrCat(
                                  "git credential ", id, " not found")));
  EXPECT_EQ(git_->GetValue("x").status(),
            absl::InvalidArgumentError("credential id must be a UUID"));
  EXPECT_EQ(registry_->Delete("x"),
            absl::InvalidArgumentError("credential id must be a UUID"));

  ASSERT_TRUE(store_
                  ->SetSecret(kGitCredentialsMetaScope, id,
                              SecretBytes::FromString("{}"), {})
                  .ok());
  EXPECT_EQ(git_->Get(id).status(), absl::DataLossError(absl::StrCat(
                                        "corrupt git credential '", id, "'")));
  ASSERT_TRUE(store_
                  ->SetSecret(kRegistryCredentialsMetaScope, id,
                              SecretBytes::FromString("{}"), {})
                  .ok());
  EXPECT_EQ(registry_->List().status(),
            absl::DataLossError(
                absl::StrCat("corrupt registry credential '", id, "'")));
}

INSTANTIATE_TEST_SUITE_P(Stores, CredentialStoreTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

TEST(NormalizeRegistryHostTest, Forms) {
  EXPECT_EQ(NormalizeRegistryHost("docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("registry.hub.docker.com"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost(" HTTP://Reg.Example.com:5000/x "),
            "reg.example.com:5000");
}

}  // namespace
}  // namespace zlayer::secrets
