#include "daemon/rpc/backup_stream.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/backup/backup.h"
#include "core/base/status_macros.h"
#include "daemon/rpc/call_auditor.h"
#include "daemon/rpc/grpc_status.h"
#include "daemon/rpc/service_common.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kMaxChunkBytes = 1 << 20;

class BackupStream final : public grpc::ServerWriteReactor<v1::BackupChunk> {
 public:
  BackupStream(const ServiceContext* ctx, grpc::CallbackServerContext* call)
      : chunk_bytes_(std::max<size_t>(
            1, std::min(kMaxChunkBytes, ctx->limits.max_message_bytes / 2))) {
    const grpc::Status status = Prepare(ctx, call);
    if (!status.ok()) {
      Finish(status);
      return;
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  // Identifies, snapshots and audits; the status the call ends with if not
  // OK.
  grpc::Status Prepare(const ServiceContext* ctx,
                       grpc::CallbackServerContext* call) {
    // The record is written now (fail closed), not deposited with the
    // auditor, which would write it after the stream.
    ServiceContext direct = *ctx;
    direct.auditor = nullptr;
    CallLog log(&direct, *call, "Backup");
    absl::Status status = [&]() -> absl::Status {
      if (ctx->identifier == nullptr || ctx->authorizer == nullptr) {
        return absl::FailedPreconditionError("no caller identification");
      }
      // Through IdentifyCaller like every RPC: a proxy acting as a user
      // gets that user's rights here too, never its own.
      ASSIGN_OR_RETURN(Principal principal, IdentifyCaller(*ctx, *call, &log));
      RETURN_IF_ERROR(ctx->authorizer->CheckAdmin(principal));
      if (!ctx->create_backup) {
        return absl::UnimplementedError("this store cannot be backed up");
      }
      ASSIGN_OR_RETURN(source_, ctx->create_backup());
      const BackupInfo& info = source_->info();
      log.detail = info.format_version == kClusterBackupFormatVersion
                       ? absl::StrCat("etcd revision=", info.revision)
                       : absl::StrCat("bytes=", info.file_bytes);
      return absl::OkStatus();
    }();
    if (ctx->auditor != nullptr) ctx->auditor->MarkAuditedElsewhere(call);
    const grpc::Status answer = log.Finish(status);
    if (!answer.ok()) source_.reset();
    return answer;
  }

  // The next piece, made now (a read of the snapshot file or one etcd
  // page): the daemon holds at most about one piece per stream.
  void WriteNext() {
    absl::StatusOr<std::string> piece = source_->Next(chunk_bytes_);
    if (!piece.ok()) {
      // The client sees an error status and keeps no file.
      source_.reset();
      Finish(ToGrpcStatus(piece.status()));
      return;
    }
    if (piece->empty()) {
      source_.reset();
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.set_data(*std::move(piece));
    StartWrite(&chunk_);
  }

  const size_t chunk_bytes_;
  std::unique_ptr<BackupSource> source_;
  v1::BackupChunk chunk_;
};

}  // namespace

grpc::ServerWriteReactor<v1::BackupChunk>* StartBackupStream(
    const ServiceContext* ctx, grpc::CallbackServerContext* call) {
  return new BackupStream(ctx, call);
}

}  // namespace zlayer::secrets
