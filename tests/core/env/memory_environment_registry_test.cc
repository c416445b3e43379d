#include "core/env/memory_environment_registry.h"

#include <memory>

#include "tests/core/env/environment_registry_conformance.h"

namespace zlayer::secrets::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Memory, EnvironmentRegistryConformanceTest,
    ::testing::Values(EnvironmentRegistryFactory{
        "Memory",
        [](Clock* clock) -> absl::StatusOr<RegistryHandle> {
          RegistryHandle h;
          h.registry = std::make_unique<MemoryEnvironmentRegistry>(clock);
          return h;
        }}),
    EnvironmentRegistryFactoryName);

}  // namespace
}  // namespace zlayer::secrets::testing
