#include "core/store/sqlite/sqlite_secret_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/crypto/store_crypto.h"
#include "core/crypto/subkeys.h"
#include "core/store/node_affinity.h"
#include "core/store/store_common.h"

namespace zlayer::secrets {

static_assert(SqliteSecretStore::kGroupSizeBounds.back() ==
                  SqliteSecretStore::kMaxWritesPerCommit,
              "every group size has its bucket");
namespace {

// --- Schema
// -------------------------------------------------------------------

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Ordered; each runs once, in the same transaction that records it in
// schema_migrations and PRAGMA user_version. Never edit a shipped entry:
// append a new one. docs/storage.md describes every table and column.
constexpr Migration kMigrations[] = {
    {1, "initial schema", R"sql(
CREATE TABLE schema_migrations (
  version     INTEGER PRIMARY KEY NOT NULL,
  description TEXT NOT NULL,
  applied_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) STRICT;

CREATE TABLE secrets (
  scope           TEXT NOT NULL,
  name            TEXT NOT NULL,
  current_version INTEGER NOT NULL CHECK (current_version BETWEEN 1 AND 4294967295),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  max_versions    INTEGER NOT NULL CHECK (max_versions BETWEEN 1 AND 1000),
  deleted_at      INTEGER,
  PRIMARY KEY (scope, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE secret_versions (
  scope      TEXT NOT NULL,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  key_id     INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  created_at INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (scope, name, version),
  FOREIGN KEY (scope, name) REFERENCES secrets (scope, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE environments (
  id          TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL,
  project     TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (project, name)
) STRICT;
)sql"},
    // v2 (docs/crypto.md, "Key hierarchy"): values are sealed by data keys
    // (DEKs) kept in `keyring`, sealed by the master key; each secret gets an
    // incarnation id, and secrets and environments rows carry a MAC. The
    // columns are filled by UpgradeV1Rows() in the same transaction.
    {2, "key hierarchy, incarnations, metadata MACs", R"sql(
ALTER TABLE secrets ADD COLUMN incarnation BLOB NOT NULL DEFAULT x'';
ALTER TABLE secrets ADD COLUMN mac BLOB NOT NULL DEFAULT x'';
ALTER TABLE environments ADD COLUMN mac BLOB NOT NULL DEFAULT x'';

CREATE INDEX secret_versions_by_generation ON secret_versions (key_id);

CREATE TABLE keyring (
  generation INTEGER PRIMARY KEY NOT NULL
             CHECK (generation BETWEEN 1 AND 4294967295),
  wrapped    BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
)sql"},
    // v3 (docs/identity.md, "Node affinity"): a secret's node affinity,
    // canonical entries joined by ','. '' (every existing row) = none, which
    // the row MAC leaves out, so existing MACs stay valid.
    {3, "node affinity", R"sql(
ALTER TABLE secrets ADD COLUMN node_affinity TEXT NOT NULL DEFAULT '';
)sql"},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) ==
                  static_cast<size_t>(kSqliteSchemaVersion),
              "kSqliteSchemaVersion must be the last migration");

// The key check value: a fixed plaintext sealed under associated data that no
// secret row can produce (secret scopes are never empty, versions never 0).
constexpr absl::string_view kKeyCheckMetaKey = "key_check";
constexpr absl::string_view kStoreIdMetaKey = "store_id";
constexpr absl::string_view kSubkeySeedMetaKey = "subkey_seed";
constexpr absl::string_view kKeyCheckPlaintext = "zlayer-secrets key check v1";
constexpr absl::string_view kKeyMismatch =
    "the master key does not match this store (key check failed)";

// The v1 key check value's associated data (read once, by the upgrade).
std::string KeyCheckAdV1(uint32_t key_id) {
  return SecretAssociatedData("", "zlayer-secrets/key-check", 0, key_id);
}

absl::Status MetadataDamaged(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("store ", what, " is damaged"));
}

// --- Rows
// ---------------------------------------------------------------------

struct Row {
  uint32_t current_version = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  uint32_t max_versions = kDefaultMaxVersions;
  bool deleted = false;
  int64_t deleted_at = 0;
  std::string incarnation;
  std::vector<std::string> node_affinity;  // canonical
  std::string mac;
};

// What a `secrets` row's MAC is computed and checked with.
struct RowAuth {
  absl::string_view store_id;
  const SecretBytes& mac_key;
};

absl::StatusOr<std::string> MacOf(const RowAuth& auth, absl::string_view scope,
                                  absl::string_view name, const Row& row) {
  SecretRowFields fields;
  fields.scope = scope;
  fields.name = name;
  fields.incarnation = row.incarnation;
  fields.current_version = row.current_version;
  fields.created_at = row.created_at;
  fields.updated_at = row.updated_at;
  fields.max_versions = row.max_versions;
  fields.deleted = row.deleted;
  fields.deleted_at = row.deleted_at;
  const std::string affinity = EncodeNodeAffinity(row.node_affinity);
  fields.node_affinity = affinity;
  return SecretRowMac(auth.mac_key, auth.store_id, fields);
}

// DataLoss unless the row's stored MAC matches its fields.
absl::Status VerifyRow(const RowAuth& auth, absl::string_view scope,
                       absl::string_view name, const Row& row) {
  ASSIGN_OR_RETURN(std::string expected, MacOf(auth, scope, name, row));
  return CheckRowMac(row.mac, expected, "secret metadata");
}

absl::Status NotFound() { return absl::NotFoundError("secret not found"); }

// Integer columns read back from the file are checked: a value outside its
// range means someone edited the file.
absl::StatusOr<uint32_t> ColumnU32(const Statement& st, int column,
                                   absl::string_view what) {
  const int64_t v = st.ColumnInt64(column);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return absl::DataLossError(absl::StrCat("stored ", what, " out of range"));
  }
  return static_cast<uint32_t>(v);
}

// Reads the `secrets` row of (scope, name) and checks its MAC. False when
// there is none; DataLoss when the row was edited outside the store.
absl::StatusOr<bool> ReadRow(Database& db, const RowAuth& auth,
                             absl::string_view scope, absl::string_view name,
                             Row* row) {
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("SELECT current_version, created_at, updated_at, "
                              "max_versions, deleted_at, incarnation, mac, "
                              "node_affinity "
                              "FROM secrets WHERE scope = ?1 AND name = ?2"));
  RETURN_IF_ERROR(st->BindText(1, scope));
  RETURN_IF_ERROR(st->BindText(2, name));
  ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return false;
  ASSIGN_OR_RETURN(row->current_version, ColumnU32(*st, 0, "version"));
  row->created_at = st->ColumnInt64(1);
  row->updated_at = st->ColumnInt64(2);
  ASSIGN_OR_RETURN(row->max_versions, ColumnU32(*st, 3, "max_versions"));
  if (row->current_version == 0 || row->max_versions == 0 ||
      row->max_versions > kMaxMaxVersions) {
    return absl::DataLossError("stored secret row is malformed");
  }
  row->deleted = !st->ColumnIsNull(4);
  row->deleted_at = row->deleted ? st->ColumnInt64(4) : 0;
  row->incarnation = std::string(st->ColumnBlob(5));
  row->mac = std::string(st->ColumnBlob(6));
  ASSIGN_OR_RETURN(row->node_affinity, DecodeNodeAffinity(st->ColumnText(7)));
  RETURN_IF_ERROR(VerifyRow(auth, scope, name, *row));
  return true;
}

// DataLoss if version rows newer than `current` exist: the secret's version
// counter was rolled back underneath its values.
absl::Status CheckNoNewerVersions(Database& db, absl::string_view scope,
                                  absl::string_view name, uint32_t current) {
  ASSIGN_OR_RETURN(
      ScopedStatement st,
      db.Prepare("SELECT EXISTS (SELECT 1 FROM secret_versions "
                 "WHERE scope = ?1 AND name = ?2 AND version > ?3)"));
  RETURN_IF_ERROR(st->BindText(1, scope));
  RETURN_IF_ERROR(st->BindText(2, name));
  RETURN_IF_ERROR(st->BindInt64(3, current));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (row && st->ColumnInt64(0) != 0) {
    return absl::DataLossError(
        "stored versions are newer than the secret's current version");
  }
  return absl::OkStatus();
}

SecretMetadata MakeMetadata(absl::string_view scope, absl::string_view name,
                            const Row& row, uint32_t key_id) {
  SecretMetadata m;
  m.scope = std::string(scope);
  m.name = std::string(name);
  m.version = row.current_version;
  m.created_at = row.created_at;
  m.updated_at = row.updated_at;
  m.key_id = key_id;
  m.max_versions = row.max_versions;
  m.deleted = row.deleted;
  m.deleted_at = row.deleted_at;
  m.incarnation = row.incarnation;
  m.node_affinity = row.node_affinity;
  return m;
}

// One page of `scope`, in name order: names in [prefix, upper) and > after.
// `limit` < 0 = no limit.
absl::StatusOr<std::vector<SecretMetadata>> ListRows(
    Database& db, const RowAuth& auth, absl::string_view scope,
    absl::string_view prefix, const absl::optional<std::string>& upper,
    absl::string_view after, bool include_deleted, int64_t limit) {
  // Separate texts rather than "?6 IS NULL OR" clauses, so the planner
  // always sees one plain range on the primary key. In particular only one
  // lower bound: with both "name >= prefix" and "name > after" SQLite may
  // seek to the prefix and scan up to the page token (measured: 10 ms per
  // page deep inside a 100,000-secret scope). The tighter of the two is
  // enough: after >= prefix makes "> after" imply ">= prefix", and the
  // other way round.
  static constexpr absl::string_view kBase =
      "SELECT s.name, s.current_version, s.created_at, s.updated_at, "
      "s.max_versions, s.deleted_at, v.key_id, s.incarnation, s.mac, "
      "s.node_affinity "
      "FROM secrets AS s LEFT JOIN secret_versions AS v "
      "ON v.scope = s.scope AND v.name = s.name AND v.version = "
      "s.current_version "
      "WHERE s.scope = ?1 AND (?4 OR s.deleted_at IS NULL) ";
  static const std::string kTexts[2][2] = {
      // From the prefix (inclusive): unbounded, bounded above.
      {absl::StrCat(kBase, "AND s.name >= ?2 ORDER BY s.name LIMIT ?5"),
       absl::StrCat(kBase,
                    "AND s.name >= ?2 AND s.name < ?6 ORDER BY s.name "
                    "LIMIT ?5")},
      // After the page token (exclusive).
      {absl::StrCat(kBase, "AND s.name > ?2 ORDER BY s.name LIMIT ?5"),
       absl::StrCat(kBase,
                    "AND s.name > ?2 AND s.name < ?6 ORDER BY s.name "
                    "LIMIT ?5")}};
  const bool from_after = !after.empty() && after >= prefix;
  ASSIGN_OR_RETURN(
      ScopedStatement st,
      db.Prepare(kTexts[from_after ? 1 : 0][upper.has_value() ? 1 : 0]));
  RETURN_IF_ERROR(st->BindText(1, scope));
  RETURN_IF_ERROR(st->BindText(2, from_after ? after : prefix));
  RETURN_IF_ERROR(st->BindInt64(4, include_deleted ? 1 : 0));
  RETURN_IF_ERROR(st->BindInt64(5, limit));
  if (upper.has_value()) RETURN_IF_ERROR(st->BindText(6, *upper));
  std::vector<SecretMetadata> out;
  while (true) {
    ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    Row row;
    ASSIGN_OR_RETURN(row.current_version, ColumnU32(*st, 1, "version"));
    row.created_at = st->ColumnInt64(2);
    row.updated_at = st->ColumnInt64(3);
    ASSIGN_OR_RETURN(row.max_versions, ColumnU32(*st, 4, "max_versions"));
    row.deleted = !st->ColumnIsNull(5);
    row.deleted_at = row.deleted ? st->ColumnInt64(5) : 0;
    row.incarnation = std::string(st->ColumnBlob(7));
    row.mac = std::string(st->ColumnBlob(8));
    ASSIGN_OR_RETURN(row.node_affinity, DecodeNodeAffinity(st->ColumnText(9)));
    RETURN_IF_ERROR(VerifyRow(auth, scope, st->ColumnText(0), row));
    // Listings are metadata only: a missing current row shows key id 0 here
    // and fails as DataLoss when the value is read.
    uint32_t key_id = 0;
    if (!st->ColumnIsNull(6)) {
      ASSIGN_OR_RETURN(key_id, ColumnU32(*st, 6, "key id"));
    }
    out.push_back(MakeMetadata(scope, st->ColumnText(0), row, key_id));
  }
  return out;
}

absl::Status CreateFileIfMissing(const std::string& path) {
  // SQLite would create the file with the umask's mode; secrets metadata is
  // not for other users, and SQLite gives -wal/-shm the main file's mode.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return absl::OkStatus();
  }
  if (errno == EEXIST) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
}

absl::Status ApplyPragmas(Database& db, const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return absl::UnavailableError(
        absl::StrCat("could not enable WAL mode (journal_mode is ", mode, ")"));
  }
  const bool full =
      options.synchronous == SqliteStoreOptions::Synchronous::kFull;
  RETURN_IF_ERROR(db.Execute(full ? "PRAGMA synchronous = FULL"
                                  : "PRAGMA synchronous = NORMAL"));
  RETURN_IF_ERROR(db.Execute("PRAGMA foreign_keys = ON"));
  // Deleted and overwritten content (old ciphertexts, old wrapped keys) is
  // zeroed in the file rather than left in free pages. Debian's build
  // defaults to it; other builds do not.
  RETURN_IF_ERROR(db.Execute("PRAGMA secure_delete = ON"));
  ASSIGN_OR_RETURN(int64_t sync, db.QueryInt64("PRAGMA synchronous"));
  ASSIGN_OR_RETURN(int64_t fk, db.QueryInt64("PRAGMA foreign_keys"));
  ASSIGN_OR_RETURN(int64_t secure, db.QueryInt64("PRAGMA secure_delete"));
  if (sync != (full ? 2 : 1) || fk != 1 || secure != 1) {
    return absl::InternalError("SQLite did not accept the store's pragmas");
  }
  return absl::OkStatus();
}

// --- Key hierarchy
// ------------------------------------------------------------

absl::StatusOr<bool> ReadMeta(Database& db, absl::string_view key,
                              std::string* value) {
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("SELECT value FROM meta WHERE key = ?1"));
  RETURN_IF_ERROR(st->BindText(1, key));
  ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) *value = std::string(st->ColumnBlob(0));
  return found;
}

absl::Status WriteMeta(Database& db, absl::string_view key,
                       absl::string_view value) {
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) "
                              "ON CONFLICT (key) DO UPDATE SET value = ?2"));
  RETURN_IF_ERROR(st->BindText(1, key));
  RETURN_IF_ERROR(st->BindBlob(2, value));
  return st->Run();
}

absl::Status WriteDataKey(Database& db, uint32_t generation,
                          absl::string_view wrapped, int64_t now) {
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("INSERT INTO keyring (generation, wrapped, "
                              "created_at) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT (generation) DO UPDATE "
                              "SET wrapped = ?2"));
  RETURN_IF_ERROR(st->BindInt64(1, generation));
  RETURN_IF_ERROR(st->BindBlob(2, wrapped));
  RETURN_IF_ERROR(st->BindInt64(3, now));
  return st->Run();
}

// Checks that `kek` opens the store's key check value, and makes the key
// that sealed it active in `kek`. `schema` says which format it has.
absl::Status CheckMasterKey(Database& db, int64_t schema, Keyring& kek) {
  std::string blob;
  ASSIGN_OR_RETURN(bool found, ReadMeta(db, kKeyCheckMetaKey, &blob));
  if (!found) return absl::DataLossError("store has no key check value");
  ASSIGN_OR_RETURN(uint32_t kek_id, BlobKeyId(blob));
  std::string ad;
  if (schema == 1) {
    ad = KeyCheckAdV1(kek_id);
  } else {
    std::string store_id;
    ASSIGN_OR_RETURN(bool has_id, ReadMeta(db, kStoreIdMetaKey, &store_id));
    if (!has_id || store_id.size() != kStoreIdBytes) {
      return MetadataDamaged("id");
    }
    ad = KeyCheckAssociatedData(store_id, kek_id);
  }
  absl::StatusOr<SecretBytes> plain = kek.Decrypt(blob, ad);
  if (!plain.ok() || !plain->ConstantTimeEquals(kKeyCheckPlaintext)) {
    return absl::FailedPreconditionError(kKeyMismatch);
  }
  // The store, not the caller, decides which key is the master key; it
  // changes only through RotateKey.
  return kek.SetActive(kek_id);
}

// Creates the v2 keys of a new (or upgrading) store: its id, the subkey
// seed, data key generation 1 and the key check value, all sealed by the
// active key of `kek`.
absl::Status CreateKeys(Database& db, const Keyring& kek, int64_t now) {
  SecretBytes id_bytes = SecretBytes::Random(kStoreIdBytes);
  const std::string store_id(id_bytes.InsecureView());
  RETURN_IF_ERROR(WriteMeta(db, kStoreIdMetaKey, store_id));
  ASSIGN_OR_RETURN(std::string seed,
                   kek.Encrypt(SecretBytes::Random(kSubkeyBytes),
                               SubkeySeedAssociatedData(store_id)));
  RETURN_IF_ERROR(WriteMeta(db, kSubkeySeedMetaKey, seed));
  ASSIGN_OR_RETURN(std::string dek,
                   kek.Encrypt(SecretBytes::Random(kKeyBytes),
                               DataKeyAssociatedData(store_id, 1)));
  RETURN_IF_ERROR(WriteDataKey(db, 1, dek, now));
  ASSIGN_OR_RETURN(
      std::string check,
      kek.Encrypt(SecretBytes::FromString(kKeyCheckPlaintext),
                  KeyCheckAssociatedData(store_id, kek.active_key_id())));
  return WriteMeta(db, kKeyCheckMetaKey, check);
}

// The store's keys, opened with the master key.
struct OpenedKeys {
  std::string store_id;
  SecretBytes seed;
  std::unique_ptr<Keyring> deks;  // every generation; the newest active
};

absl::StatusOr<OpenedKeys> OpenKeys(Database& db, const Keyring& kek) {
  OpenedKeys keys;
  ASSIGN_OR_RETURN(bool has_id, ReadMeta(db, kStoreIdMetaKey, &keys.store_id));
  if (!has_id || keys.store_id.size() != kStoreIdBytes) {
    return MetadataDamaged("id");
  }
  std::string wrapped_seed;
  ASSIGN_OR_RETURN(bool has_seed,
                   ReadMeta(db, kSubkeySeedMetaKey, &wrapped_seed));
  if (!has_seed) return MetadataDamaged("subkey seed");
  absl::StatusOr<SecretBytes> seed =
      kek.Decrypt(wrapped_seed, SubkeySeedAssociatedData(keys.store_id));
  if (!seed.ok() || seed->size() != kSubkeyBytes) {
    return MetadataDamaged("subkey seed");
  }
  keys.seed = *std::move(seed);
  ASSIGN_OR_RETURN(
      ScopedStatement st,
      db.Prepare(
          "SELECT generation, wrapped FROM keyring ORDER BY generation"));
  uint32_t newest = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    ASSIGN_OR_RETURN(uint32_t generation, ColumnU32(*st, 0, "generation"));
    absl::StatusOr<SecretBytes> dek = kek.Decrypt(
        st->ColumnBlob(1), DataKeyAssociatedData(keys.store_id, generation));
    if (!dek.ok()) return MetadataDamaged("keyring");
    if (keys.deks == nullptr) {
      ASSIGN_OR_RETURN(keys.deks, Keyring::Create(generation, *std::move(dek)));
    } else {
      RETURN_IF_ERROR(keys.deks->AddKey(generation, *std::move(dek)));
    }
    newest = generation;
  }
  if (keys.deks == nullptr) return MetadataDamaged("keyring");
  RETURN_IF_ERROR(keys.deks->SetActive(newest));
  return keys;
}

absl::Status MacEveryEnvironment(Database& db, const RowAuth& auth) {
  std::vector<std::pair<std::string, std::string>> macs;  // id, mac
  {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("SELECT id, name, project, description, "
                                "created_at, updated_at FROM environments"));
    while (true) {
      ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      EnvironmentRowFields env;
      env.id = st->ColumnText(0);
      env.name = st->ColumnText(1);
      env.project = st->ColumnText(2);
      env.description = st->ColumnText(3);
      env.created_at = st->ColumnInt64(4);
      env.updated_at = st->ColumnInt64(5);
      ASSIGN_OR_RETURN(std::string mac,
                       EnvironmentRowMac(auth.mac_key, auth.store_id, env));
      macs.emplace_back(std::string(env.id), std::move(mac));
    }
  }
  for (const auto& [id, mac] : macs) {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("UPDATE environments SET mac = ?2 "
                                "WHERE id = ?1"));
    RETURN_IF_ERROR(st->BindText(1, id));
    RETURN_IF_ERROR(st->BindBlob(2, mac));
    RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

// Brings the rows of a v1 store to v2 (inside Open's transaction): each
// secret gets an incarnation and a MAC, each version is opened with the
// master key under its v1 associated data and sealed anew by the active data
// key, each environment gets a MAC. One secret's versions at a time, so
// memory stays bounded by the largest secret. DataLoss (nothing changed:
// the store stays v1) if any value fails to open.
absl::Status UpgradeV1Rows(Database& db, const Keyring& kek,
                           const OpenedKeys& keys, const RowAuth& auth) {
  struct Secret {
    std::string scope;
    std::string name;
    Row row;
  };
  std::vector<Secret> secrets;
  {
    ASSIGN_OR_RETURN(
        ScopedStatement st,
        db.Prepare("SELECT scope, name, current_version, created_at, "
                   "updated_at, max_versions, deleted_at FROM secrets"));
    while (true) {
      ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      Secret s;
      s.scope = std::string(st->ColumnText(0));
      s.name = std::string(st->ColumnText(1));
      ASSIGN_OR_RETURN(s.row.current_version, ColumnU32(*st, 2, "version"));
      s.row.created_at = st->ColumnInt64(3);
      s.row.updated_at = st->ColumnInt64(4);
      ASSIGN_OR_RETURN(s.row.max_versions, ColumnU32(*st, 5, "max_versions"));
      s.row.deleted = !st->ColumnIsNull(6);
      s.row.deleted_at = s.row.deleted ? st->ColumnInt64(6) : 0;
      secrets.push_back(std::move(s));
    }
  }
  const uint32_t generation = keys.deks->active_key_id();
  for (Secret& s : secrets) {
    s.row.incarnation =
        std::string(SecretBytes::Random(kIncarnationBytes).InsecureView());
    ASSIGN_OR_RETURN(std::string mac, MacOf(auth, s.scope, s.name, s.row));
    {
      ASSIGN_OR_RETURN(ScopedStatement st,
                       db.Prepare("UPDATE secrets SET incarnation = ?3, "
                                  "mac = ?4 WHERE scope = ?1 AND name = ?2"));
      RETURN_IF_ERROR(st->BindText(1, s.scope));
      RETURN_IF_ERROR(st->BindText(2, s.name));
      RETURN_IF_ERROR(st->BindBlob(3, s.row.incarnation));
      RETURN_IF_ERROR(st->BindBlob(4, mac));
      RETURN_IF_ERROR(st->Run());
    }
    struct Version {
      uint32_t version;
      uint32_t key_id;
      std::string ciphertext;
    };
    std::vector<Version> versions;
    {
      ASSIGN_OR_RETURN(ScopedStatement st,
                       db.Prepare("SELECT version, key_id, ciphertext FROM "
                                  "secret_versions WHERE scope = ?1 AND "
                                  "name = ?2"));
      RETURN_IF_ERROR(st->BindText(1, s.scope));
      RETURN_IF_ERROR(st->BindText(2, s.name));
      while (true) {
        ASSIGN_OR_RETURN(bool more, st->Step());
        if (!more) break;
        Version v;
        ASSIGN_OR_RETURN(v.version, ColumnU32(*st, 0, "version"));
        ASSIGN_OR_RETURN(v.key_id, ColumnU32(*st, 1, "key id"));
        v.ciphertext = std::string(st->ColumnBlob(2));
        versions.push_back(std::move(v));
      }
    }
    for (const Version& v : versions) {
      absl::StatusOr<SecretBytes> plain = kek.Decrypt(
          v.ciphertext,
          SecretAssociatedData(s.scope, s.name, v.version, v.key_id));
      if (!plain.ok()) {
        return absl::DataLossError(absl::StrCat(
            "upgrade to schema 2 stopped: stored version ", v.version,
            " failed its integrity check (the store is left at schema 1)"));
      }
      ValueBinding binding{keys.store_id, s.scope,           s.name,
                           v.version,     s.row.incarnation, generation};
      ASSIGN_OR_RETURN(
          std::string blob,
          keys.deks->Encrypt(*plain, ValueAssociatedData(binding)));
      ASSIGN_OR_RETURN(ScopedStatement st,
                       db.Prepare("UPDATE secret_versions SET key_id = ?4, "
                                  "ciphertext = ?5 WHERE scope = ?1 "
                                  "AND name = ?2 AND version = ?3"));
      RETURN_IF_ERROR(st->BindText(1, s.scope));
      RETURN_IF_ERROR(st->BindText(2, s.name));
      RETURN_IF_ERROR(st->BindInt64(3, v.version));
      RETURN_IF_ERROR(st->BindInt64(4, generation));
      RETURN_IF_ERROR(st->BindBlob(5, blob));
      RETURN_IF_ERROR(st->Run());
    }
  }
  return MacEveryEnvironment(db, auth);
}

}  // namespace

// --- Reader pool
// --------------------------------------------------------------

// Reader connections, opened lazily up to a limit; callers beyond it wait.
class SqliteSecretStore::ReaderPool {
 public:
  ReaderPool(std::string path, absl::Duration busy_timeout, int max_open)
      : path_(std::move(path)),
        busy_timeout_(busy_timeout),
        max_open_(std::max(max_open, 1)) {}

  absl::StatusOr<std::unique_ptr<Database>> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ReaderPool::CanTake));
    if (!idle_.empty()) {
      std::unique_ptr<Database> db = std::move(idle_.back());
      idle_.pop_back();
      return db;
    }
    ++open_;
    absl::StatusOr<std::unique_ptr<Database>> db = OpenReader();
    if (!db.ok()) --open_;
    return db;
  }

  void Give(std::unique_ptr<Database> db) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(std::move(db));
  }

 private:
  bool CanTake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < max_open_;
  }

  absl::StatusOr<std::unique_ptr<Database>> OpenReader() {
    DatabaseOptions options;
    options.flags = SQLITE_OPEN_READWRITE;  // never create: the writer did
    options.busy_timeout = busy_timeout_;
    ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                     Database::Open(path_, options));
    // Readers only read; make SQLite enforce it.
    RETURN_IF_ERROR(db->Execute("PRAGMA query_only = ON"));
    return db;
  }

  const std::string path_;
  const absl::Duration busy_timeout_;
  const int max_open_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Database>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// --- Open
// ---------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> SqliteSecretStore::Open(
    const SqliteStoreOptions& options, std::unique_ptr<Keyring> keyring,
    Clock* clock) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path is empty");
  }
  if (keyring == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("store needs a keyring and a clock");
  }
  if (options.max_readers < 1) {
    return absl::InvalidArgumentError("max_readers must be at least 1");
  }
  RETURN_IF_ERROR(CreateFileIfMissing(options.path));
  DatabaseOptions db_options;
  db_options.busy_timeout = options.busy_timeout;
  ASSIGN_OR_RETURN(std::unique_ptr<Database> writer,
                   Database::Open(options.path, db_options));
  RETURN_IF_ERROR(ApplyPragmas(*writer, options));

  OpenedKeys keys;
  SecretBytes mac_key;
  {
    // Check the key, migrate (v1 -> v2 included), and create or open the
    // key hierarchy in one write transaction: any failure, or a crash at any
    // point, rolls back and leaves the file as it was.
    ASSIGN_OR_RETURN(
        Transaction txn,
        Transaction::Begin(writer.get(), TransactionMode::kImmediate));
    ASSIGN_OR_RETURN(int64_t schema, writer->QueryInt64("PRAGMA user_version"));
    if (schema > kSqliteSchemaVersion || schema < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store schema version ", schema, " is newer than this build (",
          kSqliteSchemaVersion, ")"));
    }
    if (schema > 0) RETURN_IF_ERROR(CheckMasterKey(*writer, schema, *keyring));
    const int64_t now = clock->NowUnixSeconds();
    for (const Migration& m : kMigrations) {
      if (m.version <= schema) continue;
      RETURN_IF_ERROR(writer->Execute(m.sql));
      ASSIGN_OR_RETURN(ScopedStatement st,
                       writer->Prepare("INSERT INTO schema_migrations "
                                       "(version, description, applied_at) "
                                       "VALUES (?1, ?2, ?3)"));
      RETURN_IF_ERROR(st->BindInt64(1, m.version));
      RETURN_IF_ERROR(st->BindText(2, m.description));
      RETURN_IF_ERROR(st->BindInt64(3, now));
      RETURN_IF_ERROR(st->Run());
      // PRAGMA takes no parameters; the value is a compile-time constant.
      RETURN_IF_ERROR(
          writer->Execute(absl::StrCat("PRAGMA user_version = ", m.version)));
    }
    if (schema < 2) RETURN_IF_ERROR(CreateKeys(*writer, *keyring, now));
    ASSIGN_OR_RETURN(keys, OpenKeys(*writer, *keyring));
    ASSIGN_OR_RETURN(mac_key, ::zlayer::secrets::DeriveSubkey(
                                  keys.seed, SubkeyPurpose::kMetadataMac));
    if (schema == 1) {
      RETURN_IF_ERROR(UpgradeV1Rows(*writer, *keyring, keys,
                                    RowAuth{keys.store_id, mac_key}));
    }
    RETURN_IF_ERROR(txn.Commit());
  }

  auto readers = std::make_unique<ReaderPool>(
      options.path, options.busy_timeout, options.max_readers);
  std::unique_ptr<SqliteSecretStore> store(
      new SqliteSecretStore(options, std::move(writer), std::move(readers),
                            std::move(keyring), clock));
  store->store_id_ = std::move(keys.store_id);
  store->seed_ = std::move(keys.seed);
  store->mac_key_ = std::move(mac_key);
  store->deks_ = std::move(keys.deks);
  return store;
}

SqliteSecretStore::SqliteSecretStore(SqliteStoreOptions options,
                                     std::unique_ptr<Database> writer,
                                     std::unique_ptr<ReaderPool> readers,
                                     std::unique_ptr<Keyring> keyring,
                                     Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      kek_(std::move(keyring)),
      writer_(std::move(writer)),
      readers_(std::move(readers)),
      cache_(options_.sealed_cache_bytes) {}

SqliteSecretStore::~SqliteSecretStore() { StopRekey(); }

// --- Transactions
// -------------------------------------------------------------

// One write waiting in (or taken from) the commit queue. Lives on its
// caller's stack; the caller blocks until `done`.
struct SqliteSecretStore::PendingWrite {
  explicit PendingWrite(absl::FunctionRef<absl::Status(Database&)> f) : fn(f) {}
  absl::FunctionRef<absl::Status(Database&)> fn;
  absl::Status status;  // set by the leader before `done`
  bool done = false;    // guarded by queue_mu_
};

absl::Status SqliteSecretStore::RunInWriteTransaction(
    absl::FunctionRef<absl::Status(Database&)> fn) {
  PendingWrite self(fn);
  std::vector<PendingWrite*> group;
  {
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back(&self);
    struct Ready {
      SqliteSecretStore* store;
      PendingWrite* self;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->queue_mu_) {
        return self->done ||
               (!store->leader_active_ && !store->queue_.empty() &&
                store->queue_.front() == self);
      }
    } ready{this, &self};
    queue_mu_.Await(absl::Condition(&ready));
    if (self.done) return self.status;
    // Lead: take everything queued so far (self first), up to the limit.
    leader_active_ = true;
    const size_t n = std::min(queue_.size(), kMaxWritesPerCommit);
    group.assign(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
  }
  // Writes arriving from here on queue up for the next group.
  CommitGroup(group);
  // Before anyone of the group is answered: no cached row may be older
  // than what was just committed.
  cache_.InvalidateAll();
  {
    absl::MutexLock lock(&queue_mu_);
    for (PendingWrite* write : group) write->done = true;
    leader_active_ = false;
  }
  return self.status;
}

void SqliteSecretStore::CommitGroup(const std::vector<PendingWrite*>& group) {
  absl::MutexLock lock(&write_mu_);
  if (group.size() == 1) {
    group[0]->status = CommitOne(*group[0]);
    return;
  }
  absl::Status status = TryCommitGroup(group);
  if (status.ok()) return;
  // Nothing of the group was committed. Retry each write on its own, so
  // that a write which broke the whole transaction fails alone and every
  // caller gets the outcome of its own write.
  for (PendingWrite* write : group) write->status = CommitOne(*write);
}

absl::Status SqliteSecretStore::TryCommitGroup(
    const std::vector<PendingWrite*>& group) {
  Database& db = *writer_;
  ASSIGN_OR_RETURN(Transaction txn,
                   Transaction::Begin(&db, TransactionMode::kImmediate));
  for (PendingWrite* write : group) {
    {
      ASSIGN_OR_RETURN(ScopedStatement savepoint,
                       db.Prepare("SAVEPOINT group_write"));
      RETURN_IF_ERROR(savepoint->Run());
    }
    write->status = write->fn(db);
    if (!write->status.ok()) {
      // Some errors (e.g. SQLITE_FULL, IOERR) end the whole transaction;
      // then nothing of the group survives and it is retried write by write.
      if (sqlite3_get_autocommit(db.raw())) return write->status;
      ASSIGN_OR_RETURN(ScopedStatement rollback,
                       db.Prepare("ROLLBACK TO group_write"));
      RETURN_IF_ERROR(rollback->Run());
    }
    // RELEASE after ROLLBACK TO keeps nothing of the failed write: it only
    // removes the (now empty) savepoint.
    ASSIGN_OR_RETURN(ScopedStatement release,
                     db.Prepare("RELEASE group_write"));
    RETURN_IF_ERROR(release->Run());
  }
  RETURN_IF_ERROR(txn.Commit());
  CountCommit(group.size());
  return absl::OkStatus();
}

absl::Status SqliteSecretStore::CommitOne(PendingWrite& write) {
  ASSIGN_OR_RETURN(
      Transaction txn,
      Transaction::Begin(writer_.get(), TransactionMode::kImmediate));
  RETURN_IF_ERROR(write.fn(*writer_));
  RETURN_IF_ERROR(txn.Commit());
  CountCommit(1);
  return absl::OkStatus();
}

void SqliteSecretStore::CountCommit(size_t writes) {
  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_writes_.fetch_add(writes, std::memory_order_relaxed);
  size_t i = 0;
  while (i + 1 < kGroupSizeBounds.size() && writes > kGroupSizeBounds[i]) ++i;
  commits_by_size_[i].fetch_add(1, std::memory_order_relaxed);
}

SqliteSecretStore::WriteStats SqliteSecretStore::write_stats() const {
  WriteStats stats;
  stats.commits = commits_.load(std::memory_order_relaxed);
  stats.writes = committed_writes_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kGroupSizeBounds.size(); ++i) {
    stats.commits_by_size[i] =
        commits_by_size_[i].load(std::memory_order_relaxed);
  }
  return stats;
}

void SqliteSecretStore::WaitForQueuedWritesForTesting(size_t n) {
  absl::MutexLock lock(&queue_mu_);
  struct Queued {
    SqliteSecretStore* store;
    size_t n;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->queue_mu_) {
      return store->queue_.size() >= n;
    }
  } queued{this, n};
  queue_mu_.Await(absl::Condition(&queued));
}

absl::Status SqliteSecretStore::RunInReadTransaction(
    absl::FunctionRef<absl::Status(Database&)> fn) {
  return RunInSnapshot([&](Database& db, uint64_t) { return fn(db); });
}

absl::Status SqliteSecretStore::RunInSnapshot(
    absl::FunctionRef<absl::Status(Database&, uint64_t)> fn) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, readers_->Take());
  absl::Status status = [&]() -> absl::Status {
    if (cache_.enabled()) {
      // Asked in its own short transaction, before the snapshot: a
      // different value than this connection saw last time means someone
      // committed since (see "Sealed-row cache").
      int64_t version = 0;
      {
        ASSIGN_OR_RETURN(ScopedStatement st,
                         db->Prepare("PRAGMA data_version"));
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return absl::InternalError("PRAGMA data_version: no row");
        version = st->ColumnInt64(0);
      }
      bool changed = false;
      {
        absl::MutexLock lock(&data_version_mu_);
        auto [it, inserted] = data_versions_.try_emplace(db.get(), version);
        changed = inserted || it->second != version;
        it->second = version;
      }
      if (changed) cache_.InvalidateAll();
    }
    // The epoch is taken before the snapshot starts (a deferred transaction
    // starts it at its first read). Taken after, a write could commit and
    // invalidate in between, and this read would cache the row its older
    // snapshot sees under the newer epoch: a reader after the write's
    // acknowledgement would then be served the older version.
    const uint64_t epoch = cache_.epoch();
    ASSIGN_OR_RETURN(Transaction txn,
                     Transaction::Begin(db.get(), TransactionMode::kDeferred));
    RETURN_IF_ERROR(fn(*db, epoch));
    return txn.Commit();
  }();
  readers_->Give(std::move(db));
  return status;
}

// --- Reads
// --------------------------------------------------------------------

absl::StatusOr<VersionedValue> SqliteSecretStore::ReadValue(
    Database& db, absl::string_view scope, absl::string_view name,
    uint32_t version, SecretMetadata* metadata,
    absl::optional<uint64_t> cache_epoch) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  const bool cacheable = cache_epoch.has_value() && version == 0;
  if (cacheable) {
    if (std::shared_ptr<const SealedRow> hit = cache_.Lookup(scope, name)) {
      // Sealed in the cache too: opened (and authenticated) on every hit.
      const SecretMetadata& m = hit->metadata;
      absl::StatusOr<SecretBytes> value =
          deks_->Decrypt(hit->ciphertext,
                         ValueAssociatedData({store_id_, scope, name, m.version,
                                              hit->incarnation, m.key_id}));
      if (!value.ok()) {
        cache_.InvalidateAll();
        return absl::DataLossError(absl::StrCat(
            "stored version ", m.version,
            " failed its integrity check: ", value.status().message()));
      }
      if (metadata != nullptr) *metadata = m;
      return VersionedValue{*std::move(value), m.version, hit->incarnation,
                            m.node_affinity};
    }
  }
  Row row;
  ASSIGN_OR_RETURN(
      bool found, ReadRow(db, RowAuth{store_id_, mac_key_}, scope, name, &row));
  if (!found || row.deleted) return NotFound();
  if (version == 0) version = row.current_version;
  if (version > row.current_version) {
    return absl::NotFoundError(absl::StrCat("version ", version, " not found"));
  }
  // One query, newest first, from the newest row down to `version` (for the
  // usual read of the current version: one row). It also sees a row newer
  // than the current version (the counter rolled back underneath its
  // values) and the current version's key id (for the metadata).
  ASSIGN_OR_RETURN(
      ScopedStatement st,
      db.Prepare("SELECT version, key_id, ciphertext FROM secret_versions "
                 "WHERE scope = ?1 AND name = ?2 AND version >= ?3 "
                 "ORDER BY version DESC"));
  RETURN_IF_ERROR(st->BindText(1, scope));
  RETURN_IF_ERROR(st->BindText(2, name));
  RETURN_IF_ERROR(st->BindInt64(3, version));
  absl::optional<uint32_t> current_key_id;
  absl::optional<absl::StatusOr<SecretBytes>> value;  // set at `version`
  std::string sealed;  // the current version's ciphertext, when cacheable
  while (!value.has_value()) {
    ASSIGN_OR_RETURN(bool more, st->Step());
    if (!more) break;
    ASSIGN_OR_RETURN(uint32_t row_version, ColumnU32(*st, 0, "version"));
    if (row_version > row.current_version) {
      return absl::DataLossError(
          "stored versions are newer than the secret's current version");
    }
    ASSIGN_OR_RETURN(uint32_t row_key_id, ColumnU32(*st, 1, "key id"));
    if (row_version == row.current_version) current_key_id = row_key_id;
    if (row_version == version) {
      if (cacheable) sealed = std::string(st->ColumnBlob(2));
      value =
          deks_->Decrypt(st->ColumnBlob(2),
                         ValueAssociatedData({store_id_, scope, name, version,
                                              row.incarnation, row_key_id}));
    }
  }
  if (!value.has_value()) {
    // Versions inside the retention window are never deleted by the store.
    if (version >= OldestKeptVersion(row.current_version, row.max_versions)) {
      return absl::DataLossError(
          absl::StrCat("stored version ", version, " is missing"));
    }
    return absl::NotFoundError(
        absl::StrCat("version ", version, " was pruned"));
  }
  if (!value->ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored version ", version,
        " failed its integrity check: ", value->status().message()));
  }
  if (metadata != nullptr) {
    if (!current_key_id.has_value()) {
      return absl::DataLossError("the current version's row is missing");
    }
    *metadata = MakeMetadata(scope, name, row, *current_key_id);
  }
  if (cacheable && current_key_id.has_value()) {
    cache_.Insert(scope, name,
                  SealedRow{MakeMetadata(scope, name, row, *current_key_id),
                            row.incarnation, std::move(sealed)},
                  *cache_epoch);
  }
  return VersionedValue{*std::move(*value), version, row.incarnation,
                        row.node_affinity};
}

namespace {

// Batches up to this many names use the sealed-row cache; larger ones (an
// export's pages) read storage only, so a bulk read neither churns the cache
// nor leaves it holding a large store's rows.
constexpr size_t kMaxCachedBatch = 64;

absl::optional<uint64_t> CacheEpochFor(size_t batch, uint64_t epoch) {
  if (batch > kMaxCachedBatch) return absl::nullopt;
  return epoch;
}

}  // namespace

absl::StatusOr<SecretBytes> SqliteSecretStore::GetSecret(
    absl::string_view scope, absl::string_view name) {
  ASSIGN_OR_RETURN(VersionedValue v, GetVersioned(scope, name, 0));
  return std::move(v.value);
}

absl::StatusOr<VersionedValue> SqliteSecretStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::ReaderMutexLock key_lock(&key_mu_);
  absl::StatusOr<VersionedValue> out;
  RETURN_IF_ERROR(RunInSnapshot([&](Database& db, uint64_t epoch) {
    out = ReadValue(db, scope, name, version, nullptr, epoch);
    return out.status();
  }));
  return out;
}

absl::StatusOr<ValueWithMetadata> SqliteSecretStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  absl::ReaderMutexLock key_lock(&key_mu_);
  ValueWithMetadata out;
  RETURN_IF_ERROR(
      RunInSnapshot([&](Database& db, uint64_t epoch) -> absl::Status {
        ASSIGN_OR_RETURN(out.read, ReadValue(db, scope, name, version,
                                             &out.metadata, epoch));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
SqliteSecretStore::GetSecrets(absl::string_view scope,
                              const std::vector<std::string>& names) {
  RETURN_IF_ERROR(ValidateScope(scope));
  for (const std::string& name : names) RETURN_IF_ERROR(ValidateName(name));
  absl::ReaderMutexLock key_lock(&key_mu_);
  absl::flat_hash_map<std::string, SecretBytes> out;
  RETURN_IF_ERROR(
      RunInSnapshot([&](Database& db, uint64_t epoch) -> absl::Status {
        for (const std::string& name : names) {
          absl::StatusOr<VersionedValue> v = ReadValue(
              db, scope, name, 0, nullptr, CacheEpochFor(names.size(), epoch));
          if (absl::IsNotFound(v.status())) continue;
          if (!v.ok()) return v.status();
          out.insert_or_assign(name, std::move(v->value));
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
SqliteSecretStore::ReadBatch(const std::vector<SecretKey>& keys) {
  absl::ReaderMutexLock key_lock(&key_mu_);
  std::vector<absl::StatusOr<VersionedValue>> out;
  RETURN_IF_ERROR(RunInSnapshot([&](Database& db, uint64_t epoch) {
    out.clear();
    out.reserve(keys.size());
    for (const SecretKey& k : keys) {
      out.push_back(ReadValue(db, k.scope, k.name, 0, nullptr,
                              CacheEpochFor(keys.size(), epoch)));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
SqliteSecretStore::ReadVersions(const std::vector<VersionedKey>& keys) {
  absl::ReaderMutexLock key_lock(&key_mu_);
  std::vector<absl::StatusOr<VersionedValue>> out;
  RETURN_IF_ERROR(RunInSnapshot([&](Database& db, uint64_t epoch) {
    out.clear();
    out.reserve(keys.size());
    for (const VersionedKey& k : keys) {
      // The cache holds current versions only; ReadValue skips it for a
      // pinned one.
      out.push_back(ReadValue(db, k.key.scope, k.key.name, k.version, nullptr,
                              CacheEpochFor(keys.size(), epoch)));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<SecretMetadata>> SqliteSecretStore::ListSecrets(
    absl::string_view scope) {
  RETURN_IF_ERROR(ValidateScope(scope));
  std::vector<SecretMetadata> out;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(out, ListRows(db, RowAuth{store_id_, mac_key_}, scope, "",
                                   absl::nullopt, "",
                                   /*include_deleted=*/false, /*limit=*/-1));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<ListPage> SqliteSecretStore::List(absl::string_view scope,
                                                 const ListOptions& options) {
  RETURN_IF_ERROR(ValidateScope(scope));
  ASSIGN_OR_RETURN(std::string after, DecodePageToken(options.page_token));
  const uint32_t page_size = EffectivePageSize(options.page_size);
  const absl::optional<std::string> upper =
      PrefixUpperBound(options.name_prefix);
  ListPage page;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    // One extra row tells whether another page follows.
    ASSIGN_OR_RETURN(
        page.secrets,
        ListRows(db, RowAuth{store_id_, mac_key_}, scope, options.name_prefix,
                 upper, after, options.include_deleted,
                 static_cast<int64_t>(page_size) + 1));
    return absl::OkStatus();
  }));
  if (page.secrets.size() > page_size) {
    page.secrets.resize(page_size);
    page.next_page_token = EncodePageToken(page.secrets.back().name);
  }
  return page;
}

absl::StatusOr<bool> SqliteSecretStore::Exists(absl::string_view scope,
                                               absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  bool live = false;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    live = found && !row.deleted;
    return absl::OkStatus();
  }));
  return live;
}

absl::StatusOr<SecretMetadata> SqliteSecretStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  SecretMetadata out;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    if (!found || row.deleted) return NotFound();
    ASSIGN_OR_RETURN(
        ScopedStatement st,
        db.Prepare("SELECT key_id FROM secret_versions "
                   "WHERE scope = ?1 AND name = ?2 AND version = ?3"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(st->BindInt64(3, row.current_version));
    ASSIGN_OR_RETURN(bool has_version, st->Step());
    if (!has_version) {
      return absl::DataLossError("the current version's row is missing");
    }
    ASSIGN_OR_RETURN(uint32_t key_id, ColumnU32(*st, 0, "key id"));
    out = MakeMetadata(scope, name, row, key_id);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<VersionInfo>> SqliteSecretStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  std::vector<VersionInfo> out;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    if (!found || row.deleted) return NotFound();
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("SELECT version, created_at, key_id "
                                "FROM secret_versions "
                                "WHERE scope = ?1 AND name = ?2 "
                                "ORDER BY version DESC"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    while (true) {
      ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      VersionInfo info;
      ASSIGN_OR_RETURN(info.version, ColumnU32(*st, 0, "version"));
      info.created_at = st->ColumnInt64(1);
      ASSIGN_OR_RETURN(info.key_id, ColumnU32(*st, 2, "key id"));
      out.push_back(info);
    }
    return absl::OkStatus();
  }));
  return out;
}

// --- Writes
// -------------------------------------------------------------------

absl::StatusOr<SecretMetadata> SqliteSecretStore::Write(
    Database& db, absl::string_view scope, absl::string_view name,
    const SecretBytes& value, const WriteOptions& options) {
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, options));
  Row row;
  ASSIGN_OR_RETURN(
      bool found, ReadRow(db, RowAuth{store_id_, mac_key_}, scope, name, &row));
  const bool live = found && !row.deleted;
  RETURN_IF_ERROR(CheckExpectedVersion(options.expected_version, live,
                                       live ? row.current_version : 0));
  const uint32_t previous = found ? row.current_version : 0;
  RETURN_IF_ERROR(CheckNoNewerVersions(db, scope, name, previous));
  ASSIGN_OR_RETURN(uint32_t version, NextVersion(previous));
  const int64_t now = clock_->NowUnixSeconds();
  if (!found) {
    // A new secret (also after a destroy): a new incarnation, so no value
    // sealed for an earlier one opens under this one.
    row.created_at = now;
    row.incarnation =
        std::string(SecretBytes::Random(kIncarnationBytes).InsecureView());
  }
  row.current_version = version;
  row.updated_at = now;
  row.max_versions =
      EffectiveMaxVersions(options.max_versions, found ? row.max_versions : 0);
  row.deleted = false;
  row.deleted_at = 0;
  if (options.node_affinity.has_value()) {
    row.node_affinity = *options.node_affinity;
  }

  const uint32_t key_id = deks_->active_key_id();
  ASSIGN_OR_RETURN(std::string blob,
                   deks_->Encrypt(value, ValueAssociatedData(
                                             {store_id_, scope, name, version,
                                              row.incarnation, key_id})));
  ASSIGN_OR_RETURN(std::string mac,
                   MacOf(RowAuth{store_id_, mac_key_}, scope, name, row));
  {
    ASSIGN_OR_RETURN(
        ScopedStatement st,
        db.Prepare(found
                       ? "UPDATE secrets SET current_version = ?3, "
                         "updated_at = ?4, max_versions = ?5, "
                         "deleted_at = NULL, mac = ?7, node_affinity = ?8 "
                         "WHERE scope = ?1 AND name = ?2"
                       : "INSERT INTO secrets (scope, name, current_version, "
                         "created_at, updated_at, max_versions, deleted_at, "
                         "incarnation, mac, node_affinity) "
                         "VALUES (?1, ?2, ?3, ?4, ?4, ?5, NULL, ?6, ?7, ?8)"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(st->BindInt64(3, version));
    RETURN_IF_ERROR(st->BindInt64(4, now));
    RETURN_IF_ERROR(st->BindInt64(5, row.max_versions));
    if (!found) RETURN_IF_ERROR(st->BindBlob(6, row.incarnation));
    RETURN_IF_ERROR(st->BindBlob(7, mac));
    RETURN_IF_ERROR(st->BindText(8, EncodeNodeAffinity(row.node_affinity)));
    RETURN_IF_ERROR(st->Run());
  }
  {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("INSERT INTO secret_versions (scope, name, "
                                "version, key_id, created_at, ciphertext) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(st->BindInt64(3, version));
    RETURN_IF_ERROR(st->BindInt64(4, key_id));
    RETURN_IF_ERROR(st->BindInt64(5, now));
    RETURN_IF_ERROR(st->BindBlob(6, blob));
    RETURN_IF_ERROR(st->Run());
  }
  {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("DELETE FROM secret_versions WHERE scope = ?1 "
                                "AND name = ?2 AND version < ?3"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(
        st->BindInt64(3, OldestKeptVersion(version, row.max_versions)));
    RETURN_IF_ERROR(st->Run());
  }
  return MakeMetadata(scope, name, row, key_id);
}

absl::StatusOr<SecretMetadata> SqliteSecretStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  // Validated before any lock or transaction: bad input writes nothing.
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, options));
  absl::ReaderMutexLock key_lock(&key_mu_);
  SecretMetadata out;
  RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(out, Write(db, scope, name, value, options));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<RotationResult> SqliteSecretStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, WriteOptions{}));
  absl::ReaderMutexLock key_lock(&key_mu_);
  RotationResult out;
  RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    if (!found || row.deleted) return NotFound();
    WriteOptions options;
    options.expected_version = row.current_version;
    ASSIGN_OR_RETURN(SecretMetadata m, Write(db, scope, name, value, options));
    out = RotationResult{row.current_version, m.version};
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<SecretMetadata> SqliteSecretStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  if (version == 0) {
    return absl::InvalidArgumentError("rollback needs a version (>= 1)");
  }
  absl::ReaderMutexLock key_lock(&key_mu_);
  SecretMetadata out;
  RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(VersionedValue old, ReadValue(db, scope, name, version));
    ASSIGN_OR_RETURN(out, Write(db, scope, name, old.value, WriteOptions{}));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteSecretStore::DeleteSecret(absl::string_view scope,
                                             absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return RunInWriteTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    if (!found || row.deleted) return NotFound();
    row.deleted = true;
    row.deleted_at = clock_->NowUnixSeconds();
    ASSIGN_OR_RETURN(std::string mac,
                     MacOf(RowAuth{store_id_, mac_key_}, scope, name, row));
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("UPDATE secrets SET deleted_at = ?3, mac = ?4 "
                                "WHERE scope = ?1 AND name = ?2"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(st->BindInt64(3, row.deleted_at));
    RETURN_IF_ERROR(st->BindBlob(4, mac));
    return st->Run();
  });
}

absl::Status SqliteSecretStore::UndeleteSecret(absl::string_view scope,
                                               absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return RunInWriteTransaction([&](Database& db) -> absl::Status {
    Row row;
    ASSIGN_OR_RETURN(bool found, ReadRow(db, RowAuth{store_id_, mac_key_},
                                         scope, name, &row));
    if (!found || !row.deleted) {
      return absl::NotFoundError("no soft-deleted secret with this name");
    }
    row.deleted = false;
    row.deleted_at = 0;
    ASSIGN_OR_RETURN(std::string mac,
                     MacOf(RowAuth{store_id_, mac_key_}, scope, name, row));
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("UPDATE secrets SET deleted_at = NULL, "
                                "mac = ?3 WHERE scope = ?1 AND name = ?2"));
    RETURN_IF_ERROR(st->BindText(1, scope));
    RETURN_IF_ERROR(st->BindText(2, name));
    RETURN_IF_ERROR(st->BindBlob(3, mac));
    return st->Run();
  });
}

absl::Status SqliteSecretStore::DestroySecret(absl::string_view scope,
                                              absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return RunInWriteTransaction([&](Database& db) -> absl::Status {
    // Versions first and explicitly, rather than relying on the cascade.
    for (const char* sql :
         {"DELETE FROM secret_versions WHERE scope = ?1 AND name = ?2",
          "DELETE FROM secrets WHERE scope = ?1 AND name = ?2"}) {
      ASSIGN_OR_RETURN(ScopedStatement st, db.Prepare(sql));
      RETURN_IF_ERROR(st->BindText(1, scope));
      RETURN_IF_ERROR(st->BindText(2, name));
      RETURN_IF_ERROR(st->Run());
    }
    // The last statement's count: the secrets row decides existence.
    if (db.Changes() == 0) return NotFound();
    return absl::OkStatus();
  });
}

// --- Keys
// ---------------------------------------------------------------------

namespace {

// sqlite3_commit_hook callback: a non-zero return turns the COMMIT into a
// rollback (SQLITE_CONSTRAINT_COMMITHOOK). `arg` counts the commits to let
// through first; -1 = none to fail. Runs on the writer with write_mu_ held.
int FailOnceCommitHook(void* arg) {
  auto* countdown = static_cast<std::atomic<int>*>(arg);
  const int n = countdown->load();
  if (n < 0) return 0;
  countdown->store(n - 1);
  return n == 0 ? 1 : 0;
}

}  // namespace

absl::StatusOr<SecretBytes> SqliteSecretStore::DeriveSubkey(
    SubkeyPurpose purpose) const {
  return ::zlayer::secrets::DeriveSubkey(seed_, purpose);
}

absl::Status SqliteSecretStore::RewrapKeys(Database& db, const Aead& new_kek,
                                           uint64_t* count) {
  struct Wrapped {
    uint32_t generation;
    std::string blob;
  };
  std::vector<Wrapped> deks;
  {
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("SELECT generation, wrapped FROM keyring"));
    while (true) {
      ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      Wrapped w;
      ASSIGN_OR_RETURN(w.generation, ColumnU32(*st, 0, "generation"));
      w.blob = std::string(st->ColumnBlob(1));
      deks.push_back(std::move(w));
    }
  }
  const int64_t now = clock_->NowUnixSeconds();
  for (const Wrapped& w : deks) {
    const std::string ad = DataKeyAssociatedData(store_id_, w.generation);
    absl::StatusOr<SecretBytes> dek = kek_->Decrypt(w.blob, ad);
    if (!dek.ok()) {
      return absl::DataLossError(
          absl::StrCat("key rotation stopped: data key generation ",
                       w.generation, " failed its integrity check"));
    }
    ASSIGN_OR_RETURN(std::string rewrapped, new_kek.Encrypt(*dek, ad));
    RETURN_IF_ERROR(WriteDataKey(db, w.generation, rewrapped, now));
    ++*count;
  }
  std::string wrapped_seed;
  ASSIGN_OR_RETURN(bool has_seed,
                   ReadMeta(db, kSubkeySeedMetaKey, &wrapped_seed));
  if (!has_seed) return MetadataDamaged("subkey seed");
  const std::string seed_ad = SubkeySeedAssociatedData(store_id_);
  absl::StatusOr<SecretBytes> seed = kek_->Decrypt(wrapped_seed, seed_ad);
  if (!seed.ok()) {
    return absl::DataLossError(
        "key rotation stopped: the subkey seed failed its integrity check");
  }
  ASSIGN_OR_RETURN(std::string rewrapped_seed, new_kek.Encrypt(*seed, seed_ad));
  RETURN_IF_ERROR(WriteMeta(db, kSubkeySeedMetaKey, rewrapped_seed));
  ASSIGN_OR_RETURN(
      std::string check,
      new_kek.Encrypt(SecretBytes::FromString(kKeyCheckPlaintext),
                      KeyCheckAssociatedData(store_id_, new_kek.key_id())));
  return WriteMeta(db, kKeyCheckMetaKey, check);
}

absl::Status SqliteSecretStore::CheckpointWal() {
  absl::MutexLock lock(&write_mu_);
  return writer_->Execute("PRAGMA wal_checkpoint(TRUNCATE)");
}

absl::StatusOr<uint32_t> SqliteSecretStore::RecordedKeyId(
    const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return kFirstKeyId;
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  DatabaseOptions db_options;
  db_options.flags = SQLITE_OPEN_READONLY;
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                   Database::Open(path, db_options));
  ASSIGN_OR_RETURN(int64_t schema, db->QueryInt64("PRAGMA user_version"));
  if (schema == 0) return kFirstKeyId;  // an empty file: a new store
  ASSIGN_OR_RETURN(ScopedStatement query,
                   db->Prepare("SELECT value FROM meta WHERE key = ?1"));
  RETURN_IF_ERROR(query->BindText(1, kKeyCheckMetaKey));
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return absl::DataLossError("store has no key check value");
  return BlobKeyId(query->ColumnBlob(0));
}

absl::Status SqliteSecretStore::RotateKey(uint32_t new_key_id,
                                          SecretBytes new_key,
                                          uint64_t* keys_rewrapped) {
  absl::MutexLock kek_lock(&kek_mu_);
  if (new_key_id == kek_->active_key_id()) {
    return absl::InvalidArgumentError("the new key id is already active");
  }
  // The new key seals the re-wrapped keys on its own; the ring changes only
  // once the transaction has committed, so a failed rotation leaves nothing
  // behind and the next one starts from the same state.
  ASSIGN_OR_RETURN(std::unique_ptr<SodiumAead> new_kek,
                   SodiumAead::Create(new_key_id, new_key.Clone()));
  uint64_t count = 0;
  RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) {
    // The body runs while this call waits, so kek_mu_ stays held; the
    // analysis cannot see through the callback without being told.
    kek_mu_.AssertHeld();
    count = 0;  // the body may run again (a group commit retried alone)
    return RewrapKeys(db, *new_kek, &count);
  }));
  // Committed. The old ring (holding the retired key) is destroyed here,
  // which wipes the key.
  ASSIGN_OR_RETURN(kek_, Keyring::Create(new_key_id, std::move(new_key)));
  // Old wrapped keys may sit in WAL frames until a checkpoint: copy the
  // frames into the file (secure_delete zeroes the freed content) and
  // truncate the WAL now. A reader still inside an older snapshot can keep
  // frames alive; the next automatic checkpoint then moves them. The
  // rotation itself has committed either way.
  CheckpointWal().IgnoreError();
  if (keys_rewrapped != nullptr) *keys_rewrapped = count;
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> SqliteSecretStore::ActiveKeyId() {
  absl::MutexLock kek_lock(&kek_mu_);
  return kek_->active_key_id();
}

uint32_t SqliteSecretStore::ActiveDataKeyGeneration() {
  absl::ReaderMutexLock key_lock(&key_mu_);
  return deks_->active_key_id();
}

void SqliteSecretStore::FailCommitForTesting(int commits_to_skip) {
  absl::MutexLock lock(&write_mu_);
  fail_commit_countdown_.store(commits_to_skip);
  sqlite3_commit_hook(writer_->raw(), &FailOnceCommitHook,
                      &fail_commit_countdown_);
}

// --- Rekey
// --------------------------------------------------------------------

namespace {

// Versions sealed by a generation older than `generation`.
absl::StatusOr<uint64_t> CountOlderVersions(Database& db, uint32_t generation) {
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("SELECT COUNT(*) FROM secret_versions "
                              "WHERE key_id < ?1"));
  RETURN_IF_ERROR(st->BindInt64(1, generation));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return absl::InternalError("COUNT(*) returned no row");
  return static_cast<uint64_t>(st->ColumnInt64(0));
}

}  // namespace

absl::StatusOr<uint32_t> SqliteSecretStore::StartRekey() {
  absl::MutexLock kek_lock(&kek_mu_);
  {
    absl::MutexLock lock(&rekey_mu_);
    if (rekey_.running) {
      return absl::FailedPreconditionError("a rekey is already running");
    }
  }
  if (rekey_thread_.joinable()) rekey_thread_.join();
  uint32_t generation = ActiveDataKeyGeneration();
  uint64_t pending = 0;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(pending, CountOlderVersions(db, generation));
    return absl::OkStatus();
  }));
  if (pending == 0) {
    // Nothing left from an earlier rekey: start a new generation. It enters
    // memory only after its keyring row has committed.
    if (generation == std::numeric_limits<uint32_t>::max()) {
      return absl::FailedPreconditionError("no DEK generation is left");
    }
    ++generation;
    SecretBytes dek = SecretBytes::Random(kKeyBytes);
    ASSIGN_OR_RETURN(
        std::string wrapped,
        kek_->Encrypt(dek, DataKeyAssociatedData(store_id_, generation)));
    const int64_t now = clock_->NowUnixSeconds();
    RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) -> absl::Status {
      ASSIGN_OR_RETURN(pending, CountOlderVersions(db, generation));
      return WriteDataKey(db, generation, wrapped, now);
    }));
    absl::MutexLock key_lock(&key_mu_);
    RETURN_IF_ERROR(deks_->AddKey(generation, std::move(dek)));
    RETURN_IF_ERROR(deks_->SetActive(generation));
  }
  {
    absl::MutexLock lock(&rekey_mu_);
    rekey_ = RekeyProgress{true, generation, 0, pending, absl::OkStatus()};
    rekey_stop_ = false;
  }
  rekey_thread_ = std::thread([this, generation] { RunRekey(generation); });
  return generation;
}

absl::Status SqliteSecretStore::MoveBatch(Database& db, uint32_t generation,
                                          uint64_t* moved) {
  struct Sealed {
    std::string scope;
    std::string name;
    uint32_t version;
    uint32_t key_id;
    std::string ciphertext;
    std::string incarnation;
  };
  std::vector<Sealed> rows;
  {
    ASSIGN_OR_RETURN(
        ScopedStatement st,
        db.Prepare("SELECT v.scope, v.name, v.version, v.key_id, "
                   "v.ciphertext, s.incarnation FROM secret_versions AS v "
                   "JOIN secrets AS s ON s.scope = v.scope AND s.name = v.name "
                   "WHERE v.key_id < ?1 LIMIT ?2"));
    RETURN_IF_ERROR(st->BindInt64(1, generation));
    RETURN_IF_ERROR(st->BindInt64(2, kRekeyBatchSize));
    while (true) {
      ASSIGN_OR_RETURN(bool more, st->Step());
      if (!more) break;
      Sealed r;
      r.scope = std::string(st->ColumnText(0));
      r.name = std::string(st->ColumnText(1));
      ASSIGN_OR_RETURN(r.version, ColumnU32(*st, 2, "version"));
      ASSIGN_OR_RETURN(r.key_id, ColumnU32(*st, 3, "key id"));
      r.ciphertext = std::string(st->ColumnBlob(4));
      r.incarnation = std::string(st->ColumnBlob(5));
      rows.push_back(std::move(r));
    }
  }
  for (const Sealed& r : rows) {
    absl::StatusOr<SecretBytes> plain = deks_->Decrypt(
        r.ciphertext,
        ValueAssociatedData(
            {store_id_, r.scope, r.name, r.version, r.incarnation, r.key_id}));
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat("rekey stopped: stored version ",
                                              r.version,
                                              " failed its integrity check"));
    }
    ASSIGN_OR_RETURN(
        std::string blob,
        deks_->Encrypt(
            *plain, ValueAssociatedData({store_id_, r.scope, r.name, r.version,
                                         r.incarnation, generation})));
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("UPDATE secret_versions SET key_id = ?4, "
                                "ciphertext = ?5 WHERE scope = ?1 "
                                "AND name = ?2 AND version = ?3"));
    RETURN_IF_ERROR(st->BindText(1, r.scope));
    RETURN_IF_ERROR(st->BindText(2, r.name));
    RETURN_IF_ERROR(st->BindInt64(3, r.version));
    RETURN_IF_ERROR(st->BindInt64(4, generation));
    RETURN_IF_ERROR(st->BindBlob(5, blob));
    RETURN_IF_ERROR(st->Run());
  }
  *moved = rows.size();
  return absl::OkStatus();
}

absl::Status SqliteSecretStore::RetireOldGenerations(uint32_t generation) {
  RETURN_IF_ERROR(RunInWriteTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(uint64_t left, CountOlderVersions(db, generation));
    if (left != 0) {
      return absl::AbortedError("versions under an older generation remain");
    }
    ASSIGN_OR_RETURN(ScopedStatement st,
                     db.Prepare("DELETE FROM keyring WHERE generation < ?1"));
    RETURN_IF_ERROR(st->BindInt64(1, generation));
    return st->Run();
  }));
  {
    absl::MutexLock key_lock(&key_mu_);
    for (uint32_t g = 1; g < generation; ++g) {
      if (deks_->HasKey(g)) RETURN_IF_ERROR(deks_->RemoveKey(g));
    }
  }
  // Old ciphertexts and the retired wrapped keys leave the WAL too.
  CheckpointWal().IgnoreError();
  return absl::OkStatus();
}

void SqliteSecretStore::RunRekey(uint32_t generation) {
  absl::Status status;
  while (true) {
    {
      absl::MutexLock lock(&rekey_mu_);
      if (rekey_stop_) {
        status = absl::CancelledError("rekey stopped; StartRekey resumes it");
        break;
      }
    }
    uint64_t moved = 0;
    {
      // Shared: reads and writes go on; only a generation change waits.
      absl::ReaderMutexLock key_lock(&key_mu_);
      status = RunInWriteTransaction([&](Database& db) {
        moved = 0;  // the body may run again (a group commit retried alone)
        return MoveBatch(db, generation, &moved);
      });
    }
    if (!status.ok()) break;
    if (moved == 0) {
      status = RetireOldGenerations(generation);
      break;
    }
    absl::MutexLock lock(&rekey_mu_);
    rekey_.done += moved;
  }
  absl::MutexLock lock(&rekey_mu_);
  rekey_.running = false;
  rekey_.status = status;
}

absl::StatusOr<uint64_t> SqliteSecretStore::VersionsAwaitingRekey() {
  const uint32_t generation = ActiveDataKeyGeneration();
  uint64_t pending = 0;
  RETURN_IF_ERROR(RunInReadTransaction([&](Database& db) -> absl::Status {
    ASSIGN_OR_RETURN(pending, CountOlderVersions(db, generation));
    return absl::OkStatus();
  }));
  return pending;
}

RekeyProgress SqliteSecretStore::rekey_progress() {
  absl::MutexLock lock(&rekey_mu_);
  return rekey_;
}

absl::Status SqliteSecretStore::WaitForRekey() {
  absl::MutexLock lock(&rekey_mu_);
  struct Idle {
    SqliteSecretStore* store;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->rekey_mu_) {
      return !store->rekey_.running;
    }
  } idle{this};
  rekey_mu_.Await(absl::Condition(&idle));
  return rekey_.status;
}

void SqliteSecretStore::StopRekey() {
  {
    absl::MutexLock lock(&rekey_mu_);
    rekey_stop_ = true;
  }
  if (rekey_thread_.joinable()) rekey_thread_.join();
}

}  // namespace zlayer::secrets
