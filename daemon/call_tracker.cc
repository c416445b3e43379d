#include "daemon/call_tracker.h"

#include <cstring>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace zlayer::secrets {
namespace {

using grpc::experimental::InterceptionHookPoints;

// gRPC runs an interceptor's hooks and later deletes it (~ServerContextBase,
// often on another thread) in an order that its own synchronisation
// guarantees. Debian's gRPC is not built with ThreadSanitizer, so TSan does
// not see that order and reports the delete as racing with the last hook's
// reads of the interceptor's members. These tell TSan about the order gRPC
// provides; they compile to nothing outside TSan builds.
void HookDone(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}
void BeforeDelete(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}

// Lives exactly as long as its call.
class TrackingInterceptor final : public grpc::experimental::Interceptor {
 public:
  TrackingInterceptor(CallTracker* tracker, bool watch)
      : tracker_(tracker), watch_(watch) {
    tracker_->CallStarted(this, watch_);
  }
  ~TrackingInterceptor() override {
    BeforeDelete(this);
    tracker_->CallEnded(this, watch_);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (watch_ && methods->QueryInterceptionHookPoint(
                      InterceptionHookPoints::POST_SEND_MESSAGE)) {
      tracker_->MessageSent(this);
    }
    HookDone(this);
    // May end the call and delete this interceptor: nothing after it.
    methods->Proceed();
  }

 private:
  CallTracker* tracker_;
  bool watch_;
};

class TrackingFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TrackingFactory(CallTracker* tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    bool watch =
        method != nullptr && std::strcmp(method, kHealthWatchMethod) == 0;
    return new TrackingInterceptor(tracker_, watch);
  }

 private:
  CallTracker* tracker_;
};

}  // namespace

std::vector<
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CallTracker::Factories() {
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      factories;
  factories.push_back(std::make_unique<TrackingFactory>(this));
  return factories;
}

void CallTracker::CallStarted(const void* call, bool watch) {
  absl::MutexLock lock(&mu_);
  if (watch) {
    watchers_[call] = false;
  } else {
    ++calls_;
  }
}

void CallTracker::CallEnded(const void* call, bool watch) {
  absl::MutexLock lock(&mu_);
  if (watch) {
    watchers_.erase(call);
  } else {
    --calls_;
  }
}

void CallTracker::MessageSent(const void* call) {
  absl::MutexLock lock(&mu_);
  if (!draining_) return;
  auto it = watchers_.find(call);
  if (it != watchers_.end()) it->second = true;
}

void CallTracker::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (auto& entry : watchers_) entry.second = false;
}

bool CallTracker::WaitForCalls(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

bool CallTracker::WaitForWatchers(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto notified = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& entry : watchers_) {
      if (!entry.second) return false;
    }
    return true;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&notified), deadline);
}

int CallTracker::calls_in_flight() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int CallTracker::watchers() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watchers_.size());
}

}  // namespace zlayer::secrets
