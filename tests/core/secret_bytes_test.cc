#include "core/secret_bytes.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

TEST(SecretBytesTest, HoldsCopyOfInput) {
  std::string input = "hunter2";
  SecretBytes s = SecretBytes::FromString(input);
  input[0] = 'X';
  EXPECT_EQ(s.InsecureView(), "hunter2");
  EXPECT_EQ(s.size(), 7u);
}

TEST(SecretBytesTest, DebugStringIsRedacted) {
  SecretBytes s = SecretBytes::FromString("canary-value-123");
  EXPECT_EQ(s.DebugString(), "[REDACTED]");
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::FromString("abc");
  SecretBytes b = std::move(a);
  EXPECT_TRUE(
      a.empty());  // NOLINT(bugprone-use-after-move): checked on purpose
  EXPECT_EQ(b.InsecureView(), "abc");
}

TEST(SecretBytesTest, ConstantTimeEqualsComparesContentAndLength) {
  SecretBytes a = SecretBytes::FromString("abc");
  EXPECT_TRUE(a.ConstantTimeEquals(SecretBytes::FromString("abc")));
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes::FromString("abd")));
  EXPECT_FALSE(a.ConstantTimeEquals("ab"));
  EXPECT_TRUE(SecretBytes().ConstantTimeEquals(""));
}

TEST(SecretBytesTest, CloneIsIndependentCopy) {
  SecretBytes a = SecretBytes::FromString("abc");
  SecretBytes b = a.Clone();
  b.MutableData()[0] = 'z';
  EXPECT_EQ(a.InsecureView(), "abc");
  EXPECT_EQ(b.InsecureView(), "zbc");
}

TEST(SecretBytesTest, RandomHasRequestedSizeAndDiffers) {
  SecretBytes a = SecretBytes::Random(32);
  SecretBytes b = SecretBytes::Random(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_FALSE(a.ConstantTimeEquals(b));
}

TEST(SecretBytesTest, WipeStringClears) {
  std::string s = "secret";
  WipeString(&s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace zlayer::secrets
