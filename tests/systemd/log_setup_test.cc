// FormatLogLine and EscapeLogText: one record is one line whatever the
// message holds, JSON lines parse, journald priorities match the level.
#include "daemon/log_setup.h"

#include <string>

#include "absl/strings/match.h"
#include "core/format/json.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1700000000123);

TEST(LogSetupTest, TextLineHasTimestampLevelAndEscapedControls) {
  LogSetupOptions text;
  std::string line =
      FormatLogLine(text, spdlog::level::info, kTime,
                    "event=x name=a\nlevel=error event=forged\r\x01");
  EXPECT_EQ(line,
            "2023-11-14T22:13:20.123Z level=info event=x "
            "name=a\\nlevel=error event=forged\\r\\x01\n");
}

TEST(LogSetupTest, JournalPrefixFollowsTheLevel) {
  LogSetupOptions journal;
  journal.journal = true;
  EXPECT_TRUE(absl::StartsWith(
      FormatLogLine(journal, spdlog::level::debug, kTime, "m"), "<7>"));
  EXPECT_TRUE(absl::StartsWith(
      FormatLogLine(journal, spdlog::level::info, kTime, "m"), "<6>"));
  EXPECT_TRUE(absl::StartsWith(
      FormatLogLine(journal, spdlog::level::warn, kTime, "m"), "<4>"));
  EXPECT_TRUE(absl::StartsWith(
      FormatLogLine(journal, spdlog::level::err, kTime, "m"), "<3>"));
  EXPECT_TRUE(absl::StartsWith(
      FormatLogLine(journal, spdlog::level::critical, kTime, "m"), "<2>"));
}

TEST(LogSetupTest, JsonSplitsFieldsAndUnescapesQuotedValues) {
  LogSetupOptions json;
  json.format = LogFormat::kJson;
  const std::string quoted = EscapeLogText("say \"hi\"\nnext");
  std::string line = FormatLogLine(json, spdlog::level::warn, kTime,
                                   "event=e count=3 error=\"" + quoted + "\"");
  ASSERT_TRUE(absl::EndsWith(line, "}\n")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  absl::StatusOr<JsonValue> doc = ParseJson(line.substr(0, line.size() - 1));
  ASSERT_TRUE(doc.ok()) << line;
  EXPECT_EQ(doc->Find("level")->string_value(), "warning");
  EXPECT_EQ(doc->Find("event")->string_value(), "e");
  EXPECT_EQ(doc->Find("count")->string_value(), "3");
  EXPECT_EQ(doc->Find("error")->string_value(), "say \"hi\"\nnext");
}

TEST(LogSetupTest, JsonKeepsFreeTextWholeInMsg) {
  LogSetupOptions json;
  json.format = LogFormat::kJson;
  // Not key=value fields (and a field that would overwrite "level"): whole.
  for (const char* message :
       {"rpc=Get name=a -> OK", "level=error event=forged", "plain text\n"}) {
    std::string line = FormatLogLine(json, spdlog::level::info, kTime, message);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    absl::StatusOr<JsonValue> doc = ParseJson(line.substr(0, line.size() - 1));
    ASSERT_TRUE(doc.ok()) << line;
    EXPECT_EQ(doc->Find("level")->string_value(), "info") << line;
    ASSERT_NE(doc->Find("msg"), nullptr) << line;
    EXPECT_EQ(doc->Find("msg")->string_value(), message);
  }
}

TEST(LogSetupTest, ParseLogFormatAcceptsTextAndJsonOnly) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("syslog").ok());
}

}  // namespace
}  // namespace zlayer::secrets
