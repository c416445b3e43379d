#include "core/ops/secret_write.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

class SecretWriteTest : public ::testing::Test {
 protected:
  SecretWriteTest() : memory_(&clock_), store_(&memory_) {}

  absl::StatusOr<WriteOutcome> Write(const std::string& value,
                                     WriteOptions options = {}) {
    return WriteSecret(&store_, "shop", "db", SecretBytes::FromString(value),
                       options);
  }
  std::string Current() {
    auto read = memory_.GetSecret("shop", "db");
    return read.ok() ? std::string(read->InsecureView()) : "<none>";
  }

  FakeClock clock_;
  MemorySecretStore memory_;
  testing::FaultInjectingStore store_;
};

TEST_F(SecretWriteTest, FirstWriteCreatesAndSecondDoesNot) {
  auto first = Write("v1");
  ASSERT_OK(first.status());
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->metadata.version, 1u);
  auto second = Write("v2");
  ASSERT_OK(second.status());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->metadata.version, 2u);
  EXPECT_EQ(Current(), "v2");
}

TEST_F(SecretWriteTest, WriteOverSoftDeletedSecretCountsAsCreated) {
  ASSERT_OK(Write("v1").status());
  ASSERT_OK(memory_.DeleteSecret("shop", "db"));
  auto revived = Write("v2");
  ASSERT_OK(revived.status());
  EXPECT_TRUE(revived->created);
  EXPECT_EQ(revived->metadata.version, 2u);
}

TEST_F(SecretWriteTest, ExpectedVersionIsOneCheckAndSetWithoutRead) {
  ASSERT_OK(Write("v1").status());
  const int reads_before = store_.reads();
  WriteOptions create_only;
  create_only.expected_version = 0;
  EXPECT_STATUS(Write("v2", create_only), kAlreadyExists);
  WriteOptions at_one;
  at_one.expected_version = 1;
  auto written = Write("v2", at_one);
  ASSERT_OK(written.status());
  EXPECT_FALSE(written->created);
  EXPECT_EQ(store_.reads(), reads_before);
  EXPECT_EQ(Current(), "v2");
}

TEST_F(SecretWriteTest, ConcurrentWriterBetweenReadAndWriteIsRetried) {
  // The first check-and-set loses to another writer; the second wins.
  store_.FailNextWrite(absl::FailedPreconditionError("version moved"));
  auto written = Write("v1");
  ASSERT_OK(written.status());
  EXPECT_TRUE(written->created);
  EXPECT_EQ(store_.reads(), 2);   // the current version, read twice
  EXPECT_EQ(store_.writes(), 1);  // one write reached the store
  EXPECT_EQ(Current(), "v1");
}

TEST_F(SecretWriteTest, SustainedContentionEndsInOneUnconditionalWrite) {
  store_.FailNextWrite(absl::AlreadyExistsError("raced"), 0,
                       kCreateProbeAttempts);
  auto written = Write("v1");
  ASSERT_OK(written.status());
  EXPECT_EQ(store_.reads(), kCreateProbeAttempts);
  EXPECT_EQ(store_.writes(), 1);
  EXPECT_TRUE(written->created);  // version 1
  EXPECT_EQ(Current(), "v1");
}

TEST_F(SecretWriteTest, StoreWriteFailureIsReturnedAndNothingWritten) {
  store_.FailNextWrite(absl::UnavailableError("disk full"));
  EXPECT_STATUS(Write("v1"), kUnavailable);
  EXPECT_EQ(store_.writes(), 0);
  EXPECT_EQ(Current(), "<none>");
}

TEST_F(SecretWriteTest, FailedMetadataReadStopsBeforeAnyWrite) {
  store_.FailNextRead(absl::DataLossError("integrity"));
  EXPECT_STATUS(Write("v1"), kDataLoss);
  EXPECT_EQ(store_.writes(), 0);
  EXPECT_EQ(Current(), "<none>");
}

TEST_F(SecretWriteTest, RotateWithAnAffinitySetsItOnTheNextVersion) {
  ASSERT_OK(Write("v1").status());
  WriteOptions pin;
  pin.node_affinity = std::vector<std::string>{"node:n1"};
  auto rotated = RotateSecretWith(&store_, "shop", "db",
                                  SecretBytes::FromString("v2"), pin);
  ASSERT_OK(rotated.status());
  EXPECT_EQ(rotated->previous_version, 1u);
  EXPECT_EQ(rotated->new_version, 2u);
  EXPECT_EQ(Current(), "v2");
  EXPECT_EQ(memory_.GetMetadata("shop", "db")->node_affinity,
            std::vector<std::string>{"node:n1"});
  // Without one it is a plain rotation, which keeps the affinity.
  ASSERT_OK(RotateSecretWith(&store_, "shop", "db",
                             SecretBytes::FromString("v3"), {})
                .status());
  EXPECT_EQ(memory_.GetMetadata("shop", "db")->node_affinity,
            std::vector<std::string>{"node:n1"});
  // Like RotateSecret, nothing to rotate is NotFound and writes nothing.
  EXPECT_STATUS(RotateSecretWith(&store_, "shop", "nope",
                                 SecretBytes::FromString("x"), pin),
                kNotFound);
  EXPECT_STATUS(memory_.GetMetadata("shop", "nope"), kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets
