// A small RAII layer over the SQLite C API: every sqlite3_* result is
// checked and turned into an absl::Status, statements are always prepared
// with bound parameters, and each connection caches its prepared statements.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, {}));
//   ASSIGN_OR_RETURN(
//       Transaction txn,
//       Transaction::Begin(db.get(), TransactionMode::kImmediate));
//   ASSIGN_OR_RETURN(ScopedStatement st,
//                    db->Prepare("SELECT value FROM meta WHERE key = ?1"));
//   RETURN_IF_ERROR(st->BindText(1, "key_check"));
//   ASSIGN_OR_RETURN(bool row, st->Step());
//   ...
//   RETURN_IF_ERROR(txn.Commit());  // otherwise rolled back on destruction
//
// Error mapping (SqliteStatus): FULL, IOERR, READONLY, CANTOPEN, BUSY and
// LOCKED (after the busy timeout), NOMEM -> Unavailable; CORRUPT, NOTADB ->
// DataLoss; CONSTRAINT_PRIMARYKEY / _UNIQUE -> AlreadyExists, other
// CONSTRAINT -> FailedPrecondition; TOOBIG -> InvalidArgument; anything else
// -> Internal. Messages carry SQLite's own text (table and column names,
// never bound values).
//
// Thread-compatibility: a Database and its statements must be used by one
// thread at a time (connections are opened with SQLITE_OPEN_NOMUTEX); callers
// serialise access (see SqliteSecretStore's writer mutex and reader pool).
#ifndef ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_H_
#define ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::secrets {

// Maps an SQLite result code (primary or extended) to a Status; `context`
// says what was being done ("prepare", "open /path"). `db` may be null; when
// given, sqlite3_errmsg(db) is appended.
absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context);

// One prepared statement. Move-only; finalized on destruction.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQL (?1, ?2, ...). Text and blobs are
  // copied (SQLITE_TRANSIENT); an empty view binds an empty value, not NULL.
  absl::Status BindText(int index, absl::string_view text);
  absl::Status BindBlob(int index, absl::string_view bytes);
  absl::Status BindInt64(int index, int64_t value);
  absl::Status BindNull(int index);

  // Advances: true when a row is available, false when the statement is
  // done. Errors map as above.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE/DDL).
  // Internal error if it produces a row.
  absl::Status Run();

  // Column access for the current row (0-based). Views stay valid until
  // the next Step/Reset.
  int64_t ColumnInt64(int column) const;
  absl::string_view ColumnText(int column) const;
  absl::string_view ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

  // Ready for re-execution; bindings are cleared.
  void Reset();

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// A cached statement on loan from its Database; reset (and its bindings
// cleared) when the loan ends, so the next user starts clean. Must not
// outlive the Database.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* stmt) : stmt_(stmt) {}
  ScopedStatement(ScopedStatement&& other) noexcept : stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ~ScopedStatement() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
};

struct DatabaseOptions {
  // sqlite3_open_v2 flags. Default: read-write, create if missing.
  // SQLITE_OPEN_NOMUTEX and SQLITE_OPEN_EXRESCODE are always added.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  // How long a statement waits for another connection's lock before it
  // fails with BUSY (-> Unavailable).
  absl::Duration busy_timeout = absl::Seconds(5);
};

// One connection.
class Database {
 public:
  // Opens (or creates, per flags) the database file at `path`.
  // Unavailable if it cannot be opened; DataLoss if it is not a database
  // (that surfaces on first use, since SQLite opens lazily).
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& path, const DatabaseOptions& options);

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Prepares `sql` once per connection and lends it out. `sql` must be a
  // single statement of constant text; values go in through Bind*.
  // The same SQL text must not be on loan twice at the same time.
  absl::StatusOr<ScopedStatement> Prepare(absl::string_view sql);

  // Runs constant SQL that has no parameters and returns no rows needed by
  // the caller (DDL, PRAGMA assignments, BEGIN/COMMIT); may hold several
  // statements separated by ';'. Not cached.
  absl::Status Execute(absl::string_view sql);

  // Runs a single-row, single-column query of constant text (e.g.
  // "PRAGMA journal_mode") and returns the value as text.
  absl::StatusOr<std::string> QueryText(absl::string_view sql);
  absl::StatusOr<int64_t> QueryInt64(absl::string_view sql);

  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;

  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  absl::StatusOr<Statement> PrepareUncached(absl::string_view sql,
                                            absl::string_view* tail);

  sqlite3* db_;
  std::string path_;
  // Declared after db_ so statements are finalized before the connection
  // closes (members are destroyed in reverse order).
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

enum class TransactionMode {
  kDeferred,   // BEGIN: a read snapshot starts at the first read
  kImmediate,  // BEGIN IMMEDIATE: takes the write lock now
};

// A transaction on one connection; rolled back on destruction unless
// committed. Move-only.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Database* db, TransactionMode mode);

  Transaction(Transaction&& other) noexcept : db_(other.db_) {
    other.db_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // On failure the transaction is rolled back (as SQLite may already have
  // done) and the error returned.
  absl::Status Commit();
  // Explicit rollback; also what the destructor does.
  absl::Status Rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;  // null once finished
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_SQLITE_SQLITE_H_
