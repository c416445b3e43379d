#include "daemon/process_setup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

absl::Status ErrnoStatus(absl::string_view what, absl::string_view path,
                         int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

}  // namespace

void BlockDaemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Writes to a closed peer must be errors, not process death.
  signal(SIGPIPE, SIG_IGN);
  // Likewise a write past RLIMIT_FSIZE (systemd LimitFSIZE=, ulimit -f):
  // SQLite then sees EFBIG and the write fails with UNAVAILABLE, where the
  // default action would kill the daemon (and ask for a core dump).
  signal(SIGXFSZ, SIG_IGN);
}

absl::Status DisableCoreDumps() {
  rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    return ErrnoStatus("setrlimit", "RLIMIT_CORE", errno);
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return ErrnoStatus("prctl", "PR_SET_DUMPABLE", errno);
  }
  return absl::OkStatus();
}

rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("event=nofile_limit error=\"{}\"", std::strerror(errno));
    return 1024;
  }
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    } else {
      spdlog::warn("event=nofile_limit_raise_failed error=\"{}\"",
                   std::strerror(errno));
    }
  }
  spdlog::info("event=nofile_limit soft_before={} soft={} hard={}", before,
               limit.rlim_cur, limit.rlim_max);
  return limit.rlim_cur;
}

absl::Status MakeDirectories(const std::string& path, mode_t mode) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(MakeDirectories(path.substr(0, slash), mode));
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", path, errno);
  }
  if (chmod(path.c_str(), mode) != 0) return ErrnoStatus("chmod", path, errno);
  return absl::OkStatus();
}

absl::Status PrepareDataDir(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoStatus("stat", dir, errno);
  if ((st.st_mode & 0077) != 0) {
    spdlog::warn(
        "event=data_dir_permissions path={} mode={:o} advice=\"chmod 0700\"",
        dir, st.st_mode & 0777);
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
