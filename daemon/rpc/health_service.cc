#include "daemon/rpc/health_service.h"

#include <string>
#include <utility>
#include <vector>

namespace zlayer::secrets {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ServingStatus = HealthCheckResponse::ServingStatus;

ServingStatus ToServingStatus(bool serving) {
  return serving ? HealthCheckResponse::SERVING
                 : HealthCheckResponse::NOT_SERVING;
}

}  // namespace

// One Watch stream. Lifetime: created by Watch(), listed in the service's
// watchers_ until OnDone, where it removes itself (under the service's mu_)
// and deletes itself.
//
// Decisions are taken under mu_; the gRPC operations they lead to (StartWrite,
// Finish) are started after every lock is released. That is safe without a
// lock keeping the watcher alive because gRPC runs OnDone only after Finish():
// whoever decides on a write or on the Finish holds the only right to start
// it, and until it does, the watcher cannot be done. At most one write is in
// flight (writing_), and Finish is decided once (finishing_), never while a
// write is in flight.
class HealthService::Watcher final
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  enum class Action { kNone, kWrite, kFinishOk, kFinishCancelled };

  Watcher(HealthService* service, std::string name)
      : service_(service), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // The client should end up with `status`; with `last`, the stream ends once
  // it has been sent. Returns what to do: pass it to Run() after releasing
  // every lock. The caller holds service_->mu_, which keeps this alive.
  Action Update(ServingStatus status, bool last) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    latest_ = status;
    if (last) last_ = true;
    return NextLocked();
  }

  // Starts what Update() or a reaction decided. The watcher may be gone once
  // this returns.
  void Run(Action action) {
    switch (action) {
      case Action::kNone:
        return;
      case Action::kWrite:
        // response_ stays untouched until OnWriteDone (writing_ is set).
        StartWrite(&response_);
        return;
      case Action::kFinishOk:
        Finish(grpc::Status::OK);
        return;
      case Action::kFinishCancelled:
        Finish(grpc::Status::CANCELLED);
        return;
    }
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      // Not ok: the stream is broken (client gone, call cancelled); nothing
      // more can be sent.
      if (!ok) cancelled_ = true;
      action = NextLocked();
    }
    Run(action);
  }

  void OnCancel() override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      action = NextLocked();
    }
    Run(action);
  }

  void OnDone() override {
    service_->Remove(this);
    delete this;
  }

 private:
  Action NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || writing_) return Action::kNone;
    if (cancelled_) {
      finishing_ = true;
      return Action::kFinishCancelled;
    }
    if (!sent_any_ || latest_ != sent_) {
      sent_any_ = true;
      sent_ = latest_;
      writing_ = true;
      response_.set_status(latest_);
      return Action::kWrite;
    }
    if (last_) {
      finishing_ = true;
      return Action::kFinishOk;
    }
    return Action::kNone;
  }

  HealthService* const service_;
  const std::string name_;

  absl::Mutex mu_;
  // The status the client should end up with.
  ServingStatus latest_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  // The status of the last write started (sent_any_: there was one).
  ServingStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Finish the stream (with OK) once the client has latest_.
  bool last_ ABSL_GUARDED_BY(mu_) = false;
  // The call is cancelled or a write failed: finish with CANCELLED.
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // Finish has been decided on (exactly once).
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  // The message being written. Set under mu_ only while no write is in
  // flight; gRPC reads it until OnWriteDone.
  HealthCheckResponse response_;
};

HealthService::HealthService() {
  statuses_.emplace("", HealthCheckResponse::NOT_SERVING);
}

HealthService::~HealthService() {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return watcher_count_ == 0;
  };
  mu_.Await(absl::Condition(&done));
}

void HealthService::SetServingStatus(absl::string_view service, bool serving) {
  const ServingStatus status = ToServingStatus(serving);
  std::vector<std::pair<Watcher*, Watcher::Action>> actions;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    statuses_[service] = status;
    auto it = watchers_.find(service);
    if (it != watchers_.end()) {
      for (Watcher* watcher : it->second) {
        Watcher::Action action = watcher->Update(status, /*last=*/false);
        if (action != Watcher::Action::kNone) {
          actions.emplace_back(watcher, action);
        }
      }
    }
  }
  for (const auto& [watcher, action] : actions) watcher->Run(action);
}

void HealthService::Shutdown() {
  std::vector<std::pair<Watcher*, Watcher::Action>> actions;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& entry : statuses_) {
      entry.second = HealthCheckResponse::NOT_SERVING;
    }
    // Every watcher, also those of unknown services: the server is going
    // away, so nothing is served any more.
    for (const auto& entry : watchers_) {
      for (Watcher* watcher : entry.second) {
        Watcher::Action action =
            watcher->Update(HealthCheckResponse::NOT_SERVING, /*last=*/true);
        if (action != Watcher::Action::kNone) {
          actions.emplace_back(watcher, action);
        }
      }
    }
  }
  for (const auto& [watcher, action] : actions) watcher->Run(action);
}

int HealthService::watchers() const {
  absl::MutexLock lock(&mu_);
  return watcher_count_;
}

bool HealthService::AwaitWatchers(int n, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return watcher_count_ == n;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(request->service());
    if (it != statuses_.end()) {
      response->set_status(it->second);
    } else {
      status = grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  Watcher::Action action;
  {
    absl::MutexLock lock(&mu_);
    watchers_[watcher->name()].insert(watcher);
    ++watcher_count_;
    ServingStatus status = HealthCheckResponse::SERVICE_UNKNOWN;
    auto it = statuses_.find(watcher->name());
    if (it != statuses_.end()) status = it->second;
    // After Shutdown() every watcher, also of an unknown service, gets the
    // final status and is ended.
    if (shut_down_) status = HealthCheckResponse::NOT_SERVING;
    action = watcher->Update(status, /*last=*/shut_down_);
  }
  // Before the reactor is returned gRPC queues the write; it cannot be done
  // yet (OnDone needs this handler to have returned).
  watcher->Run(action);
  return watcher;
}

void HealthService::Remove(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(watcher->name());
  if (it != watchers_.end()) {
    it->second.erase(watcher);
    if (it->second.empty()) watchers_.erase(it);
  }
  --watcher_count_;
}

}  // namespace zlayer::secrets
