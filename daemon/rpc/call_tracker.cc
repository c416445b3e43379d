#include "daemon/rpc/call_tracker.h"

#include "daemon/rpc/interceptor_tsan.h"

namespace zlayer::secrets {
namespace {

// Lives exactly as long as its call.
class TrackingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TrackingInterceptor(CallTracker* tracker) : tracker_(tracker) {
    tracker_->CallStarted();
  }
  ~TrackingInterceptor() override {
    InterceptorBeforeDelete(this);
    tracker_->CallEnded();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    InterceptorHookDone(this);
    // May end the call and delete this interceptor: nothing after it.
    methods->Proceed();
  }

 private:
  CallTracker* tracker_;
};

class TrackingFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TrackingFactory(CallTracker* tracker) : tracker_(tracker) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new TrackingInterceptor(tracker_);
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

void CallTracker::CallStarted() {
  absl::MutexLock lock(&mu_);
  ++calls_;
}

void CallTracker::CallEnded() {
  absl::MutexLock lock(&mu_);
  --calls_;
}

bool CallTracker::WaitForCalls(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int CallTracker::calls_in_flight() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

}  // namespace zlayer::secrets
