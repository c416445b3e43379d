// Real SecretStores for the identity tests: MemorySecretStore and a
// SqliteSecretStore in a fresh file under TEST_TMPDIR.
#ifndef ZLAYER_SECRETS_TESTS_CORE_IDENTITY_IDENTITY_TEST_STORES_H_
#define ZLAYER_SECRETS_TESTS_CORE_IDENTITY_IDENTITY_TEST_STORES_H_

#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/env/environment_registry.h"
#include "core/store/memory_secret_store.h"
#include "core/store/secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

enum class StoreKind { kMemory, kSqlite };

inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& i) {
  return i.param == StoreKind::kMemory ? "Memory" : "Sqlite";
}

// A fresh empty directory under TEST_TMPDIR.
inline std::string FreshTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/t-",
                                 NewUuidV4().substr(0, 8));
  EXPECT_EQ(mkdir(dir.c_str(), 0700), 0);
  return dir;
}

inline std::unique_ptr<SecretStore> MakeStore(StoreKind kind, Clock* clock) {
  if (kind == StoreKind::kMemory) {
    return std::make_unique<MemorySecretStore>(clock);
  }
  SqliteStoreOptions options;
  options.path = FreshTempDir() + "/secrets.sqlite";
  options.synchronous = SqliteStoreOptions::Synchronous::kNormal;
  auto ring = Keyring::Create(1, SecretBytes::Random(kKeyBytes));
  EXPECT_TRUE(ring.ok()) << ring.status();
  auto store = SqliteSecretStore::Open(options, *std::move(ring), clock);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_CORE_IDENTITY_IDENTITY_TEST_STORES_H_
