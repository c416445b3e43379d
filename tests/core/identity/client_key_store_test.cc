#include "core/identity/client_key_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/sealed_box.h"
#include "core/identity/identity_records.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using testing::MakeStore;
using testing::StoreKind;

class ClientKeyStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<SecretStore> store_ = MakeStore(GetParam(), &clock_);
  ClientKeyStore keys_{store_.get(), &clock_};
};

std::string FreshPublicKey() {
  absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
  EXPECT_TRUE(pair.ok());
  return pair->public_key();
}

TEST_P(ClientKeyStoreTest, RegisterBindsOwnerAndGivesRandomIds) {
  const std::string pk = FreshPublicKey();
  absl::StatusOr<ClientKeyInfo> a = keys_.Register("user:alice", pk);
  absl::StatusOr<ClientKeyInfo> b = keys_.Register("user:alice", pk);
  ASSERT_OK(a);
  ASSERT_OK(b);
  // Random ids: the same key registered twice is two ids, neither holding
  // the key's bytes.
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(a->id.find(absl::BytesToHexString(pk).substr(0, 8)),
            std::string::npos);
  absl::StatusOr<ClientKeyInfo> got = keys_.Get(a->id);
  ASSERT_OK(got);
  EXPECT_EQ(got->owner, "user:alice");
  EXPECT_EQ(got->public_key, pk);
  EXPECT_EQ(got->created_at, 1700000000);
  EXPECT_EQ(got->revoked_at, 0);
  // Stored in the internal scope, like the API keys.
  absl::StatusOr<bool> exists = store_->Exists(kClientKeysScope, a->id);
  ASSERT_OK(exists);
  EXPECT_TRUE(*exists);
}

TEST_P(ClientKeyStoreTest, MalformedPublicKeysAreInvalidArgument) {
  EXPECT_STATUS(keys_.Register("uid:1", std::string(31, 'k')),
                kInvalidArgument);
  EXPECT_STATUS(keys_.Register("uid:1", std::string(33, 'k')),
                kInvalidArgument);
  EXPECT_STATUS(keys_.Register("uid:1", ""), kInvalidArgument);
  EXPECT_STATUS(keys_.Register("uid:1", std::string(32, '\0')),
                kInvalidArgument);
  // A low-order point other than zero: 1 (little-endian).
  std::string one(32, '\0');
  one[0] = 1;
  EXPECT_STATUS(keys_.Register("uid:1", one), kInvalidArgument);
  EXPECT_STATUS(keys_.Register("", FreshPublicKey()), kInvalidArgument);
  absl::StatusOr<std::vector<ClientKeyInfo>> all = keys_.List("");
  ASSERT_OK(all);
  EXPECT_TRUE(all->empty());
}

TEST_P(ClientKeyStoreTest, OnlyTheOwnerMayUseAKey) {
  const std::string pk = FreshPublicKey();
  absl::StatusOr<ClientKeyInfo> a = keys_.Register("user:alice", pk);
  ASSERT_OK(a);
  absl::StatusOr<std::string> used = keys_.PublicKeyFor(a->id, "user:alice");
  ASSERT_OK(used);
  EXPECT_EQ(*used, pk);
  EXPECT_STATUS(keys_.PublicKeyFor(a->id, "user:bob"), kPermissionDenied);
  // The proxy's own identity is not the owner either.
  EXPECT_STATUS(keys_.PublicKeyFor(a->id, "apikey:api-server"),
                kPermissionDenied);
  EXPECT_STATUS(
      keys_.PublicKeyFor("0b3a1d8e-5f2c-4e7a-9b1d-3c4d5e6f7a8b", "user:alice"),
      kNotFound);
  EXPECT_STATUS(keys_.PublicKeyFor("not-a-uuid", "user:alice"), kNotFound);
}

TEST_P(ClientKeyStoreTest, RevokedKeyIsFailedPreconditionForItsOwnerOnly) {
  absl::StatusOr<ClientKeyInfo> a =
      keys_.Register("user:alice", FreshPublicKey());
  ASSERT_OK(a);
  EXPECT_STATUS(keys_.Revoke(a->id, "user:bob", false), kPermissionDenied);
  ASSERT_OK(keys_.PublicKeyFor(a->id, "user:alice"));
  clock_.Advance(absl::Seconds(5));
  ASSERT_OK(keys_.Revoke(a->id, "user:alice", false));
  EXPECT_STATUS(keys_.PublicKeyFor(a->id, "user:alice"), kFailedPrecondition);
  // Someone else still learns nothing about its state.
  EXPECT_STATUS(keys_.PublicKeyFor(a->id, "user:bob"), kPermissionDenied);
  absl::StatusOr<ClientKeyInfo> got = keys_.Get(a->id);
  ASSERT_OK(got);
  EXPECT_EQ(got->revoked_at, 1700000005);
  // Idempotent, and an administrator may revoke any key.
  EXPECT_OK(keys_.Revoke(a->id, "user:alice", false));
  absl::StatusOr<ClientKeyInfo> b = keys_.Register("uid:7", FreshPublicKey());
  ASSERT_OK(b);
  EXPECT_OK(keys_.Revoke(b->id, "uid:0", true));
  EXPECT_STATUS(keys_.PublicKeyFor(b->id, "uid:7"), kFailedPrecondition);
}

TEST_P(ClientKeyStoreTest, ListFiltersByOwner) {
  ASSERT_OK(keys_.Register("user:alice", FreshPublicKey()));
  ASSERT_OK(keys_.Register("user:alice", FreshPublicKey()));
  ASSERT_OK(keys_.Register("uid:1000", FreshPublicKey()));
  absl::StatusOr<std::vector<ClientKeyInfo>> alice = keys_.List("user:alice");
  ASSERT_OK(alice);
  ASSERT_EQ(alice->size(), 2u);
  EXPECT_LT((*alice)[0].id, (*alice)[1].id);
  for (const ClientKeyInfo& k : *alice) EXPECT_EQ(k.owner, "user:alice");
  absl::StatusOr<std::vector<ClientKeyInfo>> all = keys_.List("");
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(ClientKeyStoreTest, CorruptRecordIsDataLoss) {
  absl::StatusOr<ClientKeyInfo> a = keys_.Register("uid:1", FreshPublicKey());
  ASSERT_OK(a);
  ASSERT_OK(store_->SetSecret(kClientKeysScope, a->id,
                              SecretBytes::FromString("{\"id\":1}"), {}));
  EXPECT_STATUS(keys_.Get(a->id), kDataLoss);
  EXPECT_STATUS(keys_.PublicKeyFor(a->id, "uid:1"), kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Stores, ClientKeyStoreTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

TEST(SealedBoxTest, SealedToAPairOpensOnlyWithIt) {
  absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
  absl::StatusOr<SealKeyPair> other = SealKeyPair::Generate();
  ASSERT_OK(pair);
  ASSERT_OK(other);
  EXPECT_TRUE(pair->secret_key().guarded());
  absl::StatusOr<std::string> box =
      SealToPublicKey(pair->public_key(), "canary-value");
  ASSERT_OK(box);
  EXPECT_EQ(box->size(), 12 + kSealOverheadBytes);
  EXPECT_EQ(box->find("canary"), std::string::npos);
  absl::StatusOr<SecretBytes> opened = pair->Open(*box);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->InsecureView(), "canary-value");
  EXPECT_STATUS(other->Open(*box), kDataLoss);
  std::string altered = *box;
  altered.back() ^= 1;
  EXPECT_STATUS(pair->Open(altered), kDataLoss);
  EXPECT_STATUS(pair->Open("short"), kDataLoss);
  // Sealing refuses what registration refuses.
  EXPECT_STATUS(SealToPublicKey(std::string(32, '\0'), "v"), kInvalidArgument);
  EXPECT_STATUS(SealToPublicKey(std::string(31, 'k'), "v"), kInvalidArgument);
  // The pair rebuilt from its stored secret key opens it too.
  absl::StatusOr<SealKeyPair> again =
      SealKeyPair::FromSecretKey(pair->secret_key());
  ASSERT_OK(again);
  EXPECT_EQ(again->public_key(), pair->public_key());
  ASSERT_OK(again->Open(*box));
}

}  // namespace
}  // namespace zlayer::secrets
