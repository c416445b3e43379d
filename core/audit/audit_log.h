// The audit trail: one JSON line per call, never a secret value.
//
//   {"time":"2023-11-14T22:13:20.000Z","request_id":"r-1","subject":"uid:1000",
//    "transport":"unix","rpc":"GetSecret","scope":"prod","name":"db",
//    "versions":[3],"targets":[],"code":"OK","message":"",
//    "peer":"pid:4242","duration_us":812,"seq":17,"prev":"9c1f..."}
//
// AuditLog formats records (time from the injected Clock, RFC 3339 UTC with
// milliseconds) and hands each line to an AuditSink. With `hash_names` every
// scope and name (also inside `targets`) is replaced by "h:" + 32 hex chars
// of a keyed BLAKE2b hash (crypto_generichash with the configured key),
// stable for one key, so operators can correlate calls without the log
// revealing names; and the status `message` is dropped (written as ""),
// since messages quote names in forms no substitution can find reliably
// (a batch call's "secret 'X' not found", "lacks execute on p/Y"). The code
// stays. Records carry no value field at all, and callers must not put
// values into `message` (status messages never hold values by project rule).
//
// A coalesced summary of refusals (daemon/rpc/call_auditor.h) has "count": N,
// the number of calls it stands for; other records have no "count".
//
//   ASSIGN_OR_RETURN(auto sink, FileAuditSink::Open("/var/log/zs/audit.log",
//   {})); ASSIGN_OR_RETURN(auto audit, AuditLog::Create(sink.get(), clock,
//   {})); AuditRecord r; r.subject = principal.Subject(); r.rpc = "GetSecret";
//   ...
//   RETURN_IF_ERROR(audit->Record(r));
//
// Durability of FileAuditSink: by default each record is write(2)n with
// O_APPEND and then fdatasync(2)ed before Write returns, so an acknowledged
// record survives a crash or power loss (at ~one disk flush per call). With
// `sync_every_record = false` the record reaches the page cache only: it
// survives a daemon crash but may be lost on power failure.
//
// Health: a failed open/write/sync marks the sink unhealthy and Write returns
// Unavailable; the next Write closes the file and opens it again, so logging
// resumes as soon as the path is writable. Each Write makes at most one open
// and one write attempt (no retry loops, no waiting), so it never blocks
// indefinitely on its own; it refuses FIFOs and sockets, whose writes could.
//
// Hash chain (docs/operations.md, "Audit chain"): with `chain` set, every
// record also carries "seq" (1, 2, ... with no gap, continuing across daemon
// restarts and log rotations) and "prev", the hex BLAKE2b-256 hash (unkeyed)
// of the previous record's whole line ("0" x 64 before the first record).
// After each record the head (seq and hash of the last record) is rewritten
// in `head_path` ({log}.head), which is how a restart continues the chain
// even when the log was rotated away meanwhile, and how VerifyAuditChain
// notices records cut off the end. Records are formatted and written under
// one lock, so file order is seq order. VerifyAuditChain checks files.
// The chain is not keyed: it proves order and completeness against an
// editor who does not rewrite every later record and the head file; ship
// the head elsewhere (or the log to a remote store) for more.
//
// All classes are thread-safe.
#ifndef ZLAYER_SECRETS_CORE_AUDIT_AUDIT_LOG_H_
#define ZLAYER_SECRETS_CORE_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"

namespace zlayer::secrets {

// One secret a batch call touched (GetSecrets, ResolveEnv).
struct AuditTarget {
  std::string scope;
  std::string name;
};

// What one call did. No field may hold a secret value.
struct AuditRecord {
  std::string request_id;
  std::string subject;  // Principal::Subject()
  // Delegated identity: the caller that asserted `subject` (a proxy's
  // "apikey:<id>" or "uid:<n>"), and the groups it asserted; written only
  // when `actor` is set ("actor", "groups").
  std::string actor;
  std::vector<std::string> groups;
  Transport transport = Transport::kUnix;
  std::string rpc;  // method name, e.g. "GetSecret"
  std::string scope;
  std::string name;  // "" for scope-wide calls
  // The service the caller says it resolves for (ResolveEnv's
  // ResolveContext.service); "" = none given, and then not written.
  std::string service;
  // Value-revealing calls (GetSecret, GetSecrets, ResolveEnv,
  // ExportSecrets): whether the values went out sealed to a client key
  // (written as "sealed":true|false, with "client_key":"<id>" when sealed);
  // unset for every other call (not written).
  absl::optional<bool> sealed;
  std::string client_key;
  std::vector<uint32_t> versions;  // versions resolved or written
  // Batch calls: every secret read, rendered as "scope/name" strings (names
  // hashed like `name`; a name never holds '/', so the last '/' splits);
  // `versions` is then aligned with `targets` (same order and length).
  std::vector<AuditTarget> targets;
  // Secrets the call was not shown because their node affinity excludes the
  // caller (docs/identity.md, "Node affinity"): the caller got NOT_FOUND
  // (or nothing) for them, as for a missing secret; this field says why.
  // Written as "node_affinity_hidden":["scope/name",...] (hashed like
  // `targets`) only when non-empty.
  std::vector<AuditTarget> node_affinity_hidden;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message;  // status message ("" when OK)
  // A summary of this many coalesced refusals; 0 = one call (no "count").
  int64_t count = 0;
  // Who called from where: "pid:N" for a Unix-socket peer, else the remote
  // address ("ipv4:10.0.0.5:41234"); "" = unknown (no "peer").
  std::string peer;
  // How long the call took, from its start to its answer; negative =
  // unknown (no "duration_us").
  absl::Duration duration = -absl::InfiniteDuration();
};

// "unix", "tls", "insecure_tcp", "in_process".
absl::string_view TransportName(Transport transport);

// Where formatted lines go.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends one record (`line` has no trailing newline). Unavailable when it
  // could not be stored.
  virtual absl::Status Write(absl::string_view line) = 0;
  // False after a failed Write, until a Write succeeds.
  virtual bool healthy() const = 0;
};

struct FileAuditSinkOptions {
  bool sync_every_record = true;  // fdatasync after each record (see above)
};

class FileAuditSink final : public AuditSink {
 public:
  // Opens (creating with mode 0600) `path` for appending (O_APPEND |
  // O_CLOEXEC). Unavailable if it cannot be opened; InvalidArgument for a
  // directory, FIFO or socket.
  static absl::StatusOr<std::unique_ptr<FileAuditSink>> Open(
      std::string path, FileAuditSinkOptions options);
  ~FileAuditSink() override;

  absl::Status Write(absl::string_view line) override ABSL_LOCKS_EXCLUDED(mu_);
  bool healthy() const override ABSL_LOCKS_EXCLUDED(mu_);
  // Closes and reopens the file (after log rotation). Unavailable on failure
  // (the sink is then unhealthy and retries on the next Write).
  absl::Status Reopen() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  FileAuditSink(std::string path, FileAuditSinkOptions options)
      : path_(std::move(path)), options_(options) {}
  absl::Status OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const FileAuditSinkOptions options_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool healthy_ ABSL_GUARDED_BY(mu_) = false;
  // A failed write may have left a partial line; the next successful open
  // terminates it so every later line parses on its own.
  bool maybe_partial_ ABSL_GUARDED_BY(mu_) = false;
};

// Keeps lines in memory; for tests. SetFailing(true) makes Write fail with
// Unavailable (and the sink unhealthy) until SetFailing(false).
class MemoryAuditSink final : public AuditSink {
 public:
  absl::Status Write(absl::string_view line) override ABSL_LOCKS_EXCLUDED(mu_);
  bool healthy() const override ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> lines() const ABSL_LOCKS_EXCLUDED(mu_);
  void SetFailing(bool failing) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  bool healthy_ ABSL_GUARDED_BY(mu_) = true;
};

// The end of a hash chain: the last record's seq and line hash.
struct AuditChainHead {
  uint64_t seq = 0;  // 0: no record yet
  std::string hash = std::string(64, '0');
};

// Hex BLAKE2b-256 of one record line (without its newline).
std::string AuditLineHash(absl::string_view line);
// "{log_path}.head".
std::string AuditHeadPath(const std::string& log_path);
// Where a chain continues after a restart: the head file when it exists
// (or the log's last record, if that is further on: the head is written
// after the record), else the last record of the log, else a new chain.
// DataLoss when the head file or the last record is malformed.
absl::StatusOr<AuditChainHead> LoadAuditChainHead(const std::string& log_path);

struct AuditVerifyReport {
  uint64_t records = 0;    // chained records checked
  uint64_t unchained = 0;  // records before the chain began (older builds)
  uint64_t first_seq = 0;
  AuditChainHead last;
  bool head_checked = false;  // the chain's end was compared with a head
  std::vector<std::string> notes;
};

// Checks that `files` (oldest first; rotated files then the current one)
// hold one unbroken chain, and that it ends where `head_path` says (when
// given and present). DataLoss naming the file, line and seq of the first
// deleted, edited, reordered or truncated record; NotFound for a missing
// file.
absl::StatusOr<AuditVerifyReport> VerifyAuditChain(
    const std::vector<std::string>& files, const std::string& head_path);

struct AuditLogOptions {
  // Replace names by a keyed hash (see the header comment). Requires
  // `name_hash_key` of crypto_generichash_KEYBYTES_MIN..MAX (16..64) bytes.
  bool hash_names = false;
  SecretBytes name_hash_key;
  // Hash-chain the records (see the header comment), continuing after
  // `chain_start`; keep the head in `head_path` ("" = nowhere).
  bool chain = false;
  AuditChainHead chain_start;
  std::string head_path;
};

class AuditLog {
 public:
  // `sink` and `clock` are borrowed and must outlive the log.
  // InvalidArgument when hash_names is set with a key of the wrong size.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(
      AuditSink* sink, const Clock* clock, AuditLogOptions options);

  ~AuditLog();

  // Formats and writes one record. Unavailable when the sink fails (the
  // caller decides whether to fail the call; the daemon fails closed); the
  // chain then does not advance.
  absl::Status Record(const AuditRecord& record) const ABSL_LOCKS_EXCLUDED(mu_);
  // The JSON line Record would write at `time` (without chain fields).
  std::string Format(const AuditRecord& record, absl::Time time) const;
  // The chain's current head (seq 0 when not chaining or nothing written).
  AuditChainHead head() const ABSL_LOCKS_EXCLUDED(mu_);
  // "h:<32 hex>" for `name` (a scope or a name) under the configured key
  // ("" stays "").
  std::string HashName(absl::string_view name) const;

 private:
  AuditLog(AuditSink* sink, const Clock* clock, AuditLogOptions options)
      : sink_(sink),
        clock_(clock),
        options_(std::move(options)),
        head_(options_.chain_start) {}
  std::string FormatChained(const AuditRecord& record, absl::Time time,
                            uint64_t seq, absl::string_view prev) const;
  void WriteHead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AuditSink* const sink_;
  const Clock* const clock_;
  const AuditLogOptions options_;
  mutable absl::Mutex mu_;
  mutable AuditChainHead head_ ABSL_GUARDED_BY(mu_);
  mutable int head_fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_AUDIT_AUDIT_LOG_H_
