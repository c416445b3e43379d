#include "core/resolve/resolver.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/env/memory_environment_registry.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest()
      : store_(&clock_), envs_(&clock_), resolver_(&store_, &envs_) {}

  void Put(const std::string& scope, const std::string& name,
           const std::string& value) {
    ASSERT_TRUE(
        store_.SetSecret(scope, name, SecretBytes::FromString(value), {}).ok());
  }

  std::string EnvScope(const std::string& name,
                       const std::string& project = "") {
    auto env = envs_.Find(name, project);
    EXPECT_TRUE(env.ok()) << env.status();
    return EnvironmentScope(*env);
  }

  static std::string Value(const ResolvedEnv& out, const std::string& key) {
    auto it = out.values.find(key);
    if (it == out.values.end()) return "<missing>";
    return std::string(it->second.InsecureView());
  }

  FakeClock clock_;
  MemorySecretStore store_;
  MemoryEnvironmentRegistry envs_;
  Resolver resolver_;
  ResolveContext ctx_{"shop", ""};
};

TEST_F(ResolverTest, ResolvesEveryReferenceFormInItsOwnScope) {
  ASSERT_TRUE(envs_.Create("staging", "", "").ok());
  ASSERT_TRUE(envs_.Create("staging", "payments", "").ok());
  Put("shop", "db", "deployment-db");
  Put("shop/api", "token", "service-token");
  Put(EnvScope("staging"), "db", "global-staging-db");
  Put(EnvScope("staging", "payments"), "db", "payments-staging-db");
  Put(EnvScope("staging"), "API_KEY", "url-form-key");

  std::map<std::string, std::string> env = {
      {"A", "$S:db"},
      {"B", "$S:@api/token"},
      {"C", "$S::staging/db"},
      {"D", "$S:payments:staging/db"},
      {"E", "$secret://staging/API_KEY"},
      {"F", "plain value"},
      {"G", "$E:HOME"},
  };
  auto out = resolver_.Resolve(env, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "A"), "deployment-db");
  EXPECT_EQ(Value(*out, "B"), "service-token");
  EXPECT_EQ(Value(*out, "C"), "global-staging-db");
  EXPECT_EQ(Value(*out, "D"), "payments-staging-db");
  EXPECT_EQ(Value(*out, "E"), "url-form-key");
  EXPECT_EQ(Value(*out, "F"), "plain value");
  EXPECT_EQ(Value(*out, "G"), "$E:HOME");
  EXPECT_EQ(out->values.size(), env.size());
  EXPECT_EQ(out->receipt.size(), 5u);
}

TEST_F(ResolverTest, EnvironmentRefUsesContextProjectForNameLookup) {
  ASSERT_TRUE(envs_.Create("prod", "", "").ok());
  ASSERT_TRUE(envs_.Create("prod", "payments", "").ok());
  Put(EnvScope("prod"), "db", "global");
  Put(EnvScope("prod", "payments"), "db", "payments");
  ResolveContext ctx{"shop", "payments"};
  auto out = resolver_.Resolve(
      {{"X", "$S::prod/db"}, {"Y", "$secret://prod/db"}}, ctx);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "X"), "payments");
  EXPECT_EQ(Value(*out, "Y"), "payments");
}

TEST_F(ResolverTest, EnvironmentCanBeNamedById) {
  auto env = envs_.Create("qa", "", "");
  ASSERT_TRUE(env.ok());
  Put(EnvironmentScope(*env), "k", "v");
  auto out = resolver_.Resolve({{"X", "$S::" + env->id + "/k"}}, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "X"), "v");
}

TEST_F(ResolverTest, ExtractsJsonFields) {
  Put("shop", "db",
      R"({"user":"app","port":5432,"ssl":true,"opts":{"b":1,"a":[1,"x"]},"n":null})");
  Put("shop/api", "cfg", R"({"a/b":"slash key"})");
  auto out = resolver_.Resolve({{"U", "$S:db/user"},
                                {"P", "$S:db/port"},
                                {"S", "$S:db/ssl"},
                                {"O", "$S:db/opts"},
                                {"N", "$S:db/n"},
                                {"K", "$S:@api/cfg/a/b"}},
                               ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "U"), "app");
  EXPECT_EQ(Value(*out, "P"), "5432");
  EXPECT_EQ(Value(*out, "S"), "true");
  EXPECT_EQ(Value(*out, "O"), R"({"a":[1,"x"],"b":1})");
  EXPECT_EQ(Value(*out, "N"), "");
  EXPECT_EQ(Value(*out, "K"), "slash key");
}

TEST_F(ResolverTest, ReceiptNamesScopeNameVersionAndField) {
  Put("shop", "db", R"({"password":"p1"})");
  Put("shop", "db", R"({"password":"p2"})");
  auto out =
      resolver_.Resolve({{"PW", "$S:db/password"}, {"PLAIN", "x"}}, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->receipt.size(), 1u);
  const ReceiptEntry& r = out->receipt[0];
  EXPECT_EQ(r.key, "PW");
  EXPECT_EQ(r.reference, "$S:db/password");
  EXPECT_EQ(r.target.scope, "shop");
  EXPECT_EQ(r.target.name, "db");
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(r.field, "password");
  EXPECT_EQ(Value(*out, "PW"), "p2");
}

TEST_F(ResolverTest, FailsAllOrNothingListingEveryBadEntryWithoutValues) {
  Put("shop", "good", "canary-good-value");
  Put("shop", "notjson", "canary-not-json");
  std::map<std::string, std::string> env = {
      {"OK", "$S:good"},           {"MISSING", "$S:nope"},
      {"BADREF", "$S:a:b"},        {"NOENV", "$S::ghost/x"},
      {"NOFIELD", "$S:notjson/f"},
  };
  std::vector<EntryError> errors;
  auto out = resolver_.Resolve(env, ctx_, &errors);
  ASSERT_FALSE(out.ok());
  // The most severe code wins: a malformed reference is INVALID_ARGUMENT.
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(out.status().message());
  EXPECT_THAT(msg, HasSubstr("4 of 5 env entries"));
  for (const char* key : {"MISSING", "BADREF", "NOENV", "NOFIELD"}) {
    EXPECT_THAT(msg, HasSubstr(key));
  }
  EXPECT_THAT(msg, Not(HasSubstr("OK (")));
  EXPECT_THAT(msg, Not(HasSubstr("canary")));
  ASSERT_EQ(errors.size(), 4u);
  for (const EntryError& e : errors) {
    EXPECT_THAT(std::string(e.status.message()), Not(HasSubstr("canary")));
  }
}

TEST_F(ResolverTest, MissingSecretIsNotFoundNamingScopeAndName) {
  auto out = resolver_.Resolve({{"X", "$S:@api/nope"}}, ctx_);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(
      std::string(out.status().message()),
      HasSubstr(
          "X ($S:@api/nope): secret 'nope' not found in scope 'shop/api'"));
}

TEST_F(ResolverTest, DeploymentReferenceWithoutDeploymentFails) {
  Put("shop", "db", "v");
  auto out = resolver_.Resolve({{"X", "$S:db"}}, ResolveContext{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ResolverTest, EnvironmentReferenceWithoutRegistryFails) {
  Resolver no_envs(&store_, nullptr);
  auto out = no_envs.Resolve({{"X", "$secret://staging/K"}}, ctx_);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ResolverTest, SoftDeletedSecretDoesNotResolve) {
  Put("shop", "db", "v");
  ASSERT_TRUE(store_.DeleteSecret("shop", "db").ok());
  auto out = resolver_.Resolve({{"X", "$S:db"}}, ctx_);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ResolverTest, PlanReportsTargetsWithoutReadingValues) {
  ASSERT_TRUE(envs_.Create("staging", "", "").ok());
  ResolvePlan plan = resolver_.Plan({{"A", "$S:@api/db/pw"},
                                     {"B", "$S::staging/k"},
                                     {"C", "x"},
                                     {"D", "$S:/x"}},
                                    ctx_);
  ASSERT_EQ(plan.entries.size(), 4u);
  EXPECT_FALSE(plan.ok());
  EXPECT_EQ(plan.entries[0].target.scope, "shop/api");
  EXPECT_EQ(plan.entries[0].target.name, "db");
  EXPECT_EQ(plan.entries[0].field, "pw");
  EXPECT_EQ(plan.entries[1].target.scope, EnvScope("staging"));
  EXPECT_FALSE(plan.entries[2].is_reference);
  EXPECT_TRUE(plan.entries[3].is_reference);
  EXPECT_EQ(plan.entries[3].status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolverTest, CanonicalReferenceDropsEmptyServiceField) {
  Put("shop/api", "db", "v");
  auto out = resolver_.Resolve({{"X", "$S:@api/db/"}}, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "X"), "v");
  EXPECT_EQ(out->receipt[0].reference, "$S:@api/db");
}

TEST_F(ResolverTest, SameSecretReferencedTwiceIsReadOnce) {
  Put("shop", "db", R"({"u":"a","p":"b"})");
  auto out = resolver_.Resolve(
      {{"U", "$S:db/u"}, {"P", "$S:db/p"}, {"W", "$S:db"}}, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "U"), "a");
  EXPECT_EQ(Value(*out, "P"), "b");
  EXPECT_EQ(Value(*out, "W"), R"({"u":"a","p":"b"})");
}

// 1,000 references to one field of a large JSON value: the answer would be
// 1,000 copies, so the call is refused by size before any copy is made.
TEST_F(ResolverTest, OutputBudgetRefusesAmplificationNamingTheLimit) {
  Put("shop", "blob",
      absl::StrCat(R"({"big":")", std::string(256 << 10, 'x'), R"("})"));
  std::map<std::string, std::string> env;
  for (int i = 0; i < 1000; ++i) env[absl::StrCat("K", i)] = "$S:blob/big";
  ResolveBudget budget;
  budget.max_output_bytes = 4 << 20;
  auto out = resolver_.Execute(resolver_.Plan(env, ctx_), nullptr, budget);
  ASSERT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted)
      << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("4194304 bytes"));
  EXPECT_THAT(out.status().message(), Not(HasSubstr("xxxx")));
}

TEST_F(ResolverTest, OutputBudgetAdmitsAnswersWithinIt) {
  Put("shop", "db", R"({"u":"alice","p":"pw"})");
  std::map<std::string, std::string> env = {
      {"U", "$S:db/u"}, {"P", "$S:db/p"}, {"PLAIN", "text"}};
  ResolveBudget budget;
  // Keys, values and the receipt of the two references, exactly.
  budget.max_output_bytes = (1 + 5) + (1 + 2) + (5 + 4) + 2 * 1 +
                            std::string("$S:db/u").size() * 2 + 2 * 4 + 2 * 2 +
                            2 * 1;
  auto out = resolver_.Execute(resolver_.Plan(env, ctx_), nullptr, budget);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "U"), "alice");
  budget.max_output_bytes -= 1;
  EXPECT_EQ(resolver_.Execute(resolver_.Plan(env, ctx_), nullptr, budget)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

// Many fields of one JSON value, each named by many entries: every entry
// gets its own field (the value is parsed once and each field rendered
// once, which only a profile shows; here the answers must stay right).
TEST_F(ResolverTest, ManyReferencesToFieldsOfOneValueResolveEachField) {
  std::string json = "{";
  for (int f = 0; f < 50; ++f) {
    absl::StrAppend(&json, f == 0 ? "" : ",", "\"f", f, "\":", f);
  }
  json += "}";
  Put("shop", "cfg", json);
  std::map<std::string, std::string> env;
  for (int i = 0; i < 500; ++i) {
    env[absl::StrCat("K", i)] = absl::StrCat("$S:cfg/f", i % 50);
  }
  auto out = resolver_.Resolve(env, ctx_);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(Value(*out, absl::StrCat("K", i)), absl::StrCat(i % 50));
  }
  EXPECT_EQ(out->receipt.size(), 500u);
}

TEST_F(ResolverTest, KeepGoingStopsTheCallBetweenEntries) {
  Put("shop", "db", "v");
  std::map<std::string, std::string> env;
  for (int i = 0; i < 100; ++i) env[absl::StrCat("K", i)] = "$S:db";
  int asked = 0;
  ResolveBudget budget;
  budget.keep_going = [&asked]() -> absl::Status {
    if (++asked > 10) return absl::CancelledError("the caller went away");
    return absl::OkStatus();
  };
  auto out = resolver_.Execute(resolver_.Plan(env, ctx_), nullptr, budget);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(asked, 11);  // stopped at the first "no", not after every entry
}

TEST(CombineEntryErrorsTest, DataLossOutranksEverything) {
  absl::Status s =
      CombineEntryErrors({{"A", "$S:a", absl::NotFoundError("x")},
                          {"B", "$S:b", absl::DataLossError("y")},
                          {"C", "$S:c", absl::InvalidArgumentError("z")}},
                         3);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("3 of 3"));
}

// --- Resolve with an access check ---------------------------------------

TEST_F(ResolverTest, DeniedEntryFailsLikeBadReferenceAndNothingIsRead) {
  Put("shop", "db", "allowed-value");
  Put("shop", "hidden", "denied-value");
  testing::FaultInjectingStore counting(&store_);
  Resolver resolver(&counting, &envs_);
  AccessCheck only_db = [](const SecretKey& target) {
    if (target.name == "db") return absl::OkStatus();
    return absl::PermissionDeniedError("caller lacks execute on " +
                                       target.name);
  };
  std::vector<EntryError> errors;
  auto out = resolver.Resolve({{"A", "$S:db"}, {"B", "$S:hidden"}}, ctx_,
                              only_db, ResolveBudget(), &errors);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(out.status().message(), HasSubstr("B ($S:hidden)"));
  EXPECT_THAT(out.status().message(), Not(HasSubstr("denied-value")));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "B");
  // The denied secret is never read (nor decrypted); the allowed one is
  // read in the same snapshot so the error can list every problem.
  for (const SecretKey& read : counting.batch_keys()) {
    EXPECT_NE(read.name, "hidden");
  }
  EXPECT_EQ(counting.batch_keys().size(), 1u);
}

TEST_F(ResolverTest, DeniedEntryIsListedWithBadReferences) {
  Put("shop", "db", "v");
  AccessCheck deny_all = [](const SecretKey&) {
    return absl::PermissionDeniedError("denied");
  };
  std::vector<EntryError> errors;
  auto out = resolver_.Resolve({{"A", "$S:db"}, {"B", "$S:"}, {"C", "x"}}, ctx_,
                               deny_all, ResolveBudget(), &errors);
  ASSERT_FALSE(out.ok());
  ASSERT_EQ(errors.size(), 2u);  // the denied one and the malformed one
  EXPECT_EQ(errors[0].key, "A");
  EXPECT_EQ(errors[1].key, "B");
}

TEST_F(ResolverTest, AllowedEntriesResolveWithAccessCheck) {
  Put("shop", "db", "value-1");
  std::vector<SecretKey> asked;
  AccessCheck allow = [&](const SecretKey& target) {
    asked.push_back(target);
    return absl::OkStatus();
  };
  auto out = resolver_.Resolve({{"A", "$S:db"}, {"P", "plain"}}, ctx_, allow);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Value(*out, "A"), "value-1");
  EXPECT_EQ(Value(*out, "P"), "plain");
  ASSERT_EQ(asked.size(), 1u);  // plain values need no access
  EXPECT_EQ(asked[0].scope, "shop");
  EXPECT_EQ(asked[0].name, "db");
}

}  // namespace
}  // namespace zlayer::secrets
