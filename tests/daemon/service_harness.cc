#include "tests/daemon/service_harness.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/env/memory_environment_registry.h"
#include "core/env/sqlite_environment_registry.h"
#include "core/store/memory_secret_store.h"

namespace zlayer::secrets::testing {

TestIdentifier::TestIdentifier() {
  principal_.transport = Transport::kUnix;
  principal_.uid = 1000;
  principal_.gid = 1000;
  principal_.pid = 4242;
  principal_.roles = {"operator"};
}

absl::StatusOr<Principal> TestIdentifier::Identify(
    const grpc::ServerContextBase& context) const {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  return principal_;
}

void TestIdentifier::Set(Principal principal) {
  absl::MutexLock lock(&mu_);
  principal_ = std::move(principal);
  failure_ = absl::OkStatus();
}

void TestIdentifier::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

absl::Status TableAuthorizer::Check(const Principal& principal,
                                    const Resource& resource,
                                    AccessLevel level) const {
  absl::MutexLock lock(&mu_);
  if (allow_all_) return absl::OkStatus();
  AccessLevel granted = AccessLevel::kNone;
  for (const std::string& name : {resource.name, std::string()}) {
    auto it = grants_.find({resource.scope, name});
    if (it != grants_.end() && it->second > granted) granted = it->second;
  }
  if (granted >= level) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      principal.Subject(), " lacks ", AccessLevelName(level), " on ",
      resource.scope, resource.name.empty() ? "" : "/", resource.name));
}

absl::Status TableAuthorizer::CheckAdmin(const Principal& principal) const {
  absl::MutexLock lock(&mu_);
  if (admin_) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(principal.Subject(), " is not an admin"));
}

void TableAuthorizer::AllowAll(bool allow) {
  absl::MutexLock lock(&mu_);
  allow_all_ = allow;
}

void TableAuthorizer::SetAdmin(bool admin) {
  absl::MutexLock lock(&mu_);
  admin_ = admin;
}

void TableAuthorizer::Grant(const std::string& scope, const std::string& name,
                            AccessLevel level) {
  absl::MutexLock lock(&mu_);
  grants_[{scope, name}] = level;
}

ServiceHarness::ServiceHarness() = default;

ServiceHarness::~ServiceHarness() {
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();
  // Every call is finished (Shutdown waited for them): no task is left.
  if (queue_ != nullptr) queue_->Stop();
  queued_secrets_.reset();
  queued_admin_.reset();
  secrets_service_.reset();
  admin_service_.reset();
  registry_.reset();
  sqlite_store_.reset();
  memory_store_.reset();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status ServiceHarness::Start(HarnessOptions options) {
  // Unix socket paths are limited to 108 bytes: a short directory in /tmp.
  char dir_template[] = "/tmp/zs-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  dir_ = dir_template;
  db_path_ = dir_ + "/secrets.sqlite";

  if (options.sqlite) {
    SqliteStoreOptions store_options;
    store_options.path = db_path_;
    ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                     Keyring::Create(1, SecretBytes::Random(32)));
    ASSIGN_OR_RETURN(
        sqlite_store_,
        SqliteSecretStore::Open(store_options, std::move(ring), &clock_));
    ASSIGN_OR_RETURN(registry_, SqliteEnvironmentRegistry::Create(
                                    sqlite_store_.get(), &clock_));
    context_.store = sqlite_store_.get();
  } else {
    memory_store_ = std::make_unique<MemorySecretStore>(&clock_);
    registry_ = std::make_unique<MemoryEnvironmentRegistry>(&clock_);
    context_.store = memory_store_.get();
  }
  context_.environments = registry_.get();
  context_.authorizer = &authorizer_;
  context_.identifier = &identifier_;
  context_.clock = &clock_;
  context_.limits = options.limits;

  secrets_service_ = std::make_unique<SecretsService>(&context_);
  admin_service_ = std::make_unique<AdminService>(&context_);
  const std::string address = "unix:" + dir_ + "/zs.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  queue_ = std::make_unique<CallQueue>(options.queue);
  queued_secrets_ =
      MakeQueuedSecretsService(secrets_service_.get(), queue_.get(), &context_);
  queued_admin_ =
      MakeQueuedAdminService(admin_service_.get(), queue_.get(), &context_);
  builder.RegisterService(queued_secrets_.get());
  builder.RegisterService(queued_admin_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::InternalError("server did not start");

  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  secrets_ = v1::Secrets::NewStub(channel);
  admin_ = v1::Admin::NewStub(channel);
  return absl::OkStatus();
}

absl::Status CopyCiphertext(const std::string& db_path, const std::string& from,
                            const std::string& to) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open(db_path.c_str(), &db);
  absl::Status status;
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 5000);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db,
                            "UPDATE secret_versions SET ciphertext = (SELECT "
                            "ciphertext FROM secret_versions WHERE name = ?1) "
                            "WHERE name = ?2",
                            -1, &stmt, nullptr);
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(stmt, 1, from.c_str(), -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(stmt, 2, to.c_str(), -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) {
    status = absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db)));
  } else if (sqlite3_changes(db) != 1) {
    status = absl::InternalError("expected exactly one row to change");
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return status;
}

v1::Target ScopeTarget(const std::string& scope) {
  v1::Target target;
  target.set_scope(scope);
  return target;
}

v1::Target DeploymentTarget(const std::string& deployment,
                            const std::string& service) {
  v1::Target target;
  target.mutable_deployment()->set_deployment(deployment);
  target.mutable_deployment()->set_service(service);
  return target;
}

v1::Target EnvTarget(const std::string& name_or_id,
                     const std::string& project) {
  v1::Target target;
  target.mutable_environment()->set_name_or_id(name_or_id);
  target.mutable_environment()->set_project(project);
  return target;
}

}  // namespace zlayer::secrets::testing
