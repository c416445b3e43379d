// The EnvironmentRegistry conformance suite on EtcdEnvironmentRegistry,
// against a real etcd started by this test (skipped with the reason when
// /usr/bin/etcd is not installed).
#include "core/env/etcd_environment_registry.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/aead.h"
#include "tests/core/env/environment_registry_conformance.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets::testing {
namespace {

EtcdCluster& SharedEtcd() {
  static EtcdCluster* cluster = [] {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> c = EtcdCluster::Start(1);
    if (!c.ok()) {
      ADD_FAILURE() << "etcd did not start: " << c.status();
      std::abort();
    }
    return c->release();
  }();
  return *cluster;
}

absl::StatusOr<std::unique_ptr<EtcdSecretStore>> OpenStore(Clock* clock) {
  static std::atomic<int> n{0};
  EtcdStoreOptions options;
  options.client.endpoints = SharedEtcd().ClientEndpoints();
  options.prefix = absl::StrCat("/zs-env-test-", n.fetch_add(1));
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, SecretBytes::FromString(std::string(32, 'K')));
  if (!ring.ok()) return ring.status();
  return EtcdSecretStore::Open(options, *std::move(ring), clock);
}

std::vector<EnvironmentRegistryFactory> EtcdFactories() {
  if (!EtcdCluster::Available()) return {};
  return {EnvironmentRegistryFactory{
      "Etcd", [](Clock* clock) -> absl::StatusOr<RegistryHandle> {
        absl::StatusOr<std::unique_ptr<EtcdSecretStore>> store =
            OpenStore(clock);
        if (!store.ok()) return store.status();
        std::shared_ptr<EtcdSecretStore> shared = *std::move(store);
        absl::StatusOr<std::unique_ptr<EtcdEnvironmentRegistry>> registry =
            EtcdEnvironmentRegistry::Create(shared.get(), clock);
        if (!registry.ok()) return registry.status();
        RegistryHandle handle;
        handle.keepalive = shared;
        handle.registry = *std::move(registry);
        return handle;
      }}};
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(
    EnvironmentRegistryConformanceTest);
INSTANTIATE_TEST_SUITE_P(Etcd, EnvironmentRegistryConformanceTest,
                         ::testing::ValuesIn(EtcdFactories()),
                         EnvironmentRegistryFactoryName);

TEST(EtcdEnvironmentRegistryTest, TwoDaemonsSeeOneRegistry) {
  if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
  FakeClock clock;
  auto store = OpenStore(&clock);
  ASSERT_OK(store);
  // A second store object on the same prefix, as a second daemon has.
  EtcdStoreOptions options;
  options.client.endpoints = SharedEtcd().ClientEndpoints();
  options.prefix = (*store)->prefix();
  auto ring = Keyring::Create(1, SecretBytes::FromString(std::string(32, 'K')));
  ASSERT_OK(ring);
  auto other = EtcdSecretStore::Open(options, *std::move(ring), &clock);
  ASSERT_OK(other);
  auto a = EtcdEnvironmentRegistry::Create(store->get(), &clock);
  auto b = EtcdEnvironmentRegistry::Create(other->get(), &clock);
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto created = (*a)->Create("staging", "", "");
  ASSERT_OK(created);
  auto found = (*b)->Find("staging", "");
  ASSERT_OK(found);
  EXPECT_EQ(found->id, created->id);
  EXPECT_STATUS((*b)->Create("staging", "", ""), kAlreadyExists);
}

}  // namespace
}  // namespace zlayer::secrets::testing
