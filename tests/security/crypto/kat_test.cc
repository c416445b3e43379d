// Known-answer tests for the v2 at-rest formats (docs/crypto.md). The
// expected bytes were computed independently, in Python, from the layouts
// documented there: the associated data and MAC inputs by hand-written
// encoders, BLAKE2b by hashlib, and XChaCha20-Poly1305 as an HChaCha20
// written from draft-irtf-cfrg-xchacha (checked against its test vector)
// followed by ChaCha20-Poly1305 from the `cryptography` package. Fixed keys
// and nonces reach the AEAD through SodiumAead::EncryptWithNonceForTesting.
#include <sodium.h>

#include <memory>
#include <string>
#include <utility>

#include "core/base/clock.h"
#include "core/crypto/aead.h"
#include "core/crypto/store_crypto.h"
#include "core/crypto/subkeys.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/security/crypto/raw_db.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

std::string Hex(absl::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(),
                 reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

std::string Range(int from, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(from + i));
  return out;
}

SecretBytes Fill(char c) {
  return SecretBytes::FromString(std::string(kKeyBytes, c));
}

const std::string kStoreId = Range(0x00, 16);
const std::string kIncarnation = Range(0x10, 16);
const std::string kNonce = Range(0x30, 24);

TEST(CryptoV2KnownAnswerTest, ValueAssociatedDataAndBlob) {
  const std::string ad =
      ValueAssociatedData({kStoreId, "prod", "db", 3, kIncarnation, 1});
  EXPECT_EQ(Hex(ad),
            "000000000000001a7a6c617965722d736563726574732f76616c75652d61642f"
            "7632020000000000000010000102030405060708090a0b0c0d0e0f0000000000"
            "00000470726f6400000000000000026462000000030000000000000010101112"
            "131415161718191a1b1c1d1e1f00000001");
  auto dek = SodiumAead::Create(1, Fill(0x42));
  ASSERT_OK(dek);
  auto blob = (*dek)->EncryptWithNonceForTesting(
      SecretBytes::FromString("hunter2"), ad, kNonce);
  ASSERT_OK(blob);
  EXPECT_EQ(Hex(*blob),
            "0100000001303132333435363738393a3b3c3d3e3f4041424344454647"
            "7bce62af65c5224fee6dd057c90011fd22ad7672484a67");
  auto back = (*dek)->Decrypt(*blob, ad);
  ASSERT_OK(back);
  EXPECT_EQ(back->InsecureView(), "hunter2");
}

TEST(CryptoV2KnownAnswerTest, WrappedDataKey) {
  const std::string ad = DataKeyAssociatedData(kStoreId, 1);
  EXPECT_EQ(Hex(ad),
            "000000000000001d7a6c617965722d736563726574732f646174612d6b6579"
            "2d61642f7632020000000000000010000102030405060708090a0b0c0d0e0f"
            "00000001");
  auto kek = SodiumAead::Create(1, Fill(0x4b));
  ASSERT_OK(kek);
  auto wrapped = (*kek)->EncryptWithNonceForTesting(Fill(0x42), ad, kNonce);
  ASSERT_OK(wrapped);
  EXPECT_EQ(Hex(*wrapped),
            "0100000001303132333435363738393a3b3c3d3e3f4041424344454647"
            "79490bde3c91eb06f91f9a8c5c2775d284ee29e3b4919cd9cac0dda560157"
            "3f5ce8a4c3781565cf4db7f2e0e2037e867");
}

TEST(CryptoV2KnownAnswerTest, SeedAndKeyCheckAssociatedData) {
  EXPECT_EQ(Hex(SubkeySeedAssociatedData(kStoreId)),
            "00000000000000207a6c617965722d736563726574732f7375626b65792d73"
            "6565642d61642f7632020000000000000010000102030405060708090a0b0c"
            "0d0e0f");
  EXPECT_EQ(Hex(KeyCheckAssociatedData(kStoreId, 1)),
            "000000000000001e7a6c617965722d736563726574732f6b65792d636865636b"
            "2d61642f7632020000000000000010000102030405060708090a0b0c0d0e0f"
            "00000001");
}

TEST(CryptoV2KnownAnswerTest, RowMacs) {
  SecretBytes mac_key = Fill(0x6d);
  SecretRowFields row;
  row.scope = "prod";
  row.name = "db";
  row.incarnation = kIncarnation;
  row.current_version = 3;
  row.created_at = 1700000000;
  row.updated_at = 1700000100;
  row.max_versions = 10;
  auto mac = SecretRowMac(mac_key, kStoreId, row);
  ASSERT_OK(mac);
  EXPECT_EQ(Hex(*mac),
            "0ab9b46289985319015413560bd980ecd9a98fc7c377591e8069843b585958c5");
  row.deleted = true;
  row.deleted_at = 1700000200;
  mac = SecretRowMac(mac_key, kStoreId, row);
  ASSERT_OK(mac);
  EXPECT_EQ(Hex(*mac),
            "0b3cf754c4c35936a3dd4d82a73801efd7cb86b5ffdcf5626fdea4480f8abc53");

  EnvironmentRowFields env;
  env.id = "2f1c6c38-7d1e-4e2b-9a59-3c1f0d7b8e11";
  env.name = "prod";
  env.project = "";
  env.description = "production";
  env.created_at = env.updated_at = 1700000000;
  auto env_mac = EnvironmentRowMac(mac_key, kStoreId, env);
  ASSERT_OK(env_mac);
  EXPECT_EQ(Hex(*env_mac),
            "f4991f12232a19f5bc8a4ef33215a9436835d7bd0eb860ad8a676f4412a9187c");
}

// The store writes exactly the documented formats: with only the master key
// and the file, the bytes open by the layouts above.
TEST(CryptoV2KnownAnswerTest, StoreFileFollowsTheDocumentedHierarchy) {
  FakeClock clock;
  const std::string path = MakeTempDir() + "/secrets.db";
  std::string store_id;
  {
    auto ring = Keyring::Create(1, Fill(0x4b));
    ASSERT_OK(ring);
    SqliteStoreOptions options;
    options.path = path;
    auto store = SqliteSecretStore::Open(options, *std::move(ring), &clock);
    ASSERT_OK(store);
    ASSERT_OK((*store)->SetSecret("prod", "db",
                                  SecretBytes::FromString("hunter2"), {}));
    store_id = (*store)->store_id();
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Bytes("SELECT value FROM meta WHERE key = 'store_id'"),
            store_id);
  ASSERT_EQ(store_id.size(), kStoreIdBytes);
  auto kek = SodiumAead::Create(1, Fill(0x4b));
  ASSERT_OK(kek);
  auto dek_bytes = (*kek)->Decrypt(
      raw.Bytes("SELECT wrapped FROM keyring WHERE generation = 1"),
      DataKeyAssociatedData(store_id, 1));
  ASSERT_OK(dek_bytes);
  auto seed = (*kek)->Decrypt(
      raw.Bytes("SELECT value FROM meta WHERE key = 'subkey_seed'"),
      SubkeySeedAssociatedData(store_id));
  ASSERT_OK(seed);
  auto check = (*kek)->Decrypt(
      raw.Bytes("SELECT value FROM meta WHERE key = 'key_check'"),
      KeyCheckAssociatedData(store_id, 1));
  ASSERT_OK(check);

  const std::string incarnation =
      raw.Bytes("SELECT incarnation FROM secrets WHERE name = 'db'");
  ASSERT_EQ(incarnation.size(), kIncarnationBytes);
  auto dek = SodiumAead::Create(1, *std::move(dek_bytes));
  ASSERT_OK(dek);
  auto value = (*dek)->Decrypt(
      raw.Bytes("SELECT ciphertext FROM secret_versions WHERE name = 'db'"),
      ValueAssociatedData({store_id, "prod", "db", 1, incarnation, 1}));
  ASSERT_OK(value);
  EXPECT_EQ(value->InsecureView(), "hunter2");

  auto mac_key = DeriveSubkey(*seed, SubkeyPurpose::kMetadataMac);
  ASSERT_OK(mac_key);
  SecretRowFields row;
  row.scope = "prod";
  row.name = "db";
  row.incarnation = incarnation;
  row.current_version = 1;
  row.created_at = row.updated_at = 1700000000;
  row.max_versions = static_cast<uint32_t>(
      raw.Int("SELECT max_versions FROM secrets WHERE name = 'db'"));
  auto mac = SecretRowMac(*mac_key, store_id, row);
  ASSERT_OK(mac);
  EXPECT_EQ(Hex(raw.Bytes("SELECT mac FROM secrets WHERE name = 'db'")),
            Hex(*mac));
}

}  // namespace
}  // namespace zlayer::secrets::testing
