#include "core/identity/grant_store.h"

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/identity/access.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/identity_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::MakeStore;
using ::zlayer::secrets::testing::StoreKind;

constexpr AccessLevel kLevels[] = {AccessLevel::kRead, AccessLevel::kExecute,
                                   AccessLevel::kWrite};

Principal UnixPeer(int64_t uid, int64_t gid) {
  Principal p;
  p.transport = Transport::kUnix;
  p.uid = uid;
  p.gid = gid;
  return p;
}

Principal KeyHolder(std::string id, std::vector<std::string> roles) {
  Principal p;
  p.transport = Transport::kTls;
  p.api_key_id = std::move(id);
  p.roles = std::move(roles);
  return p;
}

class GrantStoreTest : public ::testing::TestWithParam<StoreKind> {
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
    GrantAuthorizerOptions options;  // no admin uids unless a test adds them
    // The environments these tests know: global e1, e2, "any"; e3 and
    // "pany" of project p.
    options.environment_scope =
        [](absl::string_view id) -> absl::optional<std::string> {
      if (id == "e1" || id == "e2" || id == "any") {
        return absl::StrCat("env:", id);
      }
      if (id == "e3" || id == "pany") return absl::StrCat("project:p:env:", id);
      return absl::nullopt;
    };
    authz_ = std::make_unique<GrantAuthorizer>(grants_.get(), options);
  }

  AccessGrant MustGrant(const std::string& subject, const GrantResource& r,
                        AccessLevel level) {
    auto g = grants_->Grant(subject, r, level);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *g : AccessGrant();
  }

  bool Allowed(const Principal& p, const Resource& r, AccessLevel level) {
    return authz_->Check(p, r, level).ok();
  }

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
  std::unique_ptr<GrantStore> grants_;
  std::unique_ptr<GrantAuthorizer> authz_;
};

TEST_P(GrantStoreTest, DefaultDeny) {
  const Principal p = UnixPeer(1000, 1000);
  EXPECT_FALSE(Allowed(p, {"prod", "db"}, AccessLevel::kRead));
  absl::Status s = authz_->Check(p, {"prod", "db"}, AccessLevel::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message(), "uid:1000 lacks read on prod/db");
  s = authz_->Check(KeyHolder("ci", {}), {"prod", ""}, AccessLevel::kWrite);
  EXPECT_EQ(s.message(), "apikey:ci lacks write on prod");
}

// Every subject kind x resource kind x level: the granted level and those
// below it are allowed, those above it are not, and nothing leaks to another
// subject or resource.
TEST_P(GrantStoreTest, SubjectResourceLevelMatrix) {
  struct SubjectCase {
    std::string subject;
    Principal holder;
    Principal other;
  };
  const std::vector<SubjectCase> subjects = {
      {"apikey:ci", KeyHolder("ci", {}), KeyHolder("cd", {})},
      {"role:deployer", KeyHolder("x", {"deployer"}), KeyHolder("x", {"dev"})},
      {"uid:1000", UnixPeer(1000, 50), UnixPeer(1001, 50)},
      {"gid:50", UnixPeer(1000, 50), UnixPeer(1000, 51)},
  };
  struct ResourceCase {
    GrantResource grant;
    Resource inside;
    Resource outside;
  };
  const std::vector<ResourceCase> resources = {
      {GrantResource::Environment("e1"), {"env:e1", "db"}, {"env:e2", "db"}},
      {GrantResource::Environment("e3"),
       {"project:p:env:e3", "db"},
       {"project:q:env:e3", "db"}},
      {GrantResource::Scope("prod"), {"prod", "db"}, {"staging", "db"}},
      {GrantResource::Scope("prod"), {"prod", ""}, {"prod2", ""}},
      {GrantResource::Secret("prod", "db"), {"prod", "db"}, {"prod", "api"}},
  };
  for (const SubjectCase& sc : subjects) {
    for (const ResourceCase& rc : resources) {
      for (AccessLevel granted : kLevels) {
        SCOPED_TRACE(sc.subject + " " + rc.grant.DebugString() + " " +
                     std::string(AccessLevelName(granted)));
        AccessGrant g = MustGrant(sc.subject, rc.grant, granted);
        for (AccessLevel wanted : kLevels) {
          EXPECT_EQ(Allowed(sc.holder, rc.inside, wanted), wanted <= granted)
              << AccessLevelName(wanted);
          EXPECT_FALSE(Allowed(sc.holder, rc.outside, wanted));
          EXPECT_FALSE(Allowed(sc.other, rc.inside, wanted));
        }
        ASSERT_TRUE(grants_->Revoke(g.id).ok());
        EXPECT_FALSE(Allowed(sc.holder, rc.inside, AccessLevel::kRead));
      }
    }
  }
}

TEST_P(GrantStoreTest, SecretGrantDoesNotCoverTheScopeListing) {
  MustGrant("uid:7", GrantResource::Secret("prod", "db"), AccessLevel::kWrite);
  EXPECT_TRUE(Allowed(UnixPeer(7, 7), {"prod", "db"}, AccessLevel::kWrite));
  EXPECT_FALSE(Allowed(UnixPeer(7, 7), {"prod", ""}, AccessLevel::kRead));
}

TEST_P(GrantStoreTest, Wildcards) {
  const Principal p = UnixPeer(7, 7);
  MustGrant("uid:7", GrantResource::AllOf(ResourceKind::kEnvironment),
            AccessLevel::kRead);
  EXPECT_TRUE(Allowed(p, {"env:any", "x"}, AccessLevel::kRead));
  EXPECT_TRUE(Allowed(p, {"project:p:env:pany", "x"}, AccessLevel::kRead));
  EXPECT_FALSE(Allowed(p, {"prod", "x"}, AccessLevel::kRead));
  EXPECT_FALSE(Allowed(p, {"env:", "x"}, AccessLevel::kRead));

  MustGrant("uid:8", GrantResource::Scope("*"), AccessLevel::kExecute);
  EXPECT_TRUE(Allowed(UnixPeer(8, 8), {"anything", ""}, AccessLevel::kExecute));
  EXPECT_FALSE(
      Allowed(UnixPeer(8, 8), {"system:grants", "x"}, AccessLevel::kRead));

  MustGrant("uid:9", GrantResource::Scope("project:web:*"), AccessLevel::kRead);
  EXPECT_TRUE(
      Allowed(UnixPeer(9, 9), {"project:web:env:1", "a"}, AccessLevel::kRead));
  EXPECT_FALSE(
      Allowed(UnixPeer(9, 9), {"project:webx:env:1", "a"}, AccessLevel::kRead));

  MustGrant("uid:10", GrantResource::AllOf(ResourceKind::kSecret),
            AccessLevel::kRead);
  EXPECT_TRUE(Allowed(UnixPeer(10, 10), {"any", "name"}, AccessLevel::kRead));
  EXPECT_FALSE(Allowed(UnixPeer(10, 10), {"any", ""}, AccessLevel::kRead));
}

// Issue 18 item 9: a prefix grant such as `c*` (or any wildcard) covered the
// credential scopes, i.e. every registry and git credential.
TEST_P(GrantStoreTest, PrefixAndWildcardGrantsDoNotCoverCredentialScopes) {
  const std::vector<GrantResource> broad = {
      GrantResource::Scope("c*"),
      GrantResource::Scope("credentials:*"),
      GrantResource::Scope("*"),
      GrantResource::AllOf(ResourceKind::kScope),
      GrantResource::AllOf(ResourceKind::kSecret),
      GrantResource::AllOf(ResourceKind::kEnvironment),
  };
  const Principal p = UnixPeer(20, 20);
  for (const GrantResource& grant : broad) {
    SCOPED_TRACE(grant.DebugString());
    AccessGrant g = MustGrant("uid:20", grant, AccessLevel::kWrite);
    for (const char* scope :
         {kRegistryCredentialResource, kGitCredentialResource}) {
      EXPECT_FALSE(Allowed(p, {scope, "ghcr.io"}, AccessLevel::kRead));
      EXPECT_FALSE(Allowed(p, {scope, ""}, AccessLevel::kRead));
      EXPECT_FALSE(GrantCovers(grant, {scope, "ghcr.io"}, ""));
    }
    EXPECT_FALSE(Allowed(p, {"system:grants", "x"}, AccessLevel::kRead));
    ASSERT_TRUE(grants_->Revoke(g.id).ok());
  }
  // The prefix grant still covers ordinary scopes with that prefix.
  MustGrant("uid:20", GrantResource::Scope("c*"), AccessLevel::kRead);
  EXPECT_TRUE(Allowed(p, {"ci", "token"}, AccessLevel::kRead));
  EXPECT_TRUE(Allowed(p, {"credentialsx", "token"}, AccessLevel::kRead));

  // Grants naming a credential scope exactly do cover it.
  MustGrant("uid:21", GrantResource::Scope(kRegistryCredentialResource),
            AccessLevel::kRead);
  EXPECT_TRUE(Allowed(UnixPeer(21, 21), {kRegistryCredentialResource, "x.io"},
                      AccessLevel::kRead));
  EXPECT_FALSE(Allowed(UnixPeer(21, 21), {kGitCredentialResource, "x.io"},
                       AccessLevel::kRead));
  MustGrant("uid:22", GrantResource::Secret(kGitCredentialResource, "git.io"),
            AccessLevel::kRead);
  EXPECT_TRUE(Allowed(UnixPeer(22, 22), {kGitCredentialResource, "git.io"},
                      AccessLevel::kRead));
  EXPECT_FALSE(Allowed(UnixPeer(22, 22), {kGitCredentialResource, "other.io"},
                       AccessLevel::kRead));
}

// Issue 18 item 9: an environment grant matched any raw scope
// "project:<anything>:env:<id>" (and "env:<id>" of a project environment).
TEST_P(GrantStoreTest, EnvironmentGrantCoversOnlyTheEnvironmentsOwnScope) {
  MustGrant("uid:30", GrantResource::Environment("e3"), AccessLevel::kWrite);
  const Principal p = UnixPeer(30, 30);
  EXPECT_TRUE(Allowed(p, {"project:p:env:e3", "db"}, AccessLevel::kWrite));
  for (const char* other : {"project:q:env:e3", "project:evil:env:e3", "env:e3",
                            "project:p:x:env:e3"}) {
    SCOPED_TRACE(other);
    EXPECT_FALSE(Allowed(p, {other, "db"}, AccessLevel::kRead));
  }
  MustGrant("uid:31", GrantResource::Environment("e1"), AccessLevel::kRead);
  EXPECT_TRUE(Allowed(UnixPeer(31, 31), {"env:e1", "db"}, AccessLevel::kRead));
  EXPECT_FALSE(Allowed(UnixPeer(31, 31), {"project:p:env:e1", "db"},
                       AccessLevel::kRead));
  // Every-environment grants: only real environments' own scopes.
  MustGrant("uid:32", GrantResource::AllOf(ResourceKind::kEnvironment),
            AccessLevel::kRead);
  EXPECT_TRUE(Allowed(UnixPeer(32, 32), {"env:e2", "db"}, AccessLevel::kRead));
  EXPECT_FALSE(
      Allowed(UnixPeer(32, 32), {"env:unknown", "db"}, AccessLevel::kRead));
  EXPECT_FALSE(Allowed(UnixPeer(32, 32), {"project:q:env:e2", "db"},
                       AccessLevel::kRead));
  // Without a way to verify environments, environment grants cover nothing.
  GrantAuthorizer blind(grants_.get(), GrantAuthorizerOptions());
  EXPECT_FALSE(
      blind.Check(p, {"project:p:env:e3", "db"}, AccessLevel::kRead).ok());
}

TEST_P(GrantStoreTest, EffectiveLevelIsTheMaxOverDuplicatesAndSubjects) {
  const Principal p = KeyHolder("ci", {"dev", "ops"});
  MustGrant("apikey:ci", GrantResource::Scope("prod"), AccessLevel::kRead);
  MustGrant("apikey:ci", GrantResource::Scope("prod"), AccessLevel::kRead);
  AccessGrant write =
      MustGrant("role:ops", GrantResource::Scope("prod"), AccessLevel::kWrite);
  EXPECT_TRUE(Allowed(p, {"prod", "db"}, AccessLevel::kWrite));
  ASSERT_TRUE(grants_->Revoke(write.id).ok());
  EXPECT_FALSE(Allowed(p, {"prod", "db"}, AccessLevel::kExecute));
  EXPECT_TRUE(Allowed(p, {"prod", "db"}, AccessLevel::kRead));
}

TEST_P(GrantStoreTest, RevokeTakesEffectOnTheNextCheck) {
  const Principal p = UnixPeer(1000, 1000);
  AccessGrant g =
      MustGrant("uid:1000", GrantResource::Scope("prod"), AccessLevel::kRead);
  EXPECT_TRUE(Allowed(p, {"prod", "db"}, AccessLevel::kRead));
  ASSERT_TRUE(grants_->Revoke(g.id).ok());
  EXPECT_FALSE(Allowed(p, {"prod", "db"}, AccessLevel::kRead));
  EXPECT_TRUE(absl::IsNotFound(grants_->Revoke(g.id)));
}

TEST_P(GrantStoreTest, RevokeMatchingRemovesEveryDuplicate) {
  MustGrant("role:ci", GrantResource::Scope("prod"), AccessLevel::kRead);
  MustGrant("role:ci", GrantResource::Scope("prod"), AccessLevel::kWrite);
  MustGrant("role:ci", GrantResource::Scope("staging"), AccessLevel::kRead);
  auto n = grants_->RevokeMatching("role:ci", GrantResource::Scope("prod"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(grants_->ListForSubject("role:ci").size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(
      grants_->RevokeMatching("role:ci", GrantResource::Scope("prod"))
          .status()));
}

// Cluster mode: two GrantStores on one store stand for two daemons; the
// other one follows a change through Refresh (what the etcd watch calls).
TEST_P(GrantStoreTest, AnotherInstanceFollowsGrantAndRevokeThroughRefresh) {
  auto other = GrantStore::Open(store_.get(), &clock_);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::vector<std::string> subject = {"uid:1000"};
  const Resource db{"prod", "db"};
  AccessGrant g =
      MustGrant("uid:1000", GrantResource::Scope("prod"), AccessLevel::kRead);
  EXPECT_EQ((*other)->EffectiveLevel(subject, db, ""), AccessLevel::kNone);
  ASSERT_TRUE((*other)->Refresh(g.id).ok());
  EXPECT_EQ((*other)->EffectiveLevel(subject, db, ""), AccessLevel::kRead);
  ASSERT_TRUE(grants_->Revoke(g.id).ok());
  EXPECT_EQ((*other)->EffectiveLevel(subject, db, ""), AccessLevel::kRead);
  ASSERT_TRUE((*other)->Refresh(g.id).ok());
  EXPECT_EQ((*other)->EffectiveLevel(subject, db, ""), AccessLevel::kNone);
  EXPECT_TRUE((*other)->ListAll().empty());
}

TEST_P(GrantStoreTest, ReloadReplacesTheWholeIndex) {
  auto other = GrantStore::Open(store_.get(), &clock_);
  ASSERT_TRUE(other.ok()) << other.status();
  AccessGrant gone =
      MustGrant("role:a", GrantResource::Scope("prod"), AccessLevel::kRead);
  ASSERT_TRUE((*other)->Reload().ok());
  ASSERT_EQ((*other)->ListAll().size(), 1u);
  ASSERT_TRUE(grants_->Revoke(gone.id).ok());
  AccessGrant kept =
      MustGrant("role:b", GrantResource::Scope("prod"), AccessLevel::kWrite);
  ASSERT_TRUE((*other)->Reload().ok());
  const std::vector<AccessGrant> all = (*other)->ListAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, kept.id);
  EXPECT_TRUE((*other)->ListForSubject("role:a").empty());
}

TEST_P(GrantStoreTest, GrantsSurviveReopen) {
  AccessGrant g = MustGrant("gid:50", GrantResource::Secret("prod", "db"),
                            AccessLevel::kExecute);
  MustGrant("role:x", GrantResource::AllOf(ResourceKind::kEnvironment),
            AccessLevel::kRead);
  Reopen();
  const std::vector<AccessGrant> all = grants_->ListAll();
  ASSERT_EQ(all.size(), 2u);
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const AccessGrant& a) { return a.id == g.id; });
  ASSERT_NE(it, all.end());
  EXPECT_EQ(it->subject, "gid:50");
  EXPECT_EQ(it->resource, GrantResource::Secret("prod", "db"));
  EXPECT_EQ(it->level, AccessLevel::kExecute);
  EXPECT_EQ(it->created_at, 1700000000);
  EXPECT_TRUE(Allowed(UnixPeer(1, 50), {"prod", "db"}, AccessLevel::kExecute));
  ASSERT_TRUE(grants_->Revoke(g.id).ok());
  Reopen();
  EXPECT_EQ(grants_->ListAll().size(), 1u);
}

TEST_P(GrantStoreTest, ListsBySubjectAndByExactResource) {
  clock_.Advance(absl::Seconds(1));
  AccessGrant a =
      MustGrant("uid:1", GrantResource::Scope("prod"), AccessLevel::kRead);
  clock_.Advance(absl::Seconds(1));
  AccessGrant b =
      MustGrant("uid:1", GrantResource::Scope(""), AccessLevel::kRead);
  MustGrant("uid:2", GrantResource::Scope("prod"), AccessLevel::kWrite);
  std::vector<AccessGrant> mine = grants_->ListForSubject("uid:1");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].id, a.id);  // oldest first
  EXPECT_EQ(mine[1].id, b.id);
  EXPECT_EQ(grants_->ListForResource(GrantResource::Scope("prod")).size(), 2u);
  // "*" and "" both name the wildcard; listing it shows only wildcard grants.
  std::vector<AccessGrant> wild =
      grants_->ListForResource(GrantResource::Scope("*"));
  ASSERT_EQ(wild.size(), 1u);
  EXPECT_EQ(wild[0].id, b.id);
}

TEST_P(GrantStoreTest, RejectsBadGrants) {
  // "user:" and "group:" are subjects now (delegated identity); an unknown
  // kind is not.
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_->Grant("person:1", GrantResource::Scope("a"), AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_->Grant("uid:x", GrantResource::Scope("a"), AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_->Grant("uid:-1", GrantResource::Scope("a"), AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_->Grant("role:", GrantResource::Scope("a"), AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_->Grant("uid:1", GrantResource::Scope("a"), AccessLevel::kNone)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_
          ->Grant("uid:1", GrantResource::Scope("system:api_keys"),
                  AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_
          ->Grant("uid:1", GrantResource::Secret("a", ""), AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      grants_
          ->Grant("uid:1", GrantResource::Secret("a", "b/c"),
                  AccessLevel::kRead)
          .status()));
  EXPECT_TRUE(grants_->ListAll().empty());
}

TEST_P(GrantStoreTest, CorruptRecordFailsOpenWithDataLoss) {
  const std::string id = NewUuidV4();
  ASSERT_TRUE(
      store_->SetSecret(kGrantsScope, id, SecretBytes::FromString("{oops"), {})
          .ok());
  auto reopened = GrantStore::Open(store_.get(), &clock_);
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
}

TEST_P(GrantStoreTest, AdminRoleAndAdminUidsAreAdministrators) {
  GrantAuthorizerOptions options;
  options.admin_uids = {0, 4242};
  GrantAuthorizer authz(grants_.get(), options);
  EXPECT_TRUE(
      authz.Check(UnixPeer(4242, 1), {"prod", "db"}, AccessLevel::kWrite).ok());
  EXPECT_TRUE(authz.CheckAdmin(UnixPeer(0, 0)).ok());
  EXPECT_TRUE(authz.CheckAdmin(KeyHolder("boss", {"admin"})).ok());
  EXPECT_TRUE(
      authz.Check(KeyHolder("boss", {"admin"}), {"x", "y"}, AccessLevel::kWrite)
          .ok());
  // A uid only counts when the kernel vouches for it (the Unix socket).
  Principal tls_peer = UnixPeer(4242, 1);
  tls_peer.transport = Transport::kTls;
  EXPECT_FALSE(authz.CheckAdmin(tls_peer).ok());
  absl::Status s = authz.CheckAdmin(UnixPeer(1000, 1000));
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_EQ(s.message(), "uid:1000 is not an administrator");
  // Grants never make an administrator.
  MustGrant("uid:1000", GrantResource::Scope(""), AccessLevel::kWrite);
  EXPECT_FALSE(authz.CheckAdmin(UnixPeer(1000, 1000)).ok());
}

TEST_P(GrantStoreTest, AdminGidsCountForUnixPeersOnly) {
  GrantAuthorizerOptions options;
  options.admin_gids = {4300};
  GrantAuthorizer authz(grants_.get(), options);
  EXPECT_TRUE(authz.CheckAdmin(UnixPeer(1000, 4300)).ok());
  EXPECT_TRUE(
      authz.Check(UnixPeer(1000, 4300), {"prod", "db"}, AccessLevel::kWrite)
          .ok());
  EXPECT_FALSE(authz.CheckAdmin(UnixPeer(1000, 4301)).ok());
  Principal tcp = UnixPeer(1000, 4300);
  tcp.transport = Transport::kTls;
  EXPECT_FALSE(authz.CheckAdmin(tcp).ok());
}

TEST_P(GrantStoreTest, SystemScopesAreRefusedEvenToAdministrators) {
  GrantAuthorizer authz(grants_.get(), GrantAuthorizerOptions::Default());
  absl::Status s = authz.Check(UnixPeer(0, 0), {"system:api_keys", "admin"},
                               AccessLevel::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_FALSE(authz
                   .Check(KeyHolder("b", {"admin"}), {"system:grants", ""},
                          AccessLevel::kRead)
                   .ok());
}

TEST(GrantAuthorizerOptionsTest, DefaultAdminsAreRootAndTheDaemonUser) {
  GrantAuthorizerOptions o = GrantAuthorizerOptions::Default();
  EXPECT_TRUE(o.admin_uids.contains(0));
  EXPECT_TRUE(o.admin_uids.contains(static_cast<int64_t>(getuid())));
  EXPECT_EQ(o.admin_role, "admin");
}

TEST(GrantAuthorizerSubjectsTest, ListsEverySubjectOfAPrincipal) {
  Principal p = KeyHolder("ci", {"a", "b"});
  p.uid = 5;
  p.gid = 6;
  EXPECT_THAT(GrantAuthorizer::SubjectsOf(p),
              ::testing::ElementsAre("apikey:ci", "role:a", "role:b", "uid:5",
                                     "gid:6"));
}

TEST(EnvironmentIdOfScopeTest, ParsesEnvShapedScopes) {
  EXPECT_EQ(EnvironmentIdOfScope("env:abc"), "abc");
  EXPECT_EQ(EnvironmentIdOfScope("project:p:env:abc"), "abc");
  EXPECT_EQ(EnvironmentIdOfScope("project:p:q:env:abc"), "abc");
  EXPECT_FALSE(EnvironmentIdOfScope("env:").has_value());
  EXPECT_FALSE(EnvironmentIdOfScope("project::env:x").has_value());
  EXPECT_FALSE(EnvironmentIdOfScope("prod").has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, GrantStoreTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

}  // namespace
}  // namespace zlayer::secrets
