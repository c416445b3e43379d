#include "core/ops/export.h"

#include <string>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/format/env_file_format.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

class ExportTest : public ::testing::Test {
 protected:
  ExportTest() : memory_(&clock_), store_(&memory_) {}
  void Put(const std::string& scope, const std::string& name,
           const std::string& value) {
    ASSERT_OK(memory_.SetSecret(scope, name, SecretBytes::FromString(value), {})
                  .status());
  }
  FakeClock clock_;
  MemorySecretStore memory_;
  testing::FaultInjectingStore store_;
};

TEST_F(ExportTest, RendersEveryLiveSecretOfTheScopeOnly) {
  Put("shop", "A", "1");
  Put("shop", "B", "2");
  Put("shop", "B", "3");
  Put("shop", "GONE", "x");
  ASSERT_OK(memory_.DeleteSecret("shop", "GONE"));
  Put("other", "C", "4");
  auto out = ExportScope(&store_, "shop", SecretFileFormat::kDotenv);
  ASSERT_OK(out.status());
  const std::string content(out->content.InsecureView());
  EXPECT_NE(content.find("A=1"), std::string::npos) << content;
  EXPECT_NE(content.find("B=3"), std::string::npos) << content;
  EXPECT_EQ(content.find("GONE"), std::string::npos) << content;
  EXPECT_EQ(content.find("C="), std::string::npos) << content;
  ASSERT_EQ(out->read.size(), 2u);
  EXPECT_EQ(out->read[1].name, "B");
  EXPECT_EQ(out->versions[1], 2u);
}

TEST_F(ExportTest, FailedListingIsReturned) {
  Put("shop", "A", "1");
  store_.FailNextRead(absl::UnavailableError("busy"));
  EXPECT_STATUS(ExportScope(&store_, "shop", SecretFileFormat::kJson),
                kUnavailable);
}

TEST_F(ExportTest, FailedBatchReadAfterListingIsReturned) {
  Put("shop", "A", "1");
  store_.FailNextRead(absl::DataLossError("integrity"), /*after=*/1);
  EXPECT_STATUS(ExportScope(&store_, "shop", SecretFileFormat::kJson),
                kDataLoss);
}

}  // namespace
}  // namespace zlayer::secrets
