// The behaviour every EnvironmentRegistry must have, as a value-parameterised
// gtest suite; see secret_store_conformance.h for the pattern.
#ifndef ZLAYER_SECRETS_TESTS_CORE_ENV_ENVIRONMENT_REGISTRY_CONFORMANCE_H_
#define ZLAYER_SECRETS_TESTS_CORE_ENV_ENVIRONMENT_REGISTRY_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/clock.h"
#include "core/env/environment_registry.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

// A registry plus whatever it depends on (e.g. the SQLite store that holds
// its table). `registry` is destroyed first.
struct RegistryHandle {
  std::shared_ptr<void> keepalive;
  std::unique_ptr<EnvironmentRegistry> registry;
};

struct EnvironmentRegistryFactory {
  std::string name;
  std::function<absl::StatusOr<RegistryHandle>(Clock* clock)> make;
};

std::string EnvironmentRegistryFactoryName(
    const ::testing::TestParamInfo<EnvironmentRegistryFactory>& info);

class EnvironmentRegistryConformanceTest
    : public ::testing::TestWithParam<EnvironmentRegistryFactory> {
 protected:
  void SetUp() override;
  void TearDown() override { handle_ = RegistryHandle{}; }

  FakeClock clock_;
  RegistryHandle handle_;
  EnvironmentRegistry* registry_ = nullptr;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_CORE_ENV_ENVIRONMENT_REGISTRY_CONFORMANCE_H_
