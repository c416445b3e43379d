// Issue 18 item 6 through the real daemon: environments created and secrets
// written over gRPC, the daemon stopped, the SQLite file edited offline
// (environments.name of two rows swapped), the daemon started again: the
// reference `$S::prodenv/DBPW` answers DATA_LOSS, never the dev value.
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/security/crypto/raw_db.h"
#include "tests/testutil/daemon_launch.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::RawDb;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);

class DaemonMetadataTest : public ::testing::Test {
 protected:
  void Start() {
    daemon_ = testing::StartReadyDaemon(
        dir_, {"--data-dir", dir_.Sub("data"), "--socket", dir_.Sub("d.sock")},
        kWait);
    ASSERT_NE(daemon_, nullptr);
    auto channel = UnixChannel(dir_.Sub("d.sock"));
    secrets_ = v1::Secrets::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }

  void Stop() { testing::StopDaemonCleanly(daemon_, kWait); }

  std::string CreateEnvironment(const std::string& name) {
    v1::CreateEnvironmentRequest req;
    req.set_name(name);
    v1::Environment env;
    grpc::ClientContext ctx;
    grpc::Status s = admin_->CreateEnvironment(&ctx, req, &env);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return env.id();
  }

  void SetInEnvironment(const std::string& env, const std::string& value) {
    v1::SetSecretRequest req;
    req.mutable_target()->mutable_environment()->set_name_or_id(env);
    req.set_name("DBPW");
    req.set_value(value);
    v1::SetSecretResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = secrets_->SetSecret(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Resolve(const std::string& ref, std::string* value) {
    v1::ResolveEnvRequest req;
    (*req.mutable_env())["DBPW"] = ref;
    v1::ResolveEnvResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = secrets_->ResolveEnv(&ctx, req, &resp);
    if (s.ok()) *value = resp.env().at("DBPW");
    return s;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Secrets::Stub> secrets_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(DaemonMetadataTest, SwappedEnvironmentNamesAnswerDataLoss) {
  Start();
  CreateEnvironment("prodenv");
  CreateEnvironment("devenv");
  SetInEnvironment("prodenv", "prod-password");
  SetInEnvironment("devenv", "dev-password");
  std::string value;
  ASSERT_TRUE(Resolve("$S::prodenv/DBPW", &value).ok());
  EXPECT_EQ(value, "prod-password");
  Stop();

  {
    RawDb raw(dir_.Sub("data/secrets.db"));
    raw.Exec("UPDATE environments SET name = 'swap' WHERE name = 'prodenv'");
    raw.Exec("UPDATE environments SET name = 'prodenv' WHERE name = 'devenv'");
    raw.Exec("UPDATE environments SET name = 'devenv' WHERE name = 'swap'");
  }

  Start();
  value.clear();
  grpc::Status s = Resolve("$S::prodenv/DBPW", &value);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(value, "dev-password");
  EXPECT_EQ(Resolve("$S::devenv/DBPW", &value).error_code(),
            grpc::StatusCode::DATA_LOSS);
  Stop();
}

}  // namespace
}  // namespace zlayer::secrets
