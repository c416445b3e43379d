// Helpers for tests/daemon: short temporary directories (Unix socket paths
// are limited to 108 bytes), a test-only gRPC service, health checks, TLS
// material made with the openssl CLI, and a zlayer-secretsd child process
// whose log lines the test can wait for. Nothing here sleeps: every wait is
// on a condition with a deadline.
#ifndef ZLAYER_SECRETS_TESTS_DAEMON_TEST_SUPPORT_H_
#define ZLAYER_SECRETS_TESTS_DAEMON_TEST_SUPPORT_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/rpc/service_context.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/daemon/daemon_testing.grpc.pb.h"

namespace zlayer::secrets::testing {

// A fresh directory /tmp/zs-XXXXXX, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

absl::Status WriteFile(const std::string& path, const std::string& text,
                       mode_t mode = 0600);
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Answers Identify through `identifier` (may be null: only the peer string
// is reported) and holds Hold calls until Release().
class TestingService final
    : public zlayer::secrets::testing::DaemonTesting::Service {
 public:
  explicit TestingService(const CallerIdentifier* identifier = nullptr)
      : identifier_(identifier) {}

  grpc::Status Identify(grpc::ServerContext* context,
                        const IdentifyRequest* request,
                        IdentifyResponse* response) override;
  grpc::Status Hold(grpc::ServerContext* context, const HoldRequest* request,
                    HoldResponse* response) override;

  // True once `n` Hold calls have started, false at the deadline.
  bool WaitForHolds(int n, absl::Duration timeout);
  void Release();

 private:
  const CallerIdentifier* identifier_;
  absl::Mutex mu_;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// A channel to a Unix socket path.
std::shared_ptr<grpc::Channel> UnixChannel(const std::string& socket_path);

// grpc.health.v1.Health/Check: the status enum value, or the call's error.
absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
            const std::string& service, absl::Duration timeout);

// TLS files made by the openssl CLI in `dir`: a CA, a server certificate for
// localhost/127.0.0.1 and a client certificate, all signed by the CA.
struct TlsMaterial {
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
};
// `prefix` keeps several sets apart in one directory.
absl::StatusOr<TlsMaterial> MakeTlsMaterial(const std::string& dir,
                                            const std::string& prefix);

// A zlayer-secretsd child process (the binary from the test's runfiles)
// with stderr captured.
class DaemonProcess {
 public:
  // Starts the daemon with `args` and a clean environment (HOME=home).
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::vector<std::string>& args, const std::string& home);
  // Kills (SIGKILL) and reaps the child if it still runs.
  ~DaemonProcess();

  pid_t pid() const { return pid_; }
  // Waits until a log line contains `text`; returns that line. DeadlineExceeded
  // at the timeout, FailedPrecondition if the process exits first.
  absl::StatusOr<std::string> WaitForLog(const std::string& text,
                                         absl::Duration timeout);
  // Waits for the exit status (as from waitpid) up to `timeout`.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  void Signal(int sig);
  // Everything read from stderr so far.
  std::string Stderr() const { return output_; }

 private:
  DaemonProcess(pid_t pid, int stderr_fd, int pidfd)
      : pid_(pid), stderr_fd_(stderr_fd), pidfd_(pidfd) {}
  // Reads what is available within `timeout`; false at EOF.
  bool ReadSome(absl::Duration timeout);

  pid_t pid_;
  int stderr_fd_;
  int pidfd_;
  bool exited_ = false;
  int exit_status_ = 0;
  bool eof_ = false;
  std::string output_;
};

// Path of a data dependency ("client/zlayer-secret") in the runfiles.
std::string Runfile(const std::string& path);

// Path of //daemon:zlayer-secretsd in the runfiles.
std::string DaemonBinaryPath();

// What RunProcess collected.
struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed; -1 when it did not start
  std::string out;
  std::string err;
};

// Runs `argv` (no shell) with `input` on stdin and `env` ("K=V" entries) as
// its whole environment, and collects stdout and stderr. poll() keeps every
// pipe moving, so a child with much output never blocks; a child silent for
// 60 s is killed. Failures to start are reported in `err`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& input,
                         const std::vector<std::string>& env);

// Runs `args` (no shell) and returns its exit code plus its output.
absl::StatusOr<int> RunProgram(const std::vector<std::string>& args,
                               std::string* output);

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_DAEMON_TEST_SUPPORT_H_
