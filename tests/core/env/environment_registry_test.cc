#include "core/env/environment_registry.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

TEST(EnvironmentScopeTest, GlobalAndProjectForms) {
  Environment env;
  env.id = "123e4567-e89b-42d3-a456-426614174000";
  EXPECT_EQ(EnvironmentScope(env), "env:123e4567-e89b-42d3-a456-426614174000");
  env.project = "p1";
  EXPECT_EQ(EnvironmentScope(env),
            "project:p1:env:123e4567-e89b-42d3-a456-426614174000");
}

TEST(LooksLikeUuidTest, AcceptsOnlyTheUuidShape) {
  EXPECT_TRUE(LooksLikeUuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_TRUE(LooksLikeUuid("123E4567-E89B-42D3-A456-426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567e89b42d3a456426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456-42661417400"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456-4266141740000"));
  EXPECT_FALSE(LooksLikeUuid("g23e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456_426614174000"));
  EXPECT_FALSE(LooksLikeUuid("staging"));
  EXPECT_FALSE(LooksLikeUuid(""));
}

TEST(NewUuidV4Test, IsVersionFourLowercaseAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewUuidV4();
    ASSERT_TRUE(LooksLikeUuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    for (char c : id) EXPECT_FALSE(c >= 'A' && c <= 'Z');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace zlayer::secrets
