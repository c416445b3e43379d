// Storage start-up for the daemon: the master key (KeyManager, with the
// staged-key crash recovery of core/crypto/master_key_rotation.h), the store
// chosen by --store (SQLite, or etcd in cluster mode), the change feed every
// write reaches, and the environment registry; plus what the Admin RPCs ask
// of the store later (master-key rotation, data-key rekey).
//
//   RETURN_IF_ERROR(OpenStorage(options, state));
//   // state->data, state->observed, state->feed, state->environments set
//
// Call OpenStorage() once, during start-up. RotateStoreMasterKey() is
// thread-safe (one rotation at a time, under state->rotation_mu).
#ifndef ZLAYER_SECRETS_DAEMON_STORAGE_H_
#define ZLAYER_SECRETS_DAEMON_STORAGE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/subkeys.h"
#include "daemon/config.h"
#include "daemon/daemon_state.h"
#include "daemon/rpc/service_context.h"

namespace zlayer::secrets {

// Resolves the master key (the environment's password is cleared once read),
// opens the store, attaches the change feed, resumes an interrupted rekey,
// and opens the environment registry. The key manager's errors
// (FailedPrecondition / InvalidArgument / NotFound for a wrong or unreadable
// key); "--store etcd: ..." when the cluster cannot be reached.
absl::Status OpenStorage(const DaemonOptions& options, DaemonState* state);

// From whichever store is open (both derive from the store's seed).
absl::StatusOr<SecretBytes> DeriveStoreSubkey(DaemonState* state,
                                              SubkeyPurpose purpose);

// Admin RotateMasterKey: re-wraps the store's data keys and subkey seed under
// `new_key` (cluster mode: under the cluster's key-rotation lock; the other
// daemons need the new key file before their next start).
absl::StatusOr<KeyRotationResult> RotateStoreMasterKey(
    const DaemonOptions& options, DaemonState* state, SecretBytes new_key);

// Admin RekeyDataKeys / RekeyStatus. `sqlite_store` null = cluster mode
// (the rekey runs under the cluster's key-rotation lock; the status is this
// daemon's run).
absl::StatusOr<uint32_t> StartRekey(const DaemonOptions& options,
                                    SqliteSecretStore* sqlite_store,
                                    EtcdSecretStore* etcd_store);
RekeyStatusInfo RekeyStatus(SqliteSecretStore* sqlite_store,
                            EtcdSecretStore* etcd_store);

// What cluster mode does not do yet (docs/cluster.md, "Not done").
absl::Status NotInClusterMode(absl::string_view what);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_STORAGE_H_
