// Upstream's permission model in the daemon: StoredPermission JSON imported
// through ImportUpstreamPermissions into a real GrantStore (memory store),
// then judged by the real GrantAuthorizer for a principal a proxy asserts.
// A table of cases gives upstream's answer (reference §12.3, also computed
// by a literal model of §12.3 below, so the column cannot drift) next to
// ours; every row where they differ says why (the QUIRK fix, or a resource
// kind §12.3 never consults that the issue maps onto our scopes).
#include "core/identity/upstream_permissions.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/ids.h"
#include "core/env/environment_registry.h"
#include "core/env/memory_environment_registry.h"
#include "core/identity/access.h"
#include "core/identity/grant_authorizer.h"
#include "core/identity/grant_store.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

// One upstream StoredPermission. `resource_id` nullptr = JSON null.
struct Perm {
  const char* subject_kind;
  const char* subject_id;
  const char* resource_kind;
  const char* resource_id;
  const char* level;
};

// The grants every table row is judged against. $E1/$E2/$E3 are replaced by
// the ids of real environments: E1 "staging" and E3 "other" (global), E2
// "prod" of project "shop".
const Perm kPerms[] = {
    {"user", "alice", "secret", "app:db", "read"},
    {"user", "alice", "secret", "app:api", "write"},
    {"user", "bob", "secret", nullptr, "execute"},
    {"user", "carol", "environment", "$E1", "read"},
    {"user", "dave", "environment", "$E1", "execute"},
    {"user", "erin", "environment", "$E1", "write"},
    {"user", "frank", "environment", nullptr, "write"},
    {"user", "ivan", "secret", "env:$E1:db", "read"},
    {"group", "ops", "secret", "app:db", "write"},
    {"group", "ops", "environment", "$E1", "read"},
    {"group", "dba", "secret", "env:$E1:db", "write"},
    {"user", "gina", "deployment", "web", "read"},
    {"user", "hank", "project", "shop", "write"},
    {"user", "zoe", "node", "8f2c1a4e-0b7d-4c3e-9a51-2d6e7f8a9b0c", "write"},
    {"user", "zoe", "secret", "app:db", "none"},
};

std::string PermsJson(
    const std::vector<Perm>& perms,
    const std::vector<std::pair<std::string, std::string>>& substitutions) {
  std::string out = "[";
  for (size_t i = 0; i < perms.size(); ++i) {
    const Perm& p = perms[i];
    std::string rid =
        p.resource_id == nullptr
            ? "null"
            : absl::StrCat("\"",
                           absl::StrReplaceAll(p.resource_id, substitutions),
                           "\"");
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"id\":\"", NewUuidV4(),
                    "\",\"subject_kind\":\"", p.subject_kind,
                    "\",\"subject_id\":\"", p.subject_id,
                    "\",\"resource_kind\":\"", p.resource_kind,
                    "\",\"resource_id\":", rid, ",\"level\":\"", p.level,
                    "\",\"created_at\":\"2026-11-01T10:00:00Z\"}");
  }
  return out + "]";
}

int UpstreamLevel(absl::string_view level) {
  if (level == "read") return 1;
  if (level == "execute") return 2;
  if (level == "write") return 3;
  return 0;
}

// Reference §12.3 (`require_secret_perm`) read literally, environment store
// wired. `level` 1 read, 2 execute, 3 write.
bool UpstreamAllows(const std::vector<Perm>& perms,
                    const std::vector<std::pair<std::string, std::string>>& sub,
                    const std::string& user,
                    const std::vector<std::string>& groups, bool admin,
                    const std::string& scope, const std::string& name,
                    int level) {
  if (admin) return true;  // 1.
  const std::string key = absl::StrCat(scope, ":", name);
  auto secret_grant = [&](const char* kind, const std::string& id) {
    for (const Perm& p : perms) {
      if (std::string(p.subject_kind) != kind || p.subject_id != id ||
          std::string(p.resource_kind) != "secret") {
        continue;
      }
      if ((p.resource_id == nullptr ||
           absl::StrReplaceAll(p.resource_id, sub) == key) &&
          UpstreamLevel(p.level) >= level) {
        return true;
      }
    }
    return false;
  };
  if (secret_grant("user", user)) return true;  // 2.
  absl::optional<std::string> env = EnvironmentIdOfScope(scope);
  if (env.has_value()) {  // 3., final
    const int needed = level <= 1 ? level : 3;
    int best = 0;
    for (const Perm& p : perms) {
      if (std::string(p.subject_kind) == "user" && p.subject_id == user &&
          std::string(p.resource_kind) == "environment" &&
          (p.resource_id == nullptr ||
           absl::StrReplaceAll(p.resource_id, sub) == *env)) {
        best = std::max(best, UpstreamLevel(p.level));
      }
    }
    return best >= needed;
  }
  for (const std::string& g : groups) {  // 4.
    if (secret_grant("group", g)) return true;
  }
  return false;  // 5.
}

enum class Why { kSame, kQuirkFixed, kMappedKind };

struct Row {
  const char* user;  // "" with admin
  std::vector<std::string> groups;
  bool admin;
  const char* scope;
  const char* name;  // "" = the scope's listing
  AccessLevel level;
  bool upstream;  // reference §12.3's answer
  Why why;        // ours = upstream unless kQuirkFixed / kMappedKind
  bool ours;
};

constexpr AccessLevel R = AccessLevel::kRead;
constexpr AccessLevel X = AccessLevel::kExecute;
constexpr AccessLevel W = AccessLevel::kWrite;
constexpr Why kSame = Why::kSame;
constexpr Why kQuirk = Why::kQuirkFixed;
constexpr Why kMapped = Why::kMappedKind;

const std::vector<Row>& Table() {
  static const auto* rows = new std::vector<Row>{
      // Step 1: the admin role allows everything.
      {"", {}, true, "app", "db", W, true, kSame, true},
      {"", {}, true, "env:$E1", "db", W, true, kSame, true},
      // Step 2: a user's secret grants, exact "scope:name" or wildcard.
      {"alice", {}, false, "app", "db", R, true, kSame, true},
      {"alice", {}, false, "app", "db", X, false, kSame, false},
      {"alice", {}, false, "app", "api", X, true, kSame, true},
      {"alice", {}, false, "app", "api", W, true, kSame, true},
      {"alice", {}, false, "app", "other", R, false, kSame, false},
      {"alice", {}, false, "app", "", R, false, kSame, false},
      {"alice", {}, false, "app2", "db", R, false, kSame, false},
      {"bob", {}, false, "anything", "x", X, true, kSame, true},
      {"bob", {}, false, "anything", "x", W, false, kSame, false},
      {"bob", {}, false, "app", "", R, true, kSame, true},
      {"bob", {}, false, "env:$E1", "db", R, true, kSame, true},
      // Step 2 before step 3: a user's secret grant in an environment.
      {"ivan", {}, false, "env:$E1", "db", R, true, kSame, true},
      {"ivan", {}, false, "env:$E1", "db", X, false, kSame, false},
      {"ivan", {}, false, "env:$E1", "other", R, false, kSame, false},
      // Step 3: environment grants; execute and write need env write.
      {"carol", {}, false, "env:$E1", "db", R, true, kSame, true},
      {"carol", {}, false, "env:$E1", "", R, true, kSame, true},
      {"carol", {}, false, "env:$E1", "db", X, false, kSame, false},
      {"carol", {}, false, "env:$E3", "db", R, false, kSame, false},
      {"carol", {}, false, "app", "db", R, false, kSame, false},
      {"dave", {}, false, "env:$E1", "db", R, true, kSame, true},
      {"dave", {}, false, "env:$E1", "db", X, false, kSame, false},
      {"erin", {}, false, "env:$E1", "db", X, true, kSame, true},
      {"erin", {}, false, "env:$E1", "db", W, true, kSame, true},
      {"frank", {}, false, "project:shop:env:$E2", "db", W, true, kSame, true},
      {"frank", {}, false, "env:$E3", "", W, true, kSame, true},
      {"frank", {}, false, "app", "db", R, false, kSame, false},
      // Step 4: group secret grants on non-environment scopes.
      {"nobody", {"ops"}, false, "app", "db", W, true, kSame, true},
      {"nobody", {"ops"}, false, "app", "api", R, false, kSame, false},
      {"nobody", {"dba", "ops"}, false, "app", "db", R, true, kSame, true},
      {"nobody", {"ops"}, false, "env:$E3", "db", R, false, kSame, false},
      {"nobody", {}, false, "app", "db", R, false, kSame, false},
      // QUIRK fixed: upstream never consults group grants for an
      // environment's scope; we do.
      {"nobody", {"ops"}, false, "env:$E1", "db", R, false, kQuirk, true},
      {"nobody", {"ops"}, false, "env:$E1", "", R, false, kQuirk, true},
      {"nobody", {"dba"}, false, "env:$E1", "db", W, false, kQuirk, true},
      {"carol", {"dba"}, false, "env:$E1", "db", X, false, kQuirk, true},
      // ...and the group's level still bounds it.
      {"nobody", {"ops"}, false, "env:$E1", "db", X, false, kSame, false},
      {"nobody", {"dba"}, false, "env:$E1", "other", R, false, kSame, false},
      // Deployment and project grants: §12.3 never consults them; the issue
      // maps them onto our scopes.
      {"gina", {}, false, "web", "db", R, false, kMapped, true},
      {"gina", {}, false, "web", "", R, false, kMapped, true},
      {"gina", {}, false, "web/api", "db", R, false, kMapped, true},
      {"gina", {}, false, "web", "db", X, false, kSame, false},
      {"gina", {}, false, "webx", "db", R, false, kSame, false},
      {"gina", {}, false, "web2/api", "db", R, false, kSame, false},
      {"hank",
       {},
       false,
       "project:shop:env:$E2",
       "db",
       W,
       false,
       kMapped,
       true},
      {"hank", {}, false, "env:$E1", "db", R, false, kSame, false},
      // Skipped grants give nothing: a node grant, a level-none grant.
      {"zoe", {}, false, "app", "db", R, false, kSame, false},
  };
  return *rows;
}

class UpstreamPermissionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<MemorySecretStore>(&clock_);
    registry_ = std::make_unique<MemoryEnvironmentRegistry>(&clock_);
    auto grants = GrantStore::Open(store_.get(), &clock_);
    ASSERT_TRUE(grants.ok()) << grants.status();
    grants_ = *std::move(grants);
    GrantAuthorizerOptions options;
    EnvironmentRegistry* registry = registry_.get();
    options.environment_scope =
        [registry](absl::string_view id) -> absl::optional<std::string> {
      auto env = registry->Get(id);
      if (!env.ok()) return absl::nullopt;
      return EnvironmentScope(*env);
    };
    authz_ = std::make_unique<GrantAuthorizer>(grants_.get(), options);
  }

  std::string MustCreateEnv(const char* name, const char* project) {
    auto env = registry_->Create(name, project, "");
    EXPECT_TRUE(env.ok()) << env.status();
    return env.ok() ? env->id : "";
  }

  FakeClock clock_;
  std::unique_ptr<MemorySecretStore> store_;
  std::unique_ptr<MemoryEnvironmentRegistry> registry_;
  std::unique_ptr<GrantStore> grants_;
  std::unique_ptr<GrantAuthorizer> authz_;
};

Principal Proxy() {
  Principal p;
  p.transport = Transport::kTls;
  p.api_key_id = "api-server";
  return p;
}

TEST_F(UpstreamPermissionsTest, TableGivesUpstreamAnswersWithQuirkFixed) {
  const std::vector<std::pair<std::string, std::string>> sub = {
      {"$E1", MustCreateEnv("staging", "")},
      {"$E2", MustCreateEnv("prod", "shop")},
      {"$E3", MustCreateEnv("other", "")},
  };
  const std::vector<Perm> perms(std::begin(kPerms), std::end(kPerms));
  auto report = ImportUpstreamPermissions(PermsJson(perms, sub), grants_.get());
  ASSERT_TRUE(report.ok()) << report.status();
  // 15 permissions: node and level none skipped, the deployment is two.
  EXPECT_EQ(report->plan.permissions, 15u);
  EXPECT_EQ(report->plan.skipped.size(), 2u);
  EXPECT_EQ(report->imported.size(), 14u);
  EXPECT_EQ(grants_->ListAll().size(), 14u);

  size_t quirk_rows = 0, mapped_rows = 0;
  for (size_t i = 0; i < Table().size(); ++i) {
    const Row& row = Table()[i];
    const std::string scope = absl::StrReplaceAll(row.scope, sub);
    const std::string what =
        absl::StrCat("row ", i, ": ", row.admin ? "admin" : row.user, " [",
                     absl::StrJoin(row.groups, ","), "] ",
                     AccessLevelName(row.level), " on ", scope, "/", row.name);
    // The upstream column is what §12.3 says.
    ASSERT_EQ(UpstreamAllows(perms, sub, row.user, row.groups, row.admin, scope,
                             row.name, static_cast<int>(row.level)),
              row.upstream)
        << what << " (upstream column disagrees with the §12.3 model)";
    if (row.why == Why::kSame) {
      ASSERT_EQ(row.ours, row.upstream) << what << " (unlabelled divergence)";
    } else {
      ASSERT_NE(row.ours, row.upstream) << what << " (labelled, same answer)";
      (row.why == Why::kQuirkFixed ? quirk_rows : mapped_rows)++;
    }
    Principal principal;
    if (row.admin) {
      principal = Proxy();
      principal.roles = {"admin"};
    } else {
      principal = ActingAs(Proxy(), row.user, row.groups);
    }
    const absl::Status status =
        authz_->Check(principal, {scope, row.name}, row.level);
    EXPECT_EQ(status.ok(), row.ours) << what << ": " << status;
    if (!row.ours) {
      EXPECT_TRUE(absl::IsPermissionDenied(status)) << what << ": " << status;
    }
  }
  EXPECT_GE(Table().size(), 25u);
  EXPECT_EQ(quirk_rows, 4u);
  EXPECT_EQ(mapped_rows, 4u);
}

TEST_F(UpstreamPermissionsTest, ProjectGrantCoversOnlyItsOwnEnvironments) {
  const std::string prod = MustCreateEnv("prod", "shop");
  const std::string other = MustCreateEnv("prod", "blog");
  const std::string global = MustCreateEnv("prod", "");
  ASSERT_TRUE(ImportUpstreamPermissions(
                  PermsJson({{"user", "hank", "project", "shop", "read"}}, {}),
                  grants_.get())
                  .ok());
  const Principal hank = ActingAs(Proxy(), "hank", {});
  EXPECT_TRUE(authz_->Check(hank, {"project:shop:env:" + prod, "db"}, R).ok());
  EXPECT_FALSE(authz_->Check(hank, {"project:shop:env:" + prod, "db"}, X).ok());
  EXPECT_FALSE(
      authz_->Check(hank, {"project:blog:env:" + other, "db"}, R).ok());
  EXPECT_FALSE(authz_->Check(hank, {"env:" + global, "db"}, R).ok());
  EXPECT_FALSE(
      authz_->Check(hank, {"project:shopx:env:" + prod, "db"}, R).ok());
}

TEST_F(UpstreamPermissionsTest, MapsEachKindOntoOurGrants) {
  const std::string json = PermsJson(
      {
          {"user", "a", "secret", "project:p:env:e1:DB_URL", "read"},
          {"group", "g", "secret", nullptr, "write"},
          {"user", "a", "environment", "e1", "execute"},
          {"user", "a", "environment", nullptr, "read"},
          {"user", "a", "deployment", "web", "write"},
          {"user", "a", "project", "shop", "read"},
          {"user", "a", "project", nullptr, "execute"},
      },
      {});
  auto plan = PlanUpstreamPermissions(json);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->grants.size(), 8u);
  EXPECT_TRUE(plan->skipped.empty());
  const auto& g = plan->grants;
  EXPECT_EQ(g[0].subject, "user:a");
  EXPECT_EQ(g[0].resource, GrantResource::Secret("project:p:env:e1", "DB_URL"));
  EXPECT_EQ(g[1].subject, "group:g");
  EXPECT_EQ(g[1].resource, GrantResource::Scope("*"));
  EXPECT_EQ(g[1].level, W);
  EXPECT_EQ(g[2].resource, GrantResource::Environment("e1"));
  EXPECT_EQ(g[2].level, R) << "environment execute gives read only upstream";
  EXPECT_EQ(g[3].resource, GrantResource::AllOf(ResourceKind::kEnvironment));
  EXPECT_EQ(g[4].resource, GrantResource::Scope("web"));
  EXPECT_EQ(g[5].resource, GrantResource::Scope("web/*"));
  EXPECT_EQ(g[6].resource, GrantResource::Scope("project:shop:env:*"));
  EXPECT_EQ(g[7].resource, GrantResource::Scope("project:*"));
  EXPECT_EQ(g[7].level, X);
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_NE(plan->notes[0].find("environment execute imported as read"),
            std::string::npos);
  // Planning stores nothing.
  EXPECT_TRUE(grants_->ListAll().empty());
}

TEST_F(UpstreamPermissionsTest, ReportsWhatItSkipsAndWhy) {
  const std::string json = PermsJson(
      {
          {"user", "a", "node", "8f2c1a4e-0b7d-4c3e-9a51-2d6e7f8a9b0c", "read"},
          {"user", "a", "node", nullptr, "read"},
          {"user", "a", "deployment", nullptr, "read"},
          {"user", "a", "secret", "app:db", "none"},
          {"user", "a", "secret", "system:grants:x", "write"},
          {"user", "a", "secret", "app:db", "read"},
      },
      {});
  auto report = ImportUpstreamPermissions(json, grants_.get());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->plan.skipped.size(), 5u);
  EXPECT_NE(
      report->plan.skipped[0].reason.find("node grants are not supported"),
      std::string::npos);
  EXPECT_NE(report->plan.skipped[1].reason.find("node grants"),
            std::string::npos);
  EXPECT_NE(report->plan.skipped[2].reason.find("wildcard deployment"),
            std::string::npos);
  EXPECT_NE(report->plan.skipped[3].reason.find("level none"),
            std::string::npos);
  EXPECT_NE(report->plan.skipped[4].reason.find("does not name a secret"),
            std::string::npos);
  ASSERT_EQ(report->imported.size(), 1u);
  EXPECT_EQ(grants_->ListAll().size(), 1u);
  const std::string text = FormatUpstreamPermissionReport(*report);
  EXPECT_NE(text.find("6 read, 1 grants imported, 5 skipped"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("user:a read on secret:app/db"), std::string::npos)
      << text;
}

TEST_F(UpstreamPermissionsTest, RefusesMalformedInputAndImportsNothing) {
  // A valid element with member `field` replaced by raw JSON `value`, or
  // removed when `value` is empty.
  auto element = [](absl::string_view field, absl::string_view value) {
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"id", "\"0b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b\""},
        {"subject_kind", "\"user\""},
        {"subject_id", "\"alice\""},
        {"resource_kind", "\"secret\""},
        {"resource_id", "\"app:db\""},
        {"level", "\"write\""},
        {"created_at", "\"2026-11-01T10:00:00Z\""},
    };
    std::vector<std::string> members;
    for (const auto& [key, json] : fields) {
      if (key != field) {
        members.push_back(absl::StrCat("\"", key, "\":", json));
      } else if (!value.empty()) {
        members.push_back(absl::StrCat("\"", key, "\":", value));
      }
    }
    return absl::StrCat("{", absl::StrJoin(members, ","), "}");
  };
  const std::string good = element("", "");
  // A good element first: refusing the second must not keep the first.
  auto with = [&](absl::string_view field, absl::string_view value) {
    return absl::StrCat("[", good, ",", element(field, value), "]");
  };
  struct Case {
    std::string json;
    const char* expect;  // in the message
  };
  const std::vector<Case> cases = {
      {"", "invalid JSON"},
      {"[{\"id\":", "invalid JSON"},
      {"{}", "must be a JSON array"},
      {absl::StrCat("[", good, ",42]"), "#1: not a JSON object"},
      {with("subject_kind", "\"role\""), "\"subject_kind\" must be"},
      {with("subject_kind", ""), "missing \"subject_kind\""},
      {with("subject_id", "\"\""), "blank \"subject_id\""},
      {with("subject_id", "\"a,b\""), "without ','"},
      {with("resource_kind", "\"cluster\""), "unknown \"resource_kind\""},
      {with("resource_kind", "\"\""), "blank \"resource_kind\""},
      {with("resource_id", "\"nocolon\""), "scope:name"},
      {with("resource_id", "\":db\""), "scope:name"},
      {with("resource_id", "\"app:\""), "scope:name"},
      {with("resource_id", "7"), "neither a string nor null"},
      {with("level", "\"admin\""), "\"level\" must be"},
      {with("level", "3"), "\"level\" is not a string"},
      {with("id", ""), "missing \"id\""},
      {with("created_at", ""), "missing \"created_at\""},
      {absl::StrCat("[", good, ",",
                    absl::StrReplaceAll(element("resource_id", "\"nope\""),
                                        {{"\"secret\"", "\"node\""}}),
                    "]"),
       "must be a UUID"},
      {with("id", "\"\""), "blank \"id\""},
  };
  for (const Case& c : cases) {
    auto report = ImportUpstreamPermissions(c.json, grants_.get());
    ASSERT_FALSE(report.ok()) << c.json;
    EXPECT_TRUE(absl::IsInvalidArgument(report.status())) << report.status();
    EXPECT_NE(report.status().message().find(c.expect), std::string::npos)
        << report.status() << " for " << c.json;
    EXPECT_TRUE(grants_->ListAll().empty()) << "imported part of " << c.json;
  }
  // The good element alone imports.
  auto report =
      ImportUpstreamPermissions(absl::StrCat("[", good, "]"), grants_.get());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(grants_->ListAll().size(), 1u);
}

}  // namespace
}  // namespace zlayer::secrets
