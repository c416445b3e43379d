#include "core/store/etcd/etcd_watcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "grpcpp/grpcpp.h"

namespace zlayer::secrets {
namespace {

// The end of the key range of every key starting with `prefix` (etcd's
// "prefix + 1" convention).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

absl::StatusOr<int64_t> EtcdWatcher::CurrentRevision(EtcdClient& client) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(1, '\0'));
  request.set_count_only(true);
  request.set_limit(1);
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse response, client.Range(request));
  return response.header().revision();
}

std::unique_ptr<EtcdWatcher> EtcdWatcher::Start(EtcdClient* client,
                                                std::string key_prefix,
                                                int64_t start_revision,
                                                Callbacks callbacks) {
  std::unique_ptr<EtcdWatcher> watcher(new EtcdWatcher(
      client, std::move(key_prefix), start_revision, std::move(callbacks)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  return watcher;
}

EtcdWatcher::EtcdWatcher(EtcdClient* client, std::string key_prefix,
                         int64_t start_revision, Callbacks callbacks)
    : client_(client),
      key_prefix_(std::move(key_prefix)),
      callbacks_(std::move(callbacks)),
      delivered_(start_revision - 1) {}

EtcdWatcher::~EtcdWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void EtcdWatcher::Report(const absl::Status& status) {
  if (callbacks_.on_interrupted) callbacks_.on_interrupted(status);
}

bool EtcdWatcher::Pause(absl::Duration pause) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), pause);
  return !stopping_;
}

void EtcdWatcher::Run() {
  const EtcdClientOptions& options = client_->options();
  absl::Duration backoff = options.initial_backoff;
  bool resync = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (resync) {
      // Note the revision first: whatever changes after it is watched, so
      // the re-read state plus the watch miss nothing.
      absl::StatusOr<int64_t> now = CurrentRevision(*client_);
      absl::Status status = now.ok() ? callbacks_.on_resync() : now.status();
      if (status.ok()) {
        delivered_.store(*now);
        resyncs_.fetch_add(1);
        resync = false;
        backoff = options.initial_backoff;
      } else {
        Report(absl::Status(
            status.code(),
            absl::StrCat("etcd watch resync failed: ", status.message())));
        if (!Pause(backoff)) return;
        backoff = std::min(backoff * 2, options.max_backoff);
        continue;
      }
    }
    const int64_t before = delivered_.load();
    resync = RunStream();
    if (resync) continue;
    reconnects_.fetch_add(1);
    // A stream that delivered something was healthy: start the backoff over.
    if (delivered_.load() != before) backoff = options.initial_backoff;
    if (!Pause(backoff)) return;
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

bool EtcdWatcher::RunStream() {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
  }
  auto stream = client_->OpenWatch(&context);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key(key_prefix_);
  create->set_range_end(PrefixEnd(key_prefix_));
  create->set_start_revision(delivered_.load() + 1);
  create->set_prev_kv(true);
  bool compacted = false;
  if (stream->Write(request)) {
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.compact_revision() > 0) {
        Report(absl::OutOfRangeError(
            absl::StrCat("etcd watch: revision ", delivered_.load() + 1,
                         " was compacted (compact revision ",
                         response.compact_revision(), "); resyncing")));
        compacted = true;
        break;
      }
      if (response.canceled()) {
        Report(absl::UnavailableError(absl::StrCat(
            "etcd watch cancelled by etcd: ", response.cancel_reason())));
        break;
      }
      if (response.events_size() == 0) continue;
      std::vector<mvccpb::Event> events(response.events().begin(),
                                        response.events().end());
      callbacks_.on_events(events);
      delivered_.store(events.back().kv().mod_revision());
    }
  }
  context.TryCancel();
  grpc::Status status = stream->Finish();
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    stopping = stopping_;
  }
  if (!compacted && !stopping) {
    Report(absl::UnavailableError(
        absl::StrCat("etcd watch broken, resuming at revision ",
                     delivered_.load() + 1, ": ", status.error_message())));
  }
  return compacted;
}

}  // namespace zlayer::secrets
