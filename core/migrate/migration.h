// Migration of an upstream ZLayer secrets store into this daemon's store
// (`zlayer-secret migrate --from-upstream PATH`; docs/operations.md).
//
// What each upstream row becomes (upstream reference §6, §9, §10, §13):
//   scope "credentials"                  an API key with that id whose
//                                        Argon2id PHC hash is kept (the key
//                                        verifies as "zs_<id>.<password>")
//   "registry_credentials[_meta]"        a registry credential, same UUID
//   "git_credentials[_meta]"             a git credential, same UUID
//   "env:{id}"                           a secret in environment {id},
//   "project:{p}:env:{id}"               which is created (named from the
//                                        --env-names file, else by its id)
//   any other scope                      a secret in the same scope string
// Rows it cannot map are reported, never guessed: a name with ':' (the
// "{scope}:{name}" key is ambiguous, §6.4), a key that does not end in
// ":{name}", names or scopes this store refuses, "system:" scopes, values
// that fail authentication, credential halves without their other half.
//
// Offline, like restore: the daemon must be stopped. Migrate switches the
// target out of WAL mode (SQLite refuses that while any other connection,
// such as a running daemon, has the file open) and keeps a read lock on it
// (so nothing else can write it meanwhile), copies the store to a staging file
// with SQLite's online backup API, writes everything there, then renames the
// staging file over the store: the run is all-or-nothing, and a failure at
// any step leaves the store exactly as it was. A dry run does the same work
// on the staging copy and throws it away, so it reports the conflicts a real
// run would hit; it writes nothing (not even a new key when the target has
// none: it then stops after planning). Neither a dry run nor a run into an
// existing store ever creates the target's key: when it is missing they
// stop with NotFound naming the key file looked for.
//
//   MigrationOptions options;
//   options.upstream_path = "/var/lib/zlayer";
//   options.data_dir = "/var/lib/zlayer-secrets";
//   options.target_key.key_dir = "/etc/zlayer-secrets";
//   options.dry_run = true;
//   ASSIGN_OR_RETURN(MigrationReport report, Migrate(options, &clock));
//   std::cout << FormatMigrationReport(report);
//
// Errors never contain values or keys. Not thread-safe against another
// migration of the same data directory (the lock refuses the second).
#ifndef ZLAYER_SECRETS_CORE_MIGRATE_MIGRATION_H_
#define ZLAYER_SECRETS_CORE_MIGRATE_MIGRATION_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/clock.h"
#include "core/crypto/key_manager.h"
#include "core/migrate/upstream_crypto.h"
#include "core/migrate/upstream_store.h"

namespace zlayer::secrets {

struct MigrationOptions {
  // The upstream store: its data directory or the .sqlite file.
  std::string upstream_path;
  // How to find the upstream key. key_dir empty: the upstream data
  // directory (upstream_path when it is a directory).
  UpstreamKeyOptions upstream_key;
  // Optional "ID=NAME" lines ('#' comments) naming environments.
  std::string env_names_file;
  // Optional upstream StoredPermission JSON (an array, as upstream's
  // `GET /api/v1/permissions` lists them): imported as grants
  // (core/identity/upstream_permissions.h). A malformed document stops the
  // migration before anything is written; grants it cannot express are
  // reported in `permissions_skipped`.
  std::string permissions_file;
  // The daemon's data directory ({data_dir}/secrets.db) and how the daemon
  // finds its master key (same options as zlayer-secretsd).
  std::string data_dir;
  KeyManagerOptions target_key;
  bool dry_run = false;
  // Migrate the rows that map even when some cannot (they are reported).
  bool skip_unmapped = false;
};

struct UnmappedRow {
  std::string storage_key;
  std::string reason;
};

struct MigrationReport {
  bool dry_run = false;
  bool applied = false;
  std::string upstream_database;
  std::string upstream_key_source;
  size_t rows = 0;
  // One line per thing created ("secret SCOPE NAME", "environment ID NAME",
  // "api key ID", "registry credential ID HOST", "git credential ID NAME").
  std::vector<std::string> created;
  size_t secrets = 0;
  size_t environments = 0;
  size_t api_keys = 0;
  size_t registry_credentials = 0;
  size_t git_credentials = 0;
  // Grants imported from permissions_file ("created" lists them), and the
  // upstream permissions skipped ("<id>: <reason>") or narrowed (notes).
  size_t grants = 0;
  std::vector<std::string> permissions_skipped;
  std::vector<std::string> permissions_notes;
  std::vector<UnmappedRow> unmapped;
  // Set when the dry run could not try the writes (no target store yet).
  std::string note;
};

// Runs the migration (or the dry run). Errors:
//   NotFound           no upstream store, or no upstream key
//   FailedPrecondition the target store is in use (stop the daemon), the
//                      upstream key opens no row, rows cannot be mapped
//                      (without skip_unmapped), or the target's key does
//                      not open the target store
//   AlreadyExists      something to create exists already in the target
//   InvalidArgument    a malformed option, key or --env-names file
//   DataLoss           the upstream file is not an upstream store
// On every error nothing has been written.
absl::StatusOr<MigrationReport> Migrate(const MigrationOptions& options,
                                        Clock* clock);

// The report as text: a summary, each creation, each unmapped row.
std::string FormatMigrationReport(const MigrationReport& report);

// Parses an --env-names file ("ID=NAME" per line). InvalidArgument naming
// the line.
absl::StatusOr<std::map<std::string, std::string>> ParseEnvNames(
    absl::string_view text);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_MIGRATE_MIGRATION_H_
