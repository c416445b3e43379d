// AdminService through a real gRPC server on a Unix socket, over a real
// SqliteSecretStore and SqliteEnvironmentRegistry.
#include "daemon/rpc/admin_service.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/service_harness.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Admin = v1::Admin::Stub;
using testing::ServiceHarness;

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.Start().ok()); }

  grpc::Status Create(const std::string& name, v1::Environment* out,
                      const std::string& project = "") {
    v1::CreateEnvironmentRequest req;
    req.set_name(name);
    req.set_project(project);
    req.set_description("for " + name);
    return h_.Call(&Admin::CreateEnvironment, h_.admin(), req, out);
  }

  ServiceHarness h_;
};

TEST_F(AdminServiceTest, EnvironmentCrud) {
  v1::Environment staging;
  ASSERT_TRUE(Create("staging", &staging).ok());
  EXPECT_EQ(staging.name(), "staging");
  EXPECT_EQ(staging.description(), "for staging");
  EXPECT_EQ(staging.scope(), "env:" + staging.id());
  EXPECT_GT(staging.created_at(), 0);
  v1::Environment prod;
  ASSERT_TRUE(Create("prod", &prod, "shop").ok());
  EXPECT_EQ(prod.scope(), "project:shop:env:" + prod.id());

  v1::Environment dup;
  EXPECT_EQ(Create("staging", &dup).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Create("", &dup).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetEnvironmentRequest get;
  get.set_name_or_id("staging");
  v1::Environment got;
  ASSERT_TRUE(h_.Call(&Admin::GetEnvironment, h_.admin(), get, &got).ok());
  EXPECT_EQ(got.id(), staging.id());
  get.set_name_or_id(prod.id());
  ASSERT_TRUE(h_.Call(&Admin::GetEnvironment, h_.admin(), get, &got).ok());
  EXPECT_EQ(got.name(), "prod");
  get.set_name_or_id("nope");
  EXPECT_EQ(h_.Call(&Admin::GetEnvironment, h_.admin(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::ListEnvironmentsRequest list;
  v1::ListEnvironmentsResponse listed;
  ASSERT_TRUE(
      h_.Call(&Admin::ListEnvironments, h_.admin(), list, &listed).ok());
  ASSERT_EQ(listed.environments_size(), 1);
  EXPECT_EQ(listed.environments(0).name(), "staging");
  list.set_project("shop");
  ASSERT_TRUE(
      h_.Call(&Admin::ListEnvironments, h_.admin(), list, &listed).ok());
  ASSERT_EQ(listed.environments_size(), 1);
  EXPECT_EQ(listed.environments(0).name(), "prod");

  v1::UpdateEnvironmentRequest update;
  update.set_id(staging.id());
  update.set_name("stage");
  update.set_description("renamed");
  v1::Environment updated;
  ASSERT_TRUE(
      h_.Call(&Admin::UpdateEnvironment, h_.admin(), update, &updated).ok());
  EXPECT_EQ(updated.name(), "stage");
  EXPECT_EQ(updated.description(), "renamed");
  EXPECT_EQ(updated.id(), staging.id());
  update.set_id("00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(h_.Call(&Admin::UpdateEnvironment, h_.admin(), update, &updated)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::DeleteEnvironmentRequest del;
  del.set_id(staging.id());
  v1::DeleteEnvironmentResponse deleted;
  ASSERT_TRUE(
      h_.Call(&Admin::DeleteEnvironment, h_.admin(), del, &deleted).ok());
  EXPECT_EQ(h_.Call(&Admin::DeleteEnvironment, h_.admin(), del, &deleted)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, DeleteIsRefusedWhileTheEnvironmentHoldsSecrets) {
  v1::Environment env;
  ASSERT_TRUE(Create("staging", &env).ok());
  ASSERT_TRUE(
      h_.store()
          ->SetSecret(env.scope(), "db", SecretBytes::FromString("v"), {})
          .ok());
  v1::DeleteEnvironmentRequest del;
  del.set_id(env.id());
  v1::DeleteEnvironmentResponse deleted;
  grpc::Status s =
      h_.Call(&Admin::DeleteEnvironment, h_.admin(), del, &deleted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("still holds secrets"));
  EXPECT_TRUE(h_.environments()->Get(env.id()).ok());

  ASSERT_TRUE(h_.store()->DeleteSecret(env.scope(), "db").ok());
  EXPECT_TRUE(
      h_.Call(&Admin::DeleteEnvironment, h_.admin(), del, &deleted).ok());
  EXPECT_FALSE(h_.environments()->Get(env.id()).ok());
}

TEST_F(AdminServiceTest, EnvironmentWritesNeedAdminReadsDoNot) {
  v1::Environment env;
  ASSERT_TRUE(Create("staging", &env).ok());
  h_.authorizer().SetAdmin(false);

  v1::Environment out;
  EXPECT_EQ(Create("other", &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::UpdateEnvironmentRequest update;
  update.set_id(env.id());
  update.set_name("x");
  EXPECT_EQ(
      h_.Call(&Admin::UpdateEnvironment, h_.admin(), update, &out).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::DeleteEnvironmentRequest del;
  del.set_id(env.id());
  v1::DeleteEnvironmentResponse deleted;
  EXPECT_EQ(h_.Call(&Admin::DeleteEnvironment, h_.admin(), del, &deleted)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(h_.environments()->Get(env.id()).ok());

  v1::GetEnvironmentRequest get;
  get.set_name_or_id("staging");
  EXPECT_TRUE(h_.Call(&Admin::GetEnvironment, h_.admin(), get, &out).ok());
  v1::ListEnvironmentsRequest list;
  v1::ListEnvironmentsResponse listed;
  EXPECT_TRUE(
      h_.Call(&Admin::ListEnvironments, h_.admin(), list, &listed).ok());
  EXPECT_EQ(listed.environments_size(), 1);
}

TEST_F(AdminServiceTest, RotateMasterKey) {
  v1::RotateMasterKeyRequest req;
  v1::RotateMasterKeyResponse resp;
  EXPECT_EQ(
      h_.Call(&Admin::RotateMasterKey, h_.admin(), req, &resp).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);

  ASSERT_TRUE(
      h_.store()
          ->SetSecret("prod", "db", SecretBytes::FromString("keep-me"), {})
          .ok());
  size_t calls = 0;
  h_.context().rotate_master_key =
      [&](SecretBytes key) -> absl::StatusOr<KeyRotationResult> {
    ++calls;
    if (key.empty()) key = SecretBytes::Random(32);
    absl::Status s = h_.sqlite_store()->RotateKey(2, std::move(key));
    if (!s.ok()) return s;
    return KeyRotationResult{2, 1};
  };

  req.set_new_key(std::string(31, 'k'));
  grpc::Status s = h_.Call(&Admin::RotateMasterKey, h_.admin(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("32 bytes"));
  EXPECT_EQ(calls, 0u);

  h_.authorizer().SetAdmin(false);
  req.set_new_key(std::string(32, 'k'));
  EXPECT_EQ(
      h_.Call(&Admin::RotateMasterKey, h_.admin(), req, &resp).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(calls, 0u);

  h_.authorizer().SetAdmin(true);
  ASSERT_TRUE(h_.Call(&Admin::RotateMasterKey, h_.admin(), req, &resp).ok());
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(resp.new_key_id(), 2u);
  EXPECT_EQ(resp.versions_reencrypted(), 1u);
  EXPECT_EQ(*h_.sqlite_store()->ActiveKeyId(), 2u);
  absl::StatusOr<SecretBytes> value = h_.store()->GetSecret("prod", "db");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->InsecureView(), "keep-me");
}

TEST_F(AdminServiceTest, WhoAmIDescribesTheCaller) {
  v1::WhoAmIRequest req;
  v1::WhoAmIResponse resp;
  h_.authorizer().AllowAll(false);
  h_.authorizer().SetAdmin(false);
  ASSERT_TRUE(h_.Call(&Admin::WhoAmI, h_.admin(), req, &resp).ok());
  EXPECT_EQ(resp.subject(), "uid:1000");
  EXPECT_THAT(resp.roles(), ElementsAre("operator"));
  EXPECT_EQ(resp.transport(), "unix");

  Principal key;
  key.transport = Transport::kTls;
  key.api_key_id = "ci";
  key.roles = {"admin", "ci"};
  h_.identifier().Set(key);
  ASSERT_TRUE(h_.Call(&Admin::WhoAmI, h_.admin(), req, &resp).ok());
  EXPECT_EQ(resp.subject(), "apikey:ci");
  EXPECT_THAT(resp.roles(), ElementsAre("admin", "ci"));
  EXPECT_EQ(resp.transport(), "tls");

  h_.identifier().Fail(absl::UnauthenticatedError("no key"));
  EXPECT_EQ(h_.Call(&Admin::WhoAmI, h_.admin(), req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace zlayer::secrets
