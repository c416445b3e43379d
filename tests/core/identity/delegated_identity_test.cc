// Delegated identity in core: impersonate grants (subject patterns), who may
// assert whom (GrantAuthorizer::CheckImpersonate), and authorization of a
// delegated principal as exactly its user and groups.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/clock.h"
#include "core/identity/access.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::MakeStore;
using ::zlayer::secrets::testing::StoreKind;

Principal ProxyKey(std::string id, std::vector<std::string> roles = {}) {
  Principal p;
  p.transport = Transport::kTls;
  p.api_key_id = std::move(id);
  p.roles = std::move(roles);
  return p;
}

Principal UnixPeer(int64_t uid) {
  Principal p;
  p.transport = Transport::kUnix;
  p.uid = uid;
  p.gid = uid;
  return p;
}

TEST(ImpersonationPatternTest, MatchesExactPrefixAndEveryOfOneKind) {
  struct Case {
    const char* pattern;
    const char* subject;
    bool matches;
  };
  const Case cases[] = {
      {"user:alice", "user:alice", true},
      {"user:alice", "user:alice2", false},
      {"user:alice", "user:bob", false},
      {"user:al*", "user:alice", true},
      {"user:al*", "user:al", true},
      {"user:al*", "user:bob", false},
      {"user:*", "user:anyone", true},
      {"user:*", "user:", false},
      // Kinds never cross: a user pattern asserts no group and back.
      {"user:*", "group:admins", false},
      {"group:*", "user:alice", false},
      {"group:eng-*", "group:eng-web", true},
      {"group:eng-*", "group:ops", false},
      {"group:eng", "group:eng-web", false},
      {"user:alice", "uid:0", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ImpersonationPatternMatches(c.pattern, c.subject), c.matches)
        << c.pattern << " vs " << c.subject;
  }
}

TEST(ImpersonationPatternTest, ValidatesPatternsAndNewSubjects) {
  for (const char* ok : {"user:*", "user:alice", "user:al*", "group:*",
                         "group:eng-*", "group:eng"}) {
    EXPECT_TRUE(ValidateGrantResource(GrantResource::Impersonate(ok)).ok())
        << ok;
  }
  for (const char* bad :
       {"", "*", "user:", "group:", "role:x", "uid:1", "apikey:k", "user:a*b",
        "user:**", "user:a,b", "user:a b", "alice"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        ValidateGrantResource(GrantResource::Impersonate(bad))))
        << bad;
  }
  GrantResource named = GrantResource::Impersonate("user:*");
  named.name = "x";
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateGrantResource(named)));

  EXPECT_TRUE(ValidateSubject("user:alice").ok());
  EXPECT_TRUE(ValidateSubject("group:eng").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSubject("user:")));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSubject("user:a,b")));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSubject("group:a b")));
}

TEST(DelegatedPrincipalTest, HasOnlyTheAssertedUserAndGroups) {
  const Principal proxy = ProxyKey("api-server", {"admin", "deployer"});
  const Principal user = ActingAs(proxy, "alice", {"eng", "ops"});
  EXPECT_TRUE(user.IsDelegated());
  EXPECT_EQ(user.Subject(), "user:alice");
  EXPECT_EQ(user.actor, "apikey:api-server");
  EXPECT_EQ(user.transport, Transport::kTls);
  EXPECT_TRUE(user.api_key_id.empty());
  EXPECT_TRUE(user.roles.empty());
  EXPECT_EQ(user.uid, -1);
  EXPECT_EQ(GrantAuthorizer::SubjectsOf(user),
            (std::vector<std::string>{"user:alice", "group:eng", "group:ops"}));
  EXPECT_EQ(ActingAs(UnixPeer(1001), "bob", {}).actor, "uid:1001");
}

class DelegatedIdentityTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_ = MakeStore(GetParam(), &clock_);
    Reopen();
  }

  void Reopen() {
    authz_.reset();
    auto grants = GrantStore::Open(store_.get(), &clock_);
    ASSERT_TRUE(grants.ok()) << grants.status();
    grants_ = *std::move(grants);
    GrantAuthorizerOptions options;
    options.admin_uids = {0};
    authz_ = std::make_unique<GrantAuthorizer>(grants_.get(), options);
  }

  AccessGrant MustGrant(const std::string& subject, const GrantResource& r,
                        AccessLevel level = AccessLevel::kRead) {
    auto g = grants_->Grant(subject, r, level);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *g : AccessGrant();
  }

  absl::Status Impersonate(const Principal& actor, absl::string_view user,
                           std::vector<std::string> groups = {}) {
    return authz_->CheckImpersonate(actor, user, groups);
  }

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
  std::unique_ptr<GrantStore> grants_;
  std::unique_ptr<GrantAuthorizer> authz_;
};

TEST_P(DelegatedIdentityTest, ImpersonationNeedsAGrantEvenForAdministrators) {
  const Principal proxy = ProxyKey("api-server");
  absl::Status s = Impersonate(proxy, "alice");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_EQ(s.message(), "apikey:api-server may not act as user:alice");
  // Neither the admin role nor an admin uid implies the right.
  EXPECT_TRUE(
      absl::IsPermissionDenied(Impersonate(ProxyKey("root", {"admin"}), "a")));
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(UnixPeer(0), "a")));
  // Nor does write on every scope.
  MustGrant("apikey:api-server", GrantResource::AllOf(ResourceKind::kScope),
            AccessLevel::kWrite);
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(proxy, "alice")));
}

TEST_P(DelegatedIdentityTest, PatternLimitsWhichUsersAndGroupsMayBeAsserted) {
  const Principal proxy = ProxyKey("api-server");
  MustGrant("apikey:api-server", GrantResource::Impersonate("user:cust-*"));
  MustGrant("apikey:api-server", GrantResource::Impersonate("group:team-*"));
  EXPECT_TRUE(Impersonate(proxy, "cust-1").ok());
  EXPECT_TRUE(Impersonate(proxy, "cust-1", {"team-a", "team-b"}).ok());
  absl::Status s = Impersonate(proxy, "root");
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message(), "apikey:api-server may not act as user:root");
  // One group outside the pattern refuses the whole assertion.
  s = Impersonate(proxy, "cust-1", {"team-a", "admins"});
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message(), "apikey:api-server may not act as group:admins");
  // Another key gets nothing from this key's grants.
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(ProxyKey("other"), "c")));
}

TEST_P(DelegatedIdentityTest, UserPatternAssertsNoGroups) {
  const Principal proxy = ProxyKey("api-server");
  MustGrant("apikey:api-server", GrantResource::Impersonate("user:*"));
  EXPECT_TRUE(Impersonate(proxy, "alice").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(proxy, "alice", {"eng"})));
}

TEST_P(DelegatedIdentityTest, RoleAndUidSubjectsMayHoldTheRight) {
  MustGrant("role:proxy", GrantResource::Impersonate("user:*"));
  MustGrant("uid:1001", GrantResource::Impersonate("user:*"));
  EXPECT_TRUE(Impersonate(ProxyKey("k", {"proxy"}), "alice").ok());
  EXPECT_TRUE(Impersonate(UnixPeer(1001), "alice").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(UnixPeer(1002), "alice")));
}

TEST_P(DelegatedIdentityTest, DelegatedPrincipalMayNotDelegateFurther) {
  MustGrant("user:alice", GrantResource::Impersonate("user:*"));
  const Principal alice = ActingAs(ProxyKey("api-server"), "alice", {});
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(alice, "bob")));
}

TEST_P(DelegatedIdentityTest, RevokedRightIsRefusedOnTheNextCheck) {
  const Principal proxy = ProxyKey("api-server");
  AccessGrant g =
      MustGrant("apikey:api-server", GrantResource::Impersonate("user:*"));
  ASSERT_TRUE(Impersonate(proxy, "alice").ok());
  ASSERT_TRUE(grants_->Revoke(g.id).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Impersonate(proxy, "alice")));
}

TEST_P(DelegatedIdentityTest, ImpersonateGrantsSurviveReopen) {
  MustGrant("apikey:api-server", GrantResource::Impersonate("group:eng-*"));
  Reopen();
  std::vector<AccessGrant> listed =
      grants_->ListForSubject("apikey:api-server");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].resource.kind, ResourceKind::kImpersonate);
  EXPECT_EQ(listed[0].resource.id, "group:eng-*");
  MustGrant("apikey:api-server", GrantResource::Impersonate("user:*"));
  EXPECT_TRUE(Impersonate(ProxyKey("api-server"), "alice", {"eng-web"}).ok());
}

TEST_P(DelegatedIdentityTest, ImpersonateGrantCoversNoSecret) {
  MustGrant("apikey:api-server", GrantResource::Impersonate("user:*"));
  EXPECT_TRUE(absl::IsPermissionDenied(authz_->Check(
      ProxyKey("api-server"), {"prod", "db"}, AccessLevel::kRead)));
  EXPECT_FALSE(
      GrantCovers(GrantResource::Impersonate("user:*"), {"prod", "db"}, ""));
}

TEST_P(DelegatedIdentityTest, AuthorizesAsTheUserNeverWithTheProxysRights) {
  // The proxy is an administrator and may write everything itself.
  const Principal proxy = ProxyKey("api-server", {"admin"});
  MustGrant("apikey:api-server", GrantResource::AllOf(ResourceKind::kScope),
            AccessLevel::kWrite);
  MustGrant("user:alice", GrantResource::Scope("shop"), AccessLevel::kRead);
  MustGrant("group:eng", GrantResource::Secret("ci", "token"),
            AccessLevel::kWrite);

  const Principal alice = ActingAs(proxy, "alice", {});
  EXPECT_TRUE(authz_->Check(alice, {"shop", "db"}, AccessLevel::kRead).ok());
  absl::Status s = authz_->Check(alice, {"shop", "db"}, AccessLevel::kWrite);
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message(), "user:alice lacks write on shop/db");
  EXPECT_TRUE(absl::IsPermissionDenied(
      authz_->Check(alice, {"ci", "token"}, AccessLevel::kRead)));
  EXPECT_FALSE(authz_->IsAdmin(alice));
  EXPECT_TRUE(absl::IsPermissionDenied(authz_->CheckAdmin(alice)));

  // The same user asserted with group eng gets the group's grant too.
  const Principal alice_eng = ActingAs(proxy, "alice", {"eng"});
  EXPECT_TRUE(
      authz_->Check(alice_eng, {"ci", "token"}, AccessLevel::kWrite).ok());

  // A user without grants has nothing, whatever the proxy may do.
  const Principal bob = ActingAs(proxy, "bob", {});
  EXPECT_TRUE(absl::IsPermissionDenied(
      authz_->Check(bob, {"shop", "db"}, AccessLevel::kRead)));
  // Over the Unix socket as root: still never an administrator.
  const Principal via_root = ActingAs(UnixPeer(0), "bob", {});
  EXPECT_FALSE(authz_->IsAdmin(via_root));
  EXPECT_TRUE(absl::IsPermissionDenied(
      authz_->Check(via_root, {"shop", "db"}, AccessLevel::kRead)));
}

INSTANTIATE_TEST_SUITE_P(Stores, DelegatedIdentityTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

}  // namespace
}  // namespace zlayer::secrets
