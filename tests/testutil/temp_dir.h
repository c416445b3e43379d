// A fresh private directory for one test, under $TEST_TMPDIR (Bazel's
// per-test scratch space) or /tmp; Bazel removes it after the run.
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_TEMP_DIR_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_TEMP_DIR_H_

#include <string>

namespace zlayer::secrets::testing {

// Aborts the test binary if the directory cannot be made.
std::string MakeTempDir();

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_TEMP_DIR_H_
