#include "core/ops/credential_access.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

// Well-formed, never issued.
constexpr char kUnknownId[] = "00000000-0000-4000-8000-000000000000";

Principal Uid(int64_t uid) {
  Principal p;
  p.uid = uid;
  p.gid = uid;
  return p;
}

class CredentialAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto grants = GrantStore::Open(&store_, &clock_);
    ASSERT_OK(grants.status());
    grants_ = *std::move(grants);
    GrantAuthorizerOptions options;
    options.admin_uids = {0};
    authz_ = std::make_unique<GrantAuthorizer>(grants_.get(), options);
    auto ghcr =
        registry_.Create("GHCR.io", "bot", SecretBytes::FromString("pw1"),
                         RegistryAuthType::kBasic);
    ASSERT_OK(ghcr.status());
    ghcr_ = *ghcr;
    auto quay =
        registry_.Create("quay.io", "bot", SecretBytes::FromString("pw2"),
                         RegistryAuthType::kToken);
    ASSERT_OK(quay.status());
    quay_ = *quay;
    GitCredentialMatch match;
    match.host = "GitHub.com";
    auto gh = git_.Create("gh", SecretBytes::FromString("tok"),
                          GitCredentialKind::kPat, match);
    ASSERT_OK(gh.status());
    github_ = *gh;
  }

  void Grant(const std::string& subject, const GrantResource& resource) {
    ASSERT_OK(grants_->Grant(subject, resource, AccessLevel::kRead).status());
  }

  FakeClock clock_;
  MemorySecretStore store_{&clock_};
  std::unique_ptr<GrantStore> grants_;
  std::unique_ptr<GrantAuthorizer> authz_;
  RegistryCredentialStore registry_{&store_, &clock_};
  GitCredentialStore git_{&store_, &clock_};
  RegistryCredential ghcr_, quay_;
  GitCredential github_;
};

TEST_F(CredentialAccessTest, ResourcesAreNormalisedHosts) {
  EXPECT_EQ(RegistryResource("GHCR.io").scope, kRegistryCredentialResource);
  EXPECT_EQ(RegistryResource("GHCR.io").name, NormalizeRegistryHost("ghcr.io"));
  EXPECT_EQ(GitResource("GitHub.com").scope, kGitCredentialResource);
  EXPECT_EQ(GitResource("GitHub.com").name, "github.com");
}

TEST_F(CredentialAccessTest, ListShowsOnlyWhatThePrincipalMayRead) {
  Grant("uid:10", GrantResource::Secret(kRegistryCredentialResource,
                                        RegistryResource("quay.io").name));
  auto shown = ReadableRegistryCredentials(&registry_, *authz_, Uid(10));
  ASSERT_OK(shown.status());
  ASSERT_EQ(shown->size(), 1u);
  EXPECT_EQ((*shown)[0].id, quay_.id);

  auto all = ReadableRegistryCredentials(&registry_, *authz_, Uid(0));
  ASSERT_OK(all.status());
  EXPECT_EQ(all->size(), 2u);

  auto none = ReadableGitCredentials(&git_, *authz_, Uid(10));
  ASSERT_OK(none.status());
  EXPECT_TRUE(none->empty());
  Grant("uid:10", GrantResource::Secret(kGitCredentialResource, "github.com"));
  auto git = ReadableGitCredentials(&git_, *authz_, Uid(10));
  ASSERT_OK(git.status());
  ASSERT_EQ(git->size(), 1u);
  EXPECT_EQ((*git)[0].id, github_.id);
}

TEST_F(CredentialAccessTest, ByIdUnknownAndForbiddenLookTheSame) {
  Grant("uid:11", GrantResource::Secret(kRegistryCredentialResource,
                                        RegistryResource("quay.io").name));
  auto allowed = RegistryCredentialById(&registry_, *authz_, Uid(11), quay_.id);
  ASSERT_OK(allowed.status());
  EXPECT_EQ(allowed->registry, quay_.registry);

  auto forbidden =
      RegistryCredentialById(&registry_, *authz_, Uid(11), ghcr_.id);
  auto unknown = RegistryCredentialById(&registry_, *authz_, Uid(11), "nope");
  EXPECT_EQ(forbidden.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kPermissionDenied);
  // Same words but the id: neither names a host nor says "not found".
  EXPECT_EQ(
      std::string(forbidden.status().message()),
      "uid:11 lacks read on credentials:registry credential id " + ghcr_.id);
  EXPECT_EQ(std::string(unknown.status().message()),
            "uid:11 lacks read on credentials:registry credential id nope");

  auto git_unknown = GitCredentialById(&git_, *authz_, Uid(11), "nope");
  EXPECT_EQ(git_unknown.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(CredentialAccessTest, ByIdWhoReadsAllLearnsNotFound) {
  Grant("uid:12", GrantResource::Scope(kGitCredentialResource));
  auto unknown = GitCredentialById(&git_, *authz_, Uid(12), kUnknownId);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  auto found = GitCredentialById(&git_, *authz_, Uid(12), github_.id);
  ASSERT_OK(found.status());
  EXPECT_EQ(found->match.host, "github.com");
  auto admin_unknown =
      RegistryCredentialById(&registry_, *authz_, Uid(0), kUnknownId);
  EXPECT_EQ(admin_unknown.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CredentialAccessTest, ByHostChecksAccessBeforeLookingUp) {
  // No grant: denied, whether or not a credential exists for the host.
  EXPECT_EQ(RegistryCredentialForHost(&registry_, *authz_, Uid(13), "ghcr.io")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(RegistryCredentialForHost(&registry_, *authz_, Uid(13), "none.io")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  Grant("uid:13", GrantResource::Scope(kRegistryCredentialResource));
  auto found =
      RegistryCredentialForHost(&registry_, *authz_, Uid(13), "ghcr.io");
  ASSERT_OK(found.status());
  EXPECT_EQ(found->id, ghcr_.id);
  EXPECT_EQ(RegistryCredentialForHost(&registry_, *authz_, Uid(13), "none.io")
                .status()
                .code(),
            absl::StatusCode::kNotFound);

  EXPECT_EQ(GitCredentialForUrl(&git_, *authz_, Uid(13), "https", "github.com",
                                "acme/repo")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  Grant("uid:13", GrantResource::Secret(kGitCredentialResource, "github.com"));
  auto git = GitCredentialForUrl(&git_, *authz_, Uid(13), "https", "GITHUB.com",
                                 "acme/repo");
  ASSERT_OK(git.status());
  EXPECT_EQ(git->id, github_.id);
}

}  // namespace
}  // namespace zlayer::secrets
