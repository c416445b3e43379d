// A refused mlock is logged once, naming RLIMIT_MEMLOCK (issue 19, memory).
//
// A forked child drops CAP_IPC_LOCK (root would otherwise lock past any
// limit), lowers RLIMIT_MEMLOCK to 16 KiB, installs the daemon's warning with
// a capturing spdlog sink and allocates secrets in several size classes and
// a large guarded one: every new slab and region is refused, and the log
// must hold exactly one warning.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/secret_bytes.h"
#include "daemon/secret_memory.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

bool DropIpcLock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  for (auto& d : data) {
    d.effective &= ~(1u << CAP_IPC_LOCK);
    d.permitted &= ~(1u << CAP_IPC_LOCK);
  }
  return ::syscall(SYS_capset, &header, data) == 0;
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Runs in the child; returns what the parent checks, one item per line.
std::string RunLowLimit() {
  if (!DropIpcLock()) return "capset failed";
  rlimit limit{16 << 10, 16 << 10};
  if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) return "setrlimit failed";

  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("t", sink));
  InstallMemoryLockWarning();

  std::vector<SecretBytes> held;
  // 3,000 blocks of 32 bytes need more than one 64 KiB slab; then other
  // classes, and guarded regions.
  for (int i = 0; i < 3000; ++i) held.push_back(SecretBytes::Random(32));
  for (size_t size : {100, 1000, 4000}) {
    for (int i = 0; i < 40; ++i) held.push_back(SecretBytes::Random(size));
  }
  held.push_back(SecretBytes::Guarded(32));
  held.push_back(SecretBytes::Random(64 << 10));
  sink->flush();
  const std::string log = captured.str();
  std::ostringstream out;
  out << "warnings=" << CountOf(log, "event=memory_lock_failed") << "\n"
      << "names_limit=" << (CountOf(log, "RLIMIT_MEMLOCK") > 0) << "\n"
      << "names_unit=" << (CountOf(log, "LimitMEMLOCK=") > 0) << "\n"
      << "failures_gt_1=" << (MemoryLockFailures() > 1) << "\n";
  return out.str();
}

TEST(MemoryLockTest, RefusedMlockIsLoggedExactlyOnce) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string result = RunLowLimit();
    (void)!::write(fds[1], result.data(), result.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string result;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) result.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(result,
            "warnings=1\nnames_limit=1\nnames_unit=1\nfailures_gt_1=1\n");
}

}  // namespace
}  // namespace zlayer::secrets
