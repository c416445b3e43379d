// A real gRPC server on a Unix socket with SecretsService and AdminService
// over a real SqliteSecretStore (or MemorySecretStore), for the daemon
// service tests. The caller identity and the access decisions are test seams
// (TestIdentifier, TableAuthorizer); everything else is production code.
//
//   ServiceHarness h;
//   ASSERT_TRUE(h.Start().ok());
//   v1::SetSecretResponse resp;
//   grpc::Status s = h.Call(&v1::Secrets::Stub::SetSecret, h.secrets(), req,
//   &resp);
#ifndef ZLAYER_SECRETS_TESTS_DAEMON_SERVICE_HARNESS_H_
#define ZLAYER_SECRETS_TESTS_DAEMON_SERVICE_HARNESS_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/base/clock.h"
#include "core/env/environment_registry.h"
#include "core/identity/access.h"
#include "core/store/secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "daemon/rpc/admin_service.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/rpc/callback_services.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "grpcpp/grpcpp.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets::testing {

// Always answers with one configurable principal, or a configured error.
class TestIdentifier final : public CallerIdentifier {
 public:
  TestIdentifier();
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const override;
  void Set(Principal principal);
  void Fail(absl::Status status);  // e.g. UNAUTHENTICATED

 private:
  mutable absl::Mutex mu_;
  Principal principal_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

// Grants by table: (scope, name) -> level; a grant with name "" covers the
// whole scope. Starts allowing everything (AllowAll(true)).
class TableAuthorizer final : public Authorizer {
 public:
  absl::Status Check(const Principal& principal, const Resource& resource,
                     AccessLevel level) const override;
  absl::Status CheckAdmin(const Principal& principal) const override;

  void AllowAll(bool allow);
  void SetAdmin(bool admin);
  void Grant(const std::string& scope, const std::string& name,
             AccessLevel level);

 private:
  mutable absl::Mutex mu_;
  bool allow_all_ ABSL_GUARDED_BY(mu_) = true;
  bool admin_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::pair<std::string, std::string>, AccessLevel> grants_
      ABSL_GUARDED_BY(mu_);
};

struct HarnessOptions {
  bool sqlite = true;  // false: MemorySecretStore + MemoryEnvironmentRegistry
  Limits limits;
  // The worker pool the services queue their calls on (as the daemon's).
  CallQueueOptions queue;
};

class ServiceHarness {
 public:
  ServiceHarness();
  ~ServiceHarness();  // shuts the server down, removes the temp directory

  absl::Status Start(HarnessOptions options = {});

  // A unary call with a deadline.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                 const Req&, Resp*),
                    Stub* stub, const Req& request, Resp* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    return (stub->*method)(&context, request, response);
  }

  v1::Secrets::Stub* secrets() { return secrets_.get(); }
  v1::Admin::Stub* admin() { return admin_.get(); }
  SecretStore* store() { return context_.store; }
  EnvironmentRegistry* environments() { return context_.environments; }
  // The SQLite store (null with options.sqlite == false).
  SqliteSecretStore* sqlite_store() { return sqlite_store_.get(); }
  ServiceContext& context() { return context_; }
  TestIdentifier& identifier() { return identifier_; }
  TableAuthorizer& authorizer() { return authorizer_; }
  CallQueue* queue() { return queue_.get(); }
  const std::string& db_path() const { return db_path_; }

 private:
  std::string dir_;
  std::string db_path_;
  FakeClock clock_;
  TestIdentifier identifier_;
  TableAuthorizer authorizer_;
  std::unique_ptr<SecretStore> memory_store_;
  std::unique_ptr<SqliteSecretStore> sqlite_store_;
  std::unique_ptr<EnvironmentRegistry> registry_;
  ServiceContext context_;
  std::unique_ptr<SecretsService> secrets_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<CallQueue> queue_;
  std::unique_ptr<grpc::Service> queued_secrets_;
  std::unique_ptr<grpc::Service> queued_admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Secrets::Stub> secrets_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// Tampers with the SQLite file behind the store's back: copies the
// ciphertext of the (single) version row of secret `from` over that of
// secret `to`, so `to` fails its integrity check. Internal unless exactly one
// row changed.
absl::Status CopyCiphertext(const std::string& db_path, const std::string& from,
                            const std::string& to);

// Target helpers.
v1::Target ScopeTarget(const std::string& scope);
v1::Target DeploymentTarget(const std::string& deployment,
                            const std::string& service = "");
v1::Target EnvTarget(const std::string& name_or_id,
                     const std::string& project = "");

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_DAEMON_SERVICE_HARNESS_H_
