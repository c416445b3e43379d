#include "core/ops/import.h"

#include <string>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/format/env_file_format.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;

class ImportTest : public ::testing::Test {
 protected:
  ImportTest() : memory_(&clock_), store_(&memory_) {}
  void Put(const std::string& name, const std::string& value) {
    ASSERT_OK(
        memory_.SetSecret("shop", name, SecretBytes::FromString(value), {})
            .status());
  }
  std::string Current(const std::string& name) {
    auto read = memory_.GetSecret("shop", name);
    return read.ok() ? std::string(read->InsecureView()) : "<none>";
  }
  absl::StatusOr<ImportOutcome> Import(const std::string& file,
                                       bool dry_run = false) {
    return ImportIntoScope(&store_, "shop", file, SecretFileFormat::kDotenv,
                           /*max_value_bytes=*/16, dry_run);
  }
  FakeClock clock_;
  MemorySecretStore memory_;
  testing::FaultInjectingStore store_;
};

TEST_F(ImportTest, DiffsAndWritesOnlyWhatChanged) {
  Put("SAME", "1");
  Put("CHANGED", "old");
  auto out = Import("SAME=1\nCHANGED=new\nNEW=x\n");
  ASSERT_OK(out.status());
  EXPECT_TRUE(out->applied);
  EXPECT_EQ(out->created, 1u);
  EXPECT_EQ(out->updated, 1u);
  EXPECT_EQ(out->unchanged, 1u);
  ASSERT_EQ(out->changes.size(), 3u);
  EXPECT_EQ(out->changes[0].action, ImportAction::kUnchanged);
  EXPECT_EQ(out->changes[2].line, 3u);
  EXPECT_EQ(out->written.size(), 2u);
  EXPECT_EQ(store_.writes(), 2);
  EXPECT_EQ(Current("CHANGED"), "new");
  EXPECT_EQ(Current("NEW"), "x");
}

TEST_F(ImportTest, DryRunWritesNothing) {
  auto out = Import("NEW=x\n", /*dry_run=*/true);
  ASSERT_OK(out.status());
  EXPECT_FALSE(out->applied);
  EXPECT_EQ(out->created, 1u);
  EXPECT_EQ(store_.writes(), 0);
  EXPECT_EQ(Current("NEW"), "<none>");
}

TEST_F(ImportTest, EntryOverTheValueLimitFailsTheWholeFile) {
  auto out = Import("A=ok\nB=this-value-is-far-too-long\n");
  ASSERT_OK(out.status());
  EXPECT_FALSE(out->applied);
  ASSERT_EQ(out->errors.size(), 1u);
  EXPECT_THAT(out->errors[0], HasSubstr("line 2"));
  EXPECT_EQ(out->errors[0].find("far-too-long"), std::string::npos);
  EXPECT_EQ(store_.reads(), 0);
  EXPECT_EQ(Current("A"), "<none>");
}

TEST_F(ImportTest, FailedWriteStopsAndNamesWhatWasWritten) {
  store_.FailNextWrite(absl::UnavailableError("disk full"), /*after=*/1);
  auto out = Import("A=1\nB=2\nC=3\n");
  EXPECT_STATUS(out, kUnavailable);
  EXPECT_THAT(out.status().message(), HasSubstr("import stopped at line 2"));
  EXPECT_THAT(out.status().message(), HasSubstr("written before it (1): A"));
  EXPECT_EQ(Current("A"), "1");
  EXPECT_EQ(Current("B"), "<none>");
  EXPECT_EQ(Current("C"), "<none>");
}

TEST_F(ImportTest, ConcurrentWriterIsReportedAsChange) {
  store_.FailNextWrite(absl::FailedPreconditionError("version moved"));
  auto out = Import("A=1\n");
  EXPECT_STATUS(out, kFailedPrecondition);
  EXPECT_THAT(out.status().message(),
              HasSubstr("it changed while the import ran"));
}

TEST_F(ImportTest, FailedSnapshotReadIsReturned) {
  store_.FailNextRead(absl::DataLossError("integrity"));
  EXPECT_STATUS(Import("A=1\n"), kDataLoss);
  EXPECT_EQ(store_.writes(), 0);
}

}  // namespace
}  // namespace zlayer::secrets
