// ImportIntoScope: a dotenv or JSON file into one scope, all or nothing
// (what Secrets.ImportSecrets does), independent of gRPC.
//
//   ASSIGN_OR_RETURN(ImportOutcome out,
//                    ImportIntoScope(store, "shop", file, format, limits));
//   if (!out.errors.empty()) { /* nothing written; report out.errors */ }
//   // out.changes: create/update/unchanged per entry; out.applied
//
// Thread-safe if the store is.
#ifndef ZLAYER_SECRETS_CORE_OPS_IMPORT_H_
#define ZLAYER_SECRETS_CORE_OPS_IMPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/format/env_file_format.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

enum class ImportAction { kCreate, kUpdate, kUnchanged };

struct ImportChange {
  std::string name;
  ImportAction action = ImportAction::kCreate;
  uint32_t line = 0;  // dotenv: 1-based line; JSON: 0
};

struct ImportOutcome {
  // Problems in the file (parse errors, bad names, values over the limit):
  // when any, nothing was compared or written and `changes` is empty.
  std::vector<std::string> errors;
  bool parsed = false;  // the file parsed as a whole (errors are per entry)
  size_t entries = 0;   // entries parsed
  std::vector<ImportChange> changes;  // the diff, one per entry
  uint32_t created = 0;
  uint32_t updated = 0;
  uint32_t unchanged = 0;
  bool applied = false;            // false for a dry run or a file with errors
  std::vector<SecretKey> written;  // in order
  std::vector<uint32_t> versions;  // aligned with `written`
};

// Parses `content`, checks every entry (name, value at most
// `max_value_bytes`), diffs it against one snapshot of the scope's current
// values, and unless `dry_run` writes the created and updated entries one by
// one, each a check-and-set against the version the diff saw (unchanged ones
// get no new version). Errors: a store read failure; a write failure stops
// the import with the store's code and a message naming the entry and every
// secret already written ("it changed while the import ran" when a
// concurrent writer won). Names only, never values.
absl::StatusOr<ImportOutcome> ImportIntoScope(
    SecretStore* store, absl::string_view scope, absl::string_view content,
    SecretFileFormat format, size_t max_value_bytes, bool dry_run);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_IMPORT_H_
