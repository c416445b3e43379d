// Backups of the cluster store (EtcdSecretStore): format version 2 of
// core/backup/backup.h, and its offline restore into an empty etcd prefix.
//
// A backup is every key under the store's prefix P, read at ONE etcd
// revision: the first Range fixes the revision R, every later page is a
// Range pinned to R (paged by key, `page_keys` at a time, streamed as it is
// read). Writers go on meanwhile; none of their changes after R is in the
// file. If etcd compacts R away before the last page is read the backup
// fails (Aborted, "compacted"): take it again. Keys and values are copied
// exactly as stored (sealed values, MACed records, sealed DEKs and seed):
// nothing is decrypted. The header records R, the prefix, the store id,
// the key ids and the sealed subkey seed and key check (so a restore can
// derive the MAC key from the master key before reading the records); the
// trailer records the counts; the MAC key is the store's kBackupMac
// subkey, as for SQLite backups.
//
// Restore (offline; no daemon may use the target prefix):
//   1. the file is read once: structure, key (the key check opens), MAC,
//      the meta records equal the header's, counts; any failure: nothing
//      is written (verify_only stops here);
//   2. the target prefix must hold no key at all; a marker key
//      T/meta/restore_in_progress is created (Txn: only if neither it nor a
//      store exists);
//   3. the file is read again and its keys are written in Txns of at most
//      kMaxOpsPerTxn operations, each conditional on the marker still being
//      ours; the store's meta records are held back;
//   4. if the second reading's MAC matches, one last Txn writes the meta
//      records and deletes the marker: the store appears at once.
// A daemon refuses to open a prefix that holds the marker
// (EtcdSecretStore::Open), so a restore that stopped half-way is never
// served. Any failure in 3-4 deletes the whole prefix if the marker is
// still ours; if even that fails (etcd gone), the marker stays and the
// daemon keeps refusing: delete the prefix (etcdctl del --prefix T/) and
// restore again.
//
// A cluster backup cannot be restored into a SQLite data directory (the
// records differ; converting them would need the metadata MAC re-done):
// restore it into etcd.
#ifndef ZLAYER_SECRETS_CORE_BACKUP_CLUSTER_BACKUP_H_
#define ZLAYER_SECRETS_CORE_BACKUP_CLUSTER_BACKUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/backup/backup.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/store/etcd/etcd_secret_store.h"

namespace zlayer::secrets {

struct ClusterBackupOptions {
  // Keys per Range page (a page is the most the daemon holds at once).
  int page_keys = 1000;
};

// A streaming backup of `store` (which must outlive the source).
absl::StatusOr<std::unique_ptr<BackupSource>> OpenClusterBackup(
    EtcdSecretStore& store, Clock& clock,
    const ClusterBackupOptions& options = {});

struct ClusterRestoreOptions {
  std::string backup_path;
  // Where to restore; ignored with verify_only.
  EtcdStoreOptions target;
  bool verify_only = false;
};

// Verifies (and unless verify_only, restores) a version 2 backup with the
// store's master key. Errors as RestoreBackup, plus FailedPrecondition
// for a target prefix that is not empty (nothing written) and
// Unavailable/Aborted from etcd (the prefix is cleaned up, see above).
absl::StatusOr<BackupInfo> RestoreClusterBackup(
    const ClusterRestoreOptions& options, SecretBytes master_key);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BACKUP_CLUSTER_BACKUP_H_
