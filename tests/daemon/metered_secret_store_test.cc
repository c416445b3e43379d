// MeteredSecretStore over MemorySecretStore: each op lands in its own
// latency histogram, errors pass through unchanged, and per-secret read
// counts appear only with name labels on, capped at kMaxNameLabels.
#include "daemon/metered_secret_store.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

std::string Count(const std::string& op, uint64_t n) {
  return absl::StrCat("zlayer_secrets_store_operation_seconds_count{backend=\"",
                      "memory\",op=\"", op, "\"} ", n, "\n");
}

TEST(MeteredSecretStoreTest, EachOperationIsTimedUnderItsOwnLabel) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  MemorySecretStore memory(&clock);
  MeteredSecretStore store(&memory, "memory", /*name_labels=*/false);
  ASSERT_TRUE(store
                  .SetSecret("s", "db-password", SecretBytes::FromString("v1"),
                             WriteOptions{})
                  .ok());
  ASSERT_TRUE(store.GetSecret("s", "db-password").ok());
  EXPECT_TRUE(absl::IsNotFound(store.GetSecret("s", "missing").status()));
  ASSERT_TRUE(store.DeleteSecret("s", "db-password").ok());

  std::string out;
  store.Collect(&out);
  EXPECT_TRUE(absl::StrContains(out, Count("set", 1))) << out;
  EXPECT_TRUE(absl::StrContains(out, Count("get", 2))) << out;
  EXPECT_TRUE(absl::StrContains(out, Count("delete", 1))) << out;
  EXPECT_TRUE(absl::StrContains(out, Count("list", 0))) << out;
  // Names off: neither the name nor the scope, nor the family.
  EXPECT_FALSE(absl::StrContains(out, "db-password")) << out;
  EXPECT_FALSE(absl::StrContains(out, "secret_reads")) << out;
}

TEST(MeteredSecretStoreTest, NameLabelsCountSuccessfulReadsUpToTheCap) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  MemorySecretStore memory(&clock);
  MeteredSecretStore store(&memory, "memory", /*name_labels=*/true);
  const size_t total = MeteredSecretStore::kMaxNameLabels + 5;
  for (size_t i = 0; i < total; ++i) {
    const std::string name = absl::StrCat("n", i);
    ASSERT_TRUE(store
                    .SetSecret("s", name,
                               SecretBytes::FromString("VAL-canary-77"),
                               WriteOptions{})
                    .ok());
    ASSERT_TRUE(store.GetSecret("s", name).ok());
  }
  ASSERT_TRUE(store.GetSecret("s", "n0").ok());
  // A name that does not exist is not a label (clients choose it).
  EXPECT_FALSE(store.GetSecret("s", "client-chosen").ok());
  // Nor are the daemon's internal records (an API key's id, say).
  ASSERT_TRUE(store
                  .SetSecret("system:api_keys", "key-id-4f2a",
                             SecretBytes::FromString("record"), WriteOptions{})
                  .ok());
  ASSERT_TRUE(store.GetSecret("system:api_keys", "key-id-4f2a").ok());

  std::string out;
  store.Collect(&out);
  EXPECT_TRUE(absl::StrContains(
      out, "zlayer_secrets_secret_reads_total{scope=\"s\",name=\"n0\"} 2\n"))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, "zlayer_secrets_secret_reads_total{scope=\"\",name=\"\"} 5\n"))
      << out;
  EXPECT_FALSE(absl::StrContains(out, "client-chosen"));
  EXPECT_FALSE(absl::StrContains(out, "key-id-4f2a"));
  EXPECT_FALSE(absl::StrContains(out, "system:"));
  EXPECT_FALSE(absl::StrContains(out, "VAL-canary-77"));
  size_t series = 0;
  for (size_t pos = 0; (pos = out.find("\nzlayer_secrets_secret_reads_total{",
                                       pos)) != std::string::npos;
       ++pos) {
    ++series;
  }
  EXPECT_EQ(series, MeteredSecretStore::kMaxNameLabels + 1);
}

}  // namespace
}  // namespace zlayer::secrets
