#include "daemon/local_admin_authorizer.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

Principal UnixPeer(int64_t uid, int64_t gid) {
  Principal p;
  p.transport = Transport::kUnix;
  p.uid = uid;
  p.gid = gid;
  p.pid = 42;
  return p;
}

LocalAdminAuthorizer MakeAuthorizer() {
  LocalAdminOptions options;
  options.daemon_uid = 1000;
  options.admin_uids = {2000};
  options.admin_gids = {300};
  return LocalAdminAuthorizer(options);
}

TEST(LocalAdminAuthorizerTest, DaemonUserRootAndConfiguredIdsAreAdmins) {
  LocalAdminAuthorizer authz = MakeAuthorizer();
  const Resource db{"prod", "db"};
  for (const Principal& p : {UnixPeer(1000, 1000), UnixPeer(0, 0),
                             UnixPeer(2000, 2000), UnixPeer(3000, 300)}) {
    EXPECT_TRUE(authz.Check(p, db, AccessLevel::kWrite).ok()) << p.Subject();
    EXPECT_TRUE(authz.CheckAdmin(p).ok()) << p.Subject();
  }
}

TEST(LocalAdminAuthorizerTest, OtherUsersAreDeniedWithAClearMessage) {
  LocalAdminAuthorizer authz = MakeAuthorizer();
  absl::Status s =
      authz.Check(UnixPeer(1001, 1001), {"prod", "db"}, AccessLevel::kRead);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(s.message(), "uid:1001 lacks read on prod/db:"))
      << s.message();
  s = authz.Check(UnixPeer(1001, 1001), {"prod", ""}, AccessLevel::kExecute);
  EXPECT_TRUE(absl::StartsWith(s.message(), "uid:1001 lacks execute on prod:"))
      << s.message();
  s = authz.CheckAdmin(UnixPeer(1001, 1001));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      absl::StartsWith(s.message(), "uid:1001 is not an administrator"));
}

TEST(LocalAdminAuthorizerTest, AdminRoleGrantsAndTcpUidsDoNot) {
  LocalAdminAuthorizer authz = MakeAuthorizer();
  Principal key;
  key.transport = Transport::kTls;
  key.api_key_id = "ci";
  EXPECT_FALSE(authz.CheckAdmin(key).ok());
  key.roles = {"admin"};
  EXPECT_TRUE(authz.CheckAdmin(key).ok());
  // A uid only means something on the Unix socket.
  Principal tcp = UnixPeer(0, 0);
  tcp.transport = Transport::kTls;
  EXPECT_FALSE(authz.CheckAdmin(tcp).ok());
  // Unknown identities are never admins.
  Principal nobody;
  EXPECT_FALSE(authz.CheckAdmin(nobody).ok());
}

}  // namespace
}  // namespace zlayer::secrets
