#include "daemon/rpc/backup_stream.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "daemon/rpc/call_auditor.h"
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
      ASSIGN_OR_RETURN(file_, ctx->create_backup());
      log.detail = absl::StrCat("bytes=", file_.size());
      return absl::OkStatus();
    }();
    if (ctx->auditor != nullptr) ctx->auditor->MarkAuditedElsewhere(call);
    const grpc::Status answer = log.Finish(status);
    if (!answer.ok()) file_.clear();
    return answer;
  }

  void WriteNext() {
    if (offset_ >= file_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t n = std::min(chunk_bytes_, file_.size() - offset_);
    chunk_.set_data(file_.substr(offset_, n));
    offset_ += n;
    StartWrite(&chunk_);
  }

  const size_t chunk_bytes_;
  std::string file_;
  size_t offset_ = 0;
  v1::BackupChunk chunk_;
};

}  // namespace

grpc::ServerWriteReactor<v1::BackupChunk>* StartBackupStream(
    const ServiceContext* ctx, grpc::CallbackServerContext* call) {
  return new BackupStream(ctx, call);
}

}  // namespace zlayer::secrets
