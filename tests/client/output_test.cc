// Table and JSON rendering of zlayer-secret (upstream's widths and messages:
// docs/compatibility.md, "Verbs and output").
#include "client/cli/output.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::cli {
namespace {

using ::testing::HasSubstr;

v1::SecretMetadata Meta(const std::string& name, uint32_t version,
                        int64_t created, int64_t updated) {
  v1::SecretMetadata m;
  m.set_scope("default");
  m.set_name(name);
  m.set_version(version);
  m.set_created_at(created);
  m.set_updated_at(updated);
  return m;
}

TEST(OutputTest, TimestampsAreUtcOrRawWhenNotPositive) {
  EXPECT_EQ(FormatTimestamp(0), "0");
  EXPECT_EQ(FormatTimestamp(-5), "-5");
  EXPECT_EQ(FormatTimestamp(1700000000), "2023-11-14 22:13:20");
}

TEST(OutputTest, EmptyListingSaysNoSecrets) {
  EXPECT_EQ(SecretsTable({}), "(no secrets)\n");
  EXPECT_EQ(SecretsJson({}), "[]\n");
}

TEST(OutputTest, TableHasUpstreamWidths) {
  std::string table = SecretsTable({Meta("db_password", 2, 1700000000, 0)});
  std::string header = std::string("NAME") + std::string(26, ' ') + " " +
                       std::string(3, ' ') + "VERSION" + " " +
                       std::string(15, ' ') + "CREATED" + " " +
                       std::string(15, ' ') + "UPDATED\n";
  std::string row = std::string("db_password") + std::string(19, ' ') + " " +
                    std::string(9, ' ') + "2" + " " + "   2023-11-14 22:13:20" +
                    " " + std::string(21, ' ') + "0\n";
  EXPECT_EQ(table, header + row);
}

TEST(OutputTest, JsonListingIsPrettyAndEscaped) {
  EXPECT_EQ(SecretsJson({Meta("a\"b", 1, 10, 20)}),
            "[\n"
            "  {\n"
            "    \"name\": \"a\\\"b\",\n"
            "    \"scope\": \"default\",\n"
            "    \"version\": 1,\n"
            "    \"created_at\": 10,\n"
            "    \"updated_at\": 20\n"
            "  }\n"
            "]\n");
}

TEST(OutputTest, MetadataIsFourAlignedLines) {
  EXPECT_EQ(MetadataText(Meta("db", 3, 1700000000, 1700000060)),
            "Name:       db\n"
            "Version:    3\n"
            "Created at: 2023-11-14 22:13:20\n"
            "Updated at: 2023-11-14 22:14:20\n");
}

TEST(OutputTest, RotatedMessageUsesArrow) {
  EXPECT_EQ(RotatedMessage("db", " in env 'e1'", 1, 2),
            "Rotated 'db' in env 'e1' (v1 \xE2\x86\x92 v2)\n");
  EXPECT_EQ(RotatedMessage("db", "", 0, 1), "Rotated 'db' (\xE2\x86\x92 v1)\n");
}

TEST(OutputTest, StaleConsumersAreCountedOnlyWhenSomeAre) {
  EXPECT_EQ(StaleConsumersMessage("db", 1, 1),
            "1 live consumer still holds v1 (zlayer-secret consumers db)\n");
  EXPECT_EQ(StaleConsumersMessage("db", 4, 3),
            "3 live consumers still hold v4 (zlayer-secret consumers db)\n");
  EXPECT_EQ(StaleConsumersMessage("db", 4, 0), "");
  EXPECT_EQ(StaleConsumersMessage("db", 0, 2), "");
}

TEST(OutputTest, ReceiptLinesOfAWatchLogPinTheLastReceipt) {
  auto pins = ParseReceiptLines(
      "receipt DB prod/db 3\n"
      "receipt TOKEN prod/api/token 1\n"
      "position 17-2\n"
      "change rotate prod/db 4 3\n"
      "receipt DB prod/db 4\n");
  ASSERT_TRUE(pins.ok()) << pins.status();
  ASSERT_EQ(pins->size(), 2u);
  EXPECT_EQ((*pins)[0].key(), "DB");
  EXPECT_EQ((*pins)[0].scope(), "prod");
  EXPECT_EQ((*pins)[0].name(), "db");
  EXPECT_EQ((*pins)[0].version(), 4u);
  EXPECT_EQ((*pins)[1].scope(), "prod/api");
  EXPECT_EQ((*pins)[1].name(), "token");
  EXPECT_EQ((*pins)[1].version(), 1u);
}

TEST(OutputTest, ReceiptLinesCarryTheIncarnationWhenPrinted) {
  auto pins = ParseReceiptLines(
      "receipt DB prod/db 3 0A0bff\n"
      "receipt OLD prod/old 2 -\n");
  ASSERT_TRUE(pins.ok()) << pins.status();
  ASSERT_EQ(pins->size(), 2u);
  EXPECT_EQ((*pins)[0].incarnation(), "0a0bff");
  EXPECT_EQ((*pins)[1].incarnation(), "");
  EXPECT_FALSE(ParseReceiptLines("receipt DB prod/db 3 xyz\n").ok());
  EXPECT_FALSE(ParseReceiptLines("receipt DB prod/db 3 abc\n").ok());
  EXPECT_FALSE(ParseReceiptLines("receipt DB prod/db 3 ab cd\n").ok());
}

TEST(OutputTest, MalformedReceiptLinesAreRefusedWithTheLineNumber) {
  auto bad = ParseReceiptLines("position 1-1\nreceipt DB prod/db x\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), absl::string_view::npos);
  EXPECT_FALSE(ParseReceiptLines("receipt DB nodb 3\n").ok());
  EXPECT_FALSE(ParseReceiptLines("receipt DB prod/db 0\n").ok());
  EXPECT_FALSE(ParseReceiptLines("position 1-1\n").ok());
}

TEST(OutputTest, RandomNoticeMatchesUpstream) {
  EXPECT_EQ(RandomValueNotice("db", "abc"),
            "\nGenerated value for 'db':\n  abc\n\nThis is the only time it "
            "will be shown. Store it now.\n");
}

TEST(OutputTest, VersionsTableAndJson) {
  v1::ListVersionsResponse r;
  v1::VersionInfo* v = r.add_versions();
  v->set_version(2);
  v->set_created_at(1700000000);
  v->set_key_id(1);
  EXPECT_EQ(VersionsTable(r),
            "   VERSION                CREATED   KEY_ID\n"
            "         2    2023-11-14 22:13:20        1\n");
  EXPECT_THAT(VersionsJson(r), HasSubstr("\"version\": 2"));
}

TEST(OutputTest, CheckTableShowsErrorsAndLocations) {
  v1::CheckEnvResponse r;
  v1::CheckedEntry* ok = r.add_entries();
  ok->set_key("DB");
  ok->set_is_reference(true);
  ok->set_reference("$S:db");
  ok->set_scope("shop");
  ok->set_name("db");
  ok->set_exists(true);
  ok->set_readable(true);
  ok->set_version(4);
  v1::CheckedEntry* bad = r.add_entries();
  bad->set_key("X");
  bad->set_is_reference(true);
  bad->set_reference("$S:missing");
  bad->set_error("secret not found");
  v1::CheckedEntry* plain = r.add_entries();
  plain->set_key("MODE");
  std::string table = CheckTable(r);
  EXPECT_THAT(table, HasSubstr("shop/db v4"));
  EXPECT_THAT(table, HasSubstr("error  $S:missing"));
  EXPECT_THAT(table, HasSubstr("secret not found"));
  EXPECT_THAT(table, HasSubstr("MODE                           plain"));
  std::string json = CheckJson(r);
  EXPECT_THAT(json, HasSubstr("\"ok\": false"));
  EXPECT_THAT(json, HasSubstr("\"error\": \"secret not found\""));
}

TEST(OutputTest, EnvironmentsAndWhoAmI) {
  v1::ListEnvironmentsResponse none;
  EXPECT_EQ(EnvironmentsTable(none), "(no environments)\n");
  v1::ListEnvironmentsResponse r;
  v1::Environment* e = r.add_environments();
  e->set_id("0b3a1d8e-1111-4222-8333-444455556666");
  e->set_name("staging");
  EXPECT_THAT(EnvironmentsTable(r), HasSubstr("staging"));
  EXPECT_THAT(EnvironmentsJson(r), HasSubstr("\"name\": \"staging\""));
  v1::WhoAmIResponse who;
  who.set_subject("uid:0");
  who.add_roles("admin");
  who.set_transport("unix");
  EXPECT_EQ(WhoAmIText(who),
            "Subject:   uid:0\nRoles:     admin\nTransport: unix\n");
  // The one JSON writer lays out every array the same way (serde_json's
  // pretty form).
  EXPECT_EQ(
      WhoAmIJson(who),
      "{\n  \"subject\": \"uid:0\",\n  \"roles\": [\n    \"admin\"\n  ],\n"
      "  \"transport\": \"unix\"\n}\n");
}

}  // namespace
}  // namespace zlayer::secrets::cli
