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
// Restore (offline) writes the payload to a staging file, opens it with the
// master key (the key check fails for a wrong key), derives the MAC key from
// the staged store's seed and checks the MAC and the header's store id and
// counts; only then is the staging file linked in as {data_dir}/secrets.db.
// Any failure removes the staging file: nothing is left behind.
//
// Thread-safe: free functions; CreateBackup runs beside the store's writers.
#ifndef ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_
#define ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zlayer::secrets {

inline constexpr absl::string_view kBackupMagic = "ZSBACKUP";
inline constexpr int kBackupFormatVersion = 1;
inline constexpr size_t kMaxBackupHeaderBytes = 64 << 10;
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
};

// Human-readable summary, one "key: value" per line.
std::string DescribeBackup(const BackupInfo& info);

// Takes a snapshot of `store` and returns the backup file's bytes; fills
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

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BACKUP_BACKUP_H_
