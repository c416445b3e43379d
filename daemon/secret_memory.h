// Reports, in the daemon's log, that secrets could not be locked in memory.
//
// core/base/secret_bytes.h locks the memory of every secret with mlock, best
// effort: without CAP_IPC_LOCK the kernel refuses past RLIMIT_MEMLOCK
// (often 64 KiB, or 8 MiB under systemd), and the secrets then live in
// swappable pages. InstallMemoryLockWarning() makes that visible: the first
// refusal in the process logs one warning naming RLIMIT_MEMLOCK and what to
// change (LimitMEMLOCK= in the systemd unit); later ones are only counted
// (MemoryLockFailures()).
//
//   InstallMemoryLockWarning();  // once, early in the daemon's start
//
// Thread-safe.
#ifndef ZLAYER_SECRETS_DAEMON_SECRET_MEMORY_H_
#define ZLAYER_SECRETS_DAEMON_SECRET_MEMORY_H_

namespace zlayer::secrets {

// Logs (spdlog, level warn) the first mlock refusal of this process, also
// one that happened before the call.
void InstallMemoryLockWarning();

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_SECRET_MEMORY_H_
