#include "core/env/sqlite_environment_registry.h"

#include <memory>
#include <string>
#include <utility>

#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "tests/core/env/environment_registry_conformance.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStore(
    const std::string& path, Clock* clock) {
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, SecretBytes::FromString(std::string(32, 'k')));
  if (!ring.ok()) return ring.status();
  SqliteStoreOptions options;
  options.path = path;
  return SqliteSecretStore::Open(options, *std::move(ring), clock);
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, EnvironmentRegistryConformanceTest,
    ::testing::Values(EnvironmentRegistryFactory{
        "Sqlite",
        [](Clock* clock) -> absl::StatusOr<RegistryHandle> {
          auto store = OpenStore(MakeTempDir() + "/secrets.sqlite", clock);
          if (!store.ok()) return store.status();
          std::shared_ptr<SqliteSecretStore> shared = *std::move(store);
          auto registry =
              SqliteEnvironmentRegistry::Create(shared.get(), clock);
          if (!registry.ok()) return registry.status();
          RegistryHandle h;
          h.keepalive = shared;
          h.registry = *std::move(registry);
          return h;
        }}),
    EnvironmentRegistryFactoryName);

TEST(SqliteEnvironmentRegistryTest, EnvironmentsSurviveReopen) {
  FakeClock clock;
  const std::string path = MakeTempDir() + "/secrets.sqlite";
  std::string id;
  {
    auto store = OpenStore(path, &clock);
    ASSERT_OK(store);
    auto registry = SqliteEnvironmentRegistry::Create(store->get(), &clock);
    ASSERT_OK(registry);
    auto env = (*registry)->Create("staging", "p1", "desc");
    ASSERT_OK(env);
    id = env->id;
  }
  auto store = OpenStore(path, &clock);
  ASSERT_OK(store);
  auto registry = SqliteEnvironmentRegistry::Create(store->get(), &clock);
  ASSERT_OK(registry);
  auto env = (*registry)->Find("staging", "p1");
  ASSERT_OK(env);
  EXPECT_EQ(env->id, id);
  EXPECT_EQ(env->description, "desc");
}

TEST(SqliteEnvironmentRegistryTest, NullArgumentsAreInvalid) {
  FakeClock clock;
  EXPECT_STATUS(SqliteEnvironmentRegistry::Create(nullptr, &clock),
                kInvalidArgument);
}

}  // namespace
}  // namespace zlayer::secrets::testing
