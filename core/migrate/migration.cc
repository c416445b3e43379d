#include "core/migrate/migration.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/crypto/subkeys.h"
#include "core/env/environment_registry.h"
#include "core/env/sqlite_environment_registry.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_store.h"
#include "core/identity/identity_records.h"
#include "core/identity/registry_credential_store.h"
#include "core/identity/upstream_permissions.h"
#include "core/store/secret_store.h"
#include "core/store/sqlite/sqlite.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zlayer::secrets {
namespace {

// Upstream's scope names (reference §9, §10).
constexpr absl::string_view kUpstreamApiKeys = "credentials";
constexpr absl::string_view kUpstreamRegistry = "registry_credentials";
constexpr absl::string_view kUpstreamRegistryMeta = "registry_credentials_meta";
constexpr absl::string_view kUpstreamGit = "git_credentials";
constexpr absl::string_view kUpstreamGitMeta = "git_credentials_meta";

struct PlannedSecret {
  std::string scope;
  std::string name;
  SecretBytes value;
};
struct PlannedEnvironment {
  std::string id;
  std::string name;
  std::string project;
};
struct PlannedApiKey {
  std::string id;
  std::string phc;
  std::vector<std::string> roles;
  int64_t created_at = 0;
};
struct PlannedRegistry {
  std::string id;
  std::string registry;
  std::string username;
  RegistryAuthType auth_type = RegistryAuthType::kBasic;
  SecretBytes password;
};
struct PlannedGit {
  std::string id;
  std::string name;
  GitCredentialKind kind = GitCredentialKind::kPat;
  SecretBytes value;
};

struct Plan {
  std::vector<PlannedEnvironment> environments;
  std::vector<PlannedSecret> secrets;
  std::vector<PlannedApiKey> api_keys;
  std::vector<PlannedRegistry> registry;
  std::vector<PlannedGit> git;
  std::vector<UnmappedRow> unmapped;
  // The upstream permissions document, already checked by planning it.
  std::string permissions_json;
  UpstreamPermissionPlan permissions;
};

bool IsEnvIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

bool ValidEnvId(absl::string_view id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), IsEnvIdChar);
}

// The environment a scope names: "env:{id}" or "project:{p}:env:{id}"
// (split after "project:" at the first ":env:", as upstream's RBAC does).
// False for other scopes.
bool ParseEnvScope(absl::string_view scope, std::string* project,
                   std::string* id) {
  if (absl::ConsumePrefix(&scope, "env:")) {
    project->clear();
    *id = std::string(scope);
    return true;
  }
  if (absl::ConsumePrefix(&scope, "project:")) {
    const size_t at = scope.find(":env:");
    if (at == absl::string_view::npos) return false;
    *project = std::string(scope.substr(0, at));
    *id = std::string(scope.substr(at + 5));
    return true;
  }
  return false;
}

// The row's value as a flat JSON record (upstream's credential records).
absl::StatusOr<FlatRecord> ParseRecordValue(const SecretBytes& value) {
  return FlatRecord::Parse(value.InsecureView());
}

class Planner {
 public:
  Planner(const std::map<std::string, std::string>& env_names, Plan* plan)
      : env_names_(env_names), plan_(plan) {}

  void Add(const UpstreamRow& row, SecretBytes value) {
    const std::string suffix = absl::StrCat(":", row.name);
    if (row.name.empty() || !absl::EndsWith(row.storage_key, suffix) ||
        row.storage_key.size() == suffix.size()) {
      Unmapped(row, "storage key does not end in ':' + its name column");
      return;
    }
    if (row.name.find(':') != std::string::npos) {
      Unmapped(row,
               "ambiguous: the name holds ':', so the key \"{scope}:{name}\" "
               "could belong to another scope/name pair (upstream §6.4)");
      return;
    }
    const std::string scope =
        row.storage_key.substr(0, row.storage_key.size() - suffix.size());
    if (scope == kUpstreamApiKeys) return AddApiKey(row, value);
    if (scope == kUpstreamRegistry || scope == kUpstreamGit) {
      values_[{scope, row.name}] = std::move(value);
      return;
    }
    if (scope == kUpstreamRegistryMeta || scope == kUpstreamGitMeta) {
      metas_.push_back({scope, row.storage_key, row.name, std::move(value)});
      return;
    }
    if (absl::StartsWith(scope, kSystemScopePrefix)) {
      Unmapped(row, "scope \"system:...\" is reserved for this daemon");
      return;
    }
    std::string target_scope = scope;
    std::string project, env_id;
    if (ParseEnvScope(scope, &project, &env_id)) {
      if (!ValidEnvId(env_id) || !ValidateProject(project).ok()) {
        Unmapped(row,
                 "environment scope with an id or project this store "
                 "refuses");
        return;
      }
      target_scope = AddEnvironment(project, env_id);
    }
    absl::Status valid = ValidateScope(target_scope);
    if (valid.ok()) valid = ValidateName(row.name);
    if (valid.ok() && value.size() > kMaxValueBytes) {
      valid = absl::InvalidArgumentError("value larger than 1 MiB");
    }
    if (!valid.ok()) {
      Unmapped(row, std::string(valid.message()));
      return;
    }
    plan_->secrets.push_back({target_scope, row.name, std::move(value)});
  }

  // Pairs credential metadata with values once every row is in.
  void Finish() {
    for (Meta& meta : metas_) {
      const bool registry = meta.scope == kUpstreamRegistryMeta;
      const std::string value_scope =
          std::string(registry ? kUpstreamRegistry : kUpstreamGit);
      auto value = values_.find({value_scope, meta.id});
      UpstreamRow row;
      row.storage_key = meta.storage_key;
      if (value == values_.end()) {
        Unmapped(row, "credential metadata without its value row");
        continue;
      }
      absl::StatusOr<FlatRecord> record = ParseRecordValue(meta.value);
      if (!record.ok() || !LooksLikeUuid(meta.id)) {
        Unmapped(row,
                 "credential metadata is not upstream's JSON record, or "
                 "its id is not a UUID");
        continue;
      }
      if (registry) {
        absl::StatusOr<std::string> host = record->String("registry");
        absl::StatusOr<std::string> user = record->String("username");
        absl::StatusOr<std::string> type = record->String("auth_type");
        absl::optional<RegistryAuthType> auth =
            type.ok() ? ParseRegistryAuthType(*type) : absl::nullopt;
        if (!host.ok() || !user.ok() || !auth.has_value()) {
          Unmapped(row,
                   "registry credential record lacks registry, username "
                   "or a known auth_type");
          continue;
        }
        plan_->registry.push_back(
            {meta.id, *host, *user, *auth, std::move(value->second)});
      } else {
        absl::StatusOr<std::string> name = record->String("name");
        absl::StatusOr<std::string> kind_text = record->String("kind");
        absl::optional<GitCredentialKind> kind =
            kind_text.ok() ? ParseGitCredentialKind(*kind_text) : absl::nullopt;
        if (!name.ok() || !kind.has_value()) {
          Unmapped(row, "git credential record lacks name or a known kind");
          continue;
        }
        plan_->git.push_back({meta.id, *name, *kind, std::move(value->second)});
      }
      values_.erase(value);
    }
    for (auto& [key, value] : values_) {
      UpstreamRow row;
      row.storage_key = absl::StrCat(key.first, ":", key.second);
      Unmapped(row, "credential value without its metadata row");
    }
  }

  void Unmapped(const UpstreamRow& row, std::string reason) {
    plan_->unmapped.push_back({row.storage_key, std::move(reason)});
  }

 private:
  struct Meta {
    std::string scope;
    std::string storage_key;
    std::string id;
    SecretBytes value;
  };

  void AddApiKey(const UpstreamRow& row, const SecretBytes& value) {
    absl::StatusOr<FlatRecord> record = ParseRecordValue(value);
    absl::StatusOr<std::string> hash =
        record.ok() ? record->String("hash")
                    : absl::StatusOr<std::string>(record.status());
    absl::StatusOr<std::vector<std::string>> roles =
        record.ok() ? record->StringList("roles")
                    : absl::StatusOr<std::vector<std::string>>(record.status());
    if (!hash.ok() || !roles.ok() || !absl::StartsWith(*hash, "$argon2id$")) {
      Unmapped(row,
               "API key record is not {\"hash\": \"$argon2id$...\", "
               "\"roles\": [...]}");
      return;
    }
    if (!ValidateApiKeyId(row.name).ok()) {
      Unmapped(row,
               "API key id must be 1..64 characters of [A-Za-z0-9_-] "
               "here (upstream allows any string, e.g. e-mail addresses)");
      return;
    }
    for (const std::string& role : *roles) {
      if (!ValidateRole(role).ok()) {
        Unmapped(row, "API key has a role outside [A-Za-z0-9_.:-]");
        return;
      }
    }
    plan_->api_keys.push_back({row.name, *std::move(hash), *std::move(roles),
                               ParseUpstreamTime(row.created_at)});
  }

  // Plans the environment (once) and returns its scope here.
  std::string AddEnvironment(const std::string& project,
                             const std::string& raw_id) {
    const std::string id = absl::AsciiStrToLower(raw_id);
    auto [it, inserted] = planned_envs_.insert({id, project});
    if (inserted) {
      std::string name;
      auto named = env_names_.find(raw_id);
      if (named == env_names_.end()) named = env_names_.find(id);
      if (named != env_names_.end()) {
        name = named->second;
      } else {
        // Names that look like UUIDs are refused (ids and names must never
        // be confused), and upstream's ids are UUIDs.
        name = NormalizeEnvironmentName(id).ok() ? id : "env-" + id;
      }
      plan_->environments.push_back({id, name, project});
    }
    Environment env;
    env.id = id;
    env.project = it->second;
    return EnvironmentScope(env);
  }

  const std::map<std::string, std::string>& env_names_;
  Plan* plan_;
  std::map<std::pair<std::string, std::string>, SecretBytes> values_;
  std::vector<Meta> metas_;
  std::map<std::string, std::string> planned_envs_;  // id -> project
};

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoError("cannot read", path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, " is too large"));
    }
  }
  close(fd);
  return out;
}

void RemoveStaging(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
}

absl::Status SyncPath(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoError("cannot sync", path);
  return absl::OkStatus();
}

// Copies the live database `from` into `to` with SQLite's online backup API
// (one consistent snapshot).
absl::Status BackupInto(Database& from, Database& to) {
  sqlite3_backup* backup =
      sqlite3_backup_init(to.raw(), "main", from.raw(), "main");
  if (backup == nullptr) {
    return SqliteStatus(sqlite3_errcode(to.raw()), to.raw(), "backup init");
  }
  const int step = sqlite3_backup_step(backup, -1);
  const int finish = sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) return SqliteStatus(step, to.raw(), "backup step");
  if (finish != SQLITE_OK) {
    return SqliteStatus(finish, to.raw(), "backup finish");
  }
  return absl::OkStatus();
}

// Writes the plan into `store` (the staging copy). Every creation is
// create-only: anything that exists already fails the run.
absl::Status Apply(Plan& plan, SqliteSecretStore* store, Clock* clock,
                   MigrationReport* report) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteEnvironmentRegistry> environments,
                   SqliteEnvironmentRegistry::Create(store, clock));
  for (const PlannedEnvironment& env : plan.environments) {
    absl::StatusOr<Environment> created = environments->CreateWithId(
        env.id, env.name, env.project, "migrated from upstream ZLayer");
    if (!created.ok()) {
      return absl::Status(created.status().code(),
                          absl::StrCat("environment ", env.id, " (", env.name,
                                       "): ", created.status().message()));
    }
  }
  WriteOptions create_only;
  create_only.expected_version = 0;
  for (const PlannedSecret& s : plan.secrets) {
    absl::Status status =
        store->SetSecret(s.scope, s.name, s.value, create_only).status();
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("secret ", s.scope, " ", s.name, ": ",
                                       status.message()));
    }
  }
  if (!plan.api_keys.empty()) {
    ApiKeyStoreOptions key_options;
    ASSIGN_OR_RETURN(key_options.hash_key,
                     store->DeriveSubkey(SubkeyPurpose::kApiKeyHash));
    ASSIGN_OR_RETURN(std::unique_ptr<ApiKeyStore> keys,
                     ApiKeyStore::Create(store, clock, std::move(key_options)));
    for (const PlannedApiKey& k : plan.api_keys) {
      absl::Status status =
          keys->ImportArgon2Hash(k.id, k.phc, k.roles, k.created_at);
      if (!status.ok()) return status;
    }
  }
  RegistryCredentialStore registry(store, clock);
  for (const PlannedRegistry& r : plan.registry) {
    RETURN_IF_ERROR(
        registry
            .CreateWithId(r.id, r.registry, r.username, r.password, r.auth_type)
            .status());
  }
  GitCredentialStore git(store, clock);
  for (const PlannedGit& g : plan.git) {
    RETURN_IF_ERROR(
        git.CreateWithId(g.id, g.name, g.value, g.kind, GitCredentialMatch())
            .status());
  }
  (void)report;
  if (!plan.permissions_json.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<GrantStore> grants,
                     GrantStore::Open(store, clock));
    RETURN_IF_ERROR(
        ImportUpstreamPermissions(plan.permissions_json, grants.get())
            .status());
  }
  return absl::OkStatus();
}

void Describe(const Plan& plan, MigrationReport* report) {
  for (const PlannedEnvironment& e : plan.environments) {
    report->created.push_back(absl::StrCat(
        "environment ", e.id, " name=", e.name,
        e.project.empty() ? "" : absl::StrCat(" project=", e.project)));
  }
  for (const PlannedSecret& s : plan.secrets) {
    report->created.push_back(absl::StrCat("secret ", s.scope, " ", s.name));
  }
  for (const PlannedApiKey& k : plan.api_keys) {
    report->created.push_back(absl::StrCat("api key ", k.id,
                                           " (Argon2id "
                                           "hash kept; present zs_",
                                           k.id, ".<password>)"));
  }
  for (const PlannedRegistry& r : plan.registry) {
    report->created.push_back(
        absl::StrCat("registry credential ", r.id, " ", r.registry));
  }
  for (const PlannedGit& g : plan.git) {
    report->created.push_back(
        absl::StrCat("git credential ", g.id, " ", g.name));
  }
  report->environments = plan.environments.size();
  report->secrets = plan.secrets.size();
  report->api_keys = plan.api_keys.size();
  report->registry_credentials = plan.registry.size();
  report->git_credentials = plan.git.size();
  for (const MappedUpstreamGrant& g : plan.permissions.grants) {
    report->created.push_back(
        absl::StrCat("grant ", g.subject, " ", AccessLevelName(g.level), " on ",
                     g.resource.DebugString(), " (upstream permission ",
                     g.upstream_id, ")"));
  }
  report->grants = plan.permissions.grants.size();
  for (const SkippedUpstreamPermission& s : plan.permissions.skipped) {
    report->permissions_skipped.push_back(
        absl::StrCat(s.upstream_id, ": ", s.reason));
  }
  report->permissions_notes = plan.permissions.notes;
  report->unmapped = plan.unmapped;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseEnvNames(
    absl::string_view text) {
  std::map<std::string, std::string> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--env-names line ", line_no, ": expected ID=NAME"));
    }
    const std::string id(absl::StripAsciiWhitespace(line.substr(0, eq)));
    absl::StatusOr<std::string> name =
        NormalizeEnvironmentName(line.substr(eq + 1));
    if (id.empty() || !name.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--env-names line ", line_no, ": ",
          id.empty() ? "empty id" : std::string(name.status().message())));
    }
    out[id] = *std::move(name);
  }
  return out;
}

absl::StatusOr<MigrationReport> Migrate(const MigrationOptions& options,
                                        Clock* clock) {
  if (options.upstream_path.empty() || options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "migrate needs --from-upstream PATH and --data-dir DIR");
  }
  MigrationReport report;
  report.dry_run = options.dry_run;
  ASSIGN_OR_RETURN(report.upstream_database,
                   FindUpstreamDatabase(options.upstream_path));
  UpstreamKeyOptions key_options = options.upstream_key;
  if (key_options.key_dir.empty()) {
    struct stat st;
    if (stat(options.upstream_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      key_options.key_dir = options.upstream_path;
    }
  }
  ASSIGN_OR_RETURN(UpstreamKey upstream_key, ResolveUpstreamKey(key_options));
  report.upstream_key_source = upstream_key.source;

  std::map<std::string, std::string> env_names;
  if (!options.env_names_file.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadSmallFile(options.env_names_file));
    ASSIGN_OR_RETURN(env_names, ParseEnvNames(text));
  }

  ASSIGN_OR_RETURN(std::vector<UpstreamRow> rows,
                   ReadUpstreamRows(report.upstream_database));
  report.rows = rows.size();
  Plan plan;
  Planner planner(env_names, &plan);
  size_t opened = 0;
  for (const UpstreamRow& row : rows) {
    absl::StatusOr<SecretBytes> value =
        OpenUpstreamBlob(upstream_key.key, row.blob);
    if (!value.ok()) {
      planner.Unmapped(row, std::string(value.status().message()));
      continue;
    }
    ++opened;
    planner.Add(row, *std::move(value));
  }
  if (!rows.empty() && opened == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the upstream key (", upstream_key.source, ") opens none of the ",
        rows.size(), " rows: wrong key or wrong deployment name"));
  }
  planner.Finish();
  if (!options.permissions_file.empty()) {
    ASSIGN_OR_RETURN(plan.permissions_json,
                     ReadSmallFile(options.permissions_file));
    ASSIGN_OR_RETURN(plan.permissions,
                     PlanUpstreamPermissions(plan.permissions_json));
  }
  Describe(plan, &report);
  if (!plan.unmapped.empty() && !options.dry_run && !options.skip_unmapped) {
    return absl::FailedPreconditionError(absl::StrCat(
        plan.unmapped.size(),
        " upstream rows cannot be mapped (see `migrate --dry-run`); nothing "
        "was written. Pass --skip-unmapped to migrate the others"));
  }

  const std::string target = absl::StrCat(options.data_dir, "/secrets.db");
  const bool target_exists = Exists(target);
  if (options.dry_run && !target_exists) {
    report.note = absl::StrCat(
        "no store at ", target,
        " yet: a real run creates it (and the daemon's key, if missing)");
    return report;
  }

  // The target's lock. A real run switches it out of WAL, which SQLite
  // refuses while any other connection (a running daemon) has it open, and
  // then holds a read lock until the staging copy replaced it. A dry
  // run only reads it (a consistent snapshot by the backup API).
  std::unique_ptr<Database> locked;
  if (target_exists) {
    DatabaseOptions db_options;
    db_options.flags = SQLITE_OPEN_READWRITE;
    db_options.busy_timeout = absl::ZeroDuration();
    ASSIGN_OR_RETURN(locked, Database::Open(target, db_options));
    if (!options.dry_run) {
      absl::StatusOr<std::string> mode =
          locked->QueryText("PRAGMA journal_mode=DELETE");
      // A read transaction keeps a SHARED lock: in rollback-journal mode no
      // other connection can then write (or switch back to WAL) until the
      // staging copy has replaced the file. (An exclusive one would stop
      // the backup API from reading through this connection.)
      absl::Status begin = mode.ok() && *mode == "delete"
                               ? locked->Execute("BEGIN")
                               : absl::UnavailableError("busy");
      if (begin.ok()) {
        begin =
            locked->QueryInt64("SELECT count(*) FROM sqlite_master").status();
      }
      if (!begin.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the store ", target,
            " is in use: stop zlayer-secretsd before migrating (nothing was "
            "written)"));
      }
    }
  }

  const std::string staging =
      absl::StrCat(options.data_dir, "/.migrate-staging.db");
  RemoveStaging(staging);
  {
    int fd =
        open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError("cannot create", staging);
    close(fd);
  }
  auto fail = [&staging](absl::Status status) {
    RemoveStaging(staging);
    return status;
  };
  if (locked != nullptr) {
    absl::StatusOr<std::unique_ptr<Database>> copy =
        Database::Open(staging, DatabaseOptions());
    if (!copy.ok()) return fail(copy.status());
    absl::Status copied = BackupInto(*locked, **copy);
    if (!copied.ok()) return fail(copied);
  }

  {
    absl::StatusOr<std::unique_ptr<KeyManager>> keys =
        KeyManager::Create(options.target_key);
    if (!keys.ok()) return fail(keys.status());
    // A dry run writes nothing, not even a key; and a key made now could
    // never open an existing store. Only a real run into a new store may
    // create the daemon's key.
    absl::StatusOr<MasterKey> master = options.dry_run || target_exists
                                           ? (*keys)->GetExistingKey()
                                           : (*keys)->GetOrCreateKey();
    if (!master.ok()) return fail(master.status());
    absl::StatusOr<uint32_t> key_id = SqliteSecretStore::RecordedKeyId(staging);
    if (!key_id.ok()) return fail(key_id.status());
    absl::StatusOr<std::unique_ptr<Keyring>> ring =
        Keyring::Create(*key_id, std::move(master->key));
    if (!ring.ok()) return fail(ring.status());
    SqliteStoreOptions store_options;
    store_options.path = staging;
    absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
        SqliteSecretStore::Open(store_options, *std::move(ring), clock);
    if (!store.ok()) return fail(store.status());
    absl::Status applied = Apply(plan, store->get(), clock, &report);
    if (!applied.ok()) return fail(applied);
  }  // the store closes: its WAL is checkpointed into the staging file

  if (options.dry_run) {
    RemoveStaging(staging);
    return report;
  }
  absl::Status synced = SyncPath(staging, O_RDONLY);
  if (!synced.ok()) return fail(synced);
  if (target_exists) {
    if (rename(staging.c_str(), target.c_str()) != 0) {
      return fail(ErrnoError("cannot replace", target));
    }
  } else if (link(staging.c_str(), target.c_str()) != 0) {
    // link, not rename: a store that appeared meanwhile is never replaced.
    return fail(ErrnoError("cannot create", target));
  }
  RemoveStaging(staging);
  (void)SyncPath(options.data_dir, O_RDONLY | O_DIRECTORY);
  locked.reset();
  report.applied = true;
  return report;
}

std::string FormatMigrationReport(const MigrationReport& report) {
  std::string out =
      absl::StrCat(report.dry_run ? "dry run (nothing written)" : "migration",
                   ": upstream ", report.upstream_database, " (key from ",
                   report.upstream_key_source, "), ", report.rows, " rows\n");
  absl::StrAppend(
      &out, report.dry_run ? "would create: " : "created: ", report.secrets,
      " secrets, ", report.environments, " environments, ", report.api_keys,
      " API keys, ", report.registry_credentials, " registry credentials, ",
      report.git_credentials, " git credentials, ", report.grants, " grants\n");
  for (const std::string& line : report.created) {
    absl::StrAppend(&out, "  + ", line, "\n");
  }
  for (const std::string& line : report.permissions_notes) {
    absl::StrAppend(&out, "  ~ ", line, "\n");
  }
  if (!report.permissions_skipped.empty()) {
    absl::StrAppend(&out, "upstream permissions skipped: ",
                    report.permissions_skipped.size(), "\n");
    for (const std::string& line : report.permissions_skipped) {
      absl::StrAppend(&out, "  - ", line, "\n");
    }
  }
  absl::StrAppend(&out, "cannot map: ", report.unmapped.size(), " rows\n");
  for (const UnmappedRow& row : report.unmapped) {
    absl::StrAppend(&out, "  ! ", row.storage_key, ": ", row.reason, "\n");
  }
  if (!report.note.empty()) absl::StrAppend(&out, "note: ", report.note, "\n");
  return out;
}

}  // namespace zlayer::secrets
