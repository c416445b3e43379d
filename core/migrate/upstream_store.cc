#include "core/migrate/upstream_store.h"

#include <sys/stat.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/store/sqlite/sqlite.h"

namespace zlayer::secrets {
namespace {

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::StatusOr<std::string> FindUpstreamDatabase(const std::string& path) {
  if (IsRegularFile(path)) return path;
  if (IsDirectory(path)) {
    for (const std::string& candidate :
         {absl::StrCat(path, "/secrets.sqlite"),
          absl::StrCat(path, "/secrets/secrets.sqlite")}) {
      if (IsRegularFile(candidate)) return candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no upstream store at ", path,
                   " (looked for the file itself, secrets.sqlite and "
                   "secrets/secrets.sqlite)"));
}

absl::StatusOr<std::vector<UpstreamRow>> ReadUpstreamRows(
    const std::string& db_path) {
  DatabaseOptions options;
  options.flags = SQLITE_OPEN_READONLY;
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                   Database::Open(db_path, options));
  absl::StatusOr<ScopedStatement> st = db->Prepare(
      "SELECT storage_key, encrypted_value, name, version, created_at, "
      "updated_at FROM secrets ORDER BY storage_key");
  if (!st.ok()) {
    if (absl::IsUnavailable(st.status())) return st.status();
    return absl::DataLossError(absl::StrCat(
        db_path,
        " is not an upstream ZLayer secrets store: ", st.status().message()));
  }
  std::vector<UpstreamRow> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, (*st)->Step());
    if (!row) break;
    UpstreamRow r;
    r.storage_key = std::string((*st)->ColumnText(0));
    r.blob = std::string((*st)->ColumnBlob(1));
    r.name = std::string((*st)->ColumnText(2));
    r.version = (*st)->ColumnInt64(3);
    r.created_at = std::string((*st)->ColumnText(4));
    r.updated_at = std::string((*st)->ColumnText(5));
    rows.push_back(std::move(r));
  }
  return rows;
}

int64_t ParseUpstreamTime(const std::string& text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return 0;
  return absl::ToUnixSeconds(t);
}

}  // namespace zlayer::secrets
