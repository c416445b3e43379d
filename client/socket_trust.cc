#include "client/socket_trust.h"

#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace zlayer::secrets {
namespace {

// "uid 1001 (mallory)" or "uid 1001".
std::string DescribeUid(uid_t uid) {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &pw, buffer, sizeof(buffer), &found) == 0 &&
      found != nullptr && found->pw_name != nullptr) {
    return absl::StrCat("uid ", uid, " (", found->pw_name, ")");
  }
  return absl::StrCat("uid ", uid);
}

absl::optional<uid_t> LookUpUser(absl::string_view user) {
  uint32_t numeric = 0;
  if (absl::SimpleAtoi(user, &numeric)) return static_cast<uid_t>(numeric);
  struct passwd pw;
  struct passwd* found = nullptr;
  char buffer[4096];
  std::string name(user);
  if (::getpwnam_r(name.c_str(), &pw, buffer, sizeof(buffer), &found) == 0 &&
      found != nullptr) {
    return found->pw_uid;
  }
  return absl::nullopt;
}

bool Trusted(const SocketOwners& owners, uid_t uid) {
  return std::find(owners.uids.begin(), owners.uids.end(), uid) !=
         owners.uids.end();
}

std::string WhoIsTrusted(const SocketOwners& owners) {
  return absl::StrCat("root, you (uid ", ::geteuid(), ") or the daemon user '",
                      owners.daemon_user, "' (set ", kDaemonUserEnvVar,
                      " if the daemon runs as another user)");
}

// "/a/b" -> "/a"; "/a" -> "/"; "a" -> "."; trailing slashes ignored.
std::string Parent(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// The directory `dir` (a real path) and every directory above it.
absl::Status CheckDirectories(std::string dir, const SocketOwners& owners,
                              const std::string& shown) {
  while (true) {
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) {
      return absl::InternalError(absl::StrCat("cannot examine '", dir,
                                              "' (for socket ", shown,
                                              "): ", std::strerror(errno)));
    }
    if (!Trusted(owners, st.st_uid)) {
      return absl::PermissionDeniedError(
          absl::StrCat("refusing socket ", shown, ": directory '", dir,
                       "' is owned by ", DescribeUid(st.st_uid),
                       ", who could replace the socket; trusted "
                       "owners are ",
                       WhoIsTrusted(owners)));
    }
    if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
      return absl::PermissionDeniedError(absl::StrFormat(
          "refusing socket %s: directory '%s' (mode %04o) is writable by "
          "every user, any of whom could replace the socket",
          shown, dir, st.st_mode & 07777));
    }
    if (dir == "/") return absl::OkStatus();
    dir = Parent(dir);
  }
}

}  // namespace

SocketOwners TrustedSocketOwners(absl::string_view daemon_user) {
  SocketOwners owners;
  owners.daemon_user = std::string(daemon_user);
  if (owners.daemon_user.empty()) {
    std::string var(kDaemonUserEnvVar);
    const char* env = std::getenv(var.c_str());
    owners.daemon_user =
        env != nullptr && *env != '\0' ? env : std::string(kDefaultDaemonUser);
  }
  owners.uids.push_back(0);
  owners.uids.push_back(::geteuid());
  if (absl::optional<uid_t> uid = LookUpUser(owners.daemon_user)) {
    owners.uids.push_back(*uid);
  }
  return owners;
}

absl::StatusOr<std::string> VerifyUnixSocket(absl::string_view path,
                                             const SocketOwners& owners) {
  if (path.empty()) return absl::InvalidArgumentError("empty socket path");
  // Resolve the longest existing prefix; what is left does not exist yet.
  std::string existing(path);
  std::string tail;
  char resolved[PATH_MAX];
  while (::realpath(existing.c_str(), resolved) == nullptr) {
    if (errno != ENOENT) {
      return absl::InternalError(absl::StrCat("cannot resolve '", existing,
                                              "': ", std::strerror(errno)));
    }
    std::string base = BaseName(existing);
    tail = tail.empty() ? base : absl::StrCat(base, "/", tail);
    existing = Parent(existing);
  }
  std::string real = resolved;
  const std::string shown =
      real == path
          ? absl::StrCat("'", path, "'")
          : absl::StrCat("'", path, "' (-> ", real,
                         tail.empty() ? "" : absl::StrCat("/", tail), ")");
  if (!tail.empty()) {
    // Nothing to dial yet: whoever creates the socket must be able to
    // write the nearest existing directory.
    struct stat st;
    if (::stat(real.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket ", shown, ": '", real, "' is not a directory"));
    }
    absl::Status dirs = CheckDirectories(real, owners, shown);
    if (!dirs.ok()) return dirs;
    return real == "/" ? absl::StrCat("/", tail)
                       : absl::StrCat(real, "/", tail);
  }
  struct stat st;
  if (::lstat(real.c_str(), &st) != 0) {
    return absl::InternalError(absl::StrCat("cannot examine socket ", shown,
                                            ": ", std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, " is not a socket"));
  }
  if (!Trusted(owners, st.st_uid)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "refusing socket ", shown, ": it is owned by ", DescribeUid(st.st_uid),
        ", not by ", WhoIsTrusted(owners)));
  }
  absl::Status dirs = CheckDirectories(Parent(real), owners, shown);
  if (!dirs.ok()) return dirs;
  return real;
}

}  // namespace zlayer::secrets
