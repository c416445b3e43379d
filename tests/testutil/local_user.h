// A throwaway local user for tests that run programs, or connect, as a
// second uid. Creating one needs root (CI runs as root); without root the
// error is the reason to skip the test.
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_LOCAL_USER_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_LOCAL_USER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace zlayer::secrets::testing {

struct LocalUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Creates the system user `name` (useradd --system --no-create-home, shell
// nologin), or reuses it if it exists, and returns its ids.
// FAILED_PRECONDITION when not root (its message is the reason to skip);
// INTERNAL when useradd fails (with its output); NOT_FOUND if the user is
// gone right after.
absl::StatusOr<LocalUser> EnsureLocalUser(const std::string& name);

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_LOCAL_USER_H_
