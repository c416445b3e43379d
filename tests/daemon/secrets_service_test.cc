// SecretsService through a real gRPC server on a Unix socket, over a real
// SqliteSecretStore: every RPC, its success path and its error codes.
#include "daemon/rpc/secrets_service.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/service_harness.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Stub = v1::Secrets::Stub;
using testing::DeploymentTarget;
using testing::EnvTarget;
using testing::HarnessOptions;
using testing::ScopeTarget;
using testing::ServiceHarness;

class SecretsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.Start(Options()).ok()); }
  virtual HarnessOptions Options() { return {}; }

  grpc::Status Set(const v1::Target& target, const std::string& name,
                   const std::string& value,
                   absl::optional<uint32_t> expected = absl::nullopt,
                   v1::SetSecretResponse* out = nullptr) {
    v1::SetSecretRequest req;
    *req.mutable_target() = target;
    req.set_name(name);
    req.set_value(value);
    if (expected) req.set_expected_version(*expected);
    v1::SetSecretResponse resp;
    grpc::Status s = h_.Call(&Stub::SetSecret, h_.secrets(), req, &resp);
    if (out != nullptr) *out = resp;
    return s;
  }

  grpc::Status Get(const v1::Target& target, const std::string& name,
                   v1::GetSecretResponse* out, uint32_t version = 0,
                   const std::string& field = "") {
    v1::GetSecretRequest req;
    *req.mutable_target() = target;
    req.set_name(name);
    req.set_version(version);
    req.set_field(field);
    return h_.Call(&Stub::GetSecret, h_.secrets(), req, out);
  }

  // The current value straight from the store ("" + NotFound if absent).
  absl::StatusOr<std::string> Stored(const std::string& scope,
                                     const std::string& name) {
    absl::StatusOr<SecretBytes> v = h_.store()->GetSecret(scope, name);
    if (!v.ok()) return v.status();
    return std::string(v->InsecureView());
  }

  std::map<std::string, std::string> StoredScope(const std::string& scope) {
    std::map<std::string, std::string> out;
    absl::StatusOr<std::vector<SecretMetadata>> list =
        h_.store()->ListSecrets(scope);
    EXPECT_TRUE(list.ok()) << list.status();
    if (!list.ok()) return out;
    for (const SecretMetadata& m : *list) out[m.name] = *Stored(scope, m.name);
    return out;
  }

  ServiceHarness h_;
};

// --- Get / Set --------------------------------------------------------------

TEST_F(SecretsServiceTest, SetReportsCreatedThenUpdatedAndGetReturnsValue) {
  v1::SetSecretResponse set;
  ASSERT_TRUE(
      Set(ScopeTarget("prod"), "db", "s3cret", absl::nullopt, &set).ok());
  EXPECT_TRUE(set.created());
  EXPECT_EQ(set.metadata().version(), 1u);
  EXPECT_EQ(set.metadata().scope(), "prod");

  ASSERT_TRUE(
      Set(ScopeTarget("prod"), "db", "s3cret-2", absl::nullopt, &set).ok());
  EXPECT_FALSE(set.created());
  EXPECT_EQ(set.metadata().version(), 2u);

  v1::GetSecretResponse got;
  ASSERT_TRUE(Get(ScopeTarget("prod"), "db", &got).ok());
  EXPECT_EQ(got.value(), "s3cret-2");
  EXPECT_EQ(got.version(), 2u);
  EXPECT_EQ(got.metadata().name(), "db");
  EXPECT_EQ(got.metadata().version(), 2u);
}

TEST_F(SecretsServiceTest, SetAfterSoftDeleteCountsAsCreated) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "a").ok());
  ASSERT_TRUE(h_.store()->DeleteSecret("prod", "db").ok());
  v1::SetSecretResponse set;
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "b", absl::nullopt, &set).ok());
  EXPECT_TRUE(set.created());
  EXPECT_EQ(set.metadata().version(), 2u);
}

TEST_F(SecretsServiceTest, GetOldVersionAndJsonField) {
  ASSERT_TRUE(
      Set(ScopeTarget("prod"), "db", R"({"user":"app","port":5432})").ok());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", R"({"user":"app2"})").ok());

  v1::GetSecretResponse got;
  ASSERT_TRUE(Get(ScopeTarget("prod"), "db", &got, /*version=*/1, "port").ok());
  EXPECT_EQ(got.value(), "5432");
  EXPECT_EQ(got.version(), 1u);
  ASSERT_TRUE(Get(ScopeTarget("prod"), "db", &got, 0, "user").ok());
  EXPECT_EQ(got.value(), "app2");

  EXPECT_EQ(Get(ScopeTarget("prod"), "db", &got, 0, "nope").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(ScopeTarget("prod"), "db", &got, 7).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SecretsServiceTest, MissingSecretIsNotFound) {
  v1::GetSecretResponse got;
  grpc::Status s = Get(ScopeTarget("prod"), "absent", &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(got.value().empty());
}

TEST_F(SecretsServiceTest, MissingTargetIsInvalidArgumentForEveryRpc) {
  v1::GetSecretRequest get;
  get.set_name("db");
  v1::GetSecretResponse get_resp;
  EXPECT_EQ(
      h_.Call(&Stub::GetSecret, h_.secrets(), get, &get_resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  v1::SetSecretRequest set;
  set.set_name("db");
  set.set_value("v");
  v1::SetSecretResponse set_resp;
  grpc::Status s = h_.Call(&Stub::SetSecret, h_.secrets(), set, &set_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("target"));

  v1::ListSecretsRequest list;
  v1::ListSecretsResponse list_resp;
  EXPECT_EQ(
      h_.Call(&Stub::ListSecrets, h_.secrets(), list, &list_resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  v1::ExportSecretsRequest exp;
  v1::ExportSecretsResponse exp_resp;
  EXPECT_EQ(
      h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exp_resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  v1::ImportSecretsRequest imp;
  imp.set_content("A=1\n");
  v1::ImportSecretsResponse imp_resp;
  EXPECT_EQ(
      h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imp_resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SecretsServiceTest, DeploymentAndServiceTargetsMapToTheirScopes) {
  ASSERT_TRUE(Set(DeploymentTarget("shop"), "db", "d").ok());
  ASSERT_TRUE(Set(DeploymentTarget("shop", "api"), "db", "s").ok());
  EXPECT_EQ(*Stored("shop", "db"), "d");
  EXPECT_EQ(*Stored("shop/api", "db"), "s");
  EXPECT_EQ(Set(DeploymentTarget("shop/x"), "db", "d").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Set(DeploymentTarget(""), "db", "d").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SecretsServiceTest, EnvironmentTargetResolvesByNameAndId) {
  absl::StatusOr<Environment> env =
      h_.environments()->Create("staging", "", "");
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_TRUE(Set(EnvTarget("staging"), "db", "by-name").ok());
  EXPECT_EQ(*Stored(EnvironmentScope(*env), "db"), "by-name");
  v1::GetSecretResponse got;
  ASSERT_TRUE(Get(EnvTarget(env->id), "db", &got).ok());
  EXPECT_EQ(got.value(), "by-name");
  EXPECT_EQ(got.metadata().scope(), "env:" + env->id);

  EXPECT_EQ(Set(EnvTarget("nope"), "db", "x").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SecretsServiceTest, CheckAndSet) {
  v1::SetSecretResponse set;
  // 0 = create only.
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "v1", 0u, &set).ok());
  EXPECT_TRUE(set.created());
  grpc::Status s = Set(ScopeTarget("prod"), "db", "other", 0u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // N = current must be N.
  s = Set(ScopeTarget("prod"), "db", "other", 5u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(*Stored("prod", "db"), "v1");
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "v2", 1u, &set).ok());
  EXPECT_FALSE(set.created());
  EXPECT_EQ(set.metadata().version(), 2u);
}

TEST_F(SecretsServiceTest, InvalidNamesAreRejectedBeforeTheStore) {
  for (const std::string& name :
       {std::string(""), std::string("a/b"), std::string("bell\x07"),
        std::string(300, 'n')}) {
    EXPECT_EQ(Set(ScopeTarget("prod"), name, "v").error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << name.size();
  }
  EXPECT_THAT(StoredScope("prod"), IsEmpty());
}

TEST_F(SecretsServiceTest, InvalidUtf8NameIsInvalidArgument) {
  // Sent as proto3 `string`, invalid UTF-8 never reaches the handler over
  // the wire (protobuf refuses to parse it), so call the handler directly.
  SecretsService service(&h_.context());
  grpc::ServerContext context;
  v1::SetSecretRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_name("bad\xff\xfe");
  req.set_value("v");
  v1::SetSecretResponse resp;
  grpc::Status s = service.SetSecret(&context, &req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("UTF-8"));
  EXPECT_THAT(StoredScope("prod"), IsEmpty());
}

TEST_F(SecretsServiceTest, HandlersWipeTheRequestValue) {
  SecretsService service(&h_.context());
  grpc::ServerContext context;
  v1::SetSecretRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_name("db");
  req.set_value("plaintext");
  v1::SetSecretResponse resp;
  ASSERT_TRUE(service.SetSecret(&context, &req, &resp).ok());
  EXPECT_TRUE(req.value().empty());
  EXPECT_EQ(*Stored("prod", "db"), "plaintext");
  // Error paths wipe too.
  req.set_name("bad/name");
  req.set_value("plaintext");
  EXPECT_FALSE(service.SetSecret(&context, &req, &resp).ok());
  EXPECT_TRUE(req.value().empty());
}

TEST_F(SecretsServiceTest, UnidentifiedCallerIsUnauthenticated) {
  h_.identifier().Fail(absl::UnauthenticatedError("no credentials"));
  v1::GetSecretResponse got;
  EXPECT_EQ(Get(ScopeTarget("prod"), "db", &got).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Set(ScopeTarget("prod"), "db", "v").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// --- Limits ------------------------------------------------------------------

class SecretsServiceLimitsTest : public SecretsServiceTest {
 protected:
  HarnessOptions Options() override {
    HarnessOptions options;
    options.limits.max_value_bytes = 16;
    options.limits.max_names_per_batch = 3;
    options.limits.max_env_entries = 2;
    options.limits.max_import_bytes = 64;
    return options;
  }
};

TEST_F(SecretsServiceLimitsTest, OversizedValueWritesNothing) {
  grpc::Status s = Set(ScopeTarget("prod"), "db", std::string(17, 'x'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limit is 16"));
  EXPECT_THAT(StoredScope("prod"), IsEmpty());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", std::string(16, 'x')).ok());

  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = ScopeTarget("prod");
  rotate.set_name("db");
  rotate.set_value(std::string(17, 'y'));
  v1::RotateSecretResponse rotated;
  EXPECT_EQ(
      h_.Call(&Stub::RotateSecret, h_.secrets(), rotate, &rotated).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(*Stored("prod", "db"), std::string(16, 'x'));
}

TEST_F(SecretsServiceLimitsTest, TooManyNamesIsInvalidArgument) {
  v1::GetSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  for (const char* n : {"a", "b", "c", "d"}) req.add_names(n);
  v1::GetSecretsResponse resp;
  EXPECT_EQ(h_.Call(&Stub::GetSecrets, h_.secrets(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SecretsServiceLimitsTest, TooManyEnvEntriesIsInvalidArgument) {
  v1::ResolveEnvRequest req;
  (*req.mutable_env())["A"] = "1";
  (*req.mutable_env())["B"] = "2";
  (*req.mutable_env())["C"] = "3";
  v1::ResolveEnvResponse resp;
  grpc::Status s = h_.Call(&Stub::ResolveEnv, h_.secrets(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(resp.env(), IsEmpty());

  v1::CheckEnvRequest check;
  *check.mutable_env() = req.env();
  v1::CheckEnvResponse checked;
  EXPECT_EQ(
      h_.Call(&Stub::CheckEnv, h_.secrets(), check, &checked).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SecretsServiceLimitsTest, OversizedImportWritesNothing) {
  v1::ImportSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  // Over the 64-byte content limit.
  req.set_content("A=1\nB=2\n" + std::string(60, '#') + "\n");
  v1::ImportSecretsResponse resp;
  EXPECT_EQ(
      h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  // One value over the 16-byte value limit: reported, nothing written.
  req.set_content("A=1\nB=" + std::string(20, 'x') + "\n");
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.applied());
  EXPECT_THAT(resp.errors(), ElementsAre(HasSubstr("line 2")));
  EXPECT_THAT(StoredScope("prod"), IsEmpty());
}

// --- Batch, list, exists
// ------------------------------------------------------

TEST_F(SecretsServiceTest, GetSecretsReturnsValuesVersionsAndMissing) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "a", "A").ok());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "b", "B1").ok());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "b", "B2").ok());
  v1::GetSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  for (const char* n : {"a", "b", "zz", "a"}) req.add_names(n);
  v1::GetSecretsResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::GetSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_THAT(resp.values(),
              UnorderedElementsAre(Pair("a", "A"), Pair("b", "B2")));
  EXPECT_THAT(resp.versions(),
              UnorderedElementsAre(Pair("a", 1u), Pair("b", 2u)));
  EXPECT_THAT(resp.missing(), ElementsAre("zz"));

  req.add_names("bad/name");
  EXPECT_EQ(h_.Call(&Stub::GetSecrets, h_.secrets(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SecretsServiceTest, ListSecretsPagesByNameWithPrefixAndDeleted) {
  for (const char* n : {"app_a", "app_b", "app_c", "db"}) {
    ASSERT_TRUE(Set(ScopeTarget("prod"), n, "v").ok());
  }
  ASSERT_TRUE(h_.store()->DeleteSecret("prod", "app_b").ok());

  v1::ListSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_name_prefix("app_");
  req.set_page_size(1);
  std::vector<std::string> names;
  v1::ListSecretsResponse resp;
  do {
    ASSERT_TRUE(h_.Call(&Stub::ListSecrets, h_.secrets(), req, &resp).ok());
    for (const auto& m : resp.secrets()) names.push_back(m.name());
    req.set_page_token(resp.next_page_token());
  } while (!resp.next_page_token().empty());
  EXPECT_THAT(names, ElementsAre("app_a", "app_c"));

  req.set_page_token("");
  req.set_page_size(5000);  // coerced to the largest page
  req.set_include_deleted(true);
  ASSERT_TRUE(h_.Call(&Stub::ListSecrets, h_.secrets(), req, &resp).ok());
  ASSERT_EQ(resp.secrets_size(), 3);
  EXPECT_TRUE(resp.secrets(1).deleted());
  EXPECT_TRUE(resp.next_page_token().empty());
}

TEST_F(SecretsServiceTest, SecretExists) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "v").ok());
  v1::SecretExistsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_name("db");
  v1::SecretExistsResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::SecretExists, h_.secrets(), req, &resp).ok());
  EXPECT_TRUE(resp.exists());
  req.set_name("other");
  ASSERT_TRUE(h_.Call(&Stub::SecretExists, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.exists());
}

// --- Lifecycle
// ------------------------------------------------------------------

TEST_F(SecretsServiceTest, DeleteUndeleteDestroy) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "v").ok());
  v1::DeleteSecretRequest del;
  *del.mutable_target() = ScopeTarget("prod");
  del.set_name("db");
  v1::DeleteSecretResponse deleted;
  ASSERT_TRUE(h_.Call(&Stub::DeleteSecret, h_.secrets(), del, &deleted).ok());
  v1::GetSecretResponse got;
  EXPECT_EQ(Get(ScopeTarget("prod"), "db", &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      h_.Call(&Stub::DeleteSecret, h_.secrets(), del, &deleted).error_code(),
      grpc::StatusCode::NOT_FOUND);

  v1::UndeleteSecretRequest undel;
  *undel.mutable_target() = ScopeTarget("prod");
  undel.set_name("db");
  v1::UndeleteSecretResponse undeleted;
  ASSERT_TRUE(
      h_.Call(&Stub::UndeleteSecret, h_.secrets(), undel, &undeleted).ok());
  EXPECT_FALSE(undeleted.metadata().deleted());
  EXPECT_EQ(undeleted.metadata().version(), 1u);
  ASSERT_TRUE(Get(ScopeTarget("prod"), "db", &got).ok());
  EXPECT_EQ(got.value(), "v");
  EXPECT_EQ(h_.Call(&Stub::UndeleteSecret, h_.secrets(), undel, &undeleted)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = ScopeTarget("prod");
  destroy.set_name("db");
  v1::DestroySecretResponse destroyed;
  ASSERT_TRUE(
      h_.Call(&Stub::DestroySecret, h_.secrets(), destroy, &destroyed).ok());
  EXPECT_FALSE(*h_.store()->Exists("prod", "db"));
  EXPECT_EQ(h_.Call(&Stub::DestroySecret, h_.secrets(), destroy, &destroyed)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SecretsServiceTest, RotateVersionsAndRollback) {
  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = ScopeTarget("prod");
  rotate.set_name("db");
  rotate.set_value("new");
  v1::RotateSecretResponse rotated;
  EXPECT_EQ(
      h_.Call(&Stub::RotateSecret, h_.secrets(), rotate, &rotated).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(StoredScope("prod"), IsEmpty());

  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "old").ok());
  ASSERT_TRUE(
      h_.Call(&Stub::RotateSecret, h_.secrets(), rotate, &rotated).ok());
  EXPECT_EQ(rotated.previous_version(), 1u);
  EXPECT_EQ(rotated.new_version(), 2u);

  v1::ListVersionsRequest versions_req;
  *versions_req.mutable_target() = ScopeTarget("prod");
  versions_req.set_name("db");
  v1::ListVersionsResponse versions;
  ASSERT_TRUE(
      h_.Call(&Stub::ListVersions, h_.secrets(), versions_req, &versions).ok());
  ASSERT_EQ(versions.versions_size(), 2);
  EXPECT_EQ(versions.versions(0).version(), 2u);
  EXPECT_EQ(versions.versions(1).version(), 1u);

  v1::RollbackSecretRequest rollback;
  *rollback.mutable_target() = ScopeTarget("prod");
  rollback.set_name("db");
  rollback.set_version(1);
  v1::RollbackSecretResponse rolled;
  ASSERT_TRUE(
      h_.Call(&Stub::RollbackSecret, h_.secrets(), rollback, &rolled).ok());
  EXPECT_EQ(rolled.metadata().version(), 3u);
  EXPECT_EQ(*Stored("prod", "db"), "old");

  rollback.set_version(0);
  EXPECT_EQ(h_.Call(&Stub::RollbackSecret, h_.secrets(), rollback, &rolled)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  rollback.set_version(9);
  EXPECT_EQ(h_.Call(&Stub::RollbackSecret, h_.secrets(), rollback, &rolled)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  versions_req.set_name("absent");
  EXPECT_EQ(h_.Call(&Stub::ListVersions, h_.secrets(), versions_req, &versions)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// --- Integrity
// --------------------------------------------------------------------

TEST_F(SecretsServiceTest, TamperedRowIsDataLossWithGenericMessage) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "a", "value-a").ok());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "b", "value-b").ok());
  ASSERT_TRUE(testing::CopyCiphertext(h_.db_path(), "a", "b").ok());

  v1::GetSecretResponse got;
  grpc::Status s = Get(ScopeTarget("prod"), "b", &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(s.error_message(), "stored data failed its integrity check");
  EXPECT_TRUE(got.value().empty());

  v1::GetSecretsRequest batch;
  *batch.mutable_target() = ScopeTarget("prod");
  batch.add_names("a");
  batch.add_names("b");
  v1::GetSecretsResponse batch_resp;
  EXPECT_EQ(
      h_.Call(&Stub::GetSecrets, h_.secrets(), batch, &batch_resp).error_code(),
      grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(batch_resp.values(), IsEmpty());

  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["B"] = "$S:b";
  resolve.mutable_context()->set_deployment("prod");
  v1::ResolveEnvResponse resolved;
  s = h_.Call(&Stub::ResolveEnv, h_.secrets(), resolve, &resolved);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(s.error_message(), "stored data failed its integrity check");

  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = ScopeTarget("prod");
  v1::ExportSecretsResponse exported;
  EXPECT_EQ(
      h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exported).error_code(),
      grpc::StatusCode::DATA_LOSS);
  EXPECT_TRUE(exported.content().empty());
}

// --- Access
// -------------------------------------------------------------------------

TEST_F(SecretsServiceTest, AccessLevelsPerRpc) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "db", "v").ok());
  h_.authorizer().AllowAll(false);
  h_.authorizer().Grant("prod", "", AccessLevel::kRead);

  v1::GetSecretResponse got;
  EXPECT_TRUE(Get(ScopeTarget("prod"), "db", &got).ok());
  grpc::Status s = Set(ScopeTarget("prod"), "db", "w");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("lacks write on prod/db"));
  EXPECT_EQ(*Stored("prod", "db"), "v");
  EXPECT_EQ(Get(ScopeTarget("staging"), "db", &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::ListSecretsRequest list;
  *list.mutable_target() = ScopeTarget("staging");
  v1::ListSecretsResponse listed;
  EXPECT_EQ(
      h_.Call(&Stub::ListSecrets, h_.secrets(), list, &listed).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  // Read does not allow resolving for a container (execute).
  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["DB"] = "$S:db";
  resolve.mutable_context()->set_deployment("prod");
  v1::ResolveEnvResponse resolved;
  s = h_.Call(&Stub::ResolveEnv, h_.secrets(), resolve, &resolved);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("DB ($S:db)"));
  EXPECT_THAT(resolved.env(), IsEmpty());

  h_.authorizer().Grant("prod", "db", AccessLevel::kExecute);
  EXPECT_TRUE(
      h_.Call(&Stub::ResolveEnv, h_.secrets(), resolve, &resolved).ok());

  v1::ImportSecretsRequest imp;
  *imp.mutable_target() = ScopeTarget("prod");
  imp.set_content("X=1\n");
  imp.set_dry_run(true);
  v1::ImportSecretsResponse imported;
  EXPECT_EQ(
      h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imported).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

// --- ResolveEnv / CheckEnv
// -------------------------------------------------------------

TEST_F(SecretsServiceTest, ResolveEnvReturnsEveryKeyAndReceipt) {
  absl::StatusOr<Environment> env =
      h_.environments()->Create("staging", "", "");
  ASSERT_TRUE(env.ok());
  ASSERT_TRUE(Set(ScopeTarget("shop"), "db", R"({"password":"pw"})").ok());
  ASSERT_TRUE(Set(ScopeTarget("shop"), "db", R"({"password":"pw2"})").ok());
  ASSERT_TRUE(Set(ScopeTarget("shop/api"), "token", "tok").ok());
  ASSERT_TRUE(Set(EnvTarget("staging"), "KEY", "k").ok());

  v1::ResolveEnvRequest req;
  auto& in = *req.mutable_env();
  in["PLAIN"] = "hello";
  in["DB_PW"] = "$S:db/password";
  in["TOKEN"] = "$S:@api/token";
  in["KEY"] = "$secret://staging/KEY";
  req.mutable_context()->set_deployment("shop");
  v1::ResolveEnvResponse resp;
  grpc::Status s = h_.Call(&Stub::ResolveEnv, h_.secrets(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.env(),
              UnorderedElementsAre(Pair("PLAIN", "hello"), Pair("DB_PW", "pw2"),
                                   Pair("TOKEN", "tok"), Pair("KEY", "k")));
  ASSERT_EQ(resp.receipt_size(), 3);
  EXPECT_EQ(resp.receipt(0).key(), "DB_PW");
  EXPECT_EQ(resp.receipt(0).scope(), "shop");
  EXPECT_EQ(resp.receipt(0).name(), "db");
  EXPECT_EQ(resp.receipt(0).field(), "password");
  EXPECT_EQ(resp.receipt(0).version(), 2u);
  EXPECT_EQ(resp.receipt(1).key(), "KEY");
  EXPECT_EQ(resp.receipt(1).scope(), "env:" + env->id);
  EXPECT_EQ(resp.receipt(2).key(), "TOKEN");
  EXPECT_EQ(resp.receipt(2).scope(), "shop/api");
  EXPECT_EQ(resp.receipt(2).version(), 1u);
}

TEST_F(SecretsServiceTest, ResolveEnvIsAllOrNothingAndListsEveryBadEntry) {
  ASSERT_TRUE(Set(ScopeTarget("shop"), "db", "pw").ok());
  v1::ResolveEnvRequest req;
  auto& in = *req.mutable_env();
  in["GOOD"] = "$S:db";
  in["BAD_REF"] = "$S:";
  in["MISSING"] = "$S:nope";
  req.mutable_context()->set_deployment("shop");
  v1::ResolveEnvResponse resp;
  grpc::Status s = h_.Call(&Stub::ResolveEnv, h_.secrets(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("2 of 3"));
  EXPECT_THAT(s.error_message(), HasSubstr("BAD_REF"));
  EXPECT_THAT(s.error_message(), HasSubstr("MISSING"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("pw")));
  EXPECT_THAT(resp.env(), IsEmpty());
  EXPECT_THAT(resp.receipt(), IsEmpty());
}

TEST_F(SecretsServiceTest, ResolveEnvRefusesNonUtf8Values) {
  ASSERT_TRUE(
      Set(ScopeTarget("shop"), "bin", std::string("\xff\x00\x01", 3)).ok());
  v1::ResolveEnvRequest req;
  (*req.mutable_env())["BIN"] = "$S:bin";
  req.mutable_context()->set_deployment("shop");
  v1::ResolveEnvResponse resp;
  grpc::Status s = h_.Call(&Stub::ResolveEnv, h_.secrets(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("BIN ($S:bin)"));
}

TEST_F(SecretsServiceTest, CheckEnvReportsEntriesAndNeverValues) {
  const std::string kValue = "canary-value-7f3a9";
  ASSERT_TRUE(Set(ScopeTarget("shop"), "db", kValue).ok());
  ASSERT_TRUE(Set(ScopeTarget("shop"), "db", kValue + "2").ok());
  ASSERT_TRUE(Set(ScopeTarget("shop"), "hidden", kValue).ok());
  h_.authorizer().AllowAll(false);
  h_.authorizer().Grant("shop", "db", AccessLevel::kExecute);

  v1::CheckEnvRequest req;
  auto& in = *req.mutable_env();
  in["A_PLAIN"] = "x";
  in["B_DB"] = "$S:db";
  in["C_HIDDEN"] = "$S:hidden";
  in["D_MISSING"] = "$S:nope";
  in["E_BAD"] = "$S:";
  req.mutable_context()->set_deployment("shop");
  v1::CheckEnvResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::CheckEnv, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.ok());
  ASSERT_EQ(resp.entries_size(), 5);

  const v1::CheckedEntry& plain = resp.entries(0);
  EXPECT_EQ(plain.key(), "A_PLAIN");
  EXPECT_FALSE(plain.is_reference());
  EXPECT_TRUE(plain.error().empty());

  const v1::CheckedEntry& db = resp.entries(1);
  EXPECT_TRUE(db.is_reference());
  EXPECT_EQ(db.reference(), "$S:db");
  EXPECT_EQ(db.scope(), "shop");
  EXPECT_EQ(db.name(), "db");
  EXPECT_TRUE(db.exists());
  EXPECT_TRUE(db.readable());
  EXPECT_EQ(db.version(), 2u);
  EXPECT_TRUE(db.error().empty());

  const v1::CheckedEntry& hidden = resp.entries(2);
  EXPECT_FALSE(hidden.readable());
  EXPECT_FALSE(hidden.exists());  // not shown without read access
  EXPECT_THAT(hidden.error(), HasSubstr("lacks execute"));

  const v1::CheckedEntry& missing = resp.entries(3);
  EXPECT_FALSE(missing.exists());
  EXPECT_FALSE(missing.readable());

  const v1::CheckedEntry& bad = resp.entries(4);
  EXPECT_TRUE(bad.is_reference());
  EXPECT_FALSE(bad.error().empty());

  std::string wire;
  ASSERT_TRUE(resp.SerializeToString(&wire));
  EXPECT_FALSE(absl::StrContains(wire, kValue));

  // Everything resolvable: ok.
  h_.authorizer().AllowAll(true);
  req.mutable_env()->erase("D_MISSING");
  req.mutable_env()->erase("E_BAD");
  ASSERT_TRUE(h_.Call(&Stub::CheckEnv, h_.secrets(), req, &resp).ok());
  EXPECT_TRUE(resp.ok());
  ASSERT_TRUE(resp.SerializeToString(&wire));
  EXPECT_FALSE(absl::StrContains(wire, kValue));
}

TEST_F(SecretsServiceTest, CheckEnvNamesReferenceWhoseEnvironmentIsMissing) {
  // Well-formed, but no environment "nowhere" exists: the entry fails and
  // still says which secret it meant, in canonical form.
  v1::CheckEnvRequest req;
  (*req.mutable_env())["DB"] = "$S::nowhere/db";
  v1::CheckEnvResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::CheckEnv, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.ok());
  ASSERT_EQ(resp.entries_size(), 1);
  const v1::CheckedEntry& entry = resp.entries(0);
  EXPECT_TRUE(entry.is_reference());
  EXPECT_EQ(entry.reference(), "$S::nowhere/db");
  EXPECT_EQ(entry.name(), "db");
  EXPECT_TRUE(entry.scope().empty());
  EXPECT_FALSE(entry.exists());
  EXPECT_THAT(entry.error(), HasSubstr("nowhere"));
}

// --- Import / export
// ---------------------------------------------------------------------

TEST_F(SecretsServiceTest, ImportDryRunReportsDiffAndWritesNothing) {
  ASSERT_TRUE(Set(ScopeTarget("prod"), "SAME", "1").ok());
  ASSERT_TRUE(Set(ScopeTarget("prod"), "CHANGED", "old").ok());
  v1::ImportSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_content("# header\nSAME=1\nCHANGED=new\nNEW=\"a b\"\n");
  req.set_dry_run(true);
  v1::ImportSecretsResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.applied());
  EXPECT_THAT(resp.errors(), IsEmpty());
  EXPECT_EQ(resp.created(), 1u);
  EXPECT_EQ(resp.updated(), 1u);
  EXPECT_EQ(resp.unchanged(), 1u);
  ASSERT_EQ(resp.changes_size(), 3);
  EXPECT_EQ(resp.changes(0).name(), "SAME");
  EXPECT_EQ(resp.changes(0).action(), v1::IMPORT_ACTION_UNCHANGED);
  EXPECT_EQ(resp.changes(0).line(), 2u);
  EXPECT_EQ(resp.changes(1).action(), v1::IMPORT_ACTION_UPDATE);
  EXPECT_EQ(resp.changes(2).action(), v1::IMPORT_ACTION_CREATE);
  EXPECT_THAT(StoredScope("prod"),
              UnorderedElementsAre(Pair("SAME", "1"), Pair("CHANGED", "old")));

  req.set_dry_run(false);
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_TRUE(resp.applied());
  EXPECT_EQ(resp.created(), 1u);
  EXPECT_THAT(StoredScope("prod"),
              UnorderedElementsAre(Pair("SAME", "1"), Pair("CHANGED", "new"),
                                   Pair("NEW", "a b")));
  // Unchanged entries get no new version.
  EXPECT_EQ(h_.store()->GetMetadata("prod", "SAME")->version, 1u);
  EXPECT_EQ(h_.store()->GetMetadata("prod", "CHANGED")->version, 2u);
}

TEST_F(SecretsServiceTest, ImportOfABadFileWritesNothing) {
  v1::ImportSecretsRequest req;
  *req.mutable_target() = ScopeTarget("prod");
  req.set_content("GOOD=1\nno equals sign here\nALSO_GOOD=2\n=empty\n");
  v1::ImportSecretsResponse resp;
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.applied());
  EXPECT_THAT(resp.errors(),
              ElementsAre(HasSubstr("line 2"), HasSubstr("line 4")));
  EXPECT_THAT(StoredScope("prod"), IsEmpty());

  req.set_format(v1::SECRET_FORMAT_JSON);
  req.set_content("{not json");
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), req, &resp).ok());
  EXPECT_FALSE(resp.applied());
  EXPECT_EQ(resp.errors_size(), 1);
  EXPECT_THAT(StoredScope("prod"), IsEmpty());
}

TEST_F(SecretsServiceTest, ExportThenImportRoundTrips) {
  const std::map<std::string, std::string> values = {
      {"PLAIN", "simple"},
      {"SPACES", "a b  c"},
      {"QUOTES", R"(say "hi" and 'bye')"},
      {"MULTILINE", "line1\nline2\r\nline3\ttab"},
      {"BACKSLASH", R"(C:\path\n\"x\")"},
      {"HASH", "a #not comment"},
      {"EMPTY", ""},
      {"DOLLAR", "$HOME and ${X}"},
  };
  for (const auto& [name, value] : values) {
    ASSERT_TRUE(Set(ScopeTarget("src"), name, value).ok()) << name;
  }
  for (v1::SecretFormat format :
       {v1::SECRET_FORMAT_DOTENV, v1::SECRET_FORMAT_JSON}) {
    v1::ExportSecretsRequest exp;
    *exp.mutable_target() = ScopeTarget("src");
    exp.set_format(format);
    v1::ExportSecretsResponse exported;
    ASSERT_TRUE(
        h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exported).ok());
    EXPECT_EQ(exported.count(), values.size());

    const std::string dest = "dest" + std::to_string(format);
    v1::ImportSecretsRequest imp;
    *imp.mutable_target() = ScopeTarget(dest);
    imp.set_format(format);
    imp.set_content(exported.content());
    v1::ImportSecretsResponse imported;
    ASSERT_TRUE(
        h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imported).ok());
    EXPECT_THAT(imported.errors(), IsEmpty());
    EXPECT_TRUE(imported.applied());
    EXPECT_EQ(imported.created(), values.size());
    EXPECT_EQ(StoredScope(dest), values) << "format " << format;
  }
}

TEST_F(SecretsServiceTest, ExportSkipsDeletedSecretsAndSortsByName) {
  for (const char* name : {"K2", "K0", "K3", "K1"}) {
    ASSERT_TRUE(Set(ScopeTarget("prod"), name, "v").ok());
  }
  ASSERT_TRUE(h_.store()->DeleteSecret("prod", "K3").ok());
  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = ScopeTarget("prod");
  v1::ExportSecretsResponse exported;
  ASSERT_TRUE(h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exported).ok());
  EXPECT_EQ(exported.count(), 3u);
  EXPECT_EQ(exported.content(), "K0=v\nK1=v\nK2=v\n");
}

// The in-memory store makes a scope larger than one listing page cheap.
class SecretsServiceMemoryStoreTest : public SecretsServiceTest {
 protected:
  HarnessOptions Options() override {
    HarnessOptions options;
    options.sqlite = false;
    return options;
  }
};

TEST_F(SecretsServiceMemoryStoreTest, ExportReadsEveryListingPage) {
  constexpr int kSecrets = 1203;  // more than one page of 1000
  for (int i = 0; i < kSecrets; ++i) {
    ASSERT_TRUE(h_.store()
                    ->SetSecret("big", "S" + std::to_string(i),
                                SecretBytes::FromString("v"), {})
                    .ok());
  }
  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = ScopeTarget("big");
  v1::ExportSecretsResponse exported;
  ASSERT_TRUE(h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exported).ok());
  EXPECT_EQ(exported.count(), static_cast<uint32_t>(kSecrets));
  EXPECT_TRUE(absl::StrContains(exported.content(), "\nS999=v\n"));
  EXPECT_TRUE(absl::StrContains(exported.content(), "\nS1202=v\n"));
}

}  // namespace
}  // namespace zlayer::secrets
