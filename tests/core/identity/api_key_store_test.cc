#include "core/identity/api_key_store.h"

#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/identity/identity_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::zlayer::secrets::testing::FreshTempDir;
using ::zlayer::secrets::testing::MakeStore;
using ::zlayer::secrets::testing::StoreKind;

// A fixed hash key, so a store re-created with Reset() keeps verifying the
// records written before.
// checks the real defaults.
ApiKeyStoreOptions FastOptions() {
  ApiKeyStoreOptions o;
  o.hash_key = SecretBytes::FromString(std::string(32, 'k'));
  return o;
}

// A record as written before keyed hashes: an Argon2id PHC string of the
// secret (cheap limits), no "format" member.
void WriteLegacyRecord(SecretStore* store, const std::string& id,
                       const std::string& secret,
                       const std::vector<std::string>& roles) {
  char phc[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(
                phc, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_MIN,
                crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
            0);
  std::string json = RecordWriter()
                         .Str("id", id)
                         .Str("hash", phc)
                         .StrList("roles", roles)
                         .Int("created_at", 1)
                         .Int("updated_at", 2)
                         .Finish();
  ASSERT_TRUE(
      store->SetSecret(kApiKeysScope, id, SecretBytes::FromString(json), {})
          .ok());
}

// 43 base64url characters, like a real secret.
const std::string kLegacySecret =
    "legacy-secret-0123456789abcdefghijklmnopqrst";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ApiKeyStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { Reset(FastOptions()); }

  void Reset(ApiKeyStoreOptions options) {
    keys_.reset();
    if (store_ == nullptr) store_ = MakeStore(GetParam(), &clock_);
    auto keys = ApiKeyStore::Create(store_.get(), &clock_, std::move(options));
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
  }

  std::string NewKey(const std::string& id, std::vector<std::string> roles) {
    auto k = keys_->Create(id, roles);
    EXPECT_TRUE(k.ok()) << k.status();
    return k.ok() ? std::string(k->presentable_key.InsecureView()) : "";
  }

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
  std::unique_ptr<ApiKeyStore> keys_;
};

TEST_P(ApiKeyStoreTest, CreatedKeyVerifiesWithItsRoles) {
  auto k = keys_->Create("ci", {"deployer", "reader", "deployer"});
  ASSERT_TRUE(k.ok()) << k.status();
  const std::string presented(k->presentable_key.InsecureView());
  EXPECT_TRUE(absl::StartsWith(presented, "zs_ci."));
  EXPECT_EQ(presented.size(), std::string("zs_ci.").size() + 43);
  EXPECT_THAT(k->info.roles, ElementsAre("deployer", "reader"));

  auto who = keys_->Verify(presented);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->id, "ci");
  EXPECT_THAT(who->roles, ElementsAre("deployer", "reader"));
  EXPECT_EQ(who->created_at, 1700000000);
}

TEST_P(ApiKeyStoreTest, WrongSecretAndUnknownIdFailAlikeUnauthenticated) {
  const std::string key = NewKey("ci", {"r"});
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  auto bad_secret = keys_->Verify(wrong);
  auto bad_id = keys_->Verify("zs_nobody" + key.substr(key.find('.')));
  EXPECT_TRUE(absl::IsUnauthenticated(bad_secret.status()));
  EXPECT_TRUE(absl::IsUnauthenticated(bad_id.status()));
  EXPECT_EQ(bad_secret.status().message(), bad_id.status().message());
}

TEST_P(ApiKeyStoreTest, MalformedKeysAreUnauthenticated) {
  NewKey("ci", {});
  for (const char* bad : {"", "zs_", "zs_ci", "zs_ci.", "ci.abc", "zs_.abc",
                          "zs_c i.abc", "Bearer zs_ci.abc"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(bad).status()));
  }
}

TEST_P(ApiKeyStoreTest, CreateRejectsDuplicatesAndBadInput) {
  NewKey("ci", {});
  EXPECT_TRUE(absl::IsAlreadyExists(keys_->Create("ci", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->Create("", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->Create("a.b", {}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(keys_->Create("ok", {"bad role"}).status()));
}

TEST_P(ApiKeyStoreTest, ListShowsIdsAndRolesButNoSecretsOrHashes) {
  const std::string key_b = NewKey("b", {"x"});
  const std::string key_a = NewKey("a", {"y", "z"});
  auto list = keys_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a");
  EXPECT_THAT((*list)[0].roles, ElementsAre("y", "z"));
  EXPECT_EQ((*list)[1].id, "b");

  // The record holds a keyed hash (format 2), never the secret itself.
  auto raw = store_->GetSecret(kApiKeysScope, "a");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_TRUE(absl::StrContains(raw->InsecureView(), "\"format\":2"));
  EXPECT_FALSE(absl::StrContains(raw->InsecureView(), "$argon2"));
  const std::string secret_a = key_a.substr(key_a.find('.') + 1);
  EXPECT_FALSE(absl::StrContains(raw->InsecureView(), secret_a));
}

TEST_P(ApiKeyStoreTest, NewKeysStoreAKeyedHashUnderTheHashKey) {
  const std::string key = NewKey("ci", {});
  auto record = store_->GetSecret(kApiKeysScope, "ci");
  ASSERT_TRUE(record.ok());
  auto parsed = FlatRecord::Parse(record->InsecureView());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed->Int("format"), kApiKeyKeyedHashFormat);
  // BLAKE2b-256 keyed with the hash key over "<id>.<secret>", in hex.
  const std::string presented = key.substr(3);  // "ci.<secret>"
  unsigned char digest[32];
  const std::string hash_key(32, 'k');
  crypto_generichash(digest, sizeof(digest),
                     reinterpret_cast<const unsigned char*>(presented.data()),
                     presented.size(),
                     reinterpret_cast<const unsigned char*>(hash_key.data()),
                     hash_key.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  EXPECT_EQ(*parsed->String("hash"), hex);
  EXPECT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().argon2_verifications, 0u);

  // Another hash key does not verify it.
  ApiKeyStoreOptions other;
  other.hash_key = SecretBytes::FromString(std::string(32, 'o'));
  Reset(std::move(other));
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(key).status()));
}

TEST_P(ApiKeyStoreTest, UnknownIdRunsTheSameKeyedCompareAsAWrongSecret) {
  const std::string key = NewKey("ci", {});
  ApiKeyStoreOptions o = FastOptions();
  o.cache_capacity = 0;
  Reset(std::move(o));
  EXPECT_TRUE(absl::IsUnauthenticated(
      keys_->Verify("zs_nobody" + key.substr(key.find('.'))).status()));
  EXPECT_EQ(keys_->stats().keyed_verifications, 1u);
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(wrong).status()));
  EXPECT_EQ(keys_->stats().keyed_verifications, 2u);
}

TEST_P(ApiKeyStoreTest, LegacyArgon2RecordVerifiesAndIsUpgradedOnce) {
  WriteLegacyRecord(store_.get(), "old", kLegacySecret, {"admin"});
  ApiKeyStoreOptions o = FastOptions();
  o.cache_capacity = 0;
  Reset(std::move(o));
  const std::string key = "zs_old." + kLegacySecret;
  // A wrong secret: Argon2 runs, nothing is rewritten.
  EXPECT_TRUE(
      absl::IsUnauthenticated(keys_->Verify("zs_old.wrong-secret").status()));
  EXPECT_EQ(keys_->stats().argon2_verifications, 1u);
  EXPECT_EQ(keys_->stats().legacy_upgrades, 0u);

  auto info = keys_->Verify(key);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->roles, ElementsAre("admin"));
  EXPECT_EQ(keys_->stats().argon2_verifications, 2u);
  EXPECT_EQ(keys_->stats().legacy_upgrades, 1u);
  auto raw = store_->GetSecret(kApiKeysScope, "old");
  ASSERT_TRUE(raw.ok());
  EXPECT_FALSE(absl::StrContains(raw->InsecureView(), "$argon2"));
  EXPECT_TRUE(absl::StrContains(raw->InsecureView(), "\"format\":2"));

  // From now on the keyed hash: no more Argon2, same roles and times.
  info = keys_->Verify(key);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(keys_->stats().argon2_verifications, 2u);
  EXPECT_EQ(info->created_at, 1);
  EXPECT_EQ(info->updated_at, 2);
  EXPECT_TRUE(
      absl::IsUnauthenticated(keys_->Verify("zs_old.wrong-secret").status()));
  EXPECT_EQ(keys_->stats().argon2_verifications, 2u);
}

TEST_P(ApiKeyStoreTest, SetRolesKeepsALegacyRecordVerifiable) {
  WriteLegacyRecord(store_.get(), "old", kLegacySecret, {"a"});
  ASSERT_TRUE(keys_->SetRoles("old", {"b"}).ok());
  auto info = keys_->Verify("zs_old." + kLegacySecret);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->roles, ElementsAre("b"));
}

TEST_P(ApiKeyStoreTest, ARecordClaimingAnotherAlgorithmIsDataLoss) {
  std::string json = RecordWriter()
                         .Str("id", "x")
                         .Str("hash", "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA")
                         .StrList("roles", {})
                         .Int("created_at", 1)
                         .Int("updated_at", 1)
                         .Finish();
  ASSERT_TRUE(
      store_->SetSecret(kApiKeysScope, "x", SecretBytes::FromString(json), {})
          .ok());
  EXPECT_TRUE(absl::IsDataLoss(keys_->Verify("zs_x.abc").status()));
}

TEST_P(ApiKeyStoreTest, CachedHitDoesNotHashAgain) {
  const std::string key = NewKey("ci", {"r"});
  ASSERT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 1u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 1u);
  EXPECT_EQ(keys_->stats().cache_hits, 5u);
}

TEST_P(ApiKeyStoreTest, FailedVerificationsAreNotCached) {
  const std::string key = NewKey("ci", {"r"});
  const std::string wrong = key.substr(0, key.size() - 1) + "!";
  EXPECT_FALSE(keys_->Verify(wrong).ok());
  EXPECT_FALSE(keys_->Verify(wrong).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 2u);
  EXPECT_EQ(keys_->stats().cache_size, 0u);
}

TEST_P(ApiKeyStoreTest, WrongKeyDeniedWhileCorrectOneIsCached) {
  const std::string key = NewKey("ci", {"r"});
  ASSERT_TRUE(keys_->Verify(key).ok());
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(wrong).status()));
  EXPECT_TRUE(keys_->Verify(key).ok());
}

TEST_P(ApiKeyStoreTest, DeletedKeyDeniedAtOnceEvenWhenCached) {
  const std::string key = NewKey("ci", {"r"});
  ASSERT_TRUE(keys_->Verify(key).ok());
  ASSERT_TRUE(keys_->Delete("ci").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(key).status()));
  EXPECT_TRUE(absl::IsNotFound(keys_->Delete("ci")));
  EXPECT_TRUE(absl::IsNotFound(keys_->Get("ci").status()));
}

TEST_P(ApiKeyStoreTest, RecreatedIdDoesNotAcceptTheOldKey) {
  const std::string old_key = NewKey("ci", {"r"});
  ASSERT_TRUE(keys_->Verify(old_key).ok());
  ASSERT_TRUE(keys_->Delete("ci").ok());
  const std::string new_key = NewKey("ci", {"r"});
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(old_key).status()));
  EXPECT_TRUE(keys_->Verify(new_key).ok());
}

TEST_P(ApiKeyStoreTest, SetRolesVisibleAtOnceEvenWhenCached) {
  const std::string key = NewKey("ci", {"reader"});
  ASSERT_TRUE(keys_->Verify(key).ok());
  ASSERT_TRUE(keys_->SetRoles("ci", {"admin"}).ok());
  auto who = keys_->Verify(key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_THAT(who->roles, ElementsAre("admin"));
  // The hash was kept: the same key still works and is cached again.
  EXPECT_EQ(keys_->stats().keyed_verifications, 2u);
  EXPECT_TRUE(absl::IsNotFound(keys_->SetRoles("nobody", {})));
}

TEST_P(ApiKeyStoreTest, RotateReplacesTheSecretAndKeepsRoles) {
  const std::string old_key = NewKey("ci", {"deployer"});
  ASSERT_TRUE(keys_->Verify(old_key).ok());
  auto rotated = keys_->Rotate("ci");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_TRUE(absl::IsUnauthenticated(keys_->Verify(old_key).status()));
  auto who = keys_->Verify(rotated->presentable_key.InsecureView());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_THAT(who->roles, ElementsAre("deployer"));
  EXPECT_TRUE(absl::IsNotFound(keys_->Rotate("nobody").status()));
}

TEST_P(ApiKeyStoreTest, CacheEntriesExpireWithTheClock) {
  ApiKeyStoreOptions o = FastOptions();
  o.cache_ttl = absl::Minutes(5);
  Reset(std::move(o));
  const std::string key = NewKey("ci", {});
  ASSERT_TRUE(keys_->Verify(key).ok());
  clock_.Advance(absl::Minutes(4));
  ASSERT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 1u);
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 2u);
}

TEST_P(ApiKeyStoreTest, CacheIsBoundedAndEvictsLeastRecentlyUsed) {
  ApiKeyStoreOptions o = FastOptions();
  o.cache_capacity = 2;
  Reset(std::move(o));
  const std::string a = NewKey("a", {});
  const std::string b = NewKey("b", {});
  const std::string c = NewKey("c", {});
  ASSERT_TRUE(keys_->Verify(a).ok());
  ASSERT_TRUE(keys_->Verify(b).ok());
  ASSERT_TRUE(keys_->Verify(a).ok());  // a is now the most recent
  ASSERT_TRUE(keys_->Verify(c).ok());  // evicts b
  EXPECT_EQ(keys_->stats().cache_size, 2u);
  EXPECT_EQ(keys_->stats().keyed_verifications, 3u);
  ASSERT_TRUE(keys_->Verify(a).ok());
  ASSERT_TRUE(keys_->Verify(c).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 3u);
  ASSERT_TRUE(keys_->Verify(b).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 4u);
  EXPECT_EQ(keys_->stats().cache_size, 2u);
}

TEST_P(ApiKeyStoreTest, ZeroCapacityDisablesTheCache) {
  ApiKeyStoreOptions o = FastOptions();
  o.cache_capacity = 0;
  Reset(std::move(o));
  const std::string key = NewKey("ci", {});
  ASSERT_TRUE(keys_->Verify(key).ok());
  ASSERT_TRUE(keys_->Verify(key).ok());
  EXPECT_EQ(keys_->stats().keyed_verifications, 2u);
  EXPECT_EQ(keys_->stats().cache_size, 0u);
}

TEST_P(ApiKeyStoreTest, BootstrapWritesAdminKeyFileWithMode0600) {
  const std::string path = FreshTempDir() + "/admin_key";
  auto created = keys_->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string content = ReadFile(path);
  ASSERT_TRUE(absl::StartsWith(content, "zs_admin."));
  ASSERT_TRUE(absl::EndsWith(content, "\n"));
  auto who = keys_->Verify(content.substr(0, content.size() - 1));
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->id, "admin");
  EXPECT_THAT(who->roles, ElementsAre("admin"));
  // No temporary file is left behind.
  EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0);
}

TEST_P(ApiKeyStoreTest, BootstrapLeavesExistingKeyAndFileAlone) {
  const std::string path = FreshTempDir() + "/admin_key";
  ASSERT_TRUE(keys_->EnsureBootstrapAdmin(path).ok());
  const std::string before = ReadFile(path);
  auto again = keys_->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  EXPECT_EQ(ReadFile(path), before);
  EXPECT_TRUE(keys_->Verify(before.substr(0, before.size() - 1)).ok());
}

TEST_P(ApiKeyStoreTest, BootstrapRotatesWhenTheFileIsMissing) {
  const std::string path = FreshTempDir() + "/admin_key";
  ASSERT_TRUE(keys_->EnsureBootstrapAdmin(path).ok());
  const std::string old_key = ReadFile(path);
  ASSERT_EQ(unlink(path.c_str()), 0);
  auto again = keys_->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again);
  const std::string new_key = ReadFile(path);
  EXPECT_NE(new_key, old_key);
  EXPECT_TRUE(absl::IsUnauthenticated(
      keys_->Verify(old_key.substr(0, old_key.size() - 1)).status()));
  EXPECT_TRUE(keys_->Verify(new_key.substr(0, new_key.size() - 1)).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(ApiKeyStoreTest, BootstrapReplacesAStaleWorldReadableFile) {
  const std::string path = FreshTempDir() + "/admin_key";
  {
    std::ofstream stale(path);
    stale << "zs_admin.stale\n";
  }
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto created = keys_->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string content = ReadFile(path);
  EXPECT_TRUE(keys_->Verify(content.substr(0, content.size() - 1)).ok());
}

TEST_P(ApiKeyStoreTest, BootstrapFailsWhenTheDirectoryIsMissing) {
  auto r = keys_->EnsureBootstrapAdmin(FreshTempDir() + "/no/such/admin_key");
  EXPECT_FALSE(r.ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiKeyStoreTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

TEST(ApiKeyStoreOptionsTest, RejectsAMissingHashKeyOrNoArgon2Slot) {
  FakeClock clock;
  MemorySecretStore store(&clock);
  EXPECT_TRUE(absl::IsInvalidArgument(
      ApiKeyStore::Create(&store, &clock, ApiKeyStoreOptions()).status()));
  ApiKeyStoreOptions o = FastOptions();
  o.max_concurrent_argon2 = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(
      ApiKeyStore::Create(&store, &clock, std::move(o)).status()));
}

// Legacy verifications run at most max_concurrent_argon2 at a time; the
// others wait (up to their deadline) instead of allocating.
TEST(ApiKeyStoreArgon2Test, ConcurrentLegacyVerificationsAreCapped) {
  RealClock clock;
  MemorySecretStore store(&clock);
  for (int i = 0; i < 8; ++i) {
    WriteLegacyRecord(&store, absl::StrCat("k", i), kLegacySecret, {});
  }
  ApiKeyStoreOptions o = FastOptions();
  o.max_concurrent_argon2 = 2;
  o.cache_capacity = 0;
  auto keys = ApiKeyStore::Create(&store, &clock, std::move(o));
  ASSERT_TRUE(keys.ok());
  std::vector<std::thread> threads;
  std::atomic<int> unauthenticated{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      // Wrong secrets: the records stay legacy, so every call runs Argon2.
      for (int j = 0; j < 4; ++j) {
        unauthenticated += absl::IsUnauthenticated(
            (*keys)->Verify(absl::StrCat("zs_k", i, ".wrong")).status());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unauthenticated.load(), 32);
  EXPECT_EQ((*keys)->stats().argon2_verifications, 32u);
  EXPECT_LE((*keys)->stats().argon2_high_water, 2);
  EXPECT_GE((*keys)->stats().argon2_high_water, 1);
}

TEST(ApiKeyStoreArgon2Test, AWaiterGivesUpAtItsDeadline) {
  RealClock clock;
  MemorySecretStore store(&clock);
  // Interactive limits (64 MiB, ~0.1 s or more) keep the one slot busy.
  char phc[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str(phc, "s", 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE),
            0);
  std::string json = RecordWriter()
                         .Str("id", "slow")
                         .Str("hash", phc)
                         .StrList("roles", {})
                         .Int("created_at", 1)
                         .Int("updated_at", 1)
                         .Finish();
  ASSERT_TRUE(
      store.SetSecret(kApiKeysScope, "slow", SecretBytes::FromString(json), {})
          .ok());
  ApiKeyStoreOptions o = FastOptions();
  o.max_concurrent_argon2 = 1;
  o.cache_capacity = 0;
  auto keys = ApiKeyStore::Create(&store, &clock, std::move(o));
  ASSERT_TRUE(keys.ok());
  // The holder may finish before the waiter tries; then try again.
  bool gave_up = false;
  for (int attempt = 0; attempt < 20 && !gave_up; ++attempt) {
    const uint64_t before = (*keys)->stats().argon2_verifications;
    std::thread holder([&] { (void)(*keys)->Verify("zs_slow.wrong"); });
    while ((*keys)->stats().argon2_verifications == before) {
      std::this_thread::yield();
    }
    absl::Status waited =
        (*keys)->Verify("zs_slow.wrong2", absl::Now()).status();
    holder.join();
    if (absl::IsDeadlineExceeded(waited)) {
      gave_up = true;
    } else {
      EXPECT_TRUE(absl::IsUnauthenticated(waited)) << waited;
    }
  }
  EXPECT_TRUE(gave_up);
  EXPECT_GE((*keys)->stats().argon2_queue_timeouts, 1u);
}

}  // namespace
}  // namespace zlayer::secrets
