#include "core/crypto/subkeys.h"

#include <sodium.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

SecretBytes Root(uint8_t fill) {
  SecretBytes root(kSubkeyBytes);
  for (size_t i = 0; i < root.size(); ++i) root.MutableData()[i] = fill;
  return root;
}

std::string Hex(const SecretBytes& bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

TEST(SubkeysTest, PurposesGiveDistinctStableKeys) {
  SecretBytes root = Root(0x11);
  auto mac = DeriveSubkey(root, SubkeyPurpose::kMetadataMac);
  auto api = DeriveSubkey(root, SubkeyPurpose::kApiKeyHash);
  auto audit = DeriveSubkey(root, SubkeyPurpose::kAuditNameHash);
  ASSERT_TRUE(mac.ok() && api.ok() && audit.ok());
  EXPECT_EQ(mac->size(), kSubkeyBytes);
  EXPECT_FALSE(mac->ConstantTimeEquals(*api));
  EXPECT_FALSE(mac->ConstantTimeEquals(*audit));
  EXPECT_FALSE(api->ConstantTimeEquals(*audit));
  EXPECT_FALSE(mac->ConstantTimeEquals(root));
  auto again = DeriveSubkey(root, SubkeyPurpose::kMetadataMac);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(mac->ConstantTimeEquals(*again));
}

TEST(SubkeysTest, DifferentRootsGiveDifferentKeys) {
  auto a = DeriveSubkey(Root(0x11), SubkeyPurpose::kApiKeyHash);
  auto b = DeriveSubkey(Root(0x12), SubkeyPurpose::kApiKeyHash);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->ConstantTimeEquals(*b));
}

// Known answer: pins the context string and the purpose ids, which stored
// MACs and hashes depend on. Computed independently with Python hashlib:
// blake2b(key=root, salt=id_le64 || 0^8, person="zlsubkey" || 0^8).
TEST(SubkeysTest, KnownAnswer) {
  auto mac = DeriveSubkey(Root(0x00), SubkeyPurpose::kMetadataMac);
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(Hex(*mac),
            "37bf7846982e7d6f25cda0a084a8840d561a351f38ab58c56689217d0fd81de4");
}

TEST(SubkeysTest, RejectsShortRoot) {
  SecretBytes short_root(16);
  EXPECT_EQ(
      DeriveSubkey(short_root, SubkeyPurpose::kMetadataMac).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zlayer::secrets
