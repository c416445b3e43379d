// Admin.Backup: streams a backup file of the whole store (core/backup) to an
// admin caller.
//
// The call is identified and authorised (admin only), the snapshot is taken
// (ServiceContext::create_backup) and the call's audit record is written
// before the first byte is sent: Backup is declared `reveals_values` (its
// file holds sealed values), so when the record cannot be written the call
// ends UNAVAILABLE with nothing sent. The record is written here, not by the
// CallAuditor at the end of the stream (which would be after the data left);
// the auditor is told the call is audited elsewhere.
//
// The snapshot is taken on the gRPC callback thread that starts the call
// (SQLite: the backup API copies one read transaction into a private,
// unlinked file in the data directory; etcd: the revision is fixed). The
// file is then made and sent piece by piece (at most 1 MiB, and at most half
// the message limit), one write at a time: each piece is produced when the
// previous one was sent (a read of the snapshot file, or one etcd page at
// the pinned revision), so the daemon never holds the whole file. An error
// after the first piece (etcd compacted the revision, say) ends the stream
// with that status; the client then keeps nothing.
//
//   grpc::ServerWriteReactor<v1::BackupChunk>* Backup(
//       grpc::CallbackServerContext* call, const v1::BackupRequest*) override {
//     return StartBackupStream(ctx_, call);
//   }
//
// Thread-safe; `ctx` must outlive the call.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_BACKUP_STREAM_H_
#define ZLAYER_SECRETS_DAEMON_RPC_BACKUP_STREAM_H_

#include "daemon/rpc/service_context.h"
#include "grpcpp/support/server_callback.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

grpc::ServerWriteReactor<v1::BackupChunk>* StartBackupStream(
    const ServiceContext* ctx, grpc::CallbackServerContext* call);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_BACKUP_STREAM_H_
