// Pinned resolution (Resolver::ResolvePinned, ApplyPins) against the memory
// store: exactly the receipt's versions, all or nothing.
#include <map>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/env/memory_environment_registry.h"
#include "core/resolve/resolver.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;

class PinnedResolveTest : public ::testing::Test {
 protected:
  PinnedResolveTest()
      : store_(&clock_), envs_(&clock_), resolver_(&store_, &envs_) {}

  void Put(const std::string& name, const std::string& value,
           uint32_t max_versions = 0) {
    WriteOptions options;
    options.max_versions = max_versions;
    ASSERT_TRUE(
        store_.SetSecret("shop", name, SecretBytes::FromString(value), options)
            .ok());
  }

  std::vector<ReceiptEntry> Receipt(
      const std::map<std::string, std::string>& env) {
    auto out = resolver_.Resolve(env, ctx_);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->receipt : std::vector<ReceiptEntry>{};
  }

  static std::string Value(const ResolvedEnv& out, const std::string& key) {
    auto it = out.values.find(key);
    if (it == out.values.end()) return "<missing>";
    return std::string(it->second.InsecureView());
  }

  static absl::Status AllowAll(const SecretKey&) { return absl::OkStatus(); }

  FakeClock clock_;
  MemorySecretStore store_;
  MemoryEnvironmentRegistry envs_;
  Resolver resolver_;
  ResolveContext ctx_{"shop", ""};
};

TEST_F(PinnedResolveTest, ResolvesTheReceiptsVersionsAfterRotation) {
  Put("db", "db-one");
  Put("cfg", R"({"user":"u1"})");
  const std::map<std::string, std::string> env = {
      {"DB", "$S:db"}, {"USER", "$S:cfg/user"}, {"PLAIN", "x"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  ASSERT_EQ(receipt.size(), 2u);
  Put("db", "db-two");
  Put("cfg", R"({"user":"u2"})");

  auto pinned = resolver_.ResolvePinned(env, ctx_, receipt, AllowAll);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(Value(*pinned, "DB"), "db-one");
  EXPECT_EQ(Value(*pinned, "USER"), "u1");
  EXPECT_EQ(Value(*pinned, "PLAIN"), "x");
  for (const ReceiptEntry& r : pinned->receipt) EXPECT_EQ(r.version, 1u);

  // Unpinned, the same map reads the current versions.
  auto current = resolver_.Resolve(env, ctx_);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(Value(*current, "DB"), "db-two");
  EXPECT_EQ(Value(*current, "USER"), "u2");
}

TEST_F(PinnedResolveTest, ASecretDestroyedAndCreatedAgainFailsItsPin) {
  Put("db", "first-life");
  const std::map<std::string, std::string> env = {{"DB", "$S:db"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  ASSERT_EQ(receipt.size(), 1u);
  ASSERT_FALSE(receipt[0].incarnation.empty());
  ASSERT_TRUE(store_.DestroySecret("shop", "db").ok());
  Put("db", "second-life");  // v1 again

  auto pinned = resolver_.ResolvePinned(env, ctx_, receipt, AllowAll);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(pinned.status().message(),
              HasSubstr("destroyed and created again"));
  EXPECT_THAT(pinned.status().message(), ::testing::Not(HasSubstr("life")));

  // A receipt from before incarnations (none recorded) still pins by version.
  receipt[0].incarnation.clear();
  auto legacy = resolver_.ResolvePinned(env, ctx_, receipt, AllowAll);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(Value(*legacy, "DB"), "second-life");
  // A malformed incarnation is the caller's error, not a gone version.
  std::vector<ReceiptEntry> bad = receipt;
  bad[0].incarnation = "not-hex";
  auto refused = resolver_.ResolvePinned(env, ctx_, bad, AllowAll);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  // A fresh receipt pins the new life.
  std::vector<ReceiptEntry> fresh = Receipt(env);
  auto again = resolver_.ResolvePinned(env, ctx_, fresh, AllowAll);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Value(*again, "DB"), "second-life");
}

TEST_F(PinnedResolveTest, GonePinnedVersionsFailTheWholeCallNamingEach) {
  Put("db", "db-one", /*max_versions=*/1);
  Put("token", "t-one");
  Put("api", "a-one");
  const std::map<std::string, std::string> env = {
      {"API", "$S:api"}, {"DB", "$S:db"}, {"TOKEN", "$S:token"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  Put("db", "db-two");  // prunes version 1 (keeps one version)
  ASSERT_TRUE(store_.DestroySecret("shop", "token").ok());

  std::vector<EntryError> errors;
  auto pinned =
      resolver_.ResolvePinned(env, ctx_, receipt, AllowAll, {}, &errors);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(pinned.status().message(), HasSubstr("DB"));
  EXPECT_THAT(pinned.status().message(), HasSubstr("TOKEN"));
  EXPECT_THAT(pinned.status().message(), HasSubstr("pinned version 1"));
  EXPECT_THAT(std::string(pinned.status().message()),
              ::testing::Not(HasSubstr("db-one")));  // no value leaks
  EXPECT_THAT(std::string(pinned.status().message()),
              ::testing::Not(HasSubstr("t-one")));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "DB");
  EXPECT_EQ(errors[1].key, "TOKEN");
}

TEST_F(PinnedResolveTest, ReferenceWithoutPinOrWithAnotherSecretIsRefused) {
  Put("db", "db-one");
  Put("other", "o-one");
  const std::map<std::string, std::string> env = {{"DB", "$S:db"},
                                                  {"OTHER", "$S:other"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  ASSERT_EQ(receipt.size(), 2u);

  std::vector<ReceiptEntry> partial = {receipt[0]};
  auto missing = resolver_.ResolvePinned(env, ctx_, partial, AllowAll);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("OTHER"));
  EXPECT_THAT(missing.status().message(), HasSubstr("not in the receipt"));

  std::vector<ReceiptEntry> swapped = receipt;
  swapped[0].target.name = "other";
  auto wrong = resolver_.ResolvePinned(env, ctx_, swapped, AllowAll);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("the receipt pins"));

  std::vector<ReceiptEntry> extra = receipt;
  extra.push_back(receipt[0]);
  extra.back().key = "NOT_IN_MAP";
  auto unknown = resolver_.ResolvePinned(env, ctx_, extra, AllowAll);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("NOT_IN_MAP"));

  std::vector<ReceiptEntry> unversioned = receipt;
  unversioned[1].version = 0;
  auto zero = resolver_.ResolvePinned(env, ctx_, unversioned, AllowAll);
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PinnedResolveTest, AccessIsCheckedForPinnedEntries) {
  Put("db", "db-one");
  const std::map<std::string, std::string> env = {{"DB", "$S:db"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  auto denied = resolver_.ResolvePinned(
      env, ctx_, receipt,
      [](const SecretKey&) { return absl::PermissionDeniedError("no"); });
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(PinnedResolveTest, ProviderWithoutPinnedReadsIsNotReadOneByOne) {
  Put("db", "db-one");
  const std::map<std::string, std::string> env = {{"DB", "$S:db"}};
  std::vector<ReceiptEntry> receipt = Receipt(env);
  // FaultInjectingStore does not forward ReadVersions: the default answers
  // Unimplemented, and the resolver does not fall back to current reads.
  testing::FaultInjectingStore faulty(&store_);
  Resolver resolver(&faulty, &envs_);
  auto out = resolver.ResolvePinned(env, ctx_, receipt, AllowAll);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace zlayer::secrets
