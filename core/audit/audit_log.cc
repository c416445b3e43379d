#include "core/audit/audit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
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

constexpr absl::string_view kHeadMagic = "zlayer-audit-head-v1";

absl::Status ChainDamaged(absl::string_view where, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(where, ": ", what));
}

// The last complete line of `path` ("" when it has none). NotFound when the
// file does not exist.
absl::StatusOr<std::string> LastLine(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return ErrnoUnavailable("cannot open", path, errno);
  }
  struct stat st;
  std::string tail;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    const off_t want = std::min<off_t>(st.st_size, 1 << 20);
    tail.resize(static_cast<size_t>(want));
    const ssize_t n = pread(fd, tail.data(), tail.size(), st.st_size - want);
    tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  // Drop an unterminated (partial) last line, then take the last line.
  const size_t end = tail.rfind('\n');
  if (end == std::string::npos) return std::string();
  tail.resize(end);
  const size_t start = tail.rfind('\n');
  return start == std::string::npos ? tail : tail.substr(start + 1);
}

absl::StatusOr<AuditChainHead> ParseHead(absl::string_view text) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  AuditChainHead head;
  if (parts.size() != 3 || parts[0] != kHeadMagic ||
      !absl::SimpleAtoi(parts[1], &head.seq) || parts[2].size() != 64) {
    return absl::DataLossError("audit head file is malformed");
  }
  head.hash = std::string(parts[2]);
  return head;
}

}  // namespace

std::string AuditLineHash(absl::string_view line) {
  unsigned char out[32];
  crypto_generichash(out, sizeof(out),
                     reinterpret_cast<const unsigned char*>(line.data()),
                     line.size(), nullptr, 0);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(out), sizeof(out)));
}

std::string AuditHeadPath(const std::string& log_path) {
  return absl::StrCat(log_path, ".head");
}

absl::StatusOr<AuditChainHead> LoadAuditChainHead(const std::string& log_path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium init failed");
  AuditChainHead head;
  absl::StatusOr<std::string> head_text = LastLine(AuditHeadPath(log_path));
  if (head_text.ok()) {
    ASSIGN_OR_RETURN(head, ParseHead(*head_text));
  } else if (!absl::IsNotFound(head_text.status())) {
    return head_text.status();
  }
  absl::StatusOr<std::string> last = LastLine(log_path);
  if (!last.ok() && !absl::IsNotFound(last.status())) return last.status();
  if (last.ok() && !last->empty()) {
    absl::StatusOr<FlatRecord> record = FlatRecord::Parse(*last);
    if (record.ok() && record->Has("seq")) {
      ASSIGN_OR_RETURN(int64_t seq, record->Int("seq"));
      // The head is written after its record: a crash in between leaves it
      // one behind.
      if (seq > 0 && static_cast<uint64_t>(seq) >= head.seq) {
        head.seq = static_cast<uint64_t>(seq);
        head.hash = AuditLineHash(*last);
      }
    }
  }
  return head;
}

absl::StatusOr<AuditVerifyReport> VerifyAuditChain(
    const std::vector<std::string>& files, const std::string& head_path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium init failed");
  if (files.empty()) return absl::InvalidArgumentError("no audit files given");
  struct Line {
    std::string where;  // "file:line"
    std::string text;
    uint64_t seq = 0;
    std::string prev;
  };
  std::vector<Line> lines;
  AuditVerifyReport report;
  for (const std::string& file : files) {
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        return absl::NotFoundError(absl::StrCat("no audit file ", file));
      }
      return ErrnoUnavailable("cannot open", file, errno);
    }
    std::string content;
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      content.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    if (!content.empty() && content.back() != '\n') {
      const size_t number =
          std::count(content.begin(), content.end(), '\n') + 1;
      return ChainDamaged(absl::StrCat(file, ":", number),
                          "truncated: the last record is cut off (no end "
                          "of line)");
    }
    size_t number = 0;
    for (absl::string_view text : absl::StrSplit(content, '\n')) {
      ++number;
      if (text.empty()) continue;
      Line line;
      line.where = absl::StrCat(file, ":", number);
      line.text = std::string(text);
      absl::StatusOr<FlatRecord> record = FlatRecord::Parse(text);
      if (!record.ok()) {
        return ChainDamaged(line.where,
                            "not a record (edited, or a partial write)");
      }
      if (!record->Has("seq")) {
        if (lines.empty()) {
          ++report.unchained;
          continue;
        }
        return ChainDamaged(line.where, "record without seq inside the chain");
      }
      absl::StatusOr<int64_t> seq = record->Int("seq");
      absl::StatusOr<std::string> prev = record->String("prev");
      if (!seq.ok() || *seq <= 0 || !prev.ok()) {
        return ChainDamaged(line.where, "malformed seq or prev");
      }
      line.seq = static_cast<uint64_t>(*seq);
      line.prev = *std::move(prev);
      lines.push_back(std::move(line));
    }
  }
  if (report.unchained > 0) {
    report.notes.push_back(absl::StrCat(
        report.unchained, " record(s) before the chain began (older build)"));
  }
  if (lines.empty()) {
    report.notes.push_back("no chained records");
  } else {
    report.first_seq = lines[0].seq;
    if (lines[0].seq == 1 && lines[0].prev != AuditChainHead().hash) {
      return ChainDamaged(lines[0].where,
                          "seq 1 does not start a chain (prev is not zero)");
    }
    if (lines[0].seq > 1) {
      report.notes.push_back(
          absl::StrCat("the chain starts at seq ", lines[0].seq,
                       " (its earlier files were not given)"));
    }
  }
  absl::flat_hash_set<uint64_t> seen;
  for (const Line& line : lines) seen.insert(line.seq);
  for (size_t i = 1; i < lines.size(); ++i) {
    const Line& before = lines[i - 1];
    const Line& line = lines[i];
    const uint64_t expected = before.seq + 1;
    if (line.seq != expected) {
      if (line.seq < expected) {
        return ChainDamaged(
            line.where, absl::StrCat("reordered or duplicated: seq ", line.seq,
                                     " after seq ", before.seq));
      }
      if (seen.contains(expected)) {
        return ChainDamaged(
            line.where, absl::StrCat("reordered: seq ", line.seq, " where seq ",
                                     expected, " belongs (it comes later)"));
      }
      return ChainDamaged(line.where,
                          absl::StrCat("deleted: seq ", expected,
                                       line.seq - expected > 1
                                           ? absl::StrCat("..", line.seq - 1)
                                           : std::string(),
                                       " missing before seq ", line.seq));
    }
    if (line.prev != AuditLineHash(before.text)) {
      return ChainDamaged(
          before.where,
          absl::StrCat("edited: seq ", before.seq,
                       " does not hash to the prev of seq ", line.seq));
    }
  }
  report.records = lines.size();
  if (!lines.empty()) {
    report.last.seq = lines.back().seq;
    report.last.hash = AuditLineHash(lines.back().text);
  }
  if (!head_path.empty()) {
    absl::StatusOr<std::string> head_text = LastLine(head_path);
    if (head_text.ok()) {
      ASSIGN_OR_RETURN(AuditChainHead head, ParseHead(*head_text));
      report.head_checked = true;
      const std::string where =
          lines.empty() ? files.back() : lines.back().where;
      if (head.seq > report.last.seq) {
        return ChainDamaged(
            where, absl::StrCat("truncated: the log ends at seq ",
                                report.last.seq, " but its head file says seq ",
                                head.seq, " was written"));
      }
      if (head.seq == report.last.seq && head.hash != report.last.hash) {
        return ChainDamaged(where, absl::StrCat("edited: seq ", head.seq,
                                                " does not match the head "
                                                "file's hash"));
      }
      if (head.seq < report.last.seq) {
        report.notes.push_back(
            "the head file is behind the log (written after a crash?)");
      }
    } else if (!absl::IsNotFound(head_text.status())) {
      return head_text.status();
    }
  }
  return report;
}

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
  return FormatChained(r, time, 0, "");
}

std::string AuditLog::FormatChained(const AuditRecord& r, absl::Time time,
                                    uint64_t seq,
                                    absl::string_view prev) const {
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
  if (!r.node_affinity_hidden.empty()) {
    std::vector<std::string> hidden_targets;
    for (const AuditTarget& t : r.node_affinity_hidden) {
      hidden_targets.push_back(
          absl::StrCat(hidden(t.scope), "/", hidden(t.name)));
    }
    writer.StrList("node_affinity_hidden", hidden_targets);
  }
  if (r.sealed.has_value()) {
    writer.Bool("sealed", *r.sealed);
    if (*r.sealed) writer.Str("client_key", r.client_key);
  }
  if (r.count > 0) writer.Int("count", r.count);
  if (!r.peer.empty()) writer.Str("peer", r.peer);
  if (r.duration >= absl::ZeroDuration()) {
    writer.Int("duration_us", absl::ToInt64Microseconds(r.duration));
  }
  if (seq > 0) {
    writer.Int("seq", static_cast<int64_t>(seq)).Str("prev", prev);
  }
  return writer.Finish();
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (head_fd_ >= 0) close(head_fd_);
}

absl::Status AuditLog::Record(const AuditRecord& record) const {
  if (!options_.chain) return sink_->Write(Format(record, clock_->Now()));
  absl::MutexLock lock(&mu_);
  const uint64_t seq = head_.seq + 1;
  const std::string line =
      FormatChained(record, clock_->Now(), seq, head_.hash);
  absl::Status written = sink_->Write(line);
  if (!written.ok()) return written;
  head_.seq = seq;
  head_.hash = AuditLineHash(line);
  WriteHead();
  return absl::OkStatus();
}

AuditChainHead AuditLog::head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

void AuditLog::WriteHead() const {
  if (options_.head_path.empty()) return;
  if (head_fd_ < 0) {
    head_fd_ = open(options_.head_path.c_str(),
                    O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (head_fd_ < 0) return;  // best effort: the log itself is written
  }
  // Fixed width, so each rewrite covers the previous one exactly.
  const std::string text =
      absl::StrFormat("%s %020u %s\n", kHeadMagic, head_.seq, head_.hash);
  if (pwrite(head_fd_, text.data(), text.size(), 0) !=
      static_cast<ssize_t>(text.size())) {
    close(head_fd_);
    head_fd_ = -1;
  }
}

}  // namespace zlayer::secrets
