#include "core/env/environment_registry.h"

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

}  // namespace
}  // namespace zlayer::secrets
