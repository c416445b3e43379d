#include "core/format/json.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Str(const WipingString& s) {
  return std::string(s.data(), s.size());
}

// Parses `text` and re-serialises it compactly.
std::string Compact(absl::string_view text) {
  absl::StatusOr<JsonValue> v = ParseJson(text);
  if (!v.ok()) return "ERROR: " + std::string(v.status().message());
  return Str(SerializeJson(*v));
}

std::string ParseError(absl::string_view text) {
  absl::StatusOr<JsonValue> v = ParseJson(text);
  if (v.ok()) return "parsed OK";
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(v.status().message());
}

TEST(JsonParseTest, ParsesLiterals) {
  EXPECT_EQ(Compact("null"), "null");
  EXPECT_EQ(Compact("true"), "true");
  EXPECT_EQ(Compact("false"), "false");
  ASSERT_TRUE(ParseJson("true")->is_bool());
  EXPECT_TRUE(ParseJson("true")->bool_value());
  EXPECT_TRUE(ParseJson("null")->is_null());
}

TEST(JsonParseTest, AllowsSurroundingWhitespaceOnlyOfTheFourKinds) {
  EXPECT_EQ(Compact(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n "), "{\"a\":[1,2]}");
  EXPECT_THAT(ParseError("\f1"), HasSubstr("byte 0: expected a value"));
  EXPECT_THAT(ParseError("\xC2\xA0"
                         "1"),
              HasSubstr("byte 0"));
  EXPECT_THAT(ParseError("\xEF\xBB\xBF{}"), HasSubstr("byte 0"));  // BOM
}

TEST(JsonParseTest, NumbersPrintLikeSerdeJson) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"5432", "5432"},
      {"-1", "-1"},
      {"0", "0"},
      {"1.5", "1.5"},
      {"2.0", "2.0"},
      {"-2.50", "-2.5"},
      {"1e2", "100.0"},
      {"1E2", "100.0"},
      {"12.5e1", "125.0"},
      {"-0", "-0.0"},
      {"-0.0", "-0.0"},
      {"0.0", "0.0"},
      {"0.1", "0.1"},
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"18446744073709551615", "18446744073709551615"},
      {"18446744073709551616", "1.8446744073709552e19"},
      {"-9223372036854775809", "-9.223372036854776e18"},
      {"123456789012345678901234567890", "1.2345678901234568e29"},
      {"1e15", "1000000000000000.0"},
      {"1e16", "1e16"},
      {"1.5e16", "1.5e16"},
      {"1234567890123456.7", "1234567890123456.8"},
      {"0.0001", "0.0001"},
      {"0.00001234", "0.00001234"},
      {"0.000001", "1e-6"},
      {"1.5e-7", "1.5e-7"},
      {"5e-324", "5e-324"},
      {"1.7976931348623157e308", "1.7976931348623157e308"},
      {"1e-400", "0.0"},
      {"-1e-400", "-0.0"},
      {"0.000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000"
       "1",
       "0.0"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(Compact(in), want) << in;
  }
}

TEST(JsonParseTest, KeepsIntegersExact) {
  absl::StatusOr<JsonValue> v = ParseJson("[5432, 18446744073709551615, 2.0]");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->elements()[0].is_int());
  EXPECT_EQ(v->elements()[0].int_value(), 5432);
  EXPECT_TRUE(v->elements()[1].is_uint());
  EXPECT_EQ(v->elements()[1].uint_value(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(v->elements()[2].is_double());
  EXPECT_EQ(v->elements()[2].double_value(), 2.0);
}

TEST(JsonParseTest, RejectsNumbersOutOfDoubleRange) {
  EXPECT_THAT(ParseError("1e400"),
              HasSubstr("byte 0: expected a number in range"));
  EXPECT_THAT(ParseError("[-1e400]"),
              HasSubstr("byte 1: expected a number in range"));
  EXPECT_THAT(ParseError("1e99999999999999999999"), HasSubstr("in range"));
  EXPECT_THAT(ParseError(std::string(400, '9')), HasSubstr("in range"));
}

TEST(JsonParseTest, RejectsMalformedNumbers) {
  EXPECT_THAT(ParseError("01"), HasSubstr("byte 1: expected no leading zero"));
  EXPECT_THAT(ParseError("-01"), HasSubstr("byte 2: expected no leading zero"));
  EXPECT_THAT(ParseError("-"), HasSubstr("byte 1: expected a digit"));
  EXPECT_THAT(ParseError("1."),
              HasSubstr("byte 2: expected a digit after '.'"));
  EXPECT_THAT(ParseError("1.e5"), HasSubstr("byte 2"));
  EXPECT_THAT(ParseError("1e"),
              HasSubstr("byte 2: expected a digit in the exponent"));
  EXPECT_THAT(ParseError("1e+"), HasSubstr("byte 3"));
  EXPECT_THAT(ParseError(".5"), HasSubstr("byte 0: expected a value"));
  EXPECT_THAT(ParseError("+1"), HasSubstr("byte 0: expected a value"));
  EXPECT_THAT(ParseError("0x10"), HasSubstr("byte 1: expected end of input"));
  EXPECT_THAT(ParseError("NaN"), HasSubstr("byte 0"));
  EXPECT_THAT(ParseError("Infinity"), HasSubstr("byte 0"));
  EXPECT_THAT(ParseError("-Infinity"), HasSubstr("byte 1"));
}

TEST(JsonParseTest, DecodesAllEscapes) {
  absl::StatusOr<JsonValue> v =
      ParseJson(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\u20AC\ud83d\uDE00")");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->string_value(),
            "\"\\/\b\f\n\r\tA\xC3\xA9\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  v = ParseJson(R"("\u0000")");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->string_value(), absl::string_view("\0", 1));
}

TEST(JsonParseTest, RejectsBadEscapes) {
  EXPECT_THAT(ParseError(R"("\x")"),
              HasSubstr("byte 2: expected an escape character"));
  EXPECT_THAT(ParseError(R"("\')"), HasSubstr("byte 2"));
  EXPECT_THAT(ParseError(R"("\u12")"),
              HasSubstr("byte 5: expected 4 hex digits"));
  EXPECT_THAT(ParseError(R"("\u12G4")"), HasSubstr("expected 4 hex digits"));
  EXPECT_THAT(ParseError("\"\\"),
              HasSubstr("byte 2: expected an escape character"));
}

TEST(JsonParseTest, RejectsLoneSurrogates) {
  EXPECT_THAT(ParseError(R"("\ud800")"),
              HasSubstr("byte 7: expected a \\uDC00-\\uDFFF low surrogate"));
  EXPECT_THAT(ParseError(R"("\ud800x")"), HasSubstr("low surrogate"));
  EXPECT_THAT(ParseError(R"("\ud800\u0041")"),
              HasSubstr("byte 7: expected a \\uDC00"));
  EXPECT_THAT(ParseError(R"("\ud800\ud800")"), HasSubstr("low surrogate"));
  EXPECT_THAT(ParseError(R"("\udc00")"),
              HasSubstr("byte 1: expected a high surrogate"));
  EXPECT_THAT(ParseError(R"("\uDFFF\uD800")"), HasSubstr("high surrogate"));
}

TEST(JsonParseTest, RejectsInvalidUtf8) {
  const std::vector<std::string> bad = {
      "\"\xFF\"",              // never valid
      "\"\x80\"",              // lone continuation byte
      "\"\xC0\xAF\"",          // overlong '/'
      "\"\xE0\x80\xAF\"",      // overlong
      "\"\xED\xA0\x80\"",      // UTF-8-encoded surrogate
      "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
      "\"\xE2\x82\"",          // truncated
      "\"ok\xC3\"",            // truncated before the quote
  };
  for (const std::string& s : bad) {
    EXPECT_THAT(ParseError(s), HasSubstr("expected valid UTF-8")) << s.size();
  }
  EXPECT_THAT(ParseError("\"a\xFF\""),
              HasSubstr("byte 2: expected valid UTF-8"));
  EXPECT_EQ(Compact("\"\xF4\x8F\xBF\xBF\""), "\"\xF4\x8F\xBF\xBF\"");
  EXPECT_EQ(Compact("\"\xEF\xBF\xBF\""), "\"\xEF\xBF\xBF\"");
}

TEST(JsonParseTest, RejectsRawControlCharactersInStrings) {
  EXPECT_THAT(ParseError("\"a\nb\""),
              HasSubstr("byte 2: expected no raw control character"));
  EXPECT_THAT(ParseError(std::string("\"\0\"", 3)), HasSubstr("byte 1"));
  EXPECT_THAT(ParseError("\"\t\""), HasSubstr("control"));
  EXPECT_EQ(Compact("\"\x7F\""), "\"\x7F\"");  // DEL is not a control here
}

TEST(JsonParseTest, RejectsStructuralErrorsWithOffsets) {
  EXPECT_THAT(ParseError(""), HasSubstr("byte 0: expected a value"));
  EXPECT_THAT(ParseError("   "), HasSubstr("byte 3: expected a value"));
  EXPECT_THAT(ParseError("[1,]"), HasSubstr("byte 3: expected a value"));
  EXPECT_THAT(ParseError("[1 2]"), HasSubstr("byte 3: expected ',' or ']'"));
  EXPECT_THAT(ParseError("[1"), HasSubstr("byte 2: expected ',' or ']'"));
  EXPECT_THAT(ParseError("{\"a\":1,}"),
              HasSubstr("byte 7: expected '\"' (object key)"));
  EXPECT_THAT(ParseError("{a:1}"),
              HasSubstr("byte 1: expected '\"' (object key)"));
  EXPECT_THAT(ParseError("{\"a\" 1}"), HasSubstr("byte 5: expected ':'"));
  EXPECT_THAT(ParseError("{\"a\":1 \"b\":2}"),
              HasSubstr("byte 7: expected ',' or '}'"));
  EXPECT_THAT(ParseError("{"), HasSubstr("byte 1"));
  EXPECT_THAT(ParseError("\"abc"),
              HasSubstr("byte 4: expected '\"' (unterminated string)"));
  EXPECT_THAT(ParseError("'a'"), HasSubstr("byte 0: expected a value"));
  EXPECT_THAT(ParseError("tru"), HasSubstr("byte 0: expected 'true'"));
  EXPECT_THAT(ParseError("nul"), HasSubstr("expected 'null'"));
  EXPECT_THAT(ParseError("// c\n1"), HasSubstr("byte 0"));
}

TEST(JsonParseTest, RejectsTrailingGarbage) {
  EXPECT_THAT(ParseError("1 2"), HasSubstr("byte 2: expected end of input"));
  EXPECT_THAT(ParseError("{}x"), HasSubstr("byte 2: expected end of input"));
  EXPECT_THAT(ParseError("[]]"), HasSubstr("byte 2"));
  EXPECT_THAT(ParseError("nullx"), HasSubstr("byte 4"));
  EXPECT_THAT(ParseError("truee"), HasSubstr("byte 4"));
  EXPECT_THAT(ParseError(std::string("{}\0", 3)), HasSubstr("byte 2"));
}

std::string Nested(int depth, char open, char close, absl::string_view inner) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open == '{' ? "{\"k\":" : "[";
  s.append(inner.data(), inner.size());
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

TEST(JsonParseTest, AcceptsNestingUpTo128Levels) {
  EXPECT_TRUE(ParseJson(Nested(128, '[', ']', "1")).ok());
  EXPECT_TRUE(ParseJson(Nested(128, '{', '}', "1")).ok());
  EXPECT_TRUE(ParseJson(Nested(127, '[', ']', "{}")).ok());
}

TEST(JsonParseTest, RejectsNestingDeeperThan128Levels) {
  EXPECT_THAT(ParseError(Nested(129, '[', ']', "1")),
              HasSubstr("byte 128: nesting deeper than 128 levels"));
  EXPECT_THAT(ParseError(Nested(129, '{', '}', "1")),
              HasSubstr("nesting deeper"));
  EXPECT_THAT(ParseError(Nested(128, '[', ']', "{}")),
              HasSubstr("nesting deeper"));
  // Far deeper input fails fast instead of exhausting the stack.
  EXPECT_THAT(ParseError(std::string(1000000, '[')),
              HasSubstr("nesting deeper"));
  EXPECT_TRUE(ParseJson(Nested(10, '[', ']', "1"), 10).ok());
  EXPECT_FALSE(ParseJson(Nested(11, '[', ']', "1"), 10).ok());
}

TEST(JsonParseTest, DuplicateKeysLastOneWins) {
  EXPECT_EQ(Compact(R"({"b":1,"a":2,"a":3,"b":{"x":1},"a":4})"),
            R"({"a":4,"b":{"x":1}})");
}

TEST(JsonParseTest, ErrorMessagesNeverContainInput) {
  const std::string canary = "hunter2canary";
  const std::vector<std::string> inputs = {
      "{\"password\": \"" + canary,
      "{\"password\": \"" + canary + "\" x",
      "{\"password\": " + canary + "}",
      "[\"" + canary + "\", " + canary + "]",
      canary,
      "\"" + canary + "\n\"",
      "\"" + canary + "\\q\"",
      "{\"" + canary + "\" " + canary + "}",
      "1" + canary,
  };
  for (const std::string& in : inputs) {
    std::string message = ParseError(in);
    EXPECT_THAT(message, HasSubstr("invalid JSON at byte "));
    EXPECT_THAT(message, Not(HasSubstr("hunter")));
    EXPECT_THAT(message, Not(HasSubstr("canary")));
  }
}

TEST(JsonWriteTest, SortsObjectKeysByteWise) {
  EXPECT_EQ(Compact(R"({"z":1,"a":2,"é":3,"A":4,"":5,"aa":6})"),
            "{\"\":5,\"A\":4,\"a\":2,\"aa\":6,\"z\":1,\"é\":3}");
}

TEST(JsonWriteTest, EscapesStringsLikeSerdeJson) {
  EXPECT_EQ(Compact(R"("a\"b\\c\/d")"), R"("a\"b\\c/d")");
  EXPECT_EQ(Compact(R"("\b\f\n\r\t\u0001\u001f\u007f")"),
            "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7F\"");
  EXPECT_EQ(Compact(R"("\u00e9\u2028")"), "\"\xC3\xA9\xE2\x80\xA8\"");
  EXPECT_EQ(JsonQuote(absl::string_view("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(JsonQuote("\x1b[31m"), "\"\\u001b[31m\"");
}

TEST(JsonWriteTest, CompactHasNoWhitespace) {
  EXPECT_EQ(Compact("[ 1 , [ ] , { } , { \"a\" : null } , true ]"),
            "[1,[],{},{\"a\":null},true]");
}

TEST(JsonWriteTest, PrettyUsesTwoSpaceIndent) {
  absl::StatusOr<JsonValue> v =
      ParseJson(R"({"b":[1,{"y":true,"x":null}],"a":"s","e":[],"o":{}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Str(SerializeJsonPretty(*v)),
            "{\n"
            "  \"a\": \"s\",\n"
            "  \"b\": [\n"
            "    1,\n"
            "    {\n"
            "      \"x\": null,\n"
            "      \"y\": true\n"
            "    }\n"
            "  ],\n"
            "  \"e\": [],\n"
            "  \"o\": {}\n"
            "}");
  EXPECT_EQ(Str(SerializeJsonPretty(JsonValue::FromInt(3))), "3");
  EXPECT_EQ(Str(SerializeJsonPretty(JsonValue::EmptyObject())), "{}");
}

// JsonWriter keeps call order (the audit log, identity records and the CLI
// rely on it), where a JsonValue sorts.
TEST(JsonWriterTest, KeepsMembersInCallOrder) {
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginObject().Key("z").Int(1).Key("a").String("x").Key("m").Null();
  w.EndObject();
  EXPECT_EQ(Str(w.Finish()), R"({"z":1,"a":"x","m":null})");
}

TEST(JsonWriterTest, PrettyLayoutMatchesSerializeJsonPretty) {
  absl::StatusOr<JsonValue> doc =
      ParseJson(R"({"a":[1,[],{},{"b":[true,"\u0001"]}],"c":{}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  JsonWriter w(JsonWriter::Style::kPretty);
  w.BeginObject().Key("a").BeginArray().Int(1).BeginArray().EndArray();
  w.BeginObject().EndObject().BeginObject().Key("b").BeginArray().Bool(true);
  w.String("\x01").EndArray().EndObject().EndArray();
  w.Key("c").BeginObject().EndObject().EndObject();
  const std::string by_hand = Str(w.Finish());
  EXPECT_EQ(by_hand, Str(SerializeJsonPretty(*doc)));
  EXPECT_EQ(by_hand,
            "{\n  \"a\": [\n    1,\n    [],\n    {},\n    {\n      \"b\": [\n"
            "        true,\n        \"\\u0001\"\n      ]\n    }\n  ],\n"
            "  \"c\": {}\n}");
}

TEST(JsonWriterTest, EscapesKeysAndStringsLikeJsonQuote) {
  const std::string nasty =
      std::string("q\"b\\s/\x7f\x1f\n\0", 10) + "\xC3\xA9";
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginObject().Key(nasty).String(nasty).EndObject();
  const std::string text = Str(w.Finish());
  EXPECT_EQ(text, "{" + JsonQuote(nasty) + ":" + JsonQuote(nasty) + "}");
  EXPECT_EQ(JsonQuote(nasty), "\"q\\\"b\\\\s/\x7f\\u001f\\n\\u0000\xC3\xA9\"");
  absl::StatusOr<JsonValue> back = ParseJson(text);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_NE(back->Find(nasty), nullptr);
  EXPECT_EQ(back->Find(nasty)->string_value(), nasty);
}

TEST(JsonWriterTest, IntegersIncludingExtremes) {
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginArray().Int(0).Int(-1).Int(std::numeric_limits<int64_t>::min());
  w.Int(std::numeric_limits<int64_t>::max()).EndArray();
  EXPECT_EQ(Str(w.Finish()), "[0,-1,-9223372036854775808,9223372036854775807]");
}

TEST(JsonWriterTest, ValueEmbedsAWholeDocument) {
  absl::StatusOr<JsonValue> doc = ParseJson(R"({"b":2.5,"a":[null]})");
  ASSERT_TRUE(doc.ok());
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginArray().String("first").Value(*doc).EndArray();
  EXPECT_EQ(Str(w.Finish()), R"(["first",{"a":[null],"b":2.5}])");
}

// The parser's surrogate handling, end to end through the writer: a pair
// decodes to one 4-byte UTF-8 character, which is written back unescaped;
// any lone half is refused.
TEST(JsonCodecTest, SurrogatePairsBecomeOneCharacterAndLoneHalvesFail) {
  EXPECT_EQ(Compact(R"("\uD83D\uDE00")"), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(Compact(R"("\uDBFF\uDFFF")"), "\"\xF4\x8F\xBF\xBF\"");
  for (const char* bad :
       {R"("\uD800")", R"("\uD800x")", R"("\uD800\u0041")", R"("\uDC00\uD800")",
        R"("\uDFFF")", R"("\uD800\uD800")"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseError(bad), HasSubstr("surrogate"));
  }
  // A surrogate spelled directly in UTF-8 (CESU-8) is invalid UTF-8.
  EXPECT_THAT(ParseError("\"\xED\xA0\xBD\xED\xB8\x80\""),
              HasSubstr("expected valid UTF-8"));
  // Overlong spellings of '"' and '\' cannot end or escape a string.
  EXPECT_THAT(ParseError("\"\xC0\xA2\""), HasSubstr("expected valid UTF-8"));
  EXPECT_THAT(ParseError("\"\xC1\x9C\""), HasSubstr("expected valid UTF-8"));
}

TEST(JsonValueTest, BuildsValues) {
  JsonValue obj = JsonValue::EmptyObject();
  obj.Set("b", JsonValue::FromString("x"));
  obj.Set("a", JsonValue::FromUint(18446744073709551615u));
  obj.Set("b", JsonValue::FromBool(false));
  JsonValue arr = JsonValue::EmptyArray();
  arr.Append(JsonValue::FromDouble(0.5));
  arr.Append(JsonValue::FromDouble(std::nan("")));
  arr.Append(JsonValue::FromDouble(INFINITY));
  arr.Append(JsonValue::FromInt(-7));
  obj.Set("c", std::move(arr));
  EXPECT_EQ(Str(SerializeJson(obj)),
            R"({"a":18446744073709551615,"b":false,"c":[0.5,null,null,-7]})");
  ASSERT_NE(obj.Find("a"), nullptr);
  EXPECT_EQ(obj.Find("missing"), nullptr);
  EXPECT_EQ(JsonValue::FromInt(1).Find("a"), nullptr);
  EXPECT_TRUE(JsonValue::FromUint(5).is_int());

  JsonValue copy = obj.Clone();
  EXPECT_EQ(Str(SerializeJson(copy)), Str(SerializeJson(obj)));
  JsonValue moved = std::move(obj);
  EXPECT_TRUE(obj.is_null());  // NOLINT(bugprone-use-after-move): on purpose
  EXPECT_EQ(Str(SerializeJson(moved)), Str(SerializeJson(copy)));
}

TEST(JsonValueTest, MoveAssignFromOwnChild) {
  absl::StatusOr<JsonValue> v =
      ParseJson(R"([["inner string value", [1]], 2])");
  ASSERT_TRUE(v.ok());
  JsonValue& root = *v;
  root = std::move(const_cast<JsonValue&>(root.elements()[0]));
  EXPECT_EQ(Str(SerializeJson(root)), R"(["inner string value",[1]])");
}

TEST(JsonValueTest, WipeWipingStringEmptiesTheString) {
  WipingString s = "short";
  WipeWipingString(&s);
  EXPECT_TRUE(s.empty());
  WipingString l(1000, 'x');
  WipeWipingString(&l);
  EXPECT_TRUE(l.empty());
}

// Random documents: serialise -> parse -> serialise is the identity, and the
// pretty form parses to the same value.
JsonValue RandomValue(std::mt19937* rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 4 ? 4 : 6);
  static const std::vector<std::string> kStrings = {
      "",
      "a",
      "\"",
      "\\",
      "/",
      "\n\r\t\b\f",
      std::string("\0\x01\x1f", 3),
      "\x7F",
      "\xC3\xA9",
      "\xF0\x9F\x98\x80",
      "\xE2\x80\xA8",
      "key with space"};
  switch (kind(*rng)) {
    case 0:
      return JsonValue();
    case 1:
      return JsonValue::FromBool((*rng)() & 1);
    case 2:
      return JsonValue::FromInt(static_cast<int64_t>((*rng)()) - (1LL << 31));
    case 3: {
      std::uniform_real_distribution<double> d(-1e6, 1e6);
      double x = d(*rng) * std::pow(10.0, static_cast<int>((*rng)() % 40) - 20);
      return JsonValue::FromDouble(x);
    }
    case 4:
      return JsonValue::FromString(kStrings[(*rng)() % kStrings.size()] +
                                   kStrings[(*rng)() % kStrings.size()]);
    case 5: {
      JsonValue a = JsonValue::EmptyArray();
      for (int i = (*rng)() % 4; i > 0; --i)
        a.Append(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      JsonValue o = JsonValue::EmptyObject();
      for (int i = (*rng)() % 4; i > 0; --i) {
        o.Set(kStrings[(*rng)() % kStrings.size()],
              RandomValue(rng, depth + 1));
      }
      return o;
    }
  }
}

TEST(JsonRoundTripTest, SerializeParseSerializeIsIdentity) {
  std::mt19937 rng(20240607);
  for (int i = 0; i < 2000; ++i) {
    JsonValue v = RandomValue(&rng, 0);
    std::string compact = Str(SerializeJson(v));
    absl::StatusOr<JsonValue> parsed = ParseJson(compact);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(Str(SerializeJson(*parsed)), compact);
    absl::StatusOr<JsonValue> from_pretty =
        ParseJson(Str(SerializeJsonPretty(v)));
    ASSERT_TRUE(from_pretty.ok()) << from_pretty.status();
    EXPECT_EQ(Str(SerializeJson(*from_pretty)), compact);
  }
}

TEST(JsonRoundTripTest, DoublesRoundTripExactly) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (!std::isfinite(d)) continue;
    std::string text = Str(SerializeJson(JsonValue::FromDouble(d)));
    absl::StatusOr<JsonValue> back = ParseJson(text);
    ASSERT_TRUE(back.ok()) << text;
    ASSERT_TRUE(back->is_double()) << text;
    double got = back->double_value();
    EXPECT_EQ(std::memcmp(&d, &got, sizeof(d)), 0) << text;
  }
}

}  // namespace
}  // namespace zlayer::secrets
