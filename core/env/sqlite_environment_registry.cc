#include "core/env/sqlite_environment_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/crypto/store_crypto.h"
#include "core/crypto/subkeys.h"

namespace zlayer::secrets {
namespace {

constexpr absl::string_view kColumns =
    "id, name, project, description, created_at, updated_at, mac";

// What an environment row's MAC is computed and checked with.
struct EnvAuth {
  absl::string_view store_id;
  const SecretBytes& mac_key;
};

EnvAuth Auth(const SqliteSecretStore& store, const SecretBytes& mac_key) {
  return EnvAuth{store.store_id(), mac_key};
}

absl::StatusOr<std::string> MacOf(const EnvAuth& auth, const Environment& env) {
  EnvironmentRowFields fields;
  fields.id = env.id;
  fields.name = env.name;
  fields.project = env.project;
  fields.description = env.description;
  fields.created_at = env.created_at;
  fields.updated_at = env.updated_at;
  return EnvironmentRowMac(auth.mac_key, auth.store_id, fields);
}

// The row under the statement, once its MAC has been checked: DataLoss for a
// row edited outside the store (a name swapped between two ids, a project
// changed, a row copied from another store).
absl::StatusOr<Environment> ReadEnvironment(const EnvAuth& auth,
                                            const Statement& st) {
  Environment env;
  env.id = std::string(st.ColumnText(0));
  env.name = std::string(st.ColumnText(1));
  env.project = std::string(st.ColumnText(2));
  env.description = std::string(st.ColumnText(3));
  env.created_at = st.ColumnInt64(4);
  env.updated_at = st.ColumnInt64(5);
  ASSIGN_OR_RETURN(std::string expected, MacOf(auth, env));
  RETURN_IF_ERROR(
      CheckRowMac(st.ColumnBlob(6), expected, "environment metadata"));
  return env;
}

absl::Status AlreadyTaken() {
  return absl::AlreadyExistsError(
      "an environment with this name already exists in this project");
}

absl::Status NoSuchId() {
  return absl::NotFoundError("no environment has this id");
}

// False when absent.
absl::StatusOr<bool> SelectById(Database& db, const EnvAuth& auth,
                                absl::string_view id, Environment* out) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kColumns, " FROM environments WHERE id = ?1");
  ASSIGN_OR_RETURN(ScopedStatement st, db.Prepare(kSql));
  RETURN_IF_ERROR(st->BindText(1, absl::AsciiStrToLower(id)));
  ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) {
    ASSIGN_OR_RETURN(*out, ReadEnvironment(auth, *st));
  }
  return found;
}

absl::StatusOr<bool> SelectByName(Database& db, const EnvAuth& auth,
                                  absl::string_view name,
                                  absl::string_view project, Environment* out) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kColumns,
                   " FROM environments WHERE project = ?1 AND name = ?2");
  ASSIGN_OR_RETURN(ScopedStatement st, db.Prepare(kSql));
  RETURN_IF_ERROR(st->BindText(1, project));
  RETURN_IF_ERROR(st->BindText(2, name));
  ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) {
    ASSIGN_OR_RETURN(*out, ReadEnvironment(auth, *st));
  }
  return found;
}

absl::StatusOr<std::vector<Environment>> SelectProject(
    Database& db, const EnvAuth& auth, absl::string_view project) {
  static const std::string kSql =
      absl::StrCat("SELECT ", kColumns,
                   " FROM environments WHERE project = ?1 ORDER BY name");
  ASSIGN_OR_RETURN(ScopedStatement st, db.Prepare(kSql));
  RETURN_IF_ERROR(st->BindText(1, project));
  std::vector<Environment> out;
  while (true) {
    ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    ASSIGN_OR_RETURN(Environment env, ReadEnvironment(auth, *st));
    out.push_back(std::move(env));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteEnvironmentRegistry>>
SqliteEnvironmentRegistry::Create(SqliteSecretStore* store, Clock* clock) {
  if (store == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("registry needs a store and a clock");
  }
  ASSIGN_OR_RETURN(SecretBytes mac_key,
                   store->DeriveSubkey(SubkeyPurpose::kMetadataMac));
  return std::unique_ptr<SqliteEnvironmentRegistry>(
      new SqliteEnvironmentRegistry(store, clock, std::move(mac_key)));
}

absl::StatusOr<Environment> SqliteEnvironmentRegistry::Create(
    absl::string_view name, absl::string_view project,
    absl::string_view description) {
  return CreateWithId(NewUuidV4(), name, project, description);
}

absl::StatusOr<Environment> SqliteEnvironmentRegistry::CreateWithId(
    absl::string_view id, absl::string_view name, absl::string_view project,
    absl::string_view description) {
  if (id.empty() || id.size() > 64 ||
      !std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_';
      })) {
    return absl::InvalidArgumentError(
        "environment id must be 1..64 characters of [A-Za-z0-9_-]");
  }
  ASSIGN_OR_RETURN(std::string clean, NormalizeEnvironmentName(name));
  RETURN_IF_ERROR(ValidateProject(project));
  RETURN_IF_ERROR(ValidateDescription(description));
  Environment env;
  env.id = absl::AsciiStrToLower(id);
  env.name = std::move(clean);
  env.project = std::string(project);
  env.description = std::string(description);
  env.created_at = env.updated_at = clock_->NowUnixSeconds();
  RETURN_IF_ERROR(
      store_->RunInWriteTransaction([&](Database& db) -> absl::Status {
        Environment existing;
        ASSIGN_OR_RETURN(bool taken,
                         SelectByName(db, Auth(*store_, mac_key_), env.name,
                                      env.project, &existing));
        if (taken) return AlreadyTaken();
        ASSIGN_OR_RETURN(bool id_taken, SelectById(db, Auth(*store_, mac_key_),
                                                   env.id, &existing));
        if (id_taken) {
          return absl::AlreadyExistsError(
              absl::StrCat("environment id ", env.id, " already exists"));
        }
        ASSIGN_OR_RETURN(std::string mac, MacOf(Auth(*store_, mac_key_), env));
        ASSIGN_OR_RETURN(
            ScopedStatement st,
            db.Prepare("INSERT INTO environments (id, name, project, "
                       "description, created_at, updated_at, mac) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)"));
        RETURN_IF_ERROR(st->BindText(1, env.id));
        RETURN_IF_ERROR(st->BindText(2, env.name));
        RETURN_IF_ERROR(st->BindText(3, env.project));
        RETURN_IF_ERROR(st->BindText(4, env.description));
        RETURN_IF_ERROR(st->BindInt64(5, env.created_at));
        RETURN_IF_ERROR(st->BindBlob(6, mac));
        return st->Run();
      }));
  return env;
}

absl::StatusOr<Environment> SqliteEnvironmentRegistry::Get(
    absl::string_view id) {
  Environment env;
  RETURN_IF_ERROR(
      store_->RunInReadTransaction([&](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(bool found,
                         SelectById(db, Auth(*store_, mac_key_), id, &env));
        return found ? absl::OkStatus() : NoSuchId();
      }));
  return env;
}

absl::StatusOr<std::vector<Environment>> SqliteEnvironmentRegistry::List(
    absl::string_view project) {
  RETURN_IF_ERROR(ValidateProject(project));
  std::vector<Environment> out;
  RETURN_IF_ERROR(
      store_->RunInReadTransaction([&](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(out,
                         SelectProject(db, Auth(*store_, mac_key_), project));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<Environment> SqliteEnvironmentRegistry::Update(
    absl::string_view id, absl::string_view name,
    absl::string_view description) {
  std::string clean;
  if (!name.empty()) {
    ASSIGN_OR_RETURN(clean, NormalizeEnvironmentName(name));
  }
  RETURN_IF_ERROR(ValidateDescription(description));
  Environment env;
  RETURN_IF_ERROR(
      store_->RunInWriteTransaction([&](Database& db) -> absl::Status {
        ASSIGN_OR_RETURN(bool found,
                         SelectById(db, Auth(*store_, mac_key_), id, &env));
        if (!found) return NoSuchId();
        if (!clean.empty() && clean != env.name) {
          Environment other;
          ASSIGN_OR_RETURN(bool taken,
                           SelectByName(db, Auth(*store_, mac_key_), clean,
                                        env.project, &other));
          if (taken) return AlreadyTaken();
          env.name = clean;
        }
        env.description = std::string(description);
        env.updated_at = clock_->NowUnixSeconds();
        ASSIGN_OR_RETURN(std::string mac, MacOf(Auth(*store_, mac_key_), env));
        ASSIGN_OR_RETURN(ScopedStatement st,
                         db.Prepare("UPDATE environments SET name = ?2, "
                                    "description = ?3, updated_at = ?4, "
                                    "mac = ?5 WHERE id = ?1"));
        RETURN_IF_ERROR(st->BindText(1, env.id));
        RETURN_IF_ERROR(st->BindText(2, env.name));
        RETURN_IF_ERROR(st->BindText(3, env.description));
        RETURN_IF_ERROR(st->BindInt64(4, env.updated_at));
        RETURN_IF_ERROR(st->BindBlob(5, mac));
        return st->Run();
      }));
  return env;
}

absl::Status SqliteEnvironmentRegistry::Delete(absl::string_view id) {
  return store_->RunInWriteTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("DELETE FROM environments WHERE id = ?1"));
    RETURN_IF_ERROR(st->BindText(1, absl::AsciiStrToLower(id)));
    RETURN_IF_ERROR(st->Run());
    return db.Changes() == 0 ? NoSuchId() : absl::OkStatus();
  });
}

absl::StatusOr<Environment> SqliteEnvironmentRegistry::Find(
    absl::string_view name_or_id, absl::string_view project) {
  RETURN_IF_ERROR(
      ValidateText(name_or_id, "environment", 1, kMaxEnvironmentNameBytes));
  RETURN_IF_ERROR(ValidateProject(project));
  Environment env;
  RETURN_IF_ERROR(
      store_->RunInReadTransaction([&](Database& db) -> absl::Status {
        if (LooksLikeUuid(name_or_id)) {
          ASSIGN_OR_RETURN(bool found, SelectById(db, Auth(*store_, mac_key_),
                                                  name_or_id, &env));
          return found ? absl::OkStatus()
                       : EnvironmentNotFound(name_or_id, project, {});
        }
        ASSIGN_OR_RETURN(bool found, SelectByName(db, Auth(*store_, mac_key_),
                                                  name_or_id, project, &env));
        if (found) return absl::OkStatus();
        ASSIGN_OR_RETURN(std::vector<Environment> all,
                         SelectProject(db, Auth(*store_, mac_key_), project));
        std::vector<std::string> known;
        for (const Environment& e : all) known.push_back(e.name);
        return EnvironmentNotFound(name_or_id, project, known);
      }));
  return env;
}

}  // namespace zlayer::secrets
