#include "tests/reliability/reliability_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace zlayer::secrets::reliability {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path);
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Fails the test binary if a daemon child left a TSan report (SanitizerEnv):
// a SIGKILLed daemon's reports would otherwise go unnoticed. A file with
// only print_suppressions' statistics is no report.
class DaemonTsanReportCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    if (outputs == nullptr) return;
    DIR* dir = ::opendir(outputs);
    if (dir == nullptr) return;
    while (const dirent* entry = ::readdir(dir)) {
      if (!absl::StartsWith(entry->d_name, "tsan-daemon.")) continue;
      std::string path = absl::StrCat(outputs, "/", entry->d_name);
      absl::StatusOr<std::string> report = ReadFileBytes(path);
      if (report.ok() && !absl::StrContains(*report, "WARNING: ") &&
          !absl::StrContains(*report, "ERROR: ") &&
          !absl::StrContains(*report, "CHECK failed")) {
        continue;
      }
      ADD_FAILURE() << "ThreadSanitizer report from a daemon child (" << path
                    << "):\n"
                    << (report.ok() ? *report : report.status().ToString());
    }
    ::closedir(dir);
  }
};

[[maybe_unused]] ::testing::Environment* const kDaemonTsanReportCheck =
    ::testing::AddGlobalTestEnvironment(new DaemonTsanReportCheck);

}  // namespace

std::vector<std::string> SanitizerEnv() {
  std::vector<std::string> env;
  if (const char* v = std::getenv("LD_LIBRARY_PATH")) {
    env.push_back(absl::StrCat("LD_LIBRARY_PATH=", v));
  }
  if (const char* v = std::getenv("TSAN_OPTIONS")) {
    std::string options = v;
    const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    if (outputs != nullptr && !absl::StrContains(options, "log_path=")) {
      absl::StrAppend(&options, options.empty() ? "" : ":",
                      "log_path=", outputs, "/tsan-daemon");
    }
    env.push_back(absl::StrCat("TSAN_OPTIONS=", options));
  }
  return env;
}

TempDir::TempDir() {
  char dir[] = "/tmp/zr-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  path_ = dir;
}

TempDir::~TempDir() {
  ::nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

absl::StatusOr<std::unique_ptr<DaemonChild>> DaemonChild::Start(
    Options options) {
  std::vector<std::string> args = {options.binary.empty()
                                       ? Runfile("daemon/zlayer-secretsd")
                                       : options.binary,
                                   "--data-dir",
                                   options.data_dir,
                                   "--key-dir",
                                   options.data_dir,
                                   "--socket",
                                   options.socket};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // A clean environment: the key comes from the data directory. Only what a
  // sanitizer run needs is passed through (SanitizerEnv).
  std::vector<std::string> env = {absl::StrCat("HOME=", options.data_dir),
                                  "PATH=/usr/bin:/bin"};
  for (std::string& e : SanitizerEnv()) env.push_back(std::move(e));
  env.insert(env.end(), options.extra_env.begin(), options.extra_env.end());
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = ::open(options.log_path.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return Errno("open " + options.log_path);
  uint64_t offset = FileSize(options.log_path);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // fork + exec (not posix_spawn) so the child can set its limits first;
  // between the two only async-signal-safe calls are made.
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    return Errno("fork");
  }
  if (pid == 0) {
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGXFSZ}) {
      ::signal(sig, SIG_DFL);
    }
    if (options.ignore_sigxfsz) ::signal(SIGXFSZ, SIG_IGN);
    if (options.file_size_limit.has_value()) {
      rlimit limit{static_cast<rlim_t>(*options.file_size_limit),
                   RLIM_INFINITY};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(126);
    }
    if (options.run_as_gid.has_value() && ::setgid(*options.run_as_gid) != 0) {
      ::_exit(125);
    }
    if (options.run_as_uid.has_value() && ::setuid(*options.run_as_uid) != 0) {
      ::_exit(125);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  return std::unique_ptr<DaemonChild>(
      new DaemonChild(pid, options.log_path, offset));
}

DaemonChild::~DaemonChild() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string DaemonChild::Log() const {
  absl::StatusOr<std::string> text = ReadFileBytes(log_path_);
  if (!text.ok() || text->size() < log_offset_) return "";
  return text->substr(log_offset_);
}

absl::Status DaemonChild::WaitReady(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (absl::StrContains(Log(), "event=ready")) return absl::OkStatus();
    if (!Running()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "daemon exited (status ", status_, ") before it was ready: ", Log()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("daemon not ready: ", Log()));
    }
    ::poll(nullptr, 0, 2);
  }
}

void DaemonChild::Signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

bool DaemonChild::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

absl::StatusOr<int> DaemonChild::WaitExit(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("daemon still running");
    }
    ::poll(nullptr, 0, 2);
  }
  return status_;
}

absl::Status DaemonChild::SetFileSizeLimit(uint64_t bytes) {
  rlimit limit{static_cast<rlim_t>(bytes), RLIM_INFINITY};
  if (::prlimit(pid_, RLIMIT_FSIZE, &limit, nullptr) != 0) {
    return Errno("prlimit");
  }
  return absl::OkStatus();
}

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::unique_ptr<SecretsClient> ConnectClient(const std::string& socket,
                                             absl::Duration deadline,
                                             bool wait_for_ready) {
  ClientOptions options;
  options.address = "unix:" + socket;
  options.default_deadline = deadline;
  options.wait_for_ready = wait_for_ready;
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(std::move(options));
  if (!client.ok()) return nullptr;
  if (!wait_for_ready && !(*client)->WaitForConnected(deadline).ok()) {
    return nullptr;
  }
  return *std::move(client);
}

absl::Status SetImmutable(const std::string& path, bool immutable) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Errno("open " + path);
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    absl::Status s = absl::UnimplementedError(
        absl::StrCat("FS_IOC_GETFLAGS: ", std::strerror(errno)));
    ::close(fd);
    return s;
  }
  flags = immutable ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
    absl::Status s = absl::PermissionDeniedError(
        absl::StrCat("FS_IOC_SETFLAGS: ", std::strerror(errno)));
    ::close(fd);
    return s;
  }
  ::close(fd);
  return absl::OkStatus();
}

v1::Target ScopeTarget(const std::string& scope) {
  v1::Target target;
  target.set_scope(scope);
  return target;
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status WriteFileBytes(const std::string& path, const std::string& bytes,
                            mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("open " + path);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Errno("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  ::close(fd);
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status CopyFileIfExists(const std::string& from, const std::string& to) {
  if (!FileExists(from)) return absl::OkStatus();
  absl::StatusOr<std::string> bytes = ReadFileBytes(from);
  if (!bytes.ok()) return bytes.status();
  return WriteFileBytes(to, *bytes);
}

int64_t VmRssKib(pid_t pid) {
  absl::StatusOr<std::string> status =
      ReadFileBytes(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(line, &kib)) return kib;
  }
  return 0;
}

namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

absl::Status OpenDb(const std::string& path, bool writable, Db* out) {
  int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  int rc = sqlite3_open_v2(path.c_str(), &out->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("open ", path, ": ", sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(out->db, 5000);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::vector<std::string>>> Query(
    const std::string& db_path, const std::string& sql) {
  Db db;
  absl::Status opened = OpenDb(db_path, /*writable=*/false, &db);
  if (!opened.ok()) return opened;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(sqlite3_errmsg(db.db));
  }
  std::vector<std::vector<std::string>> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const void* blob = sqlite3_column_blob(stmt, i);
      int size = sqlite3_column_bytes(stmt, i);
      row.emplace_back(blob ? static_cast<const char*>(blob) : "",
                       blob ? static_cast<size_t>(size) : 0);
    }
    rows.push_back(std::move(row));
  }
  std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db.db);
  sqlite3_finalize(stmt);
  if (!error.empty()) return absl::InternalError(error);
  return rows;
}

std::string IntegrityCheck(const std::string& db_path) {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows =
      Query(db_path, "PRAGMA integrity_check");
  if (!rows.ok()) return std::string(rows.status().message());
  std::string out;
  for (const auto& row : *rows) {
    for (const auto& col : row)
      absl::StrAppend(&out, out.empty() ? "" : "; ", col);
  }
  return out;
}

absl::StatusOr<int> Exec(const std::string& db_path, const std::string& sql,
                         const std::vector<std::string>& blobs) {
  Db db;
  absl::Status opened = OpenDb(db_path, /*writable=*/true, &db);
  if (!opened.ok()) return opened;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(sqlite3_errmsg(db.db));
  }
  for (size_t i = 0; i < blobs.size(); ++i) {
    sqlite3_bind_blob(stmt, static_cast<int>(i + 1), blobs[i].data(),
                      static_cast<int>(blobs[i].size()), SQLITE_TRANSIENT);
  }
  int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    return absl::InternalError(sqlite3_errmsg(db.db));
  }
  return sqlite3_changes(db.db);
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& input,
                         const std::map<std::string, std::string>& env) {
  std::vector<std::string> entries;
  for (const auto& [k, v] : env) entries.push_back(absl::StrCat(k, "=", v));
  return testing::RunProcess(argv, input, entries);
}

}  // namespace zlayer::secrets::reliability
