#include "core/audit/audit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kNameHashBytes = 16;

absl::Status ErrnoUnavailable(absl::string_view what, const std::string& path,
                              int err) {
  return absl::UnavailableError(
      absl::StrCat("audit log ", what, " ", path, ": ", std::strerror(err)));
}

// One write(2) attempt, continued only while the kernel makes progress
// (short writes) or is interrupted; never waits on its own.
bool WriteAll(int fd, absl::string_view data, int* err) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = n < 0 ? errno : EIO;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::string_view TransportName(Transport transport) {
  switch (transport) {
    case Transport::kUnix:
      return "unix";
    case Transport::kTls:
      return "tls";
    case Transport::kInsecureTcp:
      return "insecure_tcp";
    case Transport::kInProcess:
      return "in_process";
  }
  return "unknown";
}

// ---- FileAuditSink ----

absl::StatusOr<std::unique_ptr<FileAuditSink>> FileAuditSink::Open(
    std::string path, FileAuditSinkOptions options) {
  std::unique_ptr<FileAuditSink> sink(
      new FileAuditSink(std::move(path), options));
  absl::MutexLock lock(&sink->mu_);
  absl::Status status = sink->OpenLocked();
  if (!status.ok()) return status;
  return sink;
}

FileAuditSink::~FileAuditSink() {
  absl::MutexLock lock(&mu_);
  CloseLocked();
}

void FileAuditSink::CloseLocked() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status FileAuditSink::OpenLocked() {
  CloseLocked();
  // O_NONBLOCK keeps open(2) of a FIFO from waiting for a reader; such
  // files are then refused below.
  int fd = open(path_.c_str(),
                O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) {
    healthy_ = false;
    return ErrnoUnavailable("cannot open", path_, errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    healthy_ = false;
    return ErrnoUnavailable("cannot stat", path_, err);
  }
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISDIR(st.st_mode)) {
    close(fd);
    healthy_ = false;
    return absl::InvalidArgumentError(
        absl::StrCat("audit log ", path_, " is not a file"));
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  // Terminate a line a failed write may have left half-written.
  if (maybe_partial_ && S_ISREG(st.st_mode) && st.st_size > 0) {
    char last = '\n';
    if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
      int err = 0;
      if (!WriteAll(fd, "\n", &err)) {
        close(fd);
        healthy_ = false;
        return ErrnoUnavailable("cannot write", path_, err);
      }
    }
  }
  fd_ = fd;
  return absl::OkStatus();
}

absl::Status FileAuditSink::Write(absl::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line.data(), line.size());
  buf.push_back('\n');
  absl::MutexLock lock(&mu_);
  if (!healthy_ || fd_ < 0) {
    absl::Status reopened = OpenLocked();
    if (!reopened.ok()) {
      healthy_ = false;
      return absl::UnavailableError(reopened.message());
    }
  }
  int err = 0;
  if (!WriteAll(fd_, buf, &err)) {
    healthy_ = false;
    maybe_partial_ = true;
    CloseLocked();
    return ErrnoUnavailable("cannot write", path_, err);
  }
  if (options_.sync_every_record && fdatasync(fd_) != 0) {
    err = errno;
    // /dev/null-like character devices cannot sync and need not.
    if (err != EINVAL && err != EROFS) {
      healthy_ = false;
      CloseLocked();
      return ErrnoUnavailable("cannot sync", path_, err);
    }
  }
  healthy_ = true;
  maybe_partial_ = false;
  return absl::OkStatus();
}

bool FileAuditSink::healthy() const {
  absl::MutexLock lock(&mu_);
  return healthy_;
}

absl::Status FileAuditSink::Reopen() {
  absl::MutexLock lock(&mu_);
  absl::Status status = OpenLocked();
  healthy_ = status.ok();
  return status;
}

// ---- MemoryAuditSink ----

absl::Status MemoryAuditSink::Write(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (failing_) {
    healthy_ = false;
    return absl::UnavailableError("audit sink failing (test)");
  }
  healthy_ = true;
  lines_.emplace_back(line);
  return absl::OkStatus();
}

bool MemoryAuditSink::healthy() const {
  absl::MutexLock lock(&mu_);
  return healthy_;
}

std::vector<std::string> MemoryAuditSink::lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

void MemoryAuditSink::SetFailing(bool failing) {
  absl::MutexLock lock(&mu_);
  failing_ = failing;
}

// ---- AuditLog ----

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(
    AuditSink* sink, const Clock* clock, AuditLogOptions options) {
  if (sodium_init() < 0) return absl::InternalError("libsodium init failed");
  if (sink == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("sink and clock are required");
  }
  if (options.hash_names &&
      (options.name_hash_key.size() < crypto_generichash_KEYBYTES_MIN ||
       options.name_hash_key.size() > crypto_generichash_KEYBYTES_MAX)) {
    return absl::InvalidArgumentError(
        "audit name hash key must be 16..64 bytes");
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(sink, clock, std::move(options)));
}

std::string AuditLog::HashName(absl::string_view name) const {
  if (name.empty()) return "";
  unsigned char out[kNameHashBytes];
  // Create() checked the key size and kNameHashBytes is in BLAKE2b's
  // range, so this cannot fail; if it did, every name would hash alike.
  if (crypto_generichash(out, sizeof(out),
                         reinterpret_cast<const unsigned char*>(name.data()),
                         name.size(), options_.name_hash_key.data(),
                         options_.name_hash_key.size()) != 0) {
    std::abort();
  }
  return absl::StrCat("h:",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(out), sizeof(out))));
}

std::string AuditLog::Format(const AuditRecord& r, absl::Time time) const {
  const bool hash = options_.hash_names;
  // Hashing hides every scope and name; a message may quote any of them, in
  // forms no substitution finds reliably, so it is dropped.
  auto hidden = [&](const std::string& text) {
    return hash ? HashName(text) : text;
  };
  std::vector<int64_t> versions(r.versions.begin(), r.versions.end());
  std::vector<std::string> targets;
  targets.reserve(r.targets.size());
  for (const AuditTarget& t : r.targets) {
    targets.push_back(absl::StrCat(hidden(t.scope), "/", hidden(t.name)));
  }
  RecordWriter writer;
  writer
      .Str("time", absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", time,
                                    absl::UTCTimeZone()))
      .Str("request_id", r.request_id)
      .Str("subject", r.subject);
  if (!r.actor.empty()) {
    writer.Str("actor", r.actor).StrList("groups", r.groups);
  }
  writer.Str("transport", TransportName(r.transport))
      .Str("rpc", r.rpc)
      .Str("scope", hidden(r.scope))
      .Str("name", hidden(r.name))
      .IntList("versions", versions)
      .StrList("targets", targets)
      .Str("code", absl::StatusCodeToString(r.code))
      .Str("message", hash ? "" : r.message);
  if (!r.service.empty()) writer.Str("service", r.service);
  if (r.count > 0) writer.Int("count", r.count);
  return writer.Finish();
}

absl::Status AuditLog::Record(const AuditRecord& record) const {
  return sink_->Write(Format(record, clock_->Now()));
}

}  // namespace zlayer::secrets
