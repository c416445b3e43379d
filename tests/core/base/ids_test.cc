#include "core/base/ids.h"

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

TEST(LooksLikeUuidTest, AcceptsOnlyTheUuidShape) {
  EXPECT_TRUE(LooksLikeUuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_TRUE(LooksLikeUuid("123E4567-E89B-42D3-A456-426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567e89b42d3a456426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456-42661417400"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456-4266141740000"));
  EXPECT_FALSE(LooksLikeUuid("g23e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(LooksLikeUuid("123e4567-e89b-42d3-a456_426614174000"));
  EXPECT_FALSE(LooksLikeUuid("staging"));
  EXPECT_FALSE(LooksLikeUuid(""));
}

TEST(NewUuidV4Test, IsVersionFourLowercaseAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewUuidV4();
    ASSERT_TRUE(LooksLikeUuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    for (char c : id) EXPECT_FALSE(c >= 'A' && c <= 'Z');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(HexDecodeTest, RoundTripsBytesEncodedByAbsl) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  const std::string hex = absl::BytesToHexString(bytes);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  auto decoded = HexDecode(hex);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, bytes);
  EXPECT_EQ(*HexDecode("DEADbeef"), "\xde\xad\xbe\xef");
  EXPECT_EQ(*HexDecode(""), "");
}

TEST(HexDecodeTest, RejectsOddLengthWithoutEchoingInput) {
  for (absl::string_view odd : {"f", "fed", "0123456789bcdef"}) {
    SCOPED_TRACE(odd);
    auto r = HexDecode(odd);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_EQ(r.status().message().find(odd), absl::string_view::npos);
  }
}

TEST(HexDecodeTest, RejectsNonHexCharactersAnywhere) {
  // sodium_hex2bin stops quietly at the first non-hex character; HexDecode
  // must not return the prefix it decoded.
  const absl::string_view kBad[] = {
      "zz", "0g",  "00 0", "0a:b", "ab\n0", absl::string_view("ab\0c", 4),
      "+1", "0x00"};
  for (absl::string_view bad : kBad) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(HexDecode(bad).status()));
  }
}

}  // namespace
}  // namespace zlayer::secrets
