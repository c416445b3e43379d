#include "core/ops/batch_read.h"

#include <string>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BatchReadTest : public ::testing::Test {
 protected:
  BatchReadTest() : memory_(&clock_), store_(&memory_) {}
  void Put(const std::string& name, const std::string& value) {
    ASSERT_OK(
        memory_.SetSecret("shop", name, SecretBytes::FromString(value), {})
            .status());
  }
  FakeClock clock_;
  MemorySecretStore memory_;
  testing::FaultInjectingStore store_;
};

TEST_F(BatchReadTest, FoundAndMissingInTheOrderAsked) {
  Put("b", "2");
  Put("a", "1");
  auto read =
      ReadSecrets(&store_, {{"shop", "b"}, {"shop", "x"}, {"shop", "a"}}, 0);
  ASSERT_OK(read.status());
  ASSERT_EQ(read->found.size(), 2u);
  EXPECT_EQ(read->found[0].name, "b");
  EXPECT_EQ(read->values[1].value.InsecureView(), "1");
  EXPECT_THAT(read->missing, ElementsAre("x"));
}

TEST_F(BatchReadTest, AnswerOverTheLimitIsRefusedNamingBothSizes) {
  Put("a", "0123456789");
  // "a" + 10 bytes = 11 > 10.
  auto read = ReadSecrets(&store_, {{"shop", "a"}}, 10);
  EXPECT_STATUS(read, kResourceExhausted);
  EXPECT_THAT(read.status().message(), HasSubstr("11 bytes"));
  EXPECT_THAT(read.status().message(), HasSubstr("limit is 10 bytes"));
  EXPECT_THAT(read.status().message(), ::testing::Not(HasSubstr("0123")));
}

TEST_F(BatchReadTest, SnapshotFailureIsReturned) {
  Put("a", "1");
  store_.FailNextRead(absl::UnavailableError("busy"));
  EXPECT_STATUS(ReadSecrets(&store_, {{"shop", "a"}}, 0), kUnavailable);
}

}  // namespace
}  // namespace zlayer::secrets
