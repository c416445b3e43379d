#include "core/backup/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/crypto/subkeys.h"
#include "core/store/sqlite/sqlite.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kLengthBytes = 4 + 8;  // header and payload lengths

void PutBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t GetBigEndian(absl::string_view in) {
  uint64_t value = 0;
  for (char c : in) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

std::string FormatHeader(const BackupInfo& info) {
  return absl::StrCat(
      "format=zlayer-secrets-backup\n", "format_version=", info.format_version,
      "\n", "created_at=",
      absl::FormatTime(absl::RFC3339_sec, info.created_at, absl::UTCTimeZone()),
      "\n", "store_id=", info.store_id, "\n",
      "schema_version=", info.schema_version, "\n",
      "master_key_id=", info.master_key_id, "\n",
      "data_key_generations=", absl::StrJoin(info.data_key_generations, ","),
      "\n", "secrets=", info.secrets, "\n", "versions=", info.versions, "\n",
      "environments=", info.environments, "\n",
      "payload_bytes=", info.payload_bytes, "\n");
}

// Version 2: the header proper (counts go in the trailer).
std::string FormatClusterHeader(const BackupInfo& info) {
  return absl::StrCat(
      "format=zlayer-secrets-backup\n", "format_version=", info.format_version,
      "\n", "kind=etcd\n", "created_at=",
      absl::FormatTime(absl::RFC3339_sec, info.created_at, absl::UTCTimeZone()),
      "\n", "store_id=", info.store_id, "\n", "prefix=", info.prefix, "\n",
      "revision=", info.revision, "\n", "master_key_id=", info.master_key_id,
      "\n",
      "data_key_generations=", absl::StrJoin(info.data_key_generations, ","),
      "\n", "subkey_seed=", absl::BytesToHexString(info.sealed_subkey_seed),
      "\n", "key_check=", absl::BytesToHexString(info.key_check), "\n");
}

bool ParseHex(absl::string_view value, std::string* out) {
  if (value.size() % 2 != 0) return false;
  for (char c : value) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = absl::HexStringToBytes(value);
  return true;
}

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("backup file is damaged: ", what, " (nothing restored)"));
}

// Parses "key=value" lines into `info` (a header, or a version 2 trailer:
// `is_trailer` skips the header's required fields).
absl::Status ParseFields(absl::string_view header, bool is_trailer,
                         BackupInfo& info) {
  bool have_format = false, have_time = false, have_store = false;
  for (absl::string_view line : absl::StrSplit(header, '\n')) {
    if (line.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    const absl::string_view key = kv.first, value = kv.second;
    bool ok = true;
    if (key == "format") {
      have_format = value == "zlayer-secrets-backup";
    } else if (key == "format_version") {
      ok = absl::SimpleAtoi(value, &info.format_version);
    } else if (key == "created_at") {
      std::string err;
      have_time =
          absl::ParseTime(absl::RFC3339_full, value, &info.created_at, &err);
    } else if (key == "store_id") {
      info.store_id = std::string(value);
      have_store = !value.empty();
    } else if (key == "schema_version") {
      ok = absl::SimpleAtoi(value, &info.schema_version);
    } else if (key == "master_key_id") {
      ok = absl::SimpleAtoi(value, &info.master_key_id);
    } else if (key == "data_key_generations") {
      for (absl::string_view g :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        uint32_t generation = 0;
        ok = ok && absl::SimpleAtoi(g, &generation);
        info.data_key_generations.push_back(generation);
      }
    } else if (key == "secrets") {
      ok = absl::SimpleAtoi(value, &info.secrets);
    } else if (key == "versions") {
      ok = absl::SimpleAtoi(value, &info.versions);
    } else if (key == "environments") {
      ok = absl::SimpleAtoi(value, &info.environments);
    } else if (key == "payload_bytes") {
      ok = absl::SimpleAtoi(value, &info.payload_bytes);
    } else if (key == "keys") {
      ok = absl::SimpleAtoi(value, &info.keys);
    } else if (key == "prefix") {
      info.prefix = std::string(value);
    } else if (key == "revision") {
      ok = absl::SimpleAtoi(value, &info.revision);
    } else if (key == "subkey_seed") {
      ok = ParseHex(value, &info.sealed_subkey_seed);
    } else if (key == "key_check") {
      ok = ParseHex(value, &info.key_check);
    }
    // Unknown keys are ignored (a later minor addition); all are MACed.
    if (!ok) return Malformed(absl::StrCat("bad header field ", key));
  }
  if (is_trailer) return absl::OkStatus();
  if (!have_format) return Malformed("header names no backup format");
  if (!have_time || !have_store) return Malformed("incomplete header");
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> ParseHeader(absl::string_view header) {
  BackupInfo info;
  info.format_version = 0;
  RETURN_IF_ERROR(ParseFields(header, /*is_trailer=*/false, info));
  return info;
}

// The parts of a structurally valid file.
struct Parts {
  BackupInfo info;
  absl::string_view signed_part;  // magic .. payload
  absl::string_view payload;
  absl::string_view mac;
};

absl::StatusOr<Parts> Split(absl::string_view file) {
  if (!absl::StartsWith(file, kBackupMagic)) {
    return absl::InvalidArgumentError(
        "not a zlayer-secrets backup file (no ZSBACKUP magic)");
  }
  const size_t fixed = kBackupMagic.size() + kLengthBytes + kBackupMacBytes;
  if (file.size() < fixed)
    return Malformed("truncated (shorter than a header)");
  const uint64_t header_len = GetBigEndian(file.substr(kBackupMagic.size(), 4));
  if (header_len > kMaxBackupHeaderBytes) return Malformed("header too long");
  const size_t header_at = kBackupMagic.size() + 4;
  if (file.size() < fixed + header_len) return Malformed("truncated header");
  const absl::string_view header = file.substr(header_at, header_len);
  const uint64_t payload_len =
      GetBigEndian(file.substr(header_at + header_len, 8));
  const size_t payload_at = header_at + header_len + 8;
  const uint64_t expected = payload_at + payload_len + kBackupMacBytes;
  if (payload_len > file.size() || file.size() < expected) {
    return Malformed(
        absl::StrCat("truncated (", file.size(), " of ", expected, " bytes)"));
  }
  if (file.size() > expected) {
    return Malformed(absl::StrCat(file.size() - expected,
                                  " unexpected bytes after the end"));
  }
  Parts parts;
  ASSIGN_OR_RETURN(parts.info, ParseHeader(header));
  if (parts.info.format_version == kClusterBackupFormatVersion) {
    return absl::InvalidArgumentError(
        "this is a cluster backup (format version 2): restore it into etcd "
        "(--etcd-endpoints, --etcd-prefix); a data directory cannot take it");
  }
  if (parts.info.format_version != kBackupFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup format version ", parts.info.format_version,
                     " is not supported (this build reads version ",
                     kBackupFormatVersion, ")"));
  }
  if (parts.info.payload_bytes != payload_len) {
    return Malformed("header and payload lengths disagree");
  }
  parts.info.file_bytes = file.size();
  parts.payload = file.substr(payload_at, payload_len);
  parts.signed_part = file.substr(0, payload_at + payload_len);
  parts.mac = file.substr(payload_at + payload_len);
  return parts;
}

// Counts and key generations of the database `db` (a snapshot).
absl::Status ReadCounts(Database& db, BackupInfo* info) {
  ASSIGN_OR_RETURN(int64_t secrets,
                   db.QueryInt64("SELECT count(*) FROM secrets"));
  ASSIGN_OR_RETURN(int64_t versions,
                   db.QueryInt64("SELECT count(*) FROM secret_versions"));
  ASSIGN_OR_RETURN(int64_t environments,
                   db.QueryInt64("SELECT count(*) FROM environments"));
  ASSIGN_OR_RETURN(int64_t schema, db.QueryInt64("PRAGMA user_version"));
  info->secrets = static_cast<uint64_t>(secrets);
  info->versions = static_cast<uint64_t>(versions);
  info->environments = static_cast<uint64_t>(environments);
  info->schema_version = static_cast<int>(schema);
  info->data_key_generations.clear();
  ASSIGN_OR_RETURN(ScopedStatement st,
                   db.Prepare("SELECT generation FROM keyring ORDER BY 1"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    info->data_key_generations.push_back(
        static_cast<uint32_t>(st->ColumnInt64(0)));
  }
  return absl::OkStatus();
}

absl::Status CopyDatabase(Database& from, Database& to) {
  sqlite3_backup* backup =
      sqlite3_backup_init(to.raw(), "main", from.raw(), "main");
  if (backup == nullptr) {
    return SqliteStatus(sqlite3_errcode(to.raw()), to.raw(), "backup init");
  }
  // One step of all pages: the copy is made under one read transaction of
  // the source connection (the caller's snapshot).
  const int step = sqlite3_backup_step(backup, -1);
  const int finish = sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) return SqliteStatus(step, to.raw(), "backup step");
  if (finish != SQLITE_OK) {
    return SqliteStatus(finish, to.raw(), "backup finish");
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0) return ErrnoError("cannot sync", path);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", dir);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoError("cannot sync", dir);
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void RemoveStaging(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
}

// data_dir exists (created 0700 if missing) and holds nothing but key and
// salt files.
absl::Status PrepareEmptyDataDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create", dir);
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("cannot list", dir);
  std::string offending;
  while (struct dirent* entry = readdir(d)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (absl::EndsWith(name, ".key") || absl::EndsWith(name, ".salt")) continue;
    offending = std::string(name);
    break;
  }
  closedir(d);
  if (!offending.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("restore needs an empty data directory; ", dir, " holds ",
                     offending, " (nothing restored)"));
  }
  return absl::OkStatus();
}

// Opens the staged file with the key, checks the MAC and the header against
// the content.
// `check_mac` reads the file again under the MAC key and checks its MAC.
absl::Status VerifyStaged(
    const std::string& staging, const BackupInfo& info, SecretBytes master_key,
    Clock* clock,
    absl::FunctionRef<absl::Status(const SecretBytes& mac_key)> check_mac) {
  absl::StatusOr<uint32_t> key_id = SqliteSecretStore::RecordedKeyId(staging);
  if (!key_id.ok()) {
    return Malformed(
        absl::StrCat("its store does not open: ", key_id.status().message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(*key_id, std::move(master_key)));
  SqliteStoreOptions store_options;
  store_options.path = staging;
  absl::StatusOr<std::unique_ptr<SqliteSecretStore>> store =
      SqliteSecretStore::Open(store_options, std::move(ring), clock);
  if (absl::IsFailedPrecondition(store.status())) {
    return absl::FailedPreconditionError(
        "the master key does not open this backup (wrong key, or a backup of "
        "another store); nothing restored");
  }
  if (!store.ok()) {
    return Malformed(
        absl::StrCat("its store does not open: ", store.status().message()));
  }
  ASSIGN_OR_RETURN(SecretBytes mac_key,
                   (*store)->DeriveSubkey(SubkeyPurpose::kBackupMac));
  RETURN_IF_ERROR(check_mac(mac_key));
  // Authentic; the header must also describe this content (a bug guard).
  BackupInfo content;
  RETURN_IF_ERROR((*store)->RunInReadTransaction(
      [&](Database& db) { return ReadCounts(db, &content); }));
  if (absl::BytesToHexString((*store)->store_id()) != info.store_id ||
      content.secrets != info.secrets || content.versions != info.versions ||
      content.environments != info.environments) {
    return Malformed("header does not match the content");
  }
  return absl::OkStatus();
}

}  // namespace

std::string DescribeBackup(const BackupInfo& info) {
  return absl::StrCat(
      "format_version: ", info.format_version, "\n", "created_at: ",
      absl::FormatTime(absl::RFC3339_sec, info.created_at, absl::UTCTimeZone()),
      "\n", "store_id: ", info.store_id, "\n",
      "master_key_id: ", info.master_key_id, "\n",
      "data_key_generations: ", absl::StrJoin(info.data_key_generations, ","),
      "\n", "secrets: ", info.secrets, "\n", "versions: ", info.versions, "\n",
      "environments: ", info.environments, "\n",
      info.format_version == kClusterBackupFormatVersion
          ? absl::StrCat("kind: etcd\n", "prefix: ", info.prefix, "\n",
                         "revision: ", info.revision, "\n", "keys: ", info.keys,
                         "\n")
          : std::string(),
      "file_bytes: ", info.file_bytes, "\n");
}

namespace {

// The version 1 file of a private snapshot file, read in pieces.
class SqliteBackupSource final : public BackupSource {
 public:
  SqliteBackupSource(int fd, BackupInfo info, SecretBytes mac_key)
      : fd_(fd), info_(std::move(info)), mac_(mac_key) {
    pending_ = FrameBackupHeader(info_);
    PutBigEndian(info_.payload_bytes, 8, &pending_);
    mac_.Update(pending_);
  }
  ~SqliteBackupSource() override { close(fd_); }

  absl::StatusOr<std::string> Next(size_t max_bytes) override {
    max_bytes = std::max<size_t>(max_bytes, 1);
    while (pending_.size() < max_bytes && !finished_) {
      if (copied_ < info_.payload_bytes) {
        std::string buf(std::min<uint64_t>(max_bytes - pending_.size(),
                                           info_.payload_bytes - copied_),
                        '\0');
        const ssize_t n = read(fd_, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoError("cannot read", "the backup snapshot");
        if (n == 0) {
          return absl::InternalError("the backup snapshot shrank while read");
        }
        buf.resize(static_cast<size_t>(n));
        mac_.Update(buf);
        pending_ += buf;
        copied_ += static_cast<uint64_t>(n);
      } else {
        pending_ += mac_.Final();
        finished_ = true;
      }
    }
    const size_t n = std::min(max_bytes, pending_.size());
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
  }

  const BackupInfo& info() const override { return info_; }

 private:
  const int fd_;
  BackupInfo info_;
  BackupMac mac_;
  std::string pending_;
  uint64_t copied_ = 0;
  bool finished_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BackupSource>> OpenBackup(
    SqliteSecretStore& store, Clock& clock) {
  BackupInfo info;
  std::string snapshot_path;
  absl::Status status = store.RunInReadTransaction([&](Database& db) {
    const char* db_path = sqlite3_db_filename(db.raw(), "main");
    const std::string dir =
        db_path == nullptr || *db_path == '\0' ? "" : DirectoryOf(db_path);
    if (dir.empty()) {
      return absl::FailedPreconditionError("an in-memory store has no backup");
    }
    std::string pattern = absl::StrCat(dir, "/.backup-XXXXXX");
    const int fd = mkstemp(pattern.data());
    if (fd < 0) return ErrnoError("cannot create a file like", pattern);
    close(fd);
    snapshot_path = pattern;
    ASSIGN_OR_RETURN(std::unique_ptr<Database> snapshot,
                     Database::Open(snapshot_path, DatabaseOptions()));
    RETURN_IF_ERROR(snapshot->Execute("PRAGMA journal_mode=OFF"));
    RETURN_IF_ERROR(CopyDatabase(db, *snapshot));
    // Everything below reads the private copy: the same moment.
    return ReadCounts(*snapshot, &info);
  });
  if (!status.ok()) {
    if (!snapshot_path.empty()) RemoveStaging(snapshot_path);
    return status;
  }
  // Open, then unlink: the copy lives only as long as the stream.
  const int fd = open(snapshot_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int open_errno = errno;
  RemoveStaging(snapshot_path);
  if (fd < 0) {
    errno = open_errno;
    return ErrnoError("cannot open", snapshot_path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status err = ErrnoError("cannot stat", snapshot_path);
    close(fd);
    return err;
  }
  info.payload_bytes = static_cast<uint64_t>(st.st_size);
  info.created_at = clock.Now();
  info.store_id = absl::BytesToHexString(store.store_id());
  absl::StatusOr<uint32_t> key_id = store.ActiveKeyId();
  absl::StatusOr<SecretBytes> mac_key =
      store.DeriveSubkey(SubkeyPurpose::kBackupMac);
  if (!key_id.ok() || !mac_key.ok()) {
    close(fd);
    return !key_id.ok() ? key_id.status() : mac_key.status();
  }
  info.master_key_id = *key_id;
  info.file_bytes = kBackupMagic.size() + kLengthBytes +
                    FormatHeader(info).size() + info.payload_bytes +
                    kBackupMacBytes;
  return std::unique_ptr<BackupSource>(
      new SqliteBackupSource(fd, std::move(info), *std::move(mac_key)));
}

absl::StatusOr<std::string> CreateBackup(SqliteSecretStore& store, Clock& clock,
                                         BackupInfo* info_out) {
  ASSIGN_OR_RETURN(std::unique_ptr<BackupSource> source,
                   OpenBackup(store, clock));
  std::string file;
  while (true) {
    ASSIGN_OR_RETURN(std::string piece, source->Next(1 << 20));
    if (piece.empty()) break;
    file += piece;
  }
  if (info_out != nullptr) {
    *info_out = source->info();
    info_out->file_bytes = file.size();
  }
  return file;
}

absl::StatusOr<BackupInfo> ReadBackupHeader(absl::string_view file) {
  ASSIGN_OR_RETURN(Parts parts, Split(file));
  return parts.info;
}

absl::StatusOr<BackupInfo> RestoreBackup(const RestoreOptions& options,
                                         SecretBytes master_key, Clock* clock) {
  if (options.backup_path.empty()) {
    return absl::InvalidArgumentError("no backup file given");
  }
  if (!options.verify_only && options.data_dir.empty()) {
    return absl::InvalidArgumentError("restore needs --data-dir");
  }
  // Read in pieces, never whole: once to stage the payload, once (under the
  // MAC key the staged store yields) to check the MAC.
  ASSIGN_OR_RETURN(std::unique_ptr<BackupFileReader> reader,
                   BackupFileReader::Open(options.backup_path));
  ASSIGN_OR_RETURN(BackupInfo info, reader->ReadHeader());
  if (info.format_version == kClusterBackupFormatVersion) {
    return absl::InvalidArgumentError(
        "this is a cluster backup (format version 2): restore it into etcd "
        "(--etcd-endpoints, --etcd-prefix); a data directory cannot take it");
  }
  ASSIGN_OR_RETURN(const uint64_t payload_len, reader->ReadNumber(8));
  if (payload_len != info.payload_bytes) {
    return Malformed("header and payload lengths disagree");
  }
  const uint64_t payload_at = reader->offset();
  const uint64_t expected = payload_at + payload_len + kBackupMacBytes;
  if (reader->size() < expected) {
    return Malformed(absl::StrCat("truncated (", reader->size(), " of ",
                                  expected, " bytes)"));
  }
  if (reader->size() > expected) {
    return Malformed(absl::StrCat(reader->size() - expected,
                                  " unexpected bytes after the end"));
  }
  constexpr uint64_t kPiece = 1 << 20;
  auto check_mac = [&](const SecretBytes& mac_key) -> absl::Status {
    BackupMac mac(mac_key);
    RETURN_IF_ERROR(reader->Rewind(&mac));
    while (reader->offset() < payload_at + payload_len) {
      RETURN_IF_ERROR(reader
                          ->Read(std::min(kPiece, payload_at + payload_len -
                                                      reader->offset()))
                          .status());
    }
    ASSIGN_OR_RETURN(std::string tag, reader->ReadMacAndEnd());
    const std::string want = mac.Final();
    if (sodium_memcmp(want.data(), tag.data(), kBackupMacBytes) != 0) {
      return absl::DataLossError(
          "backup file failed authentication: it was edited, damaged or "
          "assembled from another backup (nothing restored)");
    }
    return absl::OkStatus();
  };

  std::string staging_dir;
  std::string private_dir;  // verify-only: removed at the end
  if (options.verify_only) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(
        tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/zs-verify-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return ErrnoError("cannot create a temporary directory like", pattern);
    }
    private_dir = staging_dir = pattern;
  } else {
    RETURN_IF_ERROR(PrepareEmptyDataDir(options.data_dir));
    staging_dir = options.data_dir;
  }
  const std::string staging = absl::StrCat(staging_dir, "/.restore-staging.db");
  auto cleanup = [&] {
    RemoveStaging(staging);
    if (!private_dir.empty()) rmdir(private_dir.c_str());
  };
  absl::Status status = [&]() -> absl::Status {
    RemoveStaging(staging);
    const int fd =
        open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError("cannot create", staging);
    absl::Status written;
    while (written.ok() && reader->offset() < payload_at + payload_len) {
      absl::StatusOr<std::string> piece = reader->Read(
          std::min(kPiece, payload_at + payload_len - reader->offset()));
      written = piece.ok() ? WriteAll(fd, *piece, staging) : piece.status();
    }
    close(fd);
    RETURN_IF_ERROR(written);
    // The store closes at the end of VerifyStaged: its WAL is checkpointed.
    RETURN_IF_ERROR(
        VerifyStaged(staging, info, std::move(master_key), clock, check_mac));
    if (options.verify_only) return absl::OkStatus();
    const int sync_fd = open(staging.c_str(), O_RDONLY | O_CLOEXEC);
    if (sync_fd < 0) return ErrnoError("cannot open", staging);
    const int rc = fsync(sync_fd);
    close(sync_fd);
    if (rc != 0) return ErrnoError("cannot sync", staging);
    const std::string target = absl::StrCat(options.data_dir, "/secrets.db");
    // link, not rename: a store that appeared meanwhile is never replaced.
    if (link(staging.c_str(), target.c_str()) != 0) {
      return ErrnoError("cannot create", target);
    }
    return absl::OkStatus();
  }();
  cleanup();
  if (!status.ok()) return status;
  if (!options.verify_only) RETURN_IF_ERROR(SyncDirectory(options.data_dir));
  return info;
}

absl::Status SaveBackupFile(const std::string& path, absl::string_view bytes) {
  const std::string tmp = absl::StrCat(path, ".partial");
  unlink(tmp.c_str());
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  absl::Status written = WriteAll(fd, bytes, tmp);
  close(fd);
  if (written.ok() && link(tmp.c_str(), path.c_str()) != 0) {
    written = errno == EEXIST
                  ? absl::AlreadyExistsError(absl::StrCat(
                        path, " exists; backups never overwrite a file"))
                  : ErrnoError("cannot create", path);
  }
  unlink(tmp.c_str());
  RETURN_IF_ERROR(written);
  return SyncDirectory(DirectoryOf(path));
}

BackupMac::BackupMac(const SecretBytes& key) {
  crypto_generichash_init(&state_, key.data(), key.size(), kBackupMacBytes);
}

void BackupMac::Update(absl::string_view bytes) {
  crypto_generichash_update(
      &state_, reinterpret_cast<const unsigned char*>(bytes.data()),
      bytes.size());
}

std::string BackupMac::Final() {
  std::string mac(kBackupMacBytes, '\0');
  crypto_generichash_final(
      &state_, reinterpret_cast<unsigned char*>(mac.data()), mac.size());
  return mac;
}

std::string FrameClusterTrailer(const BackupInfo& info) {
  const std::string trailer = absl::StrCat(
      "keys=", info.keys, "\n", "secrets=", info.secrets, "\n",
      "versions=", info.versions, "\n", "environments=", info.environments,
      "\n", "payload_bytes=", info.payload_bytes, "\n");
  std::string out;
  PutBigEndian(0, 4, &out);  // end of records
  PutBigEndian(trailer.size(), 4, &out);
  out += trailer;
  return out;
}

std::string FrameBackupHeader(const BackupInfo& info) {
  const std::string header = info.format_version == kClusterBackupFormatVersion
                                 ? FormatClusterHeader(info)
                                 : FormatHeader(info);
  std::string out(kBackupMagic);
  PutBigEndian(header.size(), 4, &out);
  out += header;
  return out;
}

absl::StatusOr<std::unique_ptr<BackupFileReader>> BackupFileReader::Open(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no backup file ", path));
    }
    return ErrnoError("cannot open", path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status err = ErrnoError("cannot stat", path);
    close(fd);
    return err;
  }
  return std::unique_ptr<BackupFileReader>(
      new BackupFileReader(fd, path, static_cast<uint64_t>(st.st_size)));
}

BackupFileReader::~BackupFileReader() { close(fd_); }

absl::StatusOr<std::string> BackupFileReader::Read(size_t n) {
  if (n > size_ - offset_) {
    return Malformed(absl::StrCat(
        "truncated (", size_, " bytes; needs more than ", offset_ + n, ")"));
  }
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    const ssize_t r = pread(fd_, out.data() + done, n - done,
                            static_cast<off_t>(offset_ + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("cannot read", path_);
    if (r == 0) return Malformed("truncated while read");
    done += static_cast<size_t>(r);
  }
  offset_ += n;
  if (mac_ != nullptr) mac_->Update(out);
  return out;
}

absl::StatusOr<uint64_t> BackupFileReader::ReadNumber(int bytes) {
  ASSIGN_OR_RETURN(std::string raw, Read(static_cast<size_t>(bytes)));
  return GetBigEndian(raw);
}

absl::StatusOr<BackupInfo> BackupFileReader::ReadHeader() {
  if (size_ < kBackupMagic.size() ||
      Read(kBackupMagic.size()).value_or("") != kBackupMagic) {
    return absl::InvalidArgumentError(
        "not a zlayer-secrets backup file (no ZSBACKUP magic)");
  }
  ASSIGN_OR_RETURN(uint64_t header_len, ReadNumber(4));
  if (header_len > kMaxBackupHeaderBytes) return Malformed("header too long");
  ASSIGN_OR_RETURN(std::string header, Read(header_len));
  ASSIGN_OR_RETURN(BackupInfo info, ParseHeader(header));
  if (info.format_version != kBackupFormatVersion &&
      info.format_version != kClusterBackupFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backup format version ", info.format_version,
        " is not supported (this build reads versions ", kBackupFormatVersion,
        " and ", kClusterBackupFormatVersion, ")"));
  }
  info.file_bytes = size_;
  return info;
}

absl::Status BackupFileReader::ReadClusterBody(
    BackupInfo* info,
    absl::FunctionRef<absl::Status(absl::string_view, absl::string_view)>
        on_record) {
  uint64_t keys = 0, secrets = 0, versions = 0, environments = 0, bytes = 0;
  while (true) {
    ASSIGN_OR_RETURN(uint64_t key_len, ReadNumber(4));
    if (key_len == 0) break;
    if (key_len > kMaxBackupRecordBytes) return Malformed("key too long");
    ASSIGN_OR_RETURN(std::string key, Read(key_len));
    ASSIGN_OR_RETURN(uint64_t value_len, ReadNumber(4));
    if (value_len > kMaxBackupRecordBytes) return Malformed("value too long");
    ASSIGN_OR_RETURN(std::string value, Read(value_len));
    if (key[0] != '/') return Malformed("a key outside the prefix");
    ++keys;
    bytes += 8 + key.size() + value.size();
    if (absl::StartsWith(key, "/s/")) ++secrets;
    if (absl::StartsWith(key, "/v/")) ++versions;
    if (absl::StartsWith(key, "/env/id/")) ++environments;
    RETURN_IF_ERROR(on_record(key, value));
  }
  ASSIGN_OR_RETURN(uint64_t trailer_len, ReadNumber(4));
  if (trailer_len > kMaxBackupHeaderBytes) return Malformed("trailer too long");
  ASSIGN_OR_RETURN(std::string trailer, Read(trailer_len));
  BackupInfo counts;
  RETURN_IF_ERROR(ParseFields(trailer, /*is_trailer=*/true, counts));
  if (counts.keys != keys || counts.secrets != secrets ||
      counts.versions != versions || counts.environments != environments ||
      counts.payload_bytes != bytes) {
    return Malformed("trailer and records disagree");
  }
  info->keys = keys;
  info->secrets = secrets;
  info->versions = versions;
  info->environments = environments;
  info->payload_bytes = bytes;
  return absl::OkStatus();
}

absl::StatusOr<std::string> BackupFileReader::ReadMacAndEnd() {
  BackupMac* mac = mac_;
  mac_ = nullptr;
  absl::StatusOr<std::string> tag = Read(kBackupMacBytes);
  mac_ = mac;
  if (!tag.ok()) return tag.status();
  if (offset_ != size_) {
    return Malformed(
        absl::StrCat(size_ - offset_, " unexpected bytes after the end"));
  }
  return tag;
}

absl::Status BackupFileReader::Rewind(BackupMac* mac) {
  offset_ = 0;
  mac_ = mac;
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> CheckBackupFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<BackupFileReader> reader,
                   BackupFileReader::Open(path));
  ASSIGN_OR_RETURN(BackupInfo info, reader->ReadHeader());
  if (info.format_version == kClusterBackupFormatVersion) {
    RETURN_IF_ERROR(reader->ReadClusterBody(
        &info,
        [](absl::string_view, absl::string_view) { return absl::OkStatus(); }));
  } else {
    ASSIGN_OR_RETURN(uint64_t payload_len, reader->ReadNumber(8));
    if (payload_len != info.payload_bytes) {
      return Malformed("header and payload lengths disagree");
    }
    if (payload_len > reader->size() - reader->offset()) {
      return Malformed(absl::StrCat("truncated (", reader->size(), " bytes)"));
    }
    // Skip the payload (no MAC to feed).
    const uint64_t skip_to = reader->offset() + payload_len;
    while (reader->offset() < skip_to) {
      ASSIGN_OR_RETURN(std::string ignored,
                       reader->Read(std::min<uint64_t>(
                           1 << 20, skip_to - reader->offset())));
    }
  }
  RETURN_IF_ERROR(reader->ReadMacAndEnd().status());
  return info;
}

absl::StatusOr<std::unique_ptr<BackupFileWriter>> BackupFileWriter::Create(
    const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " exists; backups never overwrite a file"));
  }
  const std::string tmp = absl::StrCat(path, ".partial");
  unlink(tmp.c_str());
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  return std::unique_ptr<BackupFileWriter>(new BackupFileWriter(fd, path));
}

BackupFileWriter::~BackupFileWriter() {
  if (fd_ >= 0) close(fd_);
  unlink(absl::StrCat(path_, ".partial").c_str());
}

absl::Status BackupFileWriter::Append(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError("backup file closed");
  while (!bytes.empty()) {
    const ssize_t n = write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", absl::StrCat(path_, ".partial"));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> BackupFileWriter::Commit() {
  const std::string tmp = absl::StrCat(path_, ".partial");
  if (fd_ < 0) return absl::FailedPreconditionError("backup file closed");
  const int rc = fsync(fd_);
  close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoError("cannot sync", tmp);
  ASSIGN_OR_RETURN(BackupInfo info, CheckBackupFile(tmp));
  if (link(tmp.c_str(), path_.c_str()) != 0) {
    return errno == EEXIST
               ? absl::AlreadyExistsError(absl::StrCat(
                     path_, " exists; backups never overwrite a file"))
               : ErrnoError("cannot create", path_);
  }
  unlink(tmp.c_str());
  RETURN_IF_ERROR(SyncDirectory(DirectoryOf(path_)));
  return info;
}

}  // namespace zlayer::secrets
