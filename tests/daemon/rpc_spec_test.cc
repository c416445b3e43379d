// Every RPC of the Secrets and Admin services declares its access once
// (daemon/rpc/rpc_spec.cc), and Serve enforces the declaration: a caller
// holding only read is refused the write RPCs, a non-admin the admin RPCs,
// and an RPC without a declaration is refused outright.
#include "daemon/rpc/rpc_spec.h"

#include <set>
#include <string>

#include "daemon/rpc/service_common.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/service_harness.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using testing::ServiceHarness;
using Admin = v1::Admin::Stub;
using Secrets = v1::Secrets::Stub;

TEST(RpcSpecTest, EveryRpcOfBothServicesIsDeclaredOnce) {
  const google::protobuf::FileDescriptor* file =
      v1::GetSecretRequest::descriptor()->file();
  std::set<std::string> in_proto;
  for (const char* service_name : {"Secrets", "Admin"}) {
    const google::protobuf::ServiceDescriptor* service =
        file->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int m = 0; m < service->method_count(); ++m) {
      const std::string rpc = service->method(m)->name();
      in_proto.insert(rpc);
      const RpcSpec* spec = FindRpcSpec(rpc);
      ASSERT_NE(spec, nullptr)
          << service->full_name() << "." << rpc
          << " declares no access: add it to daemon/rpc/rpc_spec.cc";
      EXPECT_EQ(spec->service, service_name) << rpc;
      // A level on a target names the target; the others name none.
      const bool on_target =
          spec->access == Access::kRead || spec->access == Access::kWrite;
      EXPECT_EQ(on_target, spec->target != Target::kNone) << rpc;
    }
  }
  std::set<std::string> declared;
  for (const RpcSpec& spec : AllRpcSpecs()) {
    EXPECT_TRUE(declared.insert(std::string(spec.rpc)).second)
        << spec.rpc << " is declared twice";
    EXPECT_EQ(in_proto.count(std::string(spec.rpc)), 1u)
        << spec.rpc << " is declared but is no RPC of Secrets or Admin";
  }
  EXPECT_EQ(declared.size(), in_proto.size());
}

TEST(RpcSpecTest, AnUndeclaredRpcIsRefusedBeforeItsBodyRuns) {
  ServiceHarness h;
  ASSERT_TRUE(h.Start().ok());
  grpc::ServerContext call;
  bool ran = false;
  grpc::Status s = Serve(&h.context(), call, "NoSuchRpc", [&](Call&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_FALSE(ran);
  // A declared write RPC served without a target to check is refused too.
  s = Serve(&h.context(), call, "SetSecret", [&](Call&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_FALSE(ran);
}

class DeclaredAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Start().ok());
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("prod");
    set.set_name("db");
    set.set_value("v1");
    v1::SetSecretResponse ignored;
    ASSERT_TRUE(h_.Call(&Secrets::SetSecret, h_.secrets(), set, &ignored).ok());
    // From here on: read on scope prod, nothing else, not an admin.
    h_.authorizer().AllowAll(false);
    h_.authorizer().SetAdmin(false);
    h_.authorizer().Grant("prod", "", AccessLevel::kRead);
  }

  template <typename Request, typename Response>
  grpc::StatusCode Secret(grpc::Status (Secrets::*method)(grpc::ClientContext*,
                                                          const Request&,
                                                          Response*),
                          Request request) {
    request.mutable_target()->set_scope("prod");
    Response response;
    return h_.Call(method, h_.secrets(), request, &response).error_code();
  }

  template <typename Request, typename Response>
  grpc::StatusCode AdminCall(grpc::Status (Admin::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*),
                             const Request& request) {
    Response response;
    return h_.Call(method, h_.admin(), request, &response).error_code();
  }

  ServiceHarness h_;
};

TEST_F(DeclaredAccessTest, ReadOnlyCallerReadsButIsRefusedEveryWrite) {
  const auto denied = grpc::StatusCode::PERMISSION_DENIED;
  v1::GetSecretRequest get;
  get.set_name("db");
  EXPECT_EQ(Secret(&Secrets::GetSecret, get), grpc::StatusCode::OK);
  v1::ListSecretsRequest list;
  EXPECT_EQ(Secret(&Secrets::ListSecrets, list), grpc::StatusCode::OK);
  v1::ExportSecretsRequest exp;
  EXPECT_EQ(Secret(&Secrets::ExportSecrets, exp), grpc::StatusCode::OK);

  v1::SetSecretRequest set;
  set.set_name("db");
  set.set_value("v2");
  EXPECT_EQ(Secret(&Secrets::SetSecret, set), denied);
  v1::DeleteSecretRequest del;
  del.set_name("db");
  EXPECT_EQ(Secret(&Secrets::DeleteSecret, del), denied);
  v1::DestroySecretRequest destroy;
  destroy.set_name("db");
  EXPECT_EQ(Secret(&Secrets::DestroySecret, destroy), denied);
  v1::RotateSecretRequest rotate;
  rotate.set_name("db");
  rotate.set_value("v3");
  EXPECT_EQ(Secret(&Secrets::RotateSecret, rotate), denied);
  v1::RollbackSecretRequest rollback;
  rollback.set_name("db");
  rollback.set_version(1);
  EXPECT_EQ(Secret(&Secrets::RollbackSecret, rollback), denied);
  v1::ImportSecretsRequest import;
  import.set_content("db=v4\n");
  EXPECT_EQ(Secret(&Secrets::ImportSecrets, import), denied);

  // Nothing was written: still one version, still "v1".
  h_.authorizer().AllowAll(true);
  v1::GetSecretResponse got;
  v1::GetSecretRequest again = get;
  again.mutable_target()->set_scope("prod");
  ASSERT_TRUE(h_.Call(&Secrets::GetSecret, h_.secrets(), again, &got).ok());
  EXPECT_EQ(got.value(), "v1");
  EXPECT_EQ(got.version(), 1u);
}

TEST_F(DeclaredAccessTest, NonAdminIsRefusedAdminRpcsButNotCallerRpcs) {
  const auto denied = grpc::StatusCode::PERMISSION_DENIED;
  v1::CreateEnvironmentRequest create;
  create.set_name("staging");
  EXPECT_EQ(AdminCall(&Admin::CreateEnvironment, create), denied);
  EXPECT_EQ(AdminCall(&Admin::ListApiKeys, v1::ListApiKeysRequest()), denied);
  v1::GrantRequest grant;
  grant.set_subject("uid:1000");
  EXPECT_EQ(AdminCall(&Admin::Grant, grant), denied);
  EXPECT_EQ(AdminCall(&Admin::ListGrants, v1::ListGrantsRequest()), denied);
  EXPECT_EQ(AdminCall(&Admin::RotateMasterKey, v1::RotateMasterKeyRequest()),
            denied);
  EXPECT_EQ(AdminCall(&Admin::GetRekeyStatus, v1::GetRekeyStatusRequest()),
            denied);

  EXPECT_EQ(AdminCall(&Admin::WhoAmI, v1::WhoAmIRequest()),
            grpc::StatusCode::OK);
  EXPECT_EQ(AdminCall(&Admin::ListEnvironments, v1::ListEnvironmentsRequest()),
            grpc::StatusCode::OK);
}

}  // namespace
}  // namespace zlayer::secrets
