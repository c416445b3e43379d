#include "core/format/env_file_format.h"

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using SecretMap = std::map<std::string, SecretBytes>;
using PlainMap = std::map<std::string, std::string>;

SecretMap Secrets(const PlainMap& plain) {
  SecretMap out;
  for (const auto& [k, v] : plain) out.emplace(k, SecretBytes::FromString(v));
  return out;
}

PlainMap Plain(const SecretFileImport& imported) {
  PlainMap out;
  for (const ImportedSecret& e : imported.entries) {
    out[e.name] = std::string(e.value.InsecureView());
  }
  return out;
}

std::string Export(const PlainMap& plain, SecretFileFormat format) {
  absl::StatusOr<SecretBytes> out = ExportSecrets(Secrets(plain), format);
  if (!out.ok()) return "ERROR: " + out.status().ToString();
  return std::string(out->InsecureView());
}

std::string ExportEnv(const PlainMap& plain) {
  return Export(plain, SecretFileFormat::kDotenv);
}

// Imports `text` and expects no errors or warnings.
PlainMap ImportEnvClean(absl::string_view text) {
  SecretFileImport imported = ImportDotenv(text);
  EXPECT_THAT(imported.errors, IsEmpty());
  EXPECT_THAT(imported.warnings, IsEmpty());
  return Plain(imported);
}

// ---------------------------------------------------------------------------
// Export

TEST(DotenvExportTest, WritesSimpleValuesVerbatimSortedByName) {
  EXPECT_EQ(ExportEnv({{"B", "two"},
                       {"A", "p@ss:w%rd!$HOME"},
                       {"C", ""},
                       {"a", "x"},
                       {"D", "p\xC3\xA4ss\xE2\x82\xAC"}}),
            "A=p@ss:w%rd!$HOME\nB=two\nC=\nD=p\xC3\xA4ss\xE2\x82\xAC\na=x\n");
  EXPECT_EQ(ExportEnv({}), "");
}

TEST(DotenvExportTest, QuotesAndEscapesSpecialValues) {
  EXPECT_EQ(ExportEnv({{"K", "a b"}}), "K=\"a b\"\n");
  EXPECT_EQ(ExportEnv({{"K", " lead"}}), "K=\" lead\"\n");
  EXPECT_EQ(ExportEnv({{"K", "a#b"}}), "K=\"a#b\"\n");
  EXPECT_EQ(ExportEnv({{"K", "a=b"}}), "K=\"a=b\"\n");
  EXPECT_EQ(ExportEnv({{"K", "it's"}}), "K=\"it's\"\n");
  EXPECT_EQ(ExportEnv({{"K", "say \"hi\""}}), "K=\"say \\\"hi\\\"\"\n");
  EXPECT_EQ(ExportEnv({{"K", "C:\\dir"}}), "K=\"C:\\\\dir\"\n");
  EXPECT_EQ(ExportEnv({{"K", "l1\nl2\r\n\tx"}}), "K=\"l1\\nl2\\r\\n\\tx\"\n");
  EXPECT_EQ(ExportEnv({{"K", "nb\xC2\xA0sp"}}), "K=\"nb\xC2\xA0sp\"\n");
  EXPECT_EQ(ExportEnv({{"K", "ls\xE2\x80\xA8x"}}), "K=\"ls\xE2\x80\xA8x\"\n");
  EXPECT_EQ(ExportEnv({{"K", "$x \\$y"}}), "K=\"$x \\\\$y\"\n");
}

TEST(DotenvExportTest, ProtectsNamesThatLookLikeTheExportPrefix) {
  EXPECT_EQ(ExportEnv({{"export X", "1"}, {"export", "2"}, {"exports", "3"}}),
            "export=2\nexport export X=1\nexports=3\n");
  EXPECT_EQ(ImportEnvClean("export=2\nexport export X=1\nexports=3\n"),
            (PlainMap{{"export X", "1"}, {"export", "2"}, {"exports", "3"}}));
}

TEST(DotenvExportTest, RejectsNamesThatCannotBeImported) {
  for (const std::string& bad :
       {std::string(""), std::string("a/b"), std::string("a=b"),
        std::string("#a"), std::string(" a"), std::string("a\n"),
        std::string(257, 'k')}) {
    absl::StatusOr<SecretBytes> out = ExportSecrets(
        Secrets({{bad, "canary-value"}}), SecretFileFormat::kDotenv);
    ASSERT_FALSE(out.ok()) << bad;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(out.status().message(), Not(HasSubstr("canary")));
  }
}

TEST(JsonExportTest, WritesPrettySortedObject) {
  EXPECT_EQ(
      Export({{"b", "x\"y\n"}, {"a", "1"}, {"c/", ""}},
             SecretFileFormat::kJson),
      "ERROR: INVALID_ARGUMENT: cannot export secret 'c/': key contains '/'");
  EXPECT_EQ(Export({{"b", "x\"y\n"}, {"a", "1"}, {"c", "\xC3\xA9/"}},
                   SecretFileFormat::kJson),
            "{\n  \"a\": \"1\",\n  \"b\": \"x\\\"y\\n\",\n  \"c\": "
            "\"\xC3\xA9/\"\n}\n");
  EXPECT_EQ(Export({}, SecretFileFormat::kJson), "{}\n");
}

TEST(JsonExportTest, RejectsValuesThatAreNotUtf8WithoutQuotingThem) {
  absl::StatusOr<SecretBytes> out =
      ExportSecrets(Secrets({{"K", "canary\xFF"}}), SecretFileFormat::kJson);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("'K'"));
  EXPECT_THAT(out.status().message(), Not(HasSubstr("canary")));
  // dotenv carries any bytes.
  EXPECT_EQ(ExportEnv({{"K", "canary\xFF"}}), "K=canary\xFF\n");
}

// ---------------------------------------------------------------------------
// Dotenv import: upstream rules

TEST(DotenvImportTest, FollowsUpstreamLineRules) {
  SecretFileImport imported = ImportDotenv(
      "# comment\n"
      "\n"
      "  A=1  \n"
      "B = two words \r\n"
      "C=x=y\n"
      "   # indented comment\n"
      "D=\"quoted\"\n"
      "E='single'\n"
      "F=\n"
      "G=\"\"\n"
      "H=it's\n"
      "I=trailing");
  EXPECT_THAT(imported.errors, IsEmpty());
  EXPECT_EQ(Plain(imported), (PlainMap{{"A", "1"},
                                       {"B", "two words"},
                                       {"C", "x=y"},
                                       {"D", "quoted"},
                                       {"E", "single"},
                                       {"F", ""},
                                       {"G", ""},
                                       {"H", "it's"},
                                       {"I", "trailing"}}));
  std::vector<int> lines;
  for (const ImportedSecret& e : imported.entries) lines.push_back(e.line);
  EXPECT_THAT(lines, ElementsAre(3, 4, 5, 7, 8, 9, 10, 11, 12));
}

TEST(DotenvImportTest, TrimsUnicodeWhitespace) {
  EXPECT_EQ(ImportEnvClean("\xE3\x80\x80K\xC2\xA0=\xC2\xA0v\xE2\x80\x83\n"),
            (PlainMap{{"K", "v"}}));
}

TEST(DotenvImportTest, ReportsLineErrorsWithoutValuesAndKeepsGoing) {
  const std::string long_key(257, 'k');
  SecretFileImport imported = ImportDotenv(
      "canary-no-equals\n"        // 1
      "=canary-empty-key\n"       // 2
      + long_key + "=canary\n" +  // 3
      std::string(256, 'k') +
      "=ok\n"         // 4
      "a/b=canary\n"  // 5
      "a\x01"
      "b=canary\n"          // 6
      "\xFF=canary\n"       // 7
      "export #x=canary\n"  // 8
      "Q=\"canary\"tail\n"  // 9
      "S='canary\n"         // 10
      "T='canary' tail\n"   // 11
      "GOOD=yes\n");        // 12
  EXPECT_THAT(
      imported.errors,
      ElementsAre("line 1: missing '='", "line 2: empty key",
                  "line 3: key exceeds 256 bytes", "line 5: key contains '/'",
                  "line 6: key contains a control character",
                  "line 7: key is not valid UTF-8",
                  "line 8: key starts with '#'",
                  "line 9: unexpected characters after closing quote",
                  "line 10: unterminated single-quoted value",
                  "line 11: unexpected characters after closing quote"));
  for (const std::string& e : imported.errors) {
    EXPECT_THAT(e, Not(HasSubstr("canary")));
  }
  EXPECT_EQ(Plain(imported),
            (PlainMap{{std::string(256, 'k'), "ok"}, {"GOOD", "yes"}}));
}

TEST(DotenvImportTest, UnterminatedDoubleQuoteResumesOnNextLine) {
  SecretFileImport imported = ImportDotenv("A=\"canary\nB=2\nC=3\n");
  EXPECT_THAT(imported.errors,
              ElementsAre("line 1: unterminated double-quoted value"));
  EXPECT_EQ(Plain(imported), (PlainMap{{"B", "2"}, {"C", "3"}}));
}

TEST(DotenvImportTest, DuplicateKeyLastWinsWithWarning) {
  SecretFileImport imported = ImportDotenv("A=1\nB=x\nA=2\nexport A=3\n");
  EXPECT_THAT(imported.errors, IsEmpty());
  EXPECT_THAT(imported.warnings,
              ElementsAre("line 3: duplicate key 'A' (also on line 1)",
                          "line 4: duplicate key 'A' (also on line 3)"));
  ASSERT_EQ(imported.entries.size(), 2u);
  EXPECT_EQ(imported.entries[0].name, "A");
  EXPECT_EQ(imported.entries[0].value.InsecureView(), "3");
  EXPECT_EQ(imported.entries[0].line, 4);
  EXPECT_EQ(imported.entries[1].name, "B");
}

// ---------------------------------------------------------------------------
// Dotenv import: extensions

TEST(DotenvImportTest, StripsExportPrefix) {
  EXPECT_EQ(
      ImportEnvClean("export A=1\nexport\t  B=2\nexport=3\nexportC=4\n"),
      (PlainMap{{"A", "1"}, {"B", "2"}, {"export", "3"}, {"exportC", "4"}}));
}

TEST(DotenvImportTest, DecodesDoubleQuoteEscapes) {
  EXPECT_EQ(ImportEnvClean(R"(A="a\\b\"c\nd\re\tf\$g\qh\")"
                           "\"\n"),
            (PlainMap{{"A", "a\\b\"c\nd\re\tf$g\\qh\""}}));
  EXPECT_EQ(ImportEnvClean(R"(A="  spaced  ")"),
            (PlainMap{{"A", "  spaced  "}}));
}

TEST(DotenvImportTest, DoubleQuotedValuesMaySpanLines) {
  SecretFileImport imported = ImportDotenv(
      "A=\"-----BEGIN KEY-----\n"
      "abc # not a comment\n"
      "-----END KEY-----\"  # comment\n"
      "B=\"crlf\r\n"
      "x\"\r\n"
      "C=after\n");
  EXPECT_THAT(imported.errors, IsEmpty());
  EXPECT_EQ(
      Plain(imported),
      (PlainMap{
          {"A", "-----BEGIN KEY-----\nabc # not a comment\n-----END KEY-----"},
          {"B", "crlf\nx"},
          {"C", "after"}}));
  ASSERT_EQ(imported.entries.size(), 3u);
  EXPECT_EQ(imported.entries[0].line, 1);
  EXPECT_EQ(imported.entries[1].line, 4);
  EXPECT_EQ(imported.entries[2].line, 6);
}

TEST(DotenvImportTest, ReadsUpstreamExportsWithRawNewlines) {
  // Upstream writes newlines raw inside the quotes and escapes only \ and ".
  EXPECT_EQ(ImportEnvClean("K=\"line1\nline2 \\\"q\\\" \\\\\"\n"),
            (PlainMap{{"K", "line1\nline2 \"q\" \\"}}));
}

TEST(DotenvImportTest, SingleQuotedValuesAreLiteral) {
  EXPECT_EQ(ImportEnvClean(R"(A='a\nb "c" $d # e')"),
            (PlainMap{{"A", R"(a\nb "c" $d # e)"}}));
}

TEST(DotenvImportTest, StripsInlineComments) {
  EXPECT_EQ(ImportEnvClean("A=b #c\n"
                           "B=b#c\n"
                           "C=\"b\" # c\n"
                           "D='b' #c\n"
                           "E= #c\n"
                           "F=#c\n"
                           "G=\"b\"#c\n"
                           "H=b\t#c # d\n"
                           "I=\"#b\"\n"),
            (PlainMap{{"A", "b"},
                      {"B", "b#c"},
                      {"C", "b"},
                      {"D", "b"},
                      {"E", ""},
                      {"F", "#c"},
                      {"G", "b"},
                      {"H", "b"},
                      {"I", "#b"}}));
}

// ---------------------------------------------------------------------------
// JSON import

TEST(JsonImportTest, ReadsFlatObjectOfStrings) {
  absl::StatusOr<SecretFileImport> imported = ImportJsonSecrets(
      R"({"B":"two","A":"o\"ne\n","A":"one","bad/key":"canary","N":5,"O":{},"L":[],"Z":null})");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(Plain(*imported), (PlainMap{{"A", "one"}, {"B", "two"}}));
  EXPECT_THAT(imported->errors, ElementsAre("key 'L': value must be a string",
                                            "key 'N': value must be a string",
                                            "key 'O': value must be a string",
                                            "key 'Z': value must be a string",
                                            "key 'bad/key': key contains '/'"));
}

TEST(JsonImportTest, QuotesControlCharactersInKeysEscaped) {
  absl::StatusOr<SecretFileImport> imported =
      ImportJsonSecrets(R"({"a\u001bb":"x"})");
  ASSERT_TRUE(imported.ok());
  EXPECT_THAT(imported->errors,
              ElementsAre("key 'a\\u001bb': key contains a control character"));
}

TEST(JsonImportTest, RejectsInvalidJsonAndNonObjects) {
  absl::StatusOr<SecretFileImport> imported =
      ImportJsonSecrets(R"({"A":"canary")");
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("byte 13"));
  EXPECT_THAT(imported.status().message(), Not(HasSubstr("canary")));
  EXPECT_EQ(ImportJsonSecrets(R"(["canary"])").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImportSecrets("A=1", SecretFileFormat::kJson).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Keys and formats

TEST(ValidateSecretFileKeyTest, AppliesAllRules) {
  EXPECT_TRUE(ValidateSecretFileKey("DATABASE_URL").ok());
  EXPECT_TRUE(ValidateSecretFileKey("with space").ok());
  EXPECT_TRUE(ValidateSecretFileKey("caf\xC3\xA9.key-1").ok());
  EXPECT_TRUE(ValidateSecretFileKey(std::string(256, 'k')).ok());
  EXPECT_TRUE(ValidateSecretFileKey("a#b").ok());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty key"},
      {std::string(257, 'k'), "key exceeds 256 bytes"},
      {"a/b", "key contains '/'"},
      {"a=b", "key contains '='"},
      {std::string("a\0b", 3), "key contains a control character"},
      {"a\x7F", "key contains a control character"},
      {"a\xC2\x80", "key contains a control character"},
      {"a\tb", "key contains a control character"},
      {"\xC3", "key is not valid UTF-8"},
      {" a", "key has leading or trailing whitespace"},
      {"a\xE3\x80\x80", "key has leading or trailing whitespace"},
      {"#a", "key starts with '#'"},
  };
  for (const auto& [key, message] : bad) {
    absl::Status s = ValidateSecretFileKey(key);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_EQ(s.message(), message);
  }
}

TEST(SecretFileFormatTest, ParsesNames) {
  EXPECT_EQ(*ParseSecretFileFormat("env"), SecretFileFormat::kDotenv);
  EXPECT_EQ(*ParseSecretFileFormat("dotenv"), SecretFileFormat::kDotenv);
  EXPECT_EQ(*ParseSecretFileFormat("json"), SecretFileFormat::kJson);
  EXPECT_EQ(ParseSecretFileFormat("yaml").status().message(),
            "unsupported format 'yaml' (expected 'env' or 'json')");
}

// ---------------------------------------------------------------------------
// Round trips

std::string RandomValue(std::mt19937* rng, bool utf8_only) {
  static const std::vector<std::string> kPieces = {
      "\"",       "'",
      "\\",       "\r",
      "\n",       "\r\n",
      "=",        "#",
      " ",        "  ",
      "\t",       "$",
      "${HOME}",  "\\n",
      "\\\"",     "export ",
      " #",       "# ",
      "\xC3\xA9", "\xF0\x9F\x98\x80",
      "\xC2\xA0", "\xE2\x80\xA8",
      "\xC2\x85", "\x0B",
      "\x0C",     std::string("\0", 1),
      "\x01",     "\x7F",
      "a",        "Z",
      "9",        "-",
      "_",        "/",
      ":",        "@",
      "%",        "\"\"",
      "''",       "`"};
  std::string v;
  const int pieces = static_cast<int>((*rng)() % 12);
  for (int i = 0; i < pieces; ++i) {
    if (!utf8_only && (*rng)() % 10 == 0) {
      v.push_back(static_cast<char>((*rng)() % 256));  // any byte at all
    } else {
      v += kPieces[(*rng)() % kPieces.size()];
    }
  }
  return v;
}

std::string RandomKey(std::mt19937* rng) {
  static const std::vector<std::string> kPieces = {
      "A",  "b", "_", "9", ".",        "-",       "\xC3\xA9", " ",
      "\"", "'", "#", "$", "\xC2\xA0", "export ", "export"};
  std::string k;
  do {
    k.clear();
    const int pieces = 1 + static_cast<int>((*rng)() % 6);
    for (int i = 0; i < pieces; ++i) k += kPieces[(*rng)() % kPieces.size()];
  } while (!ValidateSecretFileKey(k).ok());
  return k;
}

void ExpectRoundTrip(SecretFileFormat format, bool utf8_only, int seed) {
  std::mt19937 rng(seed);
  for (int round = 0; round < 200; ++round) {
    PlainMap original;
    const int n = static_cast<int>(rng() % 15);
    for (int i = 0; i < n; ++i)
      original[RandomKey(&rng)] = RandomValue(&rng, utf8_only);
    original["EMPTY"] = "";
    absl::StatusOr<SecretBytes> exported =
        ExportSecrets(Secrets(original), format);
    ASSERT_TRUE(exported.ok()) << exported.status();
    absl::StatusOr<SecretFileImport> imported =
        ImportSecrets(exported->InsecureView(), format);
    ASSERT_TRUE(imported.ok()) << imported.status();
    EXPECT_THAT(imported->errors, IsEmpty()) << exported->InsecureView();
    EXPECT_THAT(imported->warnings, IsEmpty());
    ASSERT_EQ(Plain(*imported), original) << exported->InsecureView();
  }
}

TEST(RoundTripTest, DotenvExportImportIsLosslessForUtf8Values) {
  ExpectRoundTrip(SecretFileFormat::kDotenv, /*utf8_only=*/true, 1);
}

TEST(RoundTripTest, DotenvExportImportIsLosslessForArbitraryBytes) {
  ExpectRoundTrip(SecretFileFormat::kDotenv, /*utf8_only=*/false, 2);
}

TEST(RoundTripTest, JsonExportImportIsLossless) {
  ExpectRoundTrip(SecretFileFormat::kJson, /*utf8_only=*/true, 3);
}

TEST(RoundTripTest, ReExportOfImportIsStable) {
  // export(import(x)) imports to the same map for a messy hand-written file.
  const std::string messy =
      "export A = 'x y' # c\nB=\"m\nl\" \nC=a#b\nD=\\q\nE= \"\" \nA=again\n"
      "F=\"\\$HOME\\t\"\nG=\xC2\xA0\"z\"\n";
  SecretFileImport first = ImportDotenv(messy);
  EXPECT_THAT(first.errors, IsEmpty());
  SecretMap map;
  for (ImportedSecret& e : first.entries)
    map.emplace(e.name, std::move(e.value));
  absl::StatusOr<SecretBytes> exported =
      ExportSecrets(map, SecretFileFormat::kDotenv);
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(ImportEnvClean(exported->InsecureView()),
            (PlainMap{{"A", "again"},
                      {"B", "m\nl"},
                      {"C", "a#b"},
                      {"D", "\\q"},
                      {"E", ""},
                      {"F", "$HOME\t"},
                      {"G", "z"}}));
}

}  // namespace
}  // namespace zlayer::secrets
