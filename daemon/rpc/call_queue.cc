#include "daemon/rpc/call_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

int CallQueue::DefaultWorkers() {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(16, 4 * cores);
}

CallQueue::CallQueue(CallQueueOptions options) : options_(options) {
  const int workers =
      options_.workers > 0 ? options_.workers : DefaultWorkers();
  threads_.reserve(workers);
  for (int i = 0; i < workers; ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

CallQueue::~CallQueue() { Stop(); }

absl::Status CallQueue::Submit(size_t request_bytes,
                               absl::AnyInvocable<void()> task) {
  const size_t bytes = request_bytes + kQueuedCallOverheadBytes;
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError("the daemon is shutting down");
  }
  if (tasks_.size() >= options_.max_queued_calls) {
    ++rejected_;
    return absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: ", tasks_.size(),
        " calls are already queued (the limit); retry with backoff"));
  }
  if (queued_bytes_ + bytes > options_.max_queued_bytes) {
    ++rejected_;
    return absl::ResourceExhaustedError(
        absl::StrCat("server overloaded: queued requests hold ", queued_bytes_,
                     " bytes and this one would pass the limit of ",
                     options_.max_queued_bytes, "; retry with backoff"));
  }
  queued_bytes_ += bytes;
  tasks_.push_back(Task{bytes, std::move(task)});
  peak_queued_ = std::max(peak_queued_, tasks_.size());
  return absl::OkStatus();
}

void CallQueue::WorkerLoop() {
  for (;;) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      // Stopping still runs what is queued: each task answers its call.
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_bytes_ -= task.bytes;
    }
    task.run();
  }
}

void CallQueue::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

size_t CallQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

uint64_t CallQueue::rejected() const {
  absl::MutexLock lock(&mu_);
  return rejected_;
}

size_t CallQueue::peak_queued() const {
  absl::MutexLock lock(&mu_);
  return peak_queued_;
}

}  // namespace zlayer::secrets
