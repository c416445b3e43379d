#include "core/base/secret_bytes.h"

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

TEST(SecretBytesTest, WipeStringZeroesTheWholeCapacity) {
  std::string s(200, 'k');
  s.resize(10);  // the old bytes stay in the buffer past size()
  const size_t capacity = s.capacity();
  ASSERT_GE(capacity, 200u);
  const char* buffer = s.data();
  WipeString(&s);
  EXPECT_TRUE(s.empty());
  ASSERT_EQ(s.data(), buffer);  // same buffer, still owned by `s`
  for (size_t i = 0; i < capacity; ++i) {
    ASSERT_EQ(buffer[i], '\0') << "byte " << i;
  }
}

TEST(SecretBytesTest, GuardedValueSurvivesMoveAndClone) {
  SecretBytes key = SecretBytes::Guarded(32);
  for (size_t i = 0; i < 32; ++i)
    key.MutableData()[i] = static_cast<uint8_t>(i);
  EXPECT_TRUE(key.guarded());
  SecretBytes moved = std::move(key);
  EXPECT_TRUE(moved.guarded());
  SecretBytes copy = moved.Clone();
  EXPECT_TRUE(copy.guarded());
  EXPECT_TRUE(copy.ConstantTimeEquals(moved));
  EXPECT_FALSE(SecretBytes::Random(32).guarded());
  EXPECT_TRUE(SecretBytes::Random(32).CloneGuarded().guarded());
}

TEST(SecretBytesDeathTest, WritingPastAGuardedKeyFaults) {
  // sodium_malloc puts the region's end against a PROT_NONE guard page.
  SecretBytes key = SecretBytes::Guarded(32);
  volatile uint8_t* past_end = key.MutableData() + 32;
  EXPECT_DEATH(*past_end = 1, "");
}

}  // namespace
}  // namespace zlayer::secrets
