#include "tests/core/env/environment_registry_conformance.h"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets::testing {

std::string EnvironmentRegistryFactoryName(
    const ::testing::TestParamInfo<EnvironmentRegistryFactory>& info) {
  return info.param.name;
}

void EnvironmentRegistryConformanceTest::SetUp() {
  absl::StatusOr<RegistryHandle> handle = GetParam().make(&clock_);
  ASSERT_TRUE(handle.ok()) << handle.status();
  handle_ = *std::move(handle);
  registry_ = handle_.registry.get();
}

namespace {

constexpr int64_t kStart = 1700000000;

std::vector<std::string> Names(const std::vector<Environment>& envs) {
  std::vector<std::string> out;
  for (const Environment& e : envs) out.push_back(e.name);
  return out;
}

using Strings = std::vector<std::string>;

TEST_P(EnvironmentRegistryConformanceTest, CreateAssignsUuidV4AndTimestamps) {
  auto env = registry_->Create("staging", "", "the staging env");
  ASSERT_OK(env);
  EXPECT_TRUE(LooksLikeUuid(env->id));
  EXPECT_EQ(env->id[14], '4');
  EXPECT_NE(std::string("89ab").find(env->id[19]), std::string::npos);
  for (char c : env->id) EXPECT_FALSE(c >= 'A' && c <= 'F');
  EXPECT_EQ(env->name, "staging");
  EXPECT_EQ(env->project, "");
  EXPECT_EQ(env->description, "the staging env");
  EXPECT_EQ(env->created_at, kStart);
  EXPECT_EQ(env->updated_at, kStart);
  auto other = registry_->Create("prod", "", "");
  ASSERT_OK(other);
  EXPECT_NE(other->id, env->id);
}

TEST_P(EnvironmentRegistryConformanceTest, NamesAreTrimmedAndValidated) {
  auto env = registry_->Create("  dev \t", "", "");
  ASSERT_OK(env);
  EXPECT_EQ(env->name, "dev");
  EXPECT_STATUS(registry_->Create("   ", "", ""), kInvalidArgument);
  EXPECT_STATUS(registry_->Create("", "", ""), kInvalidArgument);
  EXPECT_STATUS(registry_->Create(std::string(257, 'n'), "", ""),
                kInvalidArgument);
  EXPECT_STATUS(registry_->Create("a/b", "", ""), kInvalidArgument);
  EXPECT_STATUS(registry_->Create("bell\x07", "", ""), kInvalidArgument);
  EXPECT_STATUS(registry_->Create("\xff", "", ""), kInvalidArgument);
  EXPECT_STATUS(
      registry_->Create("123e4567-e89b-42d3-a456-426614174000", "", ""),
      kInvalidArgument);
  EXPECT_STATUS(registry_->Create("ok", "p:q", ""), kInvalidArgument);
  EXPECT_STATUS(registry_->Create("ok", "", std::string(5000, 'd')),
                kInvalidArgument);
  ASSERT_OK(registry_->Create(std::string(256, 'n'), "", ""));
  EXPECT_EQ(Names(*registry_->List("")),
            Strings({"dev", std::string(256, 'n')}));
}

TEST_P(EnvironmentRegistryConformanceTest, NamesAreUniquePerProject) {
  ASSERT_OK(registry_->Create("staging", "", ""));
  EXPECT_STATUS(registry_->Create("staging", "", ""), kAlreadyExists);
  EXPECT_STATUS(registry_->Create(" staging ", "", ""), kAlreadyExists);
  ASSERT_OK(registry_->Create("staging", "p1", ""));
  ASSERT_OK(registry_->Create("staging", "p2", ""));
  EXPECT_STATUS(registry_->Create("staging", "p1", ""), kAlreadyExists);
  ASSERT_OK(registry_->Create("Staging", "", ""));  // case-sensitive
}

TEST_P(EnvironmentRegistryConformanceTest, GetById) {
  auto env = registry_->Create("staging", "p1", "d");
  ASSERT_OK(env);
  auto got = registry_->Get(env->id);
  ASSERT_OK(got);
  EXPECT_EQ(got->name, "staging");
  EXPECT_EQ(got->project, "p1");
  EXPECT_EQ(got->description, "d");
  std::string upper = env->id;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_OK(registry_->Get(upper));
  EXPECT_STATUS(registry_->Get("123e4567-e89b-42d3-a456-426614174000"),
                kNotFound);
  EXPECT_STATUS(registry_->Get("staging"), kNotFound);
}

TEST_P(EnvironmentRegistryConformanceTest, ListIsPerProjectAndOrderedByName) {
  for (const char* n : {"qa", "dev", "prod"}) {
    ASSERT_OK(registry_->Create(n, "", ""));
  }
  ASSERT_OK(registry_->Create("zeta", "p1", ""));
  ASSERT_OK(registry_->Create("alpha", "p1", ""));
  EXPECT_EQ(Names(*registry_->List("")), Strings({"dev", "prod", "qa"}));
  EXPECT_EQ(Names(*registry_->List("p1")), Strings({"alpha", "zeta"}));
  EXPECT_TRUE(registry_->List("p2")->empty());
}

TEST_P(EnvironmentRegistryConformanceTest, UpdateRenamesAndRedescribes) {
  auto env = registry_->Create("staging", "", "old");
  ASSERT_OK(env);
  ASSERT_OK(registry_->Create("prod", "", ""));
  clock_.Advance(absl::Seconds(60));
  auto renamed = registry_->Update(env->id, "stage", "new");
  ASSERT_OK(renamed);
  EXPECT_EQ(renamed->name, "stage");
  EXPECT_EQ(renamed->description, "new");
  EXPECT_EQ(renamed->created_at, kStart);
  EXPECT_EQ(renamed->updated_at, kStart + 60);
  EXPECT_EQ(registry_->Get(env->id)->name, "stage");

  auto kept = registry_->Update(env->id, "", "newer");
  ASSERT_OK(kept);
  EXPECT_EQ(kept->name, "stage");
  EXPECT_EQ(kept->description, "newer");
  ASSERT_OK(registry_->Update(env->id, "stage", "same name is fine"));

  EXPECT_STATUS(registry_->Update(env->id, "prod", ""), kAlreadyExists);
  EXPECT_STATUS(registry_->Update(env->id, "a/b", ""), kInvalidArgument);
  EXPECT_STATUS(
      registry_->Update("123e4567-e89b-42d3-a456-426614174000", "x", ""),
      kNotFound);
  EXPECT_EQ(registry_->Get(env->id)->name, "stage");
}

TEST_P(EnvironmentRegistryConformanceTest, DeleteRemoves) {
  auto env = registry_->Create("staging", "", "");
  ASSERT_OK(env);
  ASSERT_OK(registry_->Delete(env->id));
  EXPECT_STATUS(registry_->Get(env->id), kNotFound);
  EXPECT_STATUS(registry_->Delete(env->id), kNotFound);
  EXPECT_TRUE(registry_->List("")->empty());
  ASSERT_OK(registry_->Create("staging", "", ""));  // the name is free again
}

TEST_P(EnvironmentRegistryConformanceTest, FindByNameWithinProjectOrById) {
  auto global = registry_->Create("staging", "", "");
  auto scoped = registry_->Create("staging", "p1", "");
  ASSERT_OK(global);
  ASSERT_OK(scoped);
  EXPECT_EQ(registry_->Find("staging", "")->id, global->id);
  EXPECT_EQ(registry_->Find("staging", "p1")->id, scoped->id);
  // An id finds its environment whatever project is given.
  EXPECT_EQ(registry_->Find(scoped->id, "")->id, scoped->id);
  EXPECT_EQ(registry_->Find(global->id, "p1")->id, global->id);
  EXPECT_STATUS(registry_->Find("staging", "p2"), kNotFound);
  EXPECT_STATUS(registry_->Find("123e4567-e89b-42d3-a456-426614174000", ""),
                kNotFound);
  EXPECT_STATUS(registry_->Find("", ""), kInvalidArgument);
}

TEST_P(EnvironmentRegistryConformanceTest, NotFoundNamesTheKnownEnvironments) {
  ASSERT_OK(registry_->Create("prod", "", ""));
  ASSERT_OK(registry_->Create("dev", "", ""));
  auto missing = registry_->Find("qa", "");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("dev, prod"), std::string::npos)
      << missing.status();
  auto none = registry_->Find("qa", "p9");
  ASSERT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no environments"), std::string::npos)
      << none.status();
}

TEST_P(EnvironmentRegistryConformanceTest, ResolveScopeGivesTheEnvScope) {
  auto global = registry_->Create("staging", "", "");
  auto scoped = registry_->Create("staging", "p1", "");
  ASSERT_OK(global);
  ASSERT_OK(scoped);
  EXPECT_EQ(*registry_->ResolveScope("staging", ""), "env:" + global->id);
  EXPECT_EQ(*registry_->ResolveScope("staging", "p1"),
            "project:p1:env:" + scoped->id);
  EXPECT_EQ(*registry_->ResolveScope(scoped->id, ""),
            "project:p1:env:" + scoped->id);
  EXPECT_STATUS(registry_->ResolveScope("nope", ""), kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets::testing
