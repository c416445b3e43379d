#include "core/audit/audit_log.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/identity/identity_records.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::zlayer::secrets::testing::FreshTempDir;

constexpr absl::string_view kCanary = "canary-7f3a9c-do-not-log";

AuditRecord SampleRecord() {
  AuditRecord r;
  r.request_id = "req-1";
  r.subject = "uid:1000";
  r.transport = Transport::kUnix;
  r.rpc = "GetSecret";
  r.scope = "prod";
  r.name = "db_password";
  r.versions = {3, 4};
  r.code = absl::StatusCode::kNotFound;
  r.message = "secret 'db_password' not found";
  return r;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> lines = absl::StrSplit(all, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::unique_ptr<AuditLog> MakeLog(AuditSink* sink, const Clock* clock,
                                  AuditLogOptions options = {}) {
  auto log = AuditLog::Create(sink, clock, std::move(options));
  EXPECT_TRUE(log.ok()) << log.status();
  return *std::move(log);
}

TEST(AuditLogTest, RecordsAreWellFormedJsonLines) {
  FakeClock clock;
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  ASSERT_EQ(sink.lines().size(), 1u);
  const std::string line = sink.lines()[0];
  EXPECT_FALSE(absl::StrContains(line, "\n"));
  auto r = FlatRecord::Parse(line);
  ASSERT_TRUE(r.ok()) << r.status() << " in " << line;
  EXPECT_EQ(*r->String("time"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(*r->String("request_id"), "req-1");
  EXPECT_EQ(*r->String("subject"), "uid:1000");
  EXPECT_EQ(*r->String("transport"), "unix");
  EXPECT_EQ(*r->String("rpc"), "GetSecret");
  EXPECT_EQ(*r->String("scope"), "prod");
  EXPECT_EQ(*r->String("name"), "db_password");
  EXPECT_THAT(*r->IntList("versions"), ElementsAre(3, 4));
  EXPECT_EQ(*r->String("code"), "NOT_FOUND");
  EXPECT_EQ(*r->String("message"), "secret 'db_password' not found");
}

TEST(AuditLogTest, TimeComesFromTheInjectedClock) {
  FakeClock clock(absl::FromUnixMillis(1700000000123));
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  clock.Advance(absl::Hours(24));
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  EXPECT_EQ(*FlatRecord::Parse(sink.lines()[0])->String("time"),
            "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(*FlatRecord::Parse(sink.lines()[1])->String("time"),
            "2023-11-15T22:13:20.123Z");
}

TEST(AuditLogTest, ServiceIsRecordedOnlyWhenGiven) {
  FakeClock clock;
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  AuditRecord r = SampleRecord();
  r.rpc = "ResolveEnv";
  r.service = "api";
  ASSERT_TRUE(log->Record(r).ok());
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  auto with = FlatRecord::Parse(sink.lines()[0]);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(*with->String("service"), "api");
  EXPECT_FALSE(absl::StrContains(sink.lines()[1], "\"service\""));
}

TEST(AuditLogTest, AwkwardTextIsEscaped) {
  FakeClock clock;
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  AuditRecord r = SampleRecord();
  r.name = "we\"ird\\name\n\x01";
  r.versions.clear();
  ASSERT_TRUE(log->Record(r).ok());
  auto parsed = FlatRecord::Parse(sink.lines()[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed->String("name"), r.name);
  EXPECT_TRUE(parsed->IntList("versions")->empty());
}

// The log is handed only metadata of a call that read a canary value from a
// real store; nothing the log writes may contain that value.
TEST(AuditLogTest, NeverContainsSecretValues) {
  FakeClock clock;
  MemorySecretStore store(&clock);
  auto meta =
      store.SetSecret("prod", "db", SecretBytes::FromString(kCanary), {});
  ASSERT_TRUE(meta.ok());
  auto value = store.GetVersioned("prod", "db", 0);
  ASSERT_TRUE(value.ok());

  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  AuditRecord r = SampleRecord();
  r.scope = "prod";
  r.name = "db";
  r.versions = {value->version};
  r.code = absl::StatusCode::kOk;
  r.message.clear();
  ASSERT_TRUE(log->Record(r).ok());
  for (const std::string& line : sink.lines()) {
    EXPECT_FALSE(absl::StrContains(line, kCanary));
    EXPECT_FALSE(absl::StrContains(line, "value"));
  }
}

TEST(AuditLogTest, HashedNamesHideTheNameEverywhere) {
  FakeClock clock;
  MemoryAuditSink sink;
  AuditLogOptions options;
  options.hash_names = true;
  options.name_hash_key = SecretBytes::Random(32);
  auto log = MakeLog(&sink, &clock, std::move(options));
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  const std::vector<std::string> lines = sink.lines();
  for (const std::string& line : lines) {
    EXPECT_FALSE(absl::StrContains(line, "db_password")) << line;
  }
  const std::string hashed = *FlatRecord::Parse(lines[0])->String("name");
  EXPECT_TRUE(absl::StartsWith(hashed, "h:"));
  EXPECT_EQ(hashed.size(), 2u + 32u);
  EXPECT_EQ(*FlatRecord::Parse(lines[1])->String("name"), hashed);  // stable
  // The scope is hashed like a name, and the message (which may quote any
  // scope or name) is dropped; the code stays.
  EXPECT_EQ(*FlatRecord::Parse(lines[0])->String("scope"),
            log->HashName("prod"));
  EXPECT_EQ(*FlatRecord::Parse(lines[0])->String("message"), "");
  EXPECT_EQ(*FlatRecord::Parse(lines[0])->String("code"), "NOT_FOUND");

  // Another key gives another hash.
  AuditLogOptions other;
  other.hash_names = true;
  other.name_hash_key = SecretBytes::Random(32);
  auto log2 = MakeLog(&sink, &clock, std::move(other));
  EXPECT_NE(log2->HashName("db_password"), hashed);
}

TEST(AuditLogTest, BatchTargetsAreListedAndHashedLikeNames) {
  FakeClock clock;
  MemoryAuditSink sink;
  AuditRecord r = SampleRecord();
  r.rpc = "ResolveEnv";
  r.name.clear();
  r.targets = {{"prod/api", "db"}, {"env:e1", "token"}};
  r.versions = {3, 7};
  {
    auto log = MakeLog(&sink, &clock);
    ASSERT_TRUE(log->Record(r).ok());
  }
  auto plain = FlatRecord::Parse(sink.lines()[0]);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(*plain->StringList("targets"),
              ElementsAre("prod/api/db", "env:e1/token"));
  EXPECT_THAT(*plain->IntList("versions"), ElementsAre(3, 7));

  AuditLogOptions options;
  options.hash_names = true;
  options.name_hash_key = SecretBytes::Random(32);
  auto hashed_log = MakeLog(&sink, &clock, std::move(options));
  ASSERT_TRUE(hashed_log->Record(r).ok());
  auto hashed = FlatRecord::Parse(sink.lines()[1]);
  ASSERT_TRUE(hashed.ok()) << hashed.status();
  EXPECT_THAT(*hashed->StringList("targets"),
              ElementsAre(absl::StrCat(hashed_log->HashName("prod/api"), "/",
                                       hashed_log->HashName("db")),
                          absl::StrCat(hashed_log->HashName("env:e1"), "/",
                                       hashed_log->HashName("token"))));
  EXPECT_FALSE(absl::StrContains(sink.lines()[1], "token\""));
  EXPECT_FALSE(absl::StrContains(sink.lines()[1], "prod/api"));
}

// Issue 18 item 8: batch calls' messages quote names that are not the
// record's own name ("secret 'X' not found", "lacks execute on p/Y").
TEST(AuditLogTest, HashedRecordsCarryNoNameFromBatchMessages) {
  FakeClock clock;
  MemoryAuditSink sink;
  AuditLogOptions options;
  options.hash_names = true;
  options.name_hash_key = SecretBytes::Random(32);
  auto log = MakeLog(&sink, &clock, std::move(options));
  AuditRecord r = SampleRecord();
  r.rpc = "ResolveEnv";
  r.scope = "";
  r.name = "";
  r.code = absl::StatusCode::kFailedPrecondition;
  r.message =
      "2 of 3 entries failed: B ($S::zqenv/zqmissing): secret 'zqmissing' "
      "not found in scope 'zqscope'; C: uid:1000 lacks execute on "
      "zqproject/zqdenied";
  ASSERT_TRUE(log->Record(r).ok());
  const std::string line = sink.lines()[0];
  for (const char* canary :
       {"zqenv", "zqmissing", "zqscope", "zqproject", "zqdenied"}) {
    EXPECT_FALSE(absl::StrContains(line, canary)) << line;
  }
  EXPECT_TRUE(absl::StrContains(line, "\"code\":\"FAILED_PRECONDITION\""));
}

TEST(AuditLogTest, CoalescedSummariesCarryACount) {
  FakeClock clock;
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  AuditRecord r = SampleRecord();
  ASSERT_TRUE(log->Record(r).ok());
  r.count = 57;
  ASSERT_TRUE(log->Record(r).ok());
  EXPECT_FALSE(FlatRecord::Parse(sink.lines()[0])->Int("count").ok());
  EXPECT_EQ(*FlatRecord::Parse(sink.lines()[1])->Int("count"), 57);
}

TEST(AuditLogTest, HashNamesNeedAKeyOfTheRightSize) {
  FakeClock clock;
  MemoryAuditSink sink;
  AuditLogOptions options;
  options.hash_names = true;
  options.name_hash_key = SecretBytes::Random(4);
  EXPECT_TRUE(absl::IsInvalidArgument(
      AuditLog::Create(&sink, &clock, std::move(options)).status()));
}

TEST(AuditLogTest, SinkFailureIsUnavailableThenRecovers) {
  FakeClock clock;
  MemoryAuditSink sink;
  auto log = MakeLog(&sink, &clock);
  sink.SetFailing(true);
  EXPECT_TRUE(absl::IsUnavailable(log->Record(SampleRecord())));
  EXPECT_FALSE(sink.healthy());
  sink.SetFailing(false);
  EXPECT_TRUE(log->Record(SampleRecord()).ok());
  EXPECT_TRUE(sink.healthy());
  EXPECT_EQ(sink.lines().size(), 1u);
}

TEST(FileAuditSinkTest, AppendsLinesToA0600File) {
  FakeClock clock;
  const std::string path = FreshTempDir() + "/audit.log";
  auto sink = FileAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto log = MakeLog(sink->get(), &clock);
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  EXPECT_TRUE((*sink)->healthy());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_TRUE(FlatRecord::Parse(line).ok()) << line;
  }

  // A second sink on the same file appends rather than truncating.
  sink->reset();
  auto again = FileAuditSink::Open(path, {});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Write("{}").ok());
  EXPECT_EQ(ReadLines(path).size(), 3u);
}

// The failing-disk seam: the log path is a symlink to /dev/full (every
// write fails with ENOSPC); replacing it with a writable path must let the
// sink recover on its own at the next write.
TEST(FileAuditSinkTest, WriteFailureMakesItUnhealthyUntilThePathWorksAgain) {
  struct stat devfull;
  if (stat("/dev/full", &devfull) != 0) GTEST_SKIP() << "no /dev/full";
  FakeClock clock;
  const std::string path = FreshTempDir() + "/audit.log";
  ASSERT_EQ(symlink("/dev/full", path.c_str()), 0);
  auto sink = FileAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto log = MakeLog(sink->get(), &clock);

  absl::Status failed = log->Record(SampleRecord());
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_FALSE((*sink)->healthy());
  EXPECT_TRUE(absl::IsUnavailable(log->Record(SampleRecord())));
  EXPECT_FALSE((*sink)->healthy());

  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_TRUE(log->Record(SampleRecord()).ok());
  EXPECT_TRUE((*sink)->healthy());
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(FlatRecord::Parse(lines[0]).ok());
}

TEST(FileAuditSinkTest, UnopenablePathIsUnavailable) {
  auto sink = FileAuditSink::Open(FreshTempDir() + "/missing/audit.log", {});
  EXPECT_TRUE(absl::IsUnavailable(sink.status())) << sink.status();
}

TEST(FileAuditSinkTest, RefusesFifosWithoutBlocking) {
  const std::string path = FreshTempDir() + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  auto sink = FileAuditSink::Open(path, {});
  EXPECT_FALSE(sink.ok());
}

TEST(FileAuditSinkTest, ReopenFollowsLogRotation) {
  const std::string dir = FreshTempDir();
  const std::string path = dir + "/audit.log";
  auto sink = FileAuditSink::Open(path, {});
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write("{\"n\":1}").ok());
  ASSERT_EQ(rename(path.c_str(), (dir + "/audit.log.1").c_str()), 0);
  ASSERT_TRUE((*sink)->Reopen().ok());
  ASSERT_TRUE((*sink)->Write("{\"n\":2}").ok());
  EXPECT_THAT(ReadLines(path), ElementsAre("{\"n\":2}"));
  EXPECT_THAT(ReadLines(dir + "/audit.log.1"), ElementsAre("{\"n\":1}"));
}

}  // namespace
}  // namespace zlayer::secrets
