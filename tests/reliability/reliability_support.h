// Helpers for tests/reliability: the real zlayer-secretsd as a child process
// (its stderr appended to a log file that outlives restarts, optional
// resource limits), a client over its Unix socket, the SQLite file opened
// directly (read-only for checks, read-write for tampering), and small file
// utilities. Waits poll a condition until a deadline; none sleeps blindly.
//
//   TempDir dir;
//   auto daemon = DaemonChild::Start(DaemonChild::Options{dir.Sub("data"),
//                                    dir.Sub("d.sock"), dir.Sub("d.log")});
//   ASSERT_TRUE((*daemon)->WaitReady(absl::Seconds(20)).ok());
//   std::unique_ptr<SecretsClient> client = ConnectClient(dir.Sub("d.sock"));
#ifndef ZLAYER_SECRETS_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_
#define ZLAYER_SECRETS_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "client/secrets_client.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::reliability {

// A fresh directory /tmp/zr-XXXXXX (short: socket paths are limited to 108
// bytes), removed with its contents on destruction. Immutable flags set by a
// test must be cleared before.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// What the daemon child gets from the test's environment besides HOME and
// PATH: LD_LIBRARY_PATH (tools/tsan_absl.sh loads a TSan-built Abseil
// through it) and TSAN_OPTIONS. The daemon's TSan reports go to
// $TEST_UNDECLARED_OUTPUTS_DIR/tsan-daemon.PID (unless TSAN_OPTIONS names a
// log_path): its log is deleted with the test's TempDir, and a SIGKILLed
// daemon exits with no report status. Empty outside sanitizer runs.
std::vector<std::string> SanitizerEnv();

// Path of a runfile of this workspace ("daemon/zlayer-secretsd").
using testing::Runfile;

// The real daemon binary as a child process.
class DaemonChild {
 public:
  struct Options {
    std::string data_dir;
    std::string socket;
    std::string log_path;  // stdout+stderr are appended here
    std::vector<std::string> extra_args;
    // Soft RLIMIT_FSIZE set in the child before exec (hard stays unlimited,
    // so RaiseFileSizeLimit() can lift it later). Unset = inherited.
    absl::optional<uint64_t> file_size_limit;
    // Ignore SIGXFSZ in the child (inherited over exec).
    bool ignore_sigxfsz = false;
    // The binary ("" = the daemon from the runfiles).
    std::string binary;
    // Further "NAME=VALUE" entries of the child's environment.
    std::vector<std::string> extra_env;
    // Run the daemon as this uid/gid (the test must be root).
    absl::optional<uid_t> run_as_uid;
    absl::optional<gid_t> run_as_gid;
  };

  static absl::StatusOr<std::unique_ptr<DaemonChild>> Start(Options options);
  // SIGKILLs and reaps the child if it still runs.
  ~DaemonChild();

  // OK once the log shows event=ready; FailedPrecondition (with the log) if
  // the child exits first, DeadlineExceeded at the timeout.
  absl::Status WaitReady(absl::Duration timeout);
  void Signal(int sig);
  // The wait status (as from waitpid) once the child exited;
  // DeadlineExceeded if it still runs at the timeout.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);
  // True while the child has not been reaped and is not a zombie.
  bool Running();
  pid_t pid() const { return pid_; }
  // What this run appended to the log.
  std::string Log() const;
  // prlimit(2) on the running child: sets the soft RLIMIT_FSIZE.
  absl::Status SetFileSizeLimit(uint64_t bytes);

 private:
  DaemonChild(pid_t pid, std::string log_path, uint64_t log_offset)
      : pid_(pid), log_path_(std::move(log_path)), log_offset_(log_offset) {}

  pid_t pid_;
  std::string log_path_;
  uint64_t log_offset_;
  bool reaped_ = false;
  int status_ = 0;
};

// Exit code of a wait status, or 128 + signal.
int ExitCode(int wait_status);

// A client of the daemon at `socket` (5 s deadline unless given, waits for
// the daemon to be reachable).
// With `wait_for_ready` false, calls fail fast with UNAVAILABLE when the
// daemon is gone (after WaitForConnected succeeded once).
std::unique_ptr<SecretsClient> ConnectClient(
    const std::string& socket, absl::Duration deadline = absl::Seconds(10),
    bool wait_for_ready = true);

// A Target of a raw scope.
v1::Target ScopeTarget(const std::string& scope);

// Files.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);
absl::Status WriteFileBytes(const std::string& path, const std::string& bytes,
                            mode_t mode = 0600);
bool FileExists(const std::string& path);
// Copies `from` to `to` if `from` exists (OK and nothing done otherwise).
absl::Status CopyFileIfExists(const std::string& from, const std::string& to);
// RSS of a process in KiB (VmRSS in /proc/<pid>/status); 0 if unreadable.
int64_t VmRssKib(pid_t pid);

// Sets or clears the immutable attribute (chattr +i) of `path`.
// PermissionDenied/Unimplemented where the process or file system cannot.
absl::Status SetImmutable(const std::string& path, bool immutable);

// SQLite, directly.
// `PRAGMA integrity_check` of the file opened read-only: "ok" when sound.
std::string IntegrityCheck(const std::string& db_path);
// Rows of `sql` (each column as text/blob bytes; NULL as "") on a read-only
// connection.
absl::StatusOr<std::vector<std::vector<std::string>>> Query(
    const std::string& db_path, const std::string& sql);
// Runs `sql` on a read-write connection with `blobs` bound as ?1, ?2, ...;
// returns the number of rows changed.
absl::StatusOr<int> Exec(const std::string& db_path, const std::string& sql,
                         const std::vector<std::string>& blobs = {});

// Runs `argv` with `input` on stdin and exactly `env` as its environment,
// collecting stdout and stderr (testing::RunProcess).
using testing::ProcessResult;
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& input,
                         const std::map<std::string, std::string>& env);

}  // namespace zlayer::secrets::reliability

#endif  // ZLAYER_SECRETS_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_
