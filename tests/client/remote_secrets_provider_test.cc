// RemoteSecretsProvider against an in-memory fake of the Secrets service:
// scopes travel as Target.scope, ReadBatch sends one GetSecrets per scope,
// and daemon errors come back with their codes.
#include "client/remote_secrets_provider.h"

#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// (scope, name) -> (value, version). Only the reads the provider uses.
class FakeSecrets final : public v1::Secrets::Service {
 public:
  void Put(const std::string& scope, const std::string& name,
           const std::string& value, uint32_t version) {
    absl::MutexLock lock(&mu_);
    data_[{scope, name}] = {value, version};
  }
  std::vector<std::string> get_secrets_scopes() {
    absl::MutexLock lock(&mu_);
    return get_secrets_scopes_;
  }
  void FailGetSecretsWith(grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    fail_ = code;
  }

  grpc::Status GetSecret(grpc::ServerContext*, const v1::GetSecretRequest* req,
                         v1::GetSecretResponse* resp) override {
    absl::MutexLock lock(&mu_);
    auto it = data_.find({req->target().scope(), req->name()});
    if (it == data_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "secret not found");
    }
    resp->set_value(it->second.first);
    resp->set_version(it->second.second);
    return grpc::Status::OK;
  }
  grpc::Status GetSecrets(grpc::ServerContext*,
                          const v1::GetSecretsRequest* req,
                          v1::GetSecretsResponse* resp) override {
    absl::MutexLock lock(&mu_);
    get_secrets_scopes_.push_back(req->target().scope());
    if (fail_ != grpc::StatusCode::OK) {
      return grpc::Status(fail_, "stored data failed its integrity check");
    }
    for (const std::string& name : req->names()) {
      auto it = data_.find({req->target().scope(), name});
      if (it == data_.end()) {
        resp->add_missing(name);
        continue;
      }
      (*resp->mutable_values())[name] = it->second.first;
      (*resp->mutable_versions())[name] = it->second.second;
    }
    return grpc::Status::OK;
  }
  grpc::Status ListSecrets(grpc::ServerContext*,
                           const v1::ListSecretsRequest* req,
                           v1::ListSecretsResponse* resp) override {
    absl::MutexLock lock(&mu_);
    // One secret per page, to exercise pagination.
    for (const auto& [key, value] : data_) {
      if (key.first != req->target().scope() ||
          key.second <= req->page_token()) {
        continue;
      }
      if (resp->secrets_size() == 1) {
        resp->set_next_page_token(resp->secrets(0).name());
        break;
      }
      v1::SecretMetadata* m = resp->add_secrets();
      m->set_scope(key.first);
      m->set_name(key.second);
      m->set_version(value.second);
    }
    return grpc::Status::OK;
  }
  grpc::Status SecretExists(grpc::ServerContext*,
                            const v1::SecretExistsRequest* req,
                            v1::SecretExistsResponse* resp) override {
    absl::MutexLock lock(&mu_);
    resp->set_exists(data_.count({req->target().scope(), req->name()}) > 0);
    return grpc::Status::OK;
  }
  grpc::Status ResolveEnv(grpc::ServerContext*,
                          const v1::ResolveEnvRequest* req,
                          v1::ResolveEnvResponse* resp) override {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, value] : req->env()) {
      if (value == "$S:db") {
        (*resp->mutable_env())[key] =
            data_[{req->context().deployment(), "db"}].first;
        v1::ResolvedEntry* r = resp->add_receipt();
        r->set_key(key);
        r->set_reference(value);
        r->set_scope(req->context().deployment());
        r->set_name("db");
        r->set_version(data_[{req->context().deployment(), "db"}].second);
      } else {
        (*resp->mutable_env())[key] = value;
      }
    }
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>,
           std::pair<std::string, uint32_t>>
      data_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> get_secrets_scopes_ ABSL_GUARDED_BY(mu_);
  grpc::StatusCode fail_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
};

class RemoteSecretsProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/zs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/s.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_,
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ClientOptions options;
    options.address = socket_;
    auto client = SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    provider_ = std::make_unique<RemoteSecretsProvider>(client_.get());
  }
  void TearDown() override {
    server_->Shutdown();
    ::unlink(socket_.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string dir_, socket_;
  FakeSecrets fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<SecretsClient> client_;
  std::unique_ptr<RemoteSecretsProvider> provider_;
};

TEST_F(RemoteSecretsProviderTest, GetSecretReadsTheScopeItIsGiven) {
  fake_.Put("prod", "db", "pw-prod", 3);
  fake_.Put("env:1", "db", "pw-env", 1);
  absl::StatusOr<SecretBytes> v = provider_->GetSecret("prod", "db");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ConstantTimeEquals("pw-prod"));
  EXPECT_EQ(provider_->GetSecret("staging", "db").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RemoteSecretsProviderTest, GetSecretsOmitsMissingNames) {
  fake_.Put("prod", "a", "1", 1);
  auto m = provider_->GetSecrets("prod", {"a", "b"});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_TRUE(m->at("a").ConstantTimeEquals("1"));
}

TEST_F(RemoteSecretsProviderTest, ListSecretsFollowsEveryPage) {
  fake_.Put("prod", "a", "1", 1);
  fake_.Put("prod", "b", "2", 2);
  fake_.Put("prod", "c", "3", 5);
  fake_.Put("other", "z", "9", 1);
  auto list = provider_->ListSecrets("prod");
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> names;
  for (const SecretMetadata& m : *list) names.push_back(m.name);
  EXPECT_THAT(names, ElementsAre("a", "b", "c"));
  EXPECT_EQ(list->back().version, 5u);
}

TEST_F(RemoteSecretsProviderTest, Exists) {
  fake_.Put("prod", "a", "1", 1);
  EXPECT_TRUE(*provider_->Exists("prod", "a"));
  EXPECT_FALSE(*provider_->Exists("prod", "b"));
}

TEST_F(RemoteSecretsProviderTest, ReadBatchSendsOneGetSecretsPerScope) {
  fake_.Put("prod", "a", "A", 2);
  fake_.Put("prod", "b", "B", 7);
  fake_.Put("env:1", "a", "E", 1);
  std::vector<SecretKey> keys = {{"prod", "a"},
                                 {"env:1", "a"},
                                 {"prod", "b"},
                                 {"prod", "missing"},
                                 {"prod", "a"}};
  auto batch = provider_->ReadBatch(keys);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), keys.size());
  EXPECT_TRUE((*batch)[0]->value.ConstantTimeEquals("A"));
  EXPECT_EQ((*batch)[0]->version, 2u);
  EXPECT_TRUE((*batch)[1]->value.ConstantTimeEquals("E"));
  EXPECT_EQ((*batch)[2]->version, 7u);
  EXPECT_EQ((*batch)[3].status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*batch)[4]->value.ConstantTimeEquals("A"));
  EXPECT_THAT(fake_.get_secrets_scopes(),
              UnorderedElementsAre("prod", "env:1"));
}

TEST_F(RemoteSecretsProviderTest, ReadBatchFailsWhenAScopeFails) {
  fake_.FailGetSecretsWith(grpc::StatusCode::DATA_LOSS);
  auto batch = provider_->ReadBatch({{"prod", "a"}});
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RemoteSecretsProviderTest, ResolveEnvReturnsValuesAndReceipt) {
  fake_.Put("shop", "db", "pw", 4);
  auto out = provider_->ResolveEnv({{"DB", "$S:db"}, {"MODE", "prod"}},
                                   {"shop", "", "api"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->values.at("DB").ConstantTimeEquals("pw"));
  EXPECT_TRUE(out->values.at("MODE").ConstantTimeEquals("prod"));
  ASSERT_EQ(out->receipt.size(), 1u);
  EXPECT_EQ(out->receipt[0].version(), 4u);
  EXPECT_EQ(out->receipt[0].scope(), "shop");
}

}  // namespace
}  // namespace zlayer::secrets
