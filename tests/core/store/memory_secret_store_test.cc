#include "core/store/memory_secret_store.h"

#include <memory>

#include "tests/core/store/secret_store_conformance.h"

namespace zlayer::secrets::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Memory, SecretStoreConformanceTest,
    ::testing::Values(SecretStoreFactory{
        "Memory",
        [](Clock* clock) -> absl::StatusOr<std::unique_ptr<SecretStore>> {
          return std::make_unique<MemorySecretStore>(clock);
        }}),
    SecretStoreFactoryName);

}  // namespace
}  // namespace zlayer::secrets::testing
