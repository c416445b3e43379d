#include "daemon/secret_memory.h"

#include <sys/resource.h>

#include <cstring>
#include <string>

#include "core/base/secret_bytes.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

void LogMemoryLockFailure(size_t bytes, int err) {
  struct rlimit limit;
  std::string soft = "unknown";
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) == 0) {
    soft = limit.rlim_cur == RLIM_INFINITY ? "unlimited"
                                           : std::to_string(limit.rlim_cur);
  }
  spdlog::warn(
      "event=memory_lock_failed bytes={} error=\"{}\" rlimit_memlock={} "
      "detail=\"mlock refused: secrets may be swapped to disk; raise "
      "RLIMIT_MEMLOCK (systemd: LimitMEMLOCK=) or grant CAP_IPC_LOCK. "
      "Logged once; later refusals are not logged\"",
      bytes, std::strerror(err), soft);
}

}  // namespace

void InstallMemoryLockWarning() {
  SetMemoryLockFailureHandler(&LogMemoryLockFailure);
}

}  // namespace zlayer::secrets
