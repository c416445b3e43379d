// Value input rules of create/set/rotate (docs/compatibility.md, "Value
// input").
#include "client/cli/value_input.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::cli {
namespace {

std::string Stripped(std::string s) {
  StripOneTrailingNewline(&s);
  return s;
}

TEST(ValueInputTest, StripsExactlyOneTrailingNewlineAndItsCarriageReturn) {
  EXPECT_EQ(Stripped("a\n"), "a");
  EXPECT_EQ(Stripped("a\n\n"), "a\n");
  EXPECT_EQ(Stripped("a\r\n"), "a");
  EXPECT_EQ(Stripped("a\r"), "a\r");
  EXPECT_EQ(Stripped("a\r\r\n"), "a\r");
  EXPECT_EQ(Stripped(" a \n"), " a ");
  EXPECT_EQ(Stripped("\n"), "");
  EXPECT_EQ(Stripped(""), "");
}

TEST(ValueInputTest, ValueFlagIsUsedVerbatim) {
  ValueSource source{ValueSource::Kind::kValue, " x\n", 0, false};
  std::istringstream in;
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ConstantTimeEquals(" x\n"));
}

TEST(ValueInputTest, StdinAppliesTheNewlineRule) {
  ValueSource source{ValueSource::Kind::kStdin, "", 0, false};
  std::istringstream in("line1\nline2\r\n");
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ConstantTimeEquals("line1\nline2"));
}

TEST(ValueInputTest, BinaryStdinIsKeptByteForByte) {
  // Not UTF-8: binary, so even a trailing newline byte stays.
  const std::string binary("\xff\xfe\x00\x01\n", 5);
  ValueSource source{ValueSource::Kind::kStdin, "", 0, false};
  std::istringstream in(binary);
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->InsecureView(), binary);
}

TEST(ValueInputTest, ExactKeepsTheTrailingNewlineOfText) {
  ValueSource source{ValueSource::Kind::kStdin, "", 0, true};
  std::istringstream in("pem\n");
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->InsecureView(), "pem\n");
}

TEST(ValueInputTest, MissingFileNamesThePath) {
  ValueSource source{ValueSource::Kind::kFile, "/nonexistent/zs-value", 0,
                     false};
  std::istringstream in;
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(absl::StartsWith(v.status().message(),
                               "Failed to read /nonexistent/zs-value: "));
}

TEST(ValueInputTest, FileContentAppliesTheNewlineRule) {
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/value.txt";
  {
    std::ofstream out(path, std::ios::binary);
    out << "s3cret\n\n";
  }
  ValueSource source{ValueSource::Kind::kFile, path, 0, false};
  std::istringstream in;
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ConstantTimeEquals("s3cret\n"));
}

TEST(ValueInputTest, RandomIsAlphanumericOfTheRequestedLength) {
  ValueSource source{ValueSource::Kind::kRandom, "", 64, false};
  std::istringstream in;
  absl::StatusOr<SecretBytes> v = ReadValue(source, in);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 64u);
  for (char c : v->InsecureView()) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                (c >= '0' && c <= '9'))
        << static_cast<int>(c);
  }
  absl::StatusOr<SecretBytes> w = ReadValue(source, in);
  EXPECT_FALSE(v->ConstantTimeEquals(*w));
}

TEST(ValueInputTest, RandomUsesTheWholeAlphabet) {
  SecretBytes v = RandomAlphanumeric(4096);
  bool upper = false, lower = false, digit = false;
  for (char c : v.InsecureView()) {
    upper |= c >= 'A' && c <= 'Z';
    lower |= c >= 'a' && c <= 'z';
    digit |= c >= '0' && c <= '9';
  }
  EXPECT_TRUE(upper && lower && digit);
}

TEST(ValueInputTest, SecretFileMustNotBeEmpty) {
  std::string path = ::testing::TempDir() + "/empty-key";
  {
    std::ofstream out(path, std::ios::binary);
    out << "\n";
  }
  absl::StatusOr<SecretBytes> key = ReadSecretFile(path);
  EXPECT_FALSE(key.ok());
}

}  // namespace
}  // namespace zlayer::secrets::cli
