// Reads the `secrets` table of an upstream ZLayer store (upstream reference
// §6): one SQLite file, rows keyed "{scope}:{name}", values sealed as
// core/migrate/upstream_crypto.h describes. Read-only: the file is opened
// with SQLITE_OPEN_READONLY and never changed.
//
//   ASSIGN_OR_RETURN(std::string db, FindUpstreamDatabase("/var/lib/zlayer"));
//   ASSIGN_OR_RETURN(std::vector<UpstreamRow> rows, ReadUpstreamRows(db));
//
// Thread-safe: each call opens its own connection.
#ifndef ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_STORE_H_
#define ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::secrets {

// One row of upstream's `secrets` table, as stored (the value still sealed).
struct UpstreamRow {
  std::string storage_key;  // "{scope}:{name}"
  std::string name;         // the name column (as given at first insert)
  int64_t version = 0;
  std::string blob;        // nonce || ciphertext || tag
  std::string created_at;  // "YYYY-MM-DDTHH:MM:SSZ"
  std::string updated_at;
};

// The database file for `path`, following upstream's layout: `path` itself
// when it is a file; for a directory, {path}/secrets.sqlite (a store opened
// at that directory) or {path}/secrets/secrets.sqlite (the daemon's data
// directory), whichever exists. NotFound otherwise.
absl::StatusOr<std::string> FindUpstreamDatabase(const std::string& path);

// Every row, ordered by storage key. DataLoss when the file is not an
// SQLite database or has no `secrets` table with upstream's columns;
// Unavailable when it cannot be opened.
absl::StatusOr<std::vector<UpstreamRow>> ReadUpstreamRows(
    const std::string& db_path);

// Parses upstream's timestamp format into Unix seconds; 0 when malformed
// (as upstream's listing does).
int64_t ParseUpstreamTime(const std::string& text);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_MIGRATE_UPSTREAM_STORE_H_
