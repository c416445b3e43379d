#include "core/crypto/aead.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr size_t kHeader = 5;
constexpr size_t kNonce = 24;

SecretBytes KeyOf(uint8_t fill) {
  SecretBytes key(kKeyBytes);
  for (size_t i = 0; i < kKeyBytes; ++i) key.MutableData()[i] = fill + i;
  return key;
}

std::unique_ptr<SodiumAead> MakeAead(uint32_t key_id, uint8_t fill = 1) {
  auto aead = SodiumAead::Create(key_id, KeyOf(fill));
  EXPECT_TRUE(aead.ok()) << aead.status();
  return std::move(aead).value();
}

std::unique_ptr<Keyring> MakeRing(uint32_t key_id, uint8_t fill = 1) {
  auto ring = Keyring::Create(key_id, KeyOf(fill));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::move(ring).value();
}

std::string Ad(uint32_t key_id) {
  return SecretAssociatedData("prod", "db-password", 3, key_id);
}

void ExpectDataLoss(const absl::StatusOr<SecretBytes>& result,
                    absl::string_view canary = "") {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
  if (!canary.empty()) {
    EXPECT_THAT(std::string(result.status().message()),
                Not(HasSubstr(std::string(canary))));
  }
}

TEST(SodiumAeadTest, CreateRejectsKeysOfWrongLength) {
  for (size_t size : {0, 16, 31, 33, 64}) {
    auto aead = SodiumAead::Create(1, SecretBytes::Random(size));
    ASSERT_FALSE(aead.ok());
    EXPECT_EQ(aead.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SodiumAeadTest, RoundTripsValuesOfManySizes) {
  auto aead = MakeAead(7);
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{64}, size_t{1000}, size_t{1} << 20}) {
    SecretBytes plain = SecretBytes::Random(size);
    auto blob = aead->Encrypt(plain, Ad(7));
    ASSERT_TRUE(blob.ok()) << blob.status();
    EXPECT_EQ(blob->size(), size + kBlobOverheadBytes);
    auto back = aead->Decrypt(*blob, Ad(7));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(back->ConstantTimeEquals(plain)) << "size " << size;
  }
}

TEST(SodiumAeadTest, EmptyValueRoundTripsToEmpty) {
  auto aead = MakeAead(7);
  auto blob = aead->Encrypt(SecretBytes(), Ad(7));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->size(), kBlobOverheadBytes);
  auto back = aead->Decrypt(*blob, Ad(7));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
}

TEST(SodiumAeadTest, BlobHeaderHasVersionAndBigEndianKeyId) {
  auto aead = MakeAead(0x01020304);
  auto blob = aead->Encrypt(SecretBytes::FromString("v"), Ad(0x01020304));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(static_cast<uint8_t>((*blob)[0]), kBlobFormatV1);
  EXPECT_EQ(blob->substr(1, 4), std::string("\x01\x02\x03\x04", 4));
  auto id = BlobKeyId(*blob);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 0x01020304u);
}

TEST(SodiumAeadTest, CiphertextDoesNotContainPlaintext) {
  auto aead = MakeAead(1);
  const std::string canary = "canary-plaintext-0123456789";
  auto blob = aead->Encrypt(SecretBytes::FromString(canary), Ad(1));
  ASSERT_TRUE(blob.ok());
  EXPECT_THAT(*blob, Not(HasSubstr(canary)));
}

TEST(SodiumAeadTest, EachEncryptionUsesAFreshNonce) {
  auto aead = MakeAead(1);
  SecretBytes plain = SecretBytes::FromString("same value");
  std::set<std::string> nonces;
  std::set<std::string> blobs;
  constexpr int kCount = 1000;
  for (int i = 0; i < kCount; ++i) {
    auto blob = aead->Encrypt(plain, Ad(1));
    ASSERT_TRUE(blob.ok());
    nonces.insert(blob->substr(kHeader, kNonce));
    blobs.insert(*blob);
  }
  EXPECT_EQ(nonces.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(blobs.size(), static_cast<size_t>(kCount));
}

TEST(SodiumAeadTest, EveryBitFlipIsDetected) {
  auto aead = MakeAead(1);
  const std::string canary = "canary!";
  auto blob = aead->Encrypt(SecretBytes::FromString(canary), Ad(1));
  ASSERT_TRUE(blob.ok());
  for (size_t byte = 0; byte < blob->size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = *blob;
      tampered[byte] = static_cast<char>(tampered[byte] ^ (1 << bit));
      SCOPED_TRACE(testing::Message() << "byte " << byte << " bit " << bit);
      ExpectDataLoss(aead->Decrypt(tampered, Ad(1)), canary);
    }
  }
}

TEST(SodiumAeadTest, DecryptFailsWhenAssociatedDataDiffers) {
  auto aead = MakeAead(1);
  const std::string canary = "canary-ad";
  const std::string ad = SecretAssociatedData("prod", "db", 3, 1);
  auto blob = aead->Encrypt(SecretBytes::FromString(canary), ad);
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(aead->Decrypt(*blob, ad).ok());

  ExpectDataLoss(aead->Decrypt(*blob, SecretAssociatedData("dev", "db", 3, 1)),
                 canary);
  ExpectDataLoss(aead->Decrypt(*blob, SecretAssociatedData("prod", "dc", 3, 1)),
                 canary);
  ExpectDataLoss(aead->Decrypt(*blob, SecretAssociatedData("prod", "db", 4, 1)),
                 canary);
  ExpectDataLoss(aead->Decrypt(*blob, SecretAssociatedData("prod", "db", 3, 2)),
                 canary);
  ExpectDataLoss(aead->Decrypt(*blob, ""), canary);
}

TEST(SodiumAeadTest, DecryptFailsWithWrongKey) {
  auto a = MakeAead(1, /*fill=*/1);
  auto b = MakeAead(1, /*fill=*/2);
  auto blob = a->Encrypt(SecretBytes::FromString("v"), Ad(1));
  ASSERT_TRUE(blob.ok());
  ExpectDataLoss(b->Decrypt(*blob, Ad(1)));
}

TEST(SodiumAeadTest, DecryptFailsWhenBlobNamesAnotherKeyId) {
  auto a = MakeAead(1);
  auto b = MakeAead(2);  // same key bytes, different id
  auto blob = a->Encrypt(SecretBytes::FromString("v"), Ad(1));
  ASSERT_TRUE(blob.ok());
  ExpectDataLoss(b->Decrypt(*blob, Ad(1)));
}

TEST(SodiumAeadTest, RewritingKeyIdInHeaderFailsAuthentication) {
  // Two ids sharing one key: the header is authenticated, so relabelling a
  // blob with the other id does not open even though the key bytes match.
  auto a = MakeAead(1);
  auto b = MakeAead(2);
  auto blob = a->Encrypt(SecretBytes::FromString("v"), Ad(1));
  ASSERT_TRUE(blob.ok());
  std::string relabelled = *blob;
  relabelled[4] = 2;
  ExpectDataLoss(b->Decrypt(relabelled, Ad(1)));
}

TEST(SodiumAeadTest, TruncatedBlobsAreDataLoss) {
  auto aead = MakeAead(1);
  auto blob = aead->Encrypt(SecretBytes::FromString("some value"), Ad(1));
  ASSERT_TRUE(blob.ok());
  for (size_t len = 0; len < blob->size(); ++len) {
    SCOPED_TRACE(len);
    ExpectDataLoss(aead->Decrypt(blob->substr(0, len), Ad(1)));
  }
}

TEST(SodiumAeadTest, UnknownVersionByteIsDataLoss) {
  auto aead = MakeAead(1);
  auto blob = aead->Encrypt(SecretBytes::FromString("v"), Ad(1));
  ASSERT_TRUE(blob.ok());
  for (int version : {0x00, 0x02, 0xff}) {
    std::string other = *blob;
    other[0] = static_cast<char>(version);
    ExpectDataLoss(aead->Decrypt(other, Ad(1)));
    auto id = BlobKeyId(other);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(BlobKeyIdTest, ShortBlobIsDataLoss) {
  auto id = BlobKeyId(std::string("\x01\x00\x00\x00\x01", 5));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretAssociatedDataTest, DistinctTuplesGiveDistinctBytes) {
  // Length prefixes keep field boundaries: moving bytes between scope and
  // name must not collide.
  EXPECT_NE(SecretAssociatedData("ab", "c", 1, 1),
            SecretAssociatedData("a", "bc", 1, 1));
  EXPECT_NE(SecretAssociatedData("", "abc", 1, 1),
            SecretAssociatedData("abc", "", 1, 1));
  EXPECT_NE(SecretAssociatedData("a", "b", 1, 2),
            SecretAssociatedData("a", "b", 2, 1));
  EXPECT_EQ(SecretAssociatedData("a", "b", 1, 2),
            SecretAssociatedData("a", "b", 1, 2));
}

TEST(SecretAssociatedDataTest, EncodingIsStable) {
  // Stored blobs depend on these exact bytes; see docs/crypto.md.
  const std::string tag = "zlayer-secrets/value-ad/v1";
  std::string expected;
  expected += std::string("\0\0\0\0\0\0\0", 7) + static_cast<char>(tag.size());
  expected += tag;
  expected += std::string("\0\0\0\0\0\0\0\x02", 8) + "sc";
  expected += std::string("\0\0\0\0\0\0\0\x01", 8) + "n";
  expected += std::string("\0\0\0\x03", 4);
  expected += std::string("\0\0\x01\x00", 4);
  EXPECT_EQ(SecretAssociatedData("sc", "n", 3, 256), expected);
}

TEST(KeyringTest, CreateRejectsBadKey) {
  auto ring = Keyring::Create(1, SecretBytes::Random(31));
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyringTest, RoundTripsWithActiveKey) {
  auto ring = MakeRing(5);
  EXPECT_EQ(ring->active_key_id(), 5u);
  auto blob = ring->Encrypt(SecretBytes::FromString("v"), Ad(5));
  ASSERT_TRUE(blob.ok());
  auto back = ring->Decrypt(*blob, Ad(5));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->InsecureView(), "v");
}

TEST(KeyringTest, AddKeyRejectsDuplicateIdAndBadKey) {
  auto ring = MakeRing(1);
  EXPECT_EQ(ring->AddKey(1, KeyOf(9)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ring->AddKey(2, SecretBytes::Random(16)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->SetActive(2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ring->active_key_id(), 1u);
}

TEST(KeyringTest, RotationKeepsOldBlobsReadableAndSealsWithNewKey) {
  auto ring = MakeRing(1, /*fill=*/1);
  auto old_blob = ring->Encrypt(SecretBytes::FromString("old"), Ad(1));
  ASSERT_TRUE(old_blob.ok());

  ASSERT_TRUE(ring->AddKey(2, KeyOf(2)).ok());
  ASSERT_TRUE(ring->SetActive(2).ok());
  EXPECT_EQ(ring->active_key_id(), 2u);

  auto new_blob = ring->Encrypt(SecretBytes::FromString("new"), Ad(2));
  ASSERT_TRUE(new_blob.ok());
  auto new_id = BlobKeyId(*new_blob);
  ASSERT_TRUE(new_id.ok());
  EXPECT_EQ(*new_id, 2u);

  auto old_back = ring->Decrypt(*old_blob, Ad(1));
  ASSERT_TRUE(old_back.ok()) << old_back.status();
  EXPECT_EQ(old_back->InsecureView(), "old");
  auto new_back = ring->Decrypt(*new_blob, Ad(2));
  ASSERT_TRUE(new_back.ok()) << new_back.status();
  EXPECT_EQ(new_back->InsecureView(), "new");

  // A ring holding only the old key cannot open the new blob.
  auto old_only = MakeRing(1, /*fill=*/1);
  ExpectDataLoss(old_only->Decrypt(*new_blob, Ad(2)));
}

TEST(KeyringTest, DecryptWithUnknownKeyIdIsDataLoss) {
  auto writer = MakeRing(9);
  auto blob = writer->Encrypt(SecretBytes::FromString("v"), Ad(9));
  ASSERT_TRUE(blob.ok());
  auto reader = MakeRing(1);
  ExpectDataLoss(reader->Decrypt(*blob, Ad(9)));
}

TEST(KeyringTest, DecryptWithSameIdButDifferentKeyIsDataLoss) {
  auto writer = MakeRing(1, /*fill=*/1);
  auto blob = writer->Encrypt(SecretBytes::FromString("v"), Ad(1));
  ASSERT_TRUE(blob.ok());
  auto reader = MakeRing(1, /*fill=*/3);
  ExpectDataLoss(reader->Decrypt(*blob, Ad(1)));
}

}  // namespace
}  // namespace zlayer::secrets
