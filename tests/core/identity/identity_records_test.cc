#include "core/identity/identity_records.h"

#include <string>
#include <vector>

#include "core/format/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;

TEST(IdentityRecordsTest, RoundTripsEveryMemberType) {
  const std::string json = RecordWriter()
                               .Str("s", "a\"b\\c\n\x01 é")
                               .Int("i", -9223372036854775807LL - 1)
                               .Bool("b", true)
                               .Null("n")
                               .StrList("l", {"x", "", "y"})
                               .IntList("v", {1, 2, 3})
                               .Finish();
  auto r = FlatRecord::Parse(json);
  ASSERT_TRUE(r.ok()) << r.status() << " " << json;
  EXPECT_EQ(*r->String("s"), "a\"b\\c\n\x01 é");
  EXPECT_EQ(*r->Int("i"), -9223372036854775807LL - 1);
  EXPECT_TRUE(*r->Bool("b"));
  EXPECT_TRUE(r->IsNull("n"));
  EXPECT_EQ(*r->OptionalString("n"), "");
  EXPECT_EQ(*r->OptionalString("absent"), "");
  EXPECT_THAT(*r->StringList("l"), ElementsAre("x", "", "y"));
  EXPECT_THAT(*r->IntList("v"), ElementsAre(1, 2, 3));
}

TEST(IdentityRecordsTest, ParsesUnicodeEscapes) {
  auto r = FlatRecord::Parse(R"({"s":"\u00e9\ud83d\ude00\/"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->String("s"), "\xc3\xa9\xf0\x9f\x98\x80/");
}

TEST(IdentityRecordsTest, WrongTypesAndMissingMembersAreInvalidArgument) {
  auto r = FlatRecord::Parse(R"({"s":"x","i":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r->Int("s").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(r->String("i").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(r->String("missing").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(r->StringList("s").status()));
}

TEST(IdentityRecordsTest, RejectsMalformedInputWithoutEchoingIt) {
  for (const char* bad :
       {"", "{", "[]", "{\"a\":}", "{\"a\":1.5}", "{\"a\":01}", "{\"a\":{}}",
        "{\"a\":1} x", "{\"a\":\"\\ud800\"}", "{\"a\":[1,\"x\"]}",
        "{\"a\":99999999999999999999}", "{\"a\":\"secret\x01\"}"}) {
    SCOPED_TRACE(bad);
    auto r = FlatRecord::Parse(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_EQ(r.status().message().find("secret"), absl::string_view::npos);
  }
}

// Records go through the one JSON codec: the writer keeps call order and
// its output is what ParseJson reads; the parser's strictness (UTF-8, lone
// surrogates, numbers) applies to records too.
TEST(IdentityRecordsTest, UsesTheOneJsonCodec) {
  const std::string json =
      RecordWriter().Str("z", "\x7f\b").Int("a", 7).StrList("l", {}).Finish();
  EXPECT_EQ(json, R"({"z":")"
                  "\x7f"
                  R"(\b","a":7,"l":[]})");
  ASSERT_TRUE(ParseJson(json).ok());
  auto r = FlatRecord::Parse(json);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->String("z"), "\x7f\b");
  EXPECT_TRUE(r->StringList("l")->empty());
  EXPECT_TRUE(r->IntList("l")->empty());  // an empty list is both kinds
  for (const char* bad :
       {"{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}",
        "{\"a\":\"\\udc00\"}", "{\"a\":-0}", "{\"a\":9223372036854775808}",
        "{\"a\":[[1]]}", "{\"a\":[null]}", "{\"a\":1,}"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(FlatRecord::Parse(bad).status()));
  }
}

TEST(IdentityRecordsTest, SystemScopes) {
  EXPECT_TRUE(IsSystemScope(kApiKeysScope));
  EXPECT_TRUE(IsSystemScope(kGitCredentialsMetaScope));
  EXPECT_FALSE(IsSystemScope("prod"));
  EXPECT_FALSE(IsSystemScope("systems:x"));
}

}  // namespace
}  // namespace zlayer::secrets
