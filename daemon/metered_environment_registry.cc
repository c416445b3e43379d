#include "daemon/metered_environment_registry.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/metered_secret_store.h"

namespace zlayer::secrets {

const char* RegistryOpName(RegistryOp op) {
  switch (op) {
    case RegistryOp::kCreate:
      return "create";
    case RegistryOp::kGet:
      return "get";
    case RegistryOp::kList:
      return "list";
    case RegistryOp::kUpdate:
      return "update";
    case RegistryOp::kDelete:
      return "delete";
    case RegistryOp::kFind:
      return "find";
  }
  return "unknown";
}

// Observes the time from its construction to its destruction.
class MeteredEnvironmentRegistry::Timer {
 public:
  Timer(const MeteredEnvironmentRegistry* registry, RegistryOp op)
      : histogram_(registry->latency_[static_cast<size_t>(op)].get()),
        start_(std::chrono::steady_clock::now()) {}
  ~Timer() {
    histogram_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count());
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Histogram* const histogram_;
  const std::chrono::steady_clock::time_point start_;
};

MeteredEnvironmentRegistry::MeteredEnvironmentRegistry(
    std::unique_ptr<EnvironmentRegistry> inner, std::string backend)
    : inner_(std::move(inner)), backend_(std::move(backend)) {
  for (auto& histogram : latency_) {
    histogram = std::make_unique<Histogram>(StoreLatencyBounds());
  }
}

void MeteredEnvironmentRegistry::Collect(std::string* out) const {
  AppendHeader(out, "zlayer_secrets_environment_registry_seconds", "histogram",
               "Time an environment registry operation took (environment "
               "records live beside the secrets, outside the store "
               "operations above), by backend and operation.");
  for (size_t i = 0; i < kRegistryOpCount; ++i) {
    AppendHistogram(
        out, "zlayer_secrets_environment_registry_seconds",
        absl::StrCat("backend=\"", LabelValue(backend_), "\",op=\"",
                     RegistryOpName(static_cast<RegistryOp>(i)), "\""),
        latency_[i]->Read());
  }
}

absl::StatusOr<Environment> MeteredEnvironmentRegistry::Create(
    absl::string_view name, absl::string_view project,
    absl::string_view description) {
  Timer timer(this, RegistryOp::kCreate);
  return inner_->Create(name, project, description);
}

absl::StatusOr<Environment> MeteredEnvironmentRegistry::Get(
    absl::string_view id) {
  Timer timer(this, RegistryOp::kGet);
  return inner_->Get(id);
}

absl::StatusOr<std::vector<Environment>> MeteredEnvironmentRegistry::List(
    absl::string_view project) {
  Timer timer(this, RegistryOp::kList);
  return inner_->List(project);
}

absl::StatusOr<Environment> MeteredEnvironmentRegistry::Update(
    absl::string_view id, absl::string_view name,
    absl::string_view description) {
  Timer timer(this, RegistryOp::kUpdate);
  return inner_->Update(id, name, description);
}

absl::Status MeteredEnvironmentRegistry::Delete(absl::string_view id) {
  Timer timer(this, RegistryOp::kDelete);
  return inner_->Delete(id);
}

absl::StatusOr<Environment> MeteredEnvironmentRegistry::Find(
    absl::string_view name_or_id, absl::string_view project) {
  Timer timer(this, RegistryOp::kFind);
  return inner_->Find(name_or_id, project);
}

}  // namespace zlayer::secrets
