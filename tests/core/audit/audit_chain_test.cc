// The audit hash chain on a real file: every kind of tampering is found by
// VerifyAuditChain, and the chain continues across restarts and rotations.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/audit/audit_log.h"
#include "core/base/clock.h"
#include "core/identity/identity_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

void WriteLines(const std::string& path, const std::vector<std::string>& l) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : l) out << line << "\n";
}

class AuditChainTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::MakeTempDir() + "/audit.log"; }

  // A daemon run: opens the log, continues the chain, writes `n` records.
  void Run(int n) {
    auto sink = FileAuditSink::Open(path_, {});
    ASSERT_OK(sink);
    AuditLogOptions options;
    options.chain = true;
    auto start = LoadAuditChainHead(path_);
    ASSERT_OK(start);
    options.chain_start = *start;
    options.head_path = AuditHeadPath(path_);
    auto log = AuditLog::Create(sink->get(), &clock_, std::move(options));
    ASSERT_OK(log);
    for (int i = 0; i < n; ++i) {
      AuditRecord r;
      r.subject = absl::StrCat("uid:", 1000 + i);
      r.rpc = "GetSecret";
      r.scope = "prod";
      r.name = "db";
      ASSERT_OK((*log)->Record(r));
    }
  }

  absl::StatusOr<AuditVerifyReport> Verify(
      const std::vector<std::string>& files) {
    return VerifyAuditChain(files, AuditHeadPath(path_));
  }

  void ExpectDamage(const std::string& what, const std::string& where) {
    auto report = Verify({path_});
    EXPECT_STATUS(report, kDataLoss);
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(what));
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(where));
  }

  FakeClock clock_;
  std::string path_;
};

TEST_F(AuditChainTest, RecordsCarrySeqAndPrevHash) {
  Run(3);
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 3u);
  std::string prev(64, '0');
  for (size_t i = 0; i < lines.size(); ++i) {
    auto record = FlatRecord::Parse(lines[i]);
    ASSERT_OK(record);
    EXPECT_EQ(*record->Int("seq"), static_cast<int64_t>(i + 1));
    EXPECT_EQ(*record->String("prev"), prev);
    prev = AuditLineHash(lines[i]);
  }
  auto report = Verify({path_});
  ASSERT_OK(report);
  EXPECT_EQ(report->records, 3u);
  EXPECT_TRUE(report->head_checked);
  EXPECT_EQ(report->last.seq, 3u);
}

TEST_F(AuditChainTest, PeerAndDurationAreRecordedWhenKnown) {
  MemoryAuditSink sink;
  auto log = AuditLog::Create(&sink, &clock_, {});
  ASSERT_OK(log);
  AuditRecord r;
  r.rpc = "GetSecret";
  ASSERT_OK((*log)->Record(r));  // neither known: neither field
  r.peer = "pid:4242";
  r.duration = absl::Microseconds(812);
  ASSERT_OK((*log)->Record(r));
  auto first = FlatRecord::Parse(sink.lines()[0]);
  auto second = FlatRecord::Parse(sink.lines()[1]);
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_FALSE(first->Has("peer"));
  EXPECT_FALSE(first->Has("duration_us"));
  EXPECT_FALSE(first->Has("seq"));  // not chained
  EXPECT_EQ(*second->String("peer"), "pid:4242");
  EXPECT_EQ(*second->Int("duration_us"), 812);
}

TEST_F(AuditChainTest, RestartContinuesTheChain) {
  Run(3);
  Run(2);  // a second daemon run
  std::vector<std::string> lines = ReadLines(path_);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(*FlatRecord::Parse(lines[3])->Int("seq"), 4);
  EXPECT_EQ(*FlatRecord::Parse(lines[3])->String("prev"),
            AuditLineHash(lines[2]));
  auto report = Verify({path_});
  ASSERT_OK(report);
  EXPECT_EQ(report->records, 5u);
}

TEST_F(AuditChainTest, RotationCarriesTheHashIntoTheNextFile) {
  Run(3);
  const std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  Run(2);  // restarted after the rotation: a fresh file
  std::vector<std::string> old_lines = ReadLines(rotated);
  std::vector<std::string> new_lines = ReadLines(path_);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(*FlatRecord::Parse(new_lines[0])->Int("seq"), 4);
  EXPECT_EQ(*FlatRecord::Parse(new_lines[0])->String("prev"),
            AuditLineHash(old_lines.back()));
  ASSERT_OK(Verify({rotated, path_}));
  // The current file alone verifies, noting where it starts.
  auto alone = Verify({path_});
  ASSERT_OK(alone);
  EXPECT_EQ(alone->first_seq, 4u);
  // Out of order files are reordering.
  EXPECT_STATUS(Verify({path_, rotated}), kDataLoss);
  // A rotated file with its last record removed breaks the link.
  old_lines.pop_back();
  WriteLines(rotated, old_lines);
  auto broken = Verify({rotated, path_});
  EXPECT_STATUS(broken, kDataLoss);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("deleted"));
}

TEST_F(AuditChainTest, EditedRecordIsFound) {
  Run(6);
  std::vector<std::string> lines = ReadLines(path_);
  lines[2] = absl::StrReplaceAll(lines[2], {{"uid:1002", "uid:0"}});
  WriteLines(path_, lines);
  ExpectDamage("edited: seq 3", "audit.log:3");
}

TEST_F(AuditChainTest, EditedLastRecordIsFoundThroughTheHead) {
  Run(4);
  std::vector<std::string> lines = ReadLines(path_);
  lines[3] = absl::StrReplaceAll(lines[3], {{"uid:1003", "uid:0"}});
  WriteLines(path_, lines);
  ExpectDamage("edited: seq 4", "audit.log:4");
}

TEST_F(AuditChainTest, DeletedRecordIsFound) {
  Run(6);
  std::vector<std::string> lines = ReadLines(path_);
  lines.erase(lines.begin() + 2);
  WriteLines(path_, lines);
  ExpectDamage("deleted: seq 3 missing", "audit.log:3");
}

TEST_F(AuditChainTest, ReorderedRecordsAreFound) {
  Run(6);
  std::vector<std::string> lines = ReadLines(path_);
  std::swap(lines[2], lines[3]);
  WriteLines(path_, lines);
  ExpectDamage("reordered", "audit.log:3");
}

TEST_F(AuditChainTest, TruncatedTailIsFound) {
  Run(6);
  std::vector<std::string> lines = ReadLines(path_);
  lines.resize(4);
  WriteLines(path_, lines);
  ExpectDamage("truncated: the log ends at seq 4", "audit.log:4");
}

TEST_F(AuditChainTest, RecordCutInTheMiddleIsFound) {
  Run(3);
  std::vector<std::string> lines = ReadLines(path_);
  std::ofstream out(path_, std::ios::trunc);
  out << lines[0] << "\n" << lines[1] << "\n" << lines[2].substr(0, 30);
  out.close();
  ExpectDamage("truncated", "audit.log:3");
}

TEST_F(AuditChainTest, ForgedFirstRecordIsFound) {
  Run(3);
  std::vector<std::string> lines = ReadLines(path_);
  lines.erase(lines.begin());  // drop seq 1 and renumber nothing
  WriteLines(path_, lines);
  // Starting at seq 2 alone is allowed (earlier files not given) but the
  // head still matches; a seq 1 with a non-zero prev is refused.
  ASSERT_OK(Verify({path_}));
  lines = ReadLines(path_);
  lines[0] = absl::StrReplaceAll(lines[0], {{"\"seq\":2", "\"seq\":1"}});
  WriteLines(path_, lines);
  EXPECT_STATUS(Verify({path_}), kDataLoss);
}

}  // namespace
}  // namespace zlayer::secrets
