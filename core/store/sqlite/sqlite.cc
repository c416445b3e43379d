#include "core/store/sqlite/sqlite.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
    return absl::OkStatus();
  }
  std::string message = absl::StrCat(context, ": ", sqlite3_errstr(rc));
  // errmsg is only meaningful if it describes this error.
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    absl::StrAppend(&message, " (", sqlite3_errmsg(db), ")");
  }
  switch (rc & 0xFF) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
          rc == SQLITE_CONSTRAINT_UNIQUE) {
        return absl::AlreadyExistsError(message);
      }
      return absl::FailedPreconditionError(message);
    case SQLITE_TOOBIG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

// --- Statement --------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(std::exchange(other.db_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);  // its result repeats the last step's error
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

absl::Status Statement::BindText(int index, absl::string_view text) {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("text too large to bind");
  }
  // A null pointer would bind SQL NULL; an empty view must bind ''.
  const char* data = text.empty() ? "" : text.data();
  return SqliteStatus(
      sqlite3_bind_text(stmt_, index, data, static_cast<int>(text.size()),
                        SQLITE_TRANSIENT),
      db_, "bind text");
}

absl::Status Statement::BindBlob(int index, absl::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("blob too large to bind");
  }
  if (bytes.empty()) {
    return SqliteStatus(sqlite3_bind_zeroblob(stmt_, index, 0), db_,
                        "bind blob");
  }
  return SqliteStatus(
      sqlite3_bind_blob(stmt_, index, bytes.data(),
                        static_cast<int>(bytes.size()), SQLITE_TRANSIENT),
      db_, "bind blob");
}

absl::Status Statement::BindInt64(int index, int64_t value) {
  return SqliteStatus(sqlite3_bind_int64(stmt_, index, value), db_,
                      "bind integer");
}

absl::Status Statement::BindNull(int index) {
  return SqliteStatus(sqlite3_bind_null(stmt_, index), db_, "bind null");
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, "step");
}

absl::Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  if (row) return absl::InternalError("statement unexpectedly returned a row");
  return absl::OkStatus();
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

absl::string_view Statement::ColumnText(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return absl::string_view();
  return absl::string_view(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(n));
}

absl::string_view Statement::ColumnBlob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return absl::string_view();
  return absl::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Statement::Reset() {
  // sqlite3_reset returns the error of the last step, already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// --- Database ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& path, const DatabaseOptions& options) {
  sqlite3* db = nullptr;
  const int flags = options.flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteStatus(rc, db, absl::StrCat("open ", path));
    sqlite3_close(db);  // frees the handle SQLite allocates even on failure
    return status;
  }
  std::unique_ptr<Database> out(new Database(db, path));
  const int64_t ms = absl::ToInt64Milliseconds(options.busy_timeout);
  RETURN_IF_ERROR(SqliteStatus(
      sqlite3_busy_timeout(
          db, static_cast<int>(std::min<int64_t>(
                  std::max<int64_t>(ms, 0), std::numeric_limits<int>::max()))),
      db, "set busy timeout"));
  return out;
}

Database::~Database() {
  cache_.clear();  // finalize every statement first
  sqlite3_close(db_);
}

absl::StatusOr<Statement> Database::PrepareUncached(absl::string_view sql,
                                                    absl::string_view* tail) {
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("SQL text too large");
  }
  sqlite3_stmt* stmt = nullptr;
  const char* end = nullptr;
  const int rc = sqlite3_prepare_v3(
      db_, sql.data(), static_cast<int>(sql.size()),
      tail == nullptr ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &end);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(rc, db_, "prepare");
  }
  if (tail != nullptr) {
    *tail = sql.substr(static_cast<size_t>(end - sql.data()));
  }
  return Statement(stmt, db_);
}

absl::StatusOr<ScopedStatement> Database::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    absl::string_view tail;
    ASSIGN_OR_RETURN(Statement stmt, PrepareUncached(sql, &tail));
    if (stmt.stmt_ == nullptr) {
      return absl::InvalidArgumentError("SQL text holds no statement");
    }
    if (tail.find_first_not_of(" \t\r\n;") != absl::string_view::npos) {
      return absl::InvalidArgumentError("Prepare takes a single statement");
    }
    it = cache_
             .emplace(std::string(sql),
                      std::make_unique<Statement>(std::move(stmt)))
             .first;
  }
  return ScopedStatement(it->second.get());
}

absl::Status Database::Execute(absl::string_view sql) {
  while (true) {
    absl::string_view tail;
    ASSIGN_OR_RETURN(Statement stmt, PrepareUncached(sql, &tail));
    if (stmt.stmt_ == nullptr) break;  // only whitespace or comments left
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
    }
    sql = tail;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Database::QueryText(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement stmt, PrepareUncached(sql, nullptr));
  if (stmt.stmt_ == nullptr) return absl::InvalidArgumentError("empty query");
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError("query returned no row");
  return std::string(stmt.ColumnText(0));
}

absl::StatusOr<int64_t> Database::QueryInt64(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement stmt, PrepareUncached(sql, nullptr));
  if (stmt.stmt_ == nullptr) return absl::InvalidArgumentError("empty query");
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::NotFoundError("query returned no row");
  return stmt.ColumnInt64(0);
}

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

// --- Transaction ------------------------------------------------------------

absl::StatusOr<Transaction> Transaction::Begin(Database* db,
                                               TransactionMode mode) {
  ASSIGN_OR_RETURN(
      ScopedStatement begin,
      db->Prepare(mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE"
                                                      : "BEGIN DEFERRED"));
  RETURN_IF_ERROR(begin->Run());
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) {
    // Nothing to report to; a failed rollback leaves SQLite to roll back
    // when the connection next starts a transaction or closes.
    Rollback().IgnoreError();
  }
}

absl::Status Transaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("transaction done");
  absl::Status status;
  {
    auto commit = db_->Prepare("COMMIT");
    status = commit.ok() ? (*commit)->Run() : commit.status();
  }
  if (!status.ok()) {
    // A failed COMMIT may leave the transaction open (e.g. BUSY); make sure
    // nothing half-done survives.
    Rollback().IgnoreError();
    return status;
  }
  db_ = nullptr;
  return absl::OkStatus();
}

absl::Status Transaction::Rollback() {
  if (db_ == nullptr) return absl::OkStatus();
  Database* db = std::exchange(db_, nullptr);
  // After some errors SQLite has already rolled back.
  if (sqlite3_get_autocommit(db->raw())) return absl::OkStatus();
  ASSIGN_OR_RETURN(ScopedStatement rollback, db->Prepare("ROLLBACK"));
  return rollback->Run();
}

}  // namespace zlayer::secrets
