// Direct access to a store's SQLite file through the sqlite3 C API, as an
// attacker with offline write access to the data directory would have.
// Used between store opens (never while a store has the file open).
#ifndef ZLAYER_SECRETS_TESTS_SECURITY_CRYPTO_RAW_DB_H_
#define ZLAYER_SECRETS_TESTS_SECURITY_CRYPTO_RAW_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace zlayer::secrets::testing {

// A bound parameter: text, or blob when `blob` is set.
struct Param {
  Param(std::string v, bool b = false) : value(std::move(v)), blob(b) {}
  Param(const char* v) : value(v) {}
  std::string value;
  bool blob = false;
};
inline Param Blob(std::string v) { return Param(std::move(v), true); }

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr),
        SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql` to completion; returns the number of rows it changed.
  int Exec(const std::string& sql, const std::vector<Param>& params = {}) {
    sqlite3_stmt* st = Prepare(sql, params);
    if (st == nullptr) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_) << " in " << sql;
    sqlite3_finalize(st);
    return sqlite3_changes(db_);
  }

  // The first column of the first row, as bytes ("" when no row).
  std::string Bytes(const std::string& sql,
                    const std::vector<Param>& params = {}) {
    sqlite3_stmt* st = Prepare(sql, params);
    std::string out;
    if (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      const void* p = sqlite3_column_blob(st, 0);
      if (p != nullptr) {
        out.assign(static_cast<const char*>(p), sqlite3_column_bytes(st, 0));
      }
    }
    sqlite3_finalize(st);
    return out;
  }

  int64_t Int(const std::string& sql, const std::vector<Param>& params = {}) {
    sqlite3_stmt* st = Prepare(sql, params);
    int64_t out = -1;
    if (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3_stmt* Prepare(const std::string& sql,
                        const std::vector<Param>& params) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << " in " << sql;
    for (size_t i = 0; st != nullptr && i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      const std::string& v = params[i].value;
      if (params[i].blob) {
        sqlite3_bind_blob(st, idx, v.data(), static_cast<int>(v.size()),
                          SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_text(st, idx, v.data(), static_cast<int>(v.size()),
                          SQLITE_TRANSIENT);
      }
    }
    return st;
  }

  sqlite3* db_ = nullptr;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_SECURITY_CRYPTO_RAW_DB_H_
