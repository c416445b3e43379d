#include "daemon/transport/caller_identity.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/transport/api_key_verifier.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::IdentifyRequest;
using ::zlayer::secrets::testing::IdentifyResponse;
using ::zlayer::secrets::testing::TestingService;

TEST(ParseApiKeyTest, AcceptsBearerAndPlainForms) {
  auto key = ParseApiKey("Bearer ci-bot.s3cr.et", true);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->key_id, "ci-bot");
  EXPECT_TRUE(key->secret.ConstantTimeEquals(absl::string_view("s3cr.et")));
  key = ParseApiKey("  bearer   ci.x ", true);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->key_id, "ci");
  key = ParseApiKey("ci.x", false);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->key_id, "ci");
}

TEST(ParseApiKeyTest, RejectsMalformedKeysWithoutEchoingThem) {
  for (auto [value, is_auth] : std::vector<std::pair<std::string, bool>>{
           {"Basic Y2k6eA==", true},
           {"Bearer nodot-topsecret", true},
           {"Bearer .topsecret", true},
           {"Bearer ci.", true},
           {"bad id!.topsecret", false},
           {"", false}}) {
    auto key = ParseApiKey(value, is_auth);
    ASSERT_FALSE(key.ok()) << value;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(key.status().message().find("topsecret"), std::string::npos);
  }
}

class FakeVerifier final : public ApiKeyVerifier {
 public:
  absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                   const SecretBytes& secret) const override {
    if (key_id == "ci" &&
        secret.ConstantTimeEquals(absl::string_view("good"))) {
      Principal p;
      p.api_key_id = "ci";
      p.roles = {"deployer"};
      return p;
    }
    if (key_id == "broken") return absl::InternalError("key store down");
    return absl::UnauthenticatedError("unknown API key");
  }
};

// An in-process server on 127.0.0.1 (plaintext, loopback) whose test service
// identifies callers with a TransportIdentifier over an ApiKeyIdentifier.
class TcpIdentityTest : public ::testing::Test {
 protected:
  void StartServer(const ApiKeyVerifier* verifier) {
    tcp_ = std::make_unique<ApiKeyIdentifier>(verifier, Transport::kTls);
    identifier_ = std::make_unique<TransportIdentifier>(nullptr, tcp_.get());
    service_ = std::make_unique<TestingService>(identifier_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = zlayer::secrets::testing::DaemonTesting::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  IdentifyResponse Call(const std::string& header, const std::string& value) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!header.empty()) context.AddMetadata(header, value);
    IdentifyResponse response;
    grpc::Status status =
        stub_->Identify(&context, IdentifyRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  FakeVerifier verifier_;
  std::unique_ptr<ApiKeyIdentifier> tcp_;
  std::unique_ptr<TransportIdentifier> identifier_;
  std::unique_ptr<TestingService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<zlayer::secrets::testing::DaemonTesting::Stub> stub_;
};

TEST_F(TcpIdentityTest, ValidKeyInEitherHeaderIdentifiesTheCaller) {
  StartServer(&verifier_);
  IdentifyResponse who = Call("authorization", "Bearer ci.good");
  ASSERT_TRUE(who.identified()) << who.error();
  EXPECT_EQ(who.subject(), "apikey:ci");
  EXPECT_EQ(who.uid(), -1);
  who = Call("x-zlayer-api-key", "ci.good");
  ASSERT_TRUE(who.identified()) << who.error();
  EXPECT_EQ(who.api_key_id(), "ci");
}

TEST_F(TcpIdentityTest, MissingWrongOrUnverifiableKeysAreRejected) {
  StartServer(&verifier_);
  IdentifyResponse who = Call("", "");
  EXPECT_FALSE(who.identified());
  EXPECT_NE(who.error().find("API key is required"), std::string::npos);
  who = Call("authorization", "Bearer ci.bad");
  EXPECT_FALSE(who.identified());
  EXPECT_EQ(who.error(), "unknown API key");
  who = Call("authorization", "Bearer broken.x");
  EXPECT_FALSE(who.identified());
  EXPECT_EQ(who.error(), "API key verification is unavailable");
}

TEST_F(TcpIdentityTest, WithoutAVerifierTcpCallersAreUnauthenticated) {
  StartServer(nullptr);
  IdentifyResponse who = Call("authorization", "Bearer ci.good");
  EXPECT_FALSE(who.identified());
  EXPECT_EQ(who.error(), "API keys are not enabled on this daemon");
}

}  // namespace
}  // namespace zlayer::secrets
