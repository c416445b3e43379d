// CredentialRecords: the record/value pairs behind the credential stores, on
// real stores, with the exact error codes and messages the stores promise.
#include "core/identity/credential_records.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/env/environment_registry.h"
#include "core/store/secret_store.h"
#include "gtest/gtest.h"
#include "tests/core/identity/identity_test_stores.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::MakeStore;
using ::zlayer::secrets::testing::StoreKind;

constexpr absl::string_view kMeta = "system:widgets_meta";
constexpr absl::string_view kValues = "system:widgets";

// A record is "<id>:<label>"; anything else is corrupt.
absl::optional<std::string> DecodeLabel(absl::string_view id,
                                        absl::string_view record) {
  if (!absl::ConsumePrefix(&record, absl::StrCat(id, ":"))) {
    return absl::nullopt;
  }
  return std::string(record);
}

class CredentialRecordsTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_ = MakeStore(GetParam(), &clock_);
    records_ = std::make_unique<CredentialRecords>(store_.get(), kMeta, kValues,
                                                   "widget");
  }

  // Writes straight to the store, bypassing CredentialRecords.
  void Write(absl::string_view scope, absl::string_view id,
             absl::string_view text) {
    ASSERT_OK(store_->SetSecret(scope, id, SecretBytes::FromString(text), {}));
  }

  FakeClock clock_;
  std::unique_ptr<SecretStore> store_;
  std::unique_ptr<CredentialRecords> records_;
};

TEST_P(CredentialRecordsTest, PutKeepsRecordAndValueApart) {
  const std::string id = NewUuidV4();
  ASSERT_OK(records_->Put(id, SecretBytes::FromString("s3cret"),
                          absl::StrCat(id, ":label")));

  absl::StatusOr<std::string> label = records_->GetRecord(id, &DecodeLabel);
  ASSERT_OK(label);
  EXPECT_EQ(*label, "label");
  absl::StatusOr<SecretBytes> value = records_->GetValue(id);
  ASSERT_OK(value);
  EXPECT_EQ(value->InsecureView(), "s3cret");

  absl::StatusOr<SecretBytes> meta = store_->GetSecret(kMeta, id);
  ASSERT_OK(meta);
  EXPECT_FALSE(absl::StrContains(meta->InsecureView(), "s3cret"));
}

TEST_P(CredentialRecordsTest, PutIsCreateOnly) {
  const std::string id = NewUuidV4();
  Write(kValues, id, "old value");
  EXPECT_STATUS(
      records_->Put(id, SecretBytes::FromString("new"), absl::StrCat(id, ":x")),
      kAlreadyExists);
  EXPECT_STATUS(store_->GetSecret(kMeta, id), kNotFound);
  EXPECT_EQ(store_->GetSecret(kValues, id)->InsecureView(), "old value");
}

TEST_P(CredentialRecordsTest, PutDestroysTheValueWhenTheRecordIsRefused) {
  const std::string id = NewUuidV4();
  Write(kMeta, id, absl::StrCat(id, ":taken"));
  EXPECT_STATUS(records_->Put(id, SecretBytes::FromString("orphan"),
                              absl::StrCat(id, ":x")),
                kAlreadyExists);
  EXPECT_STATUS(store_->GetSecret(kValues, id), kNotFound);
  EXPECT_EQ(*records_->GetRecord(id, &DecodeLabel), "taken");
}

TEST_P(CredentialRecordsTest, ErrorsNameTheNounAndTheId) {
  const std::string id = NewUuidV4();
  const std::string not_found = absl::StrCat("widget ", id, " not found");
  EXPECT_EQ(records_->GetRecord(id, &DecodeLabel).status(),
            absl::NotFoundError(not_found));
  EXPECT_EQ(records_->GetValue(id).status(), absl::NotFoundError(not_found));
  EXPECT_EQ(records_->Delete(id), absl::NotFoundError(not_found));

  const absl::Status bad_id =
      absl::InvalidArgumentError("credential id must be a UUID");
  EXPECT_EQ(CredentialRecords::CheckId("not-a-uuid"), bad_id);
  EXPECT_OK(CredentialRecords::CheckId(id));
  EXPECT_EQ(records_->GetRecord("not-a-uuid", &DecodeLabel).status(), bad_id);
  EXPECT_EQ(records_->GetValue("not-a-uuid").status(), bad_id);
  EXPECT_EQ(records_->Delete("not-a-uuid"), bad_id);
  EXPECT_EQ(records_->Put("not-a-uuid", SecretBytes::FromString("v"), "r"),
            bad_id);
}

TEST_P(CredentialRecordsTest, RejectedRecordIsDataLoss) {
  const std::string good = NewUuidV4();
  ASSERT_OK(records_->Put(good, SecretBytes::FromString("v"),
                          absl::StrCat(good, ":ok")));
  const std::string bad = NewUuidV4();
  // A record copied under another id is as corrupt as a malformed one.
  Write(kMeta, bad, absl::StrCat(good, ":ok"));

  const absl::Status corrupt =
      absl::DataLossError(absl::StrCat("corrupt widget '", bad, "'"));
  EXPECT_EQ(records_->GetRecord(bad, &DecodeLabel).status(), corrupt);
  EXPECT_EQ(records_->ListRecords(&DecodeLabel).status(), corrupt);
  EXPECT_OK(records_->GetRecord(good, &DecodeLabel));
}

TEST_P(CredentialRecordsTest, ListRecordsIsOrderedById) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string id = NewUuidV4();
    ASSERT_OK(records_->Put(id, SecretBytes::FromString("v"),
                            absl::StrCat(id, ":", id)));
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  absl::StatusOr<std::vector<std::string>> listed =
      records_->ListRecords(&DecodeLabel);
  ASSERT_OK(listed);
  EXPECT_EQ(*listed, ids);
}

TEST_P(CredentialRecordsTest, DeleteRemovesBothAndToleratesAMissingValue) {
  const std::string id = NewUuidV4();
  ASSERT_OK(
      records_->Put(id, SecretBytes::FromString("v"), absl::StrCat(id, ":a")));
  ASSERT_OK(records_->Delete(id));
  EXPECT_STATUS(store_->GetSecret(kMeta, id), kNotFound);
  EXPECT_STATUS(store_->GetSecret(kValues, id), kNotFound);
  EXPECT_STATUS(records_->Delete(id), kNotFound);

  const std::string record_only = NewUuidV4();
  Write(kMeta, record_only, absl::StrCat(record_only, ":no value"));
  EXPECT_OK(records_->Delete(record_only));
  EXPECT_TRUE(records_->ListRecords(&DecodeLabel)->empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, CredentialRecordsTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         testing::StoreKindName);

}  // namespace
}  // namespace zlayer::secrets
