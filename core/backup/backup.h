// Encrypted, authenticated backups of a SqliteSecretStore
// (`zlayer-secret backup FILE`, Admin.Backup; `zlayer-secret restore`;
// docs/operations.md, "Backup and restore").
//
// A backup is one consistent snapshot of the store's file, taken online:
// SQLite's backup API copies the database inside one read transaction of a
// reader connection, so it sees every secret at one moment (WAL: writers go
// on meanwhile and are not in it). Nothing is decrypted: values stay sealed
// by the store's data keys, the data keys and subkey seed stay sealed by the
// master key. The file as a whole is authenticated with a keyed BLAKE2b MAC
// whose key is derived from the store's subkey seed (SubkeyPurpose::
// kBackupMac), so checking it needs the store's master key.
//
// File format, version 1 (integers big-endian):
//   8 bytes   magic "ZSBACKUP"
//   4 bytes   header length H (at most kMaxBackupHeaderBytes)
//   H bytes   header: "key=value\n" lines (see BackupInfo / FormatBackupInfo)
//   8 bytes   payload length P
//   P bytes   payload: the snapshot's SQLite database image
//   32 bytes  MAC: crypto_generichash(32, everything above, key = the
//             backup-mac subkey)
//
// File format, version 2: a cluster backup (core/backup/cluster_backup.h):
// the same magic and header framing, then the etcd keys and values under
// the store's prefix instead of a length-prefixed payload:
//   records   per key: 4 bytes key length K (1..kMaxBackupRecordBytes),
//             K bytes key (relative to the prefix, starting with '/'),
//             4 bytes value length V, V bytes value (as stored: sealed)
//   4 bytes   0 (end of records)
//   4 bytes   trailer length T; T bytes trailer ("key=value\n": keys,
//             secrets, versions, environments, payload_bytes)
//   32 bytes  MAC as in version 1, over everything above
// Both versions are written and read as streams: the daemon never holds a
// whole file (BackupSource), the readers below read a file piece by piece.
//
// Restore (offline) writes the payload to a staging file, opens it with the
// master key (the key check fails for a wrong key), derives the MAC key from
// the staged store's seed and checks the MAC and the header's store id and
// counts; only then is the staging file linked in as {data_dir}/secrets.db.
// Any failure removes the staging file: nothing is left behind.
//
// Thread-safe: free functions; CreateBackup runs beside the store's writers.
#ifndef ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_
#define ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zlayer::secrets {

inline constexpr absl::string_view kBackupMagic = "ZSBACKUP";
inline constexpr int kBackupFormatVersion = 1;         // SQLite image
inline constexpr int kClusterBackupFormatVersion = 2;  // etcd keys
inline constexpr size_t kMaxBackupHeaderBytes = 64 << 10;
inline constexpr size_t kMaxBackupRecordBytes = 16 << 20;
inline constexpr size_t kBackupMacBytes = 32;

// What a backup's header records (all of it covered by the MAC).
struct BackupInfo {
  int format_version = kBackupFormatVersion;
  absl::Time created_at;
  std::string store_id;  // hex of the store's 16-byte id
  int schema_version = 0;
  uint32_t master_key_id = 0;                  // the key that seals the DEKs
  std::vector<uint32_t> data_key_generations;  // DEKs in the file
  uint64_t secrets = 0;       // rows in `secrets` (deleted ones included)
  uint64_t versions = 0;      // rows in `secret_versions`
  uint64_t environments = 0;  // rows in `environments`
  uint64_t payload_bytes = 0;
  uint64_t file_bytes = 0;  // the whole file (not in the header)
  // Version 2 (cluster) only.
  std::string prefix;    // the etcd prefix it was read from
  int64_t revision = 0;  // the one etcd revision every key was read at
  uint64_t keys = 0;     // records in the file
  std::string sealed_subkey_seed;  // P/meta/subkey_seed (binary, sealed)
  std::string key_check;           // P/meta/key_check (binary, sealed)
};

// A backup file produced piece by piece: Admin.Backup sends each piece as
// it is made, so the daemon holds at most about one piece (and, for etcd,
// one page of keys) at a time. The MAC is computed as the bytes go by.
// Not thread-safe (one stream).
class BackupSource {
 public:
  virtual ~BackupSource() = default;
  // The next bytes of the file (at most max_bytes), or "" once the file is
  // complete. An error ends the backup: the bytes so far are no file.
  virtual absl::StatusOr<std::string> Next(size_t max_bytes) = 0;
  // The header's fields (counts of version 2 are complete only at the end).
  virtual const BackupInfo& info() const = 0;
};

// Incremental keyed BLAKE2b-256 over a backup file (both versions).
class BackupMac {
 public:
  explicit BackupMac(const SecretBytes& key);
  void Update(absl::string_view bytes);
  std::string Final();  // kBackupMacBytes

 private:
  crypto_generichash_state state_;
};

// Magic, header length and header text of `info` (the file's first bytes).
std::string FrameBackupHeader(const BackupInfo& info);
// Version 2: the end-of-records mark and the trailer of `info`'s counts.
std::string FrameClusterTrailer(const BackupInfo& info);

// Reads a backup file from disk in order, feeding every byte it returns to
// `mac` (when set). DataLoss "truncated" when the file ends early.
class BackupFileReader {
 public:
  static absl::StatusOr<std::unique_ptr<BackupFileReader>> Open(
      const std::string& path);
  ~BackupFileReader();
  // Reads the magic and header (not hashed unless a MAC is set first).
  absl::StatusOr<BackupInfo> ReadHeader();
  absl::StatusOr<std::string> Read(size_t n);
  absl::StatusOr<uint64_t> ReadNumber(int bytes);
  // Walks a version 2 body (after ReadHeader): `on_record` sees each key
  // and value; the trailer's counts are checked against the records and
  // copied into `info`.
  absl::Status ReadClusterBody(
      BackupInfo* info, absl::FunctionRef<absl::Status(absl::string_view key,
                                                       absl::string_view value)>
                            on_record);
  // Reads the MAC, which must end the file.
  absl::StatusOr<std::string> ReadMacAndEnd();
  // Starts over at byte 0 with a new MAC (null: none).
  absl::Status Rewind(BackupMac* mac);
  void set_mac(BackupMac* mac) { mac_ = mac; }
  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }

 private:
  BackupFileReader(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  const int fd_;
  const std::string path_;
  const uint64_t size_;
  uint64_t offset_ = 0;
  BackupMac* mac_ = nullptr;
};

// Checks a backup file's structure on disk without the key (magic,
// version, lengths, for version 2 every record and the trailer): what a
// client can check before keeping a file. Errors as ReadBackupHeader.
absl::StatusOr<BackupInfo> CheckBackupFile(const std::string& path);

// A streaming backup of `store`: SQLite's backup API copies one read
// snapshot into a private file in the store's directory (unlinked once
// open), which is then read in pieces.
absl::StatusOr<std::unique_ptr<BackupSource>> OpenBackup(
    SqliteSecretStore& store, Clock& clock);

// Human-readable summary, one "key: value" per line.
std::string DescribeBackup(const BackupInfo& info);

// OpenBackup drained into memory (tests, small stores); fills
// `info` when given. Unavailable on storage failure.
absl::StatusOr<std::string> CreateBackup(SqliteSecretStore& store, Clock& clock,
                                         BackupInfo* info = nullptr);

// Checks the structure (magic, version, lengths) and parses the header; does
// not check the MAC (that needs the key). InvalidArgument for a file that
// is not a backup; DataLoss for a truncated or malformed one.
absl::StatusOr<BackupInfo> ReadBackupHeader(absl::string_view file);

struct RestoreOptions {
  std::string backup_path;
  // Where {data_dir}/secrets.db is created. Must be empty but for master
  // key and salt files (*.key, *.salt); created (0700) if missing.
  std::string data_dir;
  // Check everything (structure, key, MAC, header against the content) in a
  // private temporary directory and write nothing.
  bool verify_only = false;
};

// Restores (or verifies) a backup with the store's master key. Errors:
//   InvalidArgument     not a backup file (foreign file, other version)
//   DataLoss            truncated, edited or damaged (MAC or content check)
//   FailedPrecondition  the key does not open it; data_dir not empty
//   Unavailable/Internal file-system failures
// On any error nothing is left in data_dir.
absl::StatusOr<BackupInfo> RestoreBackup(const RestoreOptions& options,
                                         SecretBytes master_key, Clock* clock);

// Writes `bytes` to `path` (0600, fsynced) atomically; refuses to replace an
// existing file (AlreadyExists).
absl::Status SaveBackupFile(const std::string& path, absl::string_view bytes);

// A backup file being received: pieces go to PATH.partial (0600); Commit
// checks the structure (CheckBackupFile) and links it in as PATH (never
// replacing one: AlreadyExists); otherwise, and on destruction without a
// Commit, the partial file is removed.
class BackupFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<BackupFileWriter>> Create(
      const std::string& path);
  ~BackupFileWriter();
  absl::Status Append(absl::string_view bytes);
  absl::StatusOr<BackupInfo> Commit();

 private:
  BackupFileWriter(int fd, std::string path)
      : fd_(fd), path_(std::move(path)) {}
  int fd_;
  const std::string path_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_
