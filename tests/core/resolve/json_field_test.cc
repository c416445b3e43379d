#include "core/resolve/json_field.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<SecretBytes> Extract(absl::string_view json,
                                    absl::string_view field) {
  return ExtractJsonField(SecretBytes::FromString(json), field);
}

// The extracted field as text, or "<code>: <message>".
std::string Field(absl::string_view json, absl::string_view field) {
  absl::StatusOr<SecretBytes> v = Extract(json, field);
  if (!v.ok()) return v.status().ToString();
  return std::string(v->InsecureView());
}

constexpr absl::string_view kDoc = R"({
  "host": "db.internal",
  "port": 5432,
  "neg": -1,
  "ratio": 1.5,
  "two": 2.0,
  "big": 1e16,
  "small": 0.000001,
  "huge_int": 18446744073709551615,
  "nothing": null,
  "yes": true,
  "no": false,
  "quoted": "p\"a\\ss\/w\u00f6rd\n",
  "empty": "",
  "list": [1, "a/b", {"z": 1, "a": [true, null]}, 2.50],
  "obj": {"b": "\u0001", "a": {}, "c": []},
  "a.b": "dotted",
  "a/b": "slashed",
  "": "empty key"
})";

TEST(ExtractJsonFieldTest, ReturnsDecodedStrings) {
  EXPECT_EQ(Field(kDoc, "host"), "db.internal");
  EXPECT_EQ(Field(kDoc, "quoted"), "p\"a\\ss/w\xC3\xB6rd\n");
  EXPECT_EQ(Field(kDoc, "empty"), "");
}

TEST(ExtractJsonFieldTest, RendersNumbersLikeUpstream) {
  EXPECT_EQ(Field(kDoc, "port"), "5432");
  EXPECT_EQ(Field(kDoc, "neg"), "-1");
  EXPECT_EQ(Field(kDoc, "ratio"), "1.5");
  EXPECT_EQ(Field(kDoc, "two"), "2.0");
  EXPECT_EQ(Field(kDoc, "big"), "1e16");
  EXPECT_EQ(Field(kDoc, "small"), "1e-6");
  EXPECT_EQ(Field(kDoc, "huge_int"), "18446744073709551615");
}

TEST(ExtractJsonFieldTest, RendersNullAsEmptyAndBooleansAsWords) {
  absl::StatusOr<SecretBytes> v = Extract(kDoc, "nothing");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->empty());
  EXPECT_EQ(Field(kDoc, "yes"), "true");
  EXPECT_EQ(Field(kDoc, "no"), "false");
}

TEST(ExtractJsonFieldTest, RendersContainersAsSortedCompactJson) {
  EXPECT_EQ(Field(kDoc, "list"), R"([1,"a/b",{"a":[true,null],"z":1},2.5])");
  EXPECT_EQ(Field(kDoc, "obj"), R"({"a":{},"b":"\u0001","c":[]})");
}

TEST(ExtractJsonFieldTest, TreatsDotsAndSlashesAsLiteralKeyText) {
  EXPECT_EQ(Field(kDoc, "a.b"), "dotted");
  EXPECT_EQ(Field(kDoc, "a/b"), "slashed");
  EXPECT_EQ(Field(kDoc, ""), "empty key");
  EXPECT_EQ(Field(R"({"a":{"b":1}})", "a.b"),
            "NOT_FOUND: field 'a.b' not found in secret");
}

TEST(ExtractJsonFieldTest, MissingFieldIsNotFound) {
  absl::StatusOr<SecretBytes> v = Extract(kDoc, "password");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(v.status().message(), "field 'password' not found in secret");
  // Keys are matched exactly (case and Unicode form matter).
  EXPECT_EQ(Extract(kDoc, "HOST").status().code(), absl::StatusCode::kNotFound);
}

TEST(ExtractJsonFieldTest, NonObjectTopLevelIsNotFound) {
  for (absl::string_view doc : {R"([{"password":"x"}])", R"("password")",
                                "5432", "null", "true", R"([])"}) {
    absl::StatusOr<SecretBytes> v = Extract(doc, "password");
    ASSERT_FALSE(v.ok()) << doc;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound) << doc;
  }
}

TEST(ExtractJsonFieldTest, DuplicateKeysLastOneWins) {
  EXPECT_EQ(Field(R"({"pw":"first","pw":"second"})", "pw"), "second");
}

TEST(ExtractJsonFieldTest, AllowsSurroundingWhitespace) {
  EXPECT_EQ(Field(" \n\t{\"pw\":\"x\"}\r\n ", "pw"), "x");
}

TEST(ExtractJsonFieldTest,
     InvalidJsonIsFailedPreconditionWithOffsetAndNoValue) {
  const std::vector<std::string> inputs = {
      "s3cr3t-canary",                        // plain text secret
      R"({"pw":"s3cr3t-canary")",             // unterminated object
      R"({"pw":"s3cr3t-canary"} trailing)",   // trailing garbage
      R"({"pw":s3cr3t-canary})",              // bare word
      "{\"pw\":\"s3cr3t-canary\xFF\"}",       // invalid UTF-8
      R"({"pw":"s3cr3t-canary\ud800"})",      // lone surrogate
      R"({"pw":1e400,"x":"s3cr3t-canary"})",  // out of range
      "",
  };
  for (const std::string& in : inputs) {
    absl::StatusOr<SecretBytes> v = Extract(in, "pw");
    ASSERT_FALSE(v.ok()) << in.size();
    EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(v.status().message(), HasSubstr("at byte "));
    EXPECT_THAT(v.status().message(), HasSubstr("expected"));
    EXPECT_THAT(v.status().message(), Not(HasSubstr("s3cr3t")));
    EXPECT_THAT(v.status().message(), Not(HasSubstr("canary")));
  }
  EXPECT_THAT(Extract(R"({"pw":"x"} y)", "pw").status().message(),
              HasSubstr("at byte 11: expected end of input"));
}

TEST(ExtractJsonFieldTest, RejectsNestingDeeperThan128Levels) {
  std::string ok =
      "{\"pw\":" + std::string(127, '[') + std::string(127, ']') + "}";
  EXPECT_TRUE(Extract(ok, "pw").ok());
  std::string deep =
      "{\"pw\":" + std::string(128, '[') + std::string(128, ']') + "}";
  absl::StatusOr<SecretBytes> v = Extract(deep, "pw");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(v.status().message(),
              HasSubstr("nesting deeper than 128 levels"));
  EXPECT_EQ(Extract(std::string(100000, '['), "pw").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace zlayer::secrets
