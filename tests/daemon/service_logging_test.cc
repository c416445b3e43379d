// The services' logs never contain secret values: a batch of calls (reads,
// writes, env resolution, import/export, and their error paths, including an
// integrity failure logged at error level) runs with a canary value while
// every log the process writes is captured: spdlog (the services), gRPC's
// own log, and protobuf's.
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/daemon/service_harness.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Stub = v1::Secrets::Stub;
using testing::ScopeTarget;
using testing::ServiceHarness;

constexpr char kCanary[] = "CANARY-b7e1c0de-value";

// gRPC and protobuf log through C callbacks: one process-wide buffer.
absl::Mutex foreign_mu;
std::string* foreign_log ABSL_GUARDED_BY(foreign_mu) = new std::string;

void CaptureGrpcLog(gpr_log_func_args* args) {
  absl::MutexLock lock(&foreign_mu);
  absl::StrAppend(foreign_log, args->message, "\n");
}

void CaptureProtobufLog(google::protobuf::LogLevel level, const char* filename,
                        int line, const std::string& message) {
  absl::MutexLock lock(&foreign_mu);
  absl::StrAppend(foreign_log, message, "\n");
}

class ServiceLoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured_);
    logger_ = std::make_shared<spdlog::logger>("capture", sink);
    logger_->set_level(spdlog::level::trace);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger_);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
    gpr_set_log_function(CaptureGrpcLog);
    google::protobuf::SetLogHandler(CaptureProtobufLog);
    ASSERT_TRUE(h_.Start().ok());
  }

  void TearDown() override {
    spdlog::set_default_logger(previous_);
    google::protobuf::SetLogHandler(nullptr);
  }

  std::string Captured() {
    logger_->flush();
    absl::MutexLock lock(&foreign_mu);
    return captured_.str() + *foreign_log;
  }

  std::ostringstream captured_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<spdlog::logger> previous_;
  ServiceHarness h_;
};

TEST_F(ServiceLoggingTest, CanaryValueNeverReachesAnyLog) {
  const std::string json = absl::StrCat(R"({"password":")", kCanary, R"("})");
  auto set = [&](const std::string& name, const std::string& value,
                 absl::optional<uint32_t> expected = absl::nullopt) {
    v1::SetSecretRequest req;
    *req.mutable_target() = ScopeTarget("prod");
    req.set_name(name);
    req.set_value(value);
    if (expected) req.set_expected_version(*expected);
    v1::SetSecretResponse resp;
    return h_.Call(&Stub::SetSecret, h_.secrets(), req, &resp);
  };
  ASSERT_TRUE(set("db", kCanary).ok());
  ASSERT_TRUE(set("db_json", json).ok());
  ASSERT_TRUE(set("other", kCanary).ok());
  EXPECT_EQ(set("db", kCanary, 0u).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(set("db", kCanary, 9u).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(set("bad/name", kCanary).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetSecretRequest get;
  *get.mutable_target() = ScopeTarget("prod");
  get.set_name("db_json");
  get.set_field("password");
  v1::GetSecretResponse got;
  ASSERT_TRUE(h_.Call(&Stub::GetSecret, h_.secrets(), get, &got).ok());
  EXPECT_EQ(got.value(), kCanary);
  get.set_name("db");  // not JSON: the field extraction fails
  EXPECT_FALSE(h_.Call(&Stub::GetSecret, h_.secrets(), get, &got).ok());

  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = ScopeTarget("prod");
  rotate.set_name("db");
  rotate.set_value(absl::StrCat(kCanary, "-rotated"));
  v1::RotateSecretResponse rotated;
  ASSERT_TRUE(
      h_.Call(&Stub::RotateSecret, h_.secrets(), rotate, &rotated).ok());

  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["DB"] = "$S:db";
  (*resolve.mutable_env())["PW"] = "$S:db_json/password";
  resolve.mutable_context()->set_deployment("prod");
  v1::ResolveEnvResponse resolved;
  ASSERT_TRUE(
      h_.Call(&Stub::ResolveEnv, h_.secrets(), resolve, &resolved).ok());
  (*resolve.mutable_env())["BAD"] = "$S:db/password";  // value is not JSON
  EXPECT_FALSE(
      h_.Call(&Stub::ResolveEnv, h_.secrets(), resolve, &resolved).ok());

  v1::CheckEnvRequest check;
  *check.mutable_env() = resolve.env();
  *check.mutable_context() = resolve.context();
  v1::CheckEnvResponse checked;
  ASSERT_TRUE(h_.Call(&Stub::CheckEnv, h_.secrets(), check, &checked).ok());

  v1::ImportSecretsRequest imp;
  *imp.mutable_target() = ScopeTarget("imported");
  imp.set_content(absl::StrCat("A=", kCanary, "\nB=\"", kCanary, "\"\nbroken ",
                               kCanary, "\n"));
  v1::ImportSecretsResponse imported;
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imported).ok());
  EXPECT_FALSE(imported.applied());
  imp.set_content(absl::StrCat("A=", kCanary, "\n"));
  imp.set_dry_run(true);
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imported).ok());
  imp.set_dry_run(false);
  ASSERT_TRUE(h_.Call(&Stub::ImportSecrets, h_.secrets(), imp, &imported).ok());

  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = ScopeTarget("prod");
  v1::ExportSecretsResponse exported;
  ASSERT_TRUE(h_.Call(&Stub::ExportSecrets, h_.secrets(), exp, &exported).ok());
  EXPECT_THAT(exported.content(), HasSubstr(kCanary));

  // An integrity failure: logged at error level with its cause.
  ASSERT_TRUE(testing::CopyCiphertext(h_.db_path(), "other", "db_json").ok());
  get.set_name("db_json");
  get.clear_field();
  EXPECT_EQ(h_.Call(&Stub::GetSecret, h_.secrets(), get, &got).error_code(),
            grpc::StatusCode::DATA_LOSS);

  const std::string log = Captured();
  // The capture works: the services did log these calls...
  EXPECT_THAT(log,
              HasSubstr("rpc=SetSecret subject=uid:1000 scope=prod name=db"));
  EXPECT_THAT(log, HasSubstr("rpc=ResolveEnv"));
  EXPECT_THAT(log, HasSubstr("rpc=ImportSecrets"));
  EXPECT_THAT(log, HasSubstr("-> DATA_LOSS"));
  // ...and never a value.
  EXPECT_THAT(log, Not(HasSubstr(kCanary)));
}

}  // namespace
}  // namespace zlayer::secrets
