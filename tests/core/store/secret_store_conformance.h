// The behaviour every SecretStore must have, as a value-parameterised gtest
// suite. An implementation's test file instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Memory, SecretStoreConformanceTest,
//       ::testing::Values(SecretStoreFactory{
//           "Memory",
//           [](Clock* clock) -> absl::StatusOr<std::unique_ptr<SecretStore>> {
//             return std::make_unique<MemorySecretStore>(clock);
//           }}),
//       SecretStoreFactoryName);
//
// Each test gets a fresh, empty store and a FakeClock it may advance.
#ifndef ZLAYER_SECRETS_TESTS_CORE_STORE_SECRET_STORE_CONFORMANCE_H_
#define ZLAYER_SECRETS_TESTS_CORE_STORE_SECRET_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/clock.h"
#include "core/store/secret_store.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

struct SecretStoreFactory {
  std::string name;  // a gtest-safe identifier
  // Makes a fresh, empty store that reads time from `clock`.
  std::function<absl::StatusOr<std::unique_ptr<SecretStore>>(Clock* clock)>
      make;
};

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string SecretStoreFactoryName(
    const ::testing::TestParamInfo<SecretStoreFactory>& info);

class SecretStoreConformanceTest
    : public ::testing::TestWithParam<SecretStoreFactory> {
 protected:
  void SetUp() override;

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_CORE_STORE_SECRET_STORE_CONFORMANCE_H_
