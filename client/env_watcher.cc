#include "client/env_watcher.h"

#include <algorithm>
#include <utility>

#include "core/base/secret_bytes.h"

namespace zlayer::secrets {

EnvWatcher::EnvWatcher(SecretsClient* client, v1::WatchEnvRequest request,
                       EnvWatcherOptions options)
    : client_(client), request_(std::move(request)), options_(options) {}

EnvWatcher::~EnvWatcher() {
  // An env map may hold literal values next to its references.
  for (auto& [key, value] : *request_.mutable_env()) WipeString(&value);
}

absl::Status EnvWatcher::Run(
    const std::function<void(const v1::WatchEnvResponse&)>& on_message,
    const std::function<void(const absl::Status&)>& on_reconnect) {
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return absl::OkStatus();
      open_ = &context;
    }
    auto reader = client_->WatchEnv(&context, request_);
    v1::WatchEnvResponse message;
    while (reader->Read(&message)) {
      backoff = options_.initial_backoff;
      request_.set_resume_position(message.position());
      on_message(message);
    }
    const absl::Status ended = FromGrpcStatus(reader->Finish());
    absl::MutexLock lock(&mu_);
    open_ = nullptr;
    if (stopped_) return absl::OkStatus();
    if (!ended.ok() && !absl::IsUnavailable(ended) &&
        !options_.retry_refusals) {
      return ended;
    }
    mu_.Unlock();
    on_reconnect(ended);
    mu_.Lock();
    // Waits out the backoff unless Stop() comes first.
    mu_.AwaitWithTimeout(absl::Condition(&stopped_), backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void EnvWatcher::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  if (open_ != nullptr) open_->TryCancel();
}

}  // namespace zlayer::secrets
