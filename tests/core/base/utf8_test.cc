#include "core/base/utf8.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/text_validation.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

// The textbook encoder, as an oracle: a byte string is well-formed UTF-8
// exactly when it is the encoding of some scalar value (not a surrogate,
// at most U+10FFFF).
std::string Encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

bool IsScalar(uint32_t cp) {
  return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

TEST(Utf8Test, DecodesEveryScalarValueAndNoSurrogate) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string bytes = Encode(cp);
    uint32_t decoded = 0xFFFFFFFF;
    const size_t n = DecodeUtf8(bytes, &decoded);
    if (IsScalar(cp)) {
      ASSERT_EQ(n, bytes.size()) << "U+" << std::hex << cp;
      ASSERT_EQ(decoded, cp);
    } else {
      ASSERT_EQ(n, 0u) << "surrogate U+" << std::hex << cp;
      ASSERT_EQ(decoded, 0xFFFFFFFFu) << "left alone on failure";
    }
  }
}

// Every 1-, 2- and 3-byte string: accepted exactly when it is the shortest
// encoding of a scalar value (this covers every overlong form, surrogate and
// stray or missing continuation byte of those lengths).
TEST(Utf8Test, AcceptsExactlyTheShortestFormsUpToThreeBytes) {
  for (uint32_t v = 0; v < (1u << 24); ++v) {
    const char b[3] = {static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    for (size_t len : {size_t{1}, size_t{2}, size_t{3}}) {
      // Each 1- and 2-byte prefix once.
      if ((len == 1 && (v & 0xFFFF) != 0) || (len == 2 && (v & 0xFF) != 0)) {
        continue;
      }
      const absl::string_view s(b, len);
      uint32_t cp = 0;
      const size_t n = DecodeUtf8(s, &cp);
      if (n != 0) {
        ASSERT_TRUE(IsScalar(cp));
        ASSERT_EQ(Encode(cp), s.substr(0, n));
      }
      // Whole-string validity against the oracle: split into decoded
      // sequences, each must re-encode to itself.
      bool oracle = true;
      absl::string_view rest = s;
      while (!rest.empty() && oracle) {
        uint32_t c;
        const size_t m = DecodeUtf8(rest, &c);
        oracle = m != 0 && Encode(c) == rest.substr(0, m);
        rest.remove_prefix(m == 0 ? rest.size() : m);
      }
      ASSERT_EQ(IsValidUtf8(s), oracle) << len << " bytes " << std::hex << v;
    }
  }
}

TEST(Utf8Test, RejectsNamedIllFormedSequences) {
  const struct {
    const char* what;
    absl::string_view bytes;
  } kBad[] = {
      {"lone continuation", "\x80"},
      {"overlong NUL", "\xC0\x80"},
      {"overlong slash", "\xC0\xAF"},
      {"overlong 3-byte", "\xE0\x80\xAF"},
      {"overlong 4-byte", "\xF0\x8F\xBF\xBF"},
      {"C1 lead", "\xC1\xBF"},
      {"high surrogate", "\xED\xA0\x80"},
      {"low surrogate", "\xED\xBF\xBF"},
      {"surrogate pair as CESU-8", "\xED\xA0\xBD\xED\xB8\x80"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"},
      {"F5 lead", "\xF5\x80\x80\x80"},
      {"FF", "\xFF"},
      {"truncated 2-byte", "\xC3"},
      {"truncated 4-byte", "\xF0\x9F\x98"},
      {"ASCII after lead", "\xC3\x41"},
  };
  for (const auto& bad : kBad) {
    SCOPED_TRACE(bad.what);
    uint32_t cp = 7;
    EXPECT_EQ(DecodeUtf8(bad.bytes, &cp), 0u);
    EXPECT_EQ(cp, 7u);
    EXPECT_FALSE(IsValidUtf8(bad.bytes));
    EXPECT_FALSE(IsValidUtf8(absl::StrCat("ok ", bad.bytes, " ok")));
  }
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("", &cp), 0u);
  EXPECT_TRUE(IsValidUtf8(""));
}

TEST(Utf8Test, DecodesTheBoundaries) {
  const struct {
    absl::string_view bytes;
    uint32_t cp;
  } kGood[] = {
      {absl::string_view("\0", 1), 0},
      {"\x7F", 0x7F},
      {"\xC2\x80", 0x80},
      {"\xDF\xBF", 0x7FF},
      {"\xE0\xA0\x80", 0x800},
      {"\xED\x9F\xBF", 0xD7FF},
      {"\xEE\x80\x80", 0xE000},
      {"\xEF\xBF\xBF", 0xFFFF},
      {"\xF0\x90\x80\x80", 0x10000},
      {"\xF4\x8F\xBF\xBF", 0x10FFFF},
  };
  for (const auto& good : kGood) {
    uint32_t cp = 0xFFFFFFFF;
    EXPECT_EQ(DecodeUtf8(absl::StrCat(good.bytes, "tail"), &cp),
              good.bytes.size());
    EXPECT_EQ(cp, good.cp);
  }
}

// ValidateText reports the byte offset of the first bad sequence, and
// control characters (C0, DEL, C1) that the decoder itself accepts.
TEST(Utf8Test, ValidateTextUsesTheDecoder) {
  EXPECT_TRUE(ValidateText("caf\xC3\xA9", "name", 1, 16).ok());
  absl::Status s = ValidateText("ab\xED\xA0\x80", "name", 1, 16);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "name is not valid UTF-8 (at byte 2)");
  s = ValidateText("a\xC2\x85", "name", 1, 16);  // U+0085, a C1 control
  EXPECT_EQ(s.message(), "name contains a control character (at byte 1)");
  s = ValidateText("\xC0\x80", "name", 1, 16);  // overlong NUL
  EXPECT_EQ(s.message(), "name is not valid UTF-8 (at byte 0)");
}

}  // namespace
}  // namespace zlayer::secrets
