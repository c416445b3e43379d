// Status assertions for tests: each evaluates its expression exactly once and
// prints the status on failure.
//
//   ASSERT_OK(store->SetSecret("s", "k", value, {}));
//   EXPECT_STATUS(store->GetSecret("s", "nope"), kNotFound);
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_STATUS_TESTING_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_STATUS_TESTING_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace zlayer::secrets::testing

#define EXPECT_STATUS(expr, code_name)                                       \
  do {                                                                       \
    const ::absl::Status zs_status =                                         \
        ::zlayer::secrets::testing::StatusOf(expr);                          \
    EXPECT_EQ(zs_status.code(), ::absl::StatusCode::code_name) << zs_status; \
  } while (0)

#define ASSERT_OK(expr)                             \
  do {                                              \
    const ::absl::Status zs_status =                \
        ::zlayer::secrets::testing::StatusOf(expr); \
    ASSERT_TRUE(zs_status.ok()) << zs_status;       \
  } while (0)

#define EXPECT_OK(expr)                             \
  do {                                              \
    const ::absl::Status zs_status =                \
        ::zlayer::secrets::testing::StatusOf(expr); \
    EXPECT_TRUE(zs_status.ok()) << zs_status;       \
  } while (0)

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_STATUS_TESTING_H_
