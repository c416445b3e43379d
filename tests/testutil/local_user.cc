#include "tests/testutil/local_user.h"

#include <pwd.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::testing {

absl::StatusOr<LocalUser> EnsureLocalUser(const std::string& name) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "needs root to create a second local user and switch to it (CI runs "
        "as root); skipped");
  }
  if (getpwnam(name.c_str()) == nullptr) {
    std::string out;
    absl::StatusOr<int> code =
        RunProgram({"/usr/sbin/useradd", "--system", "--no-create-home",
                    "--shell", "/usr/sbin/nologin", name},
                   &out);
    // A concurrent test may have created it between the check and useradd.
    if (!code.ok() || (*code != 0 && getpwnam(name.c_str()) == nullptr)) {
      return absl::InternalError(
          absl::StrCat("useradd ", name, " failed: ", out));
    }
  }
  const passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    return absl::NotFoundError(absl::StrCat("user ", name, " vanished"));
  }
  return LocalUser{pw->pw_uid, pw->pw_gid};
}

}  // namespace zlayer::secrets::testing
