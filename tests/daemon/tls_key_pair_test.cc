#include "daemon/transport/tls_key_pair.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::TempDir;

class TlsKeyPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = testing::MakeTlsMaterial(dir_.path(), "a-");
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = testing::MakeTlsMaterial(dir_.path(), "b-");
    ASSERT_TRUE(b.ok()) << b.status();
    cert_a_ = *ReadFile(a->server_cert);
    key_a_ = *ReadFile(a->server_key);
    ca_a_ = *ReadFile(a->ca_cert);
    key_b_ = *ReadFile(b->server_key);
  }
  TempDir dir_;
  std::string cert_a_, key_a_, ca_a_, key_b_;
};

TEST_F(TlsKeyPairTest, MatchingPairWithChainAndCaPasses) {
  EXPECT_TRUE(CheckTlsKeyPair(cert_a_, key_a_, "").ok());
  EXPECT_TRUE(CheckTlsKeyPair(cert_a_ + ca_a_, key_a_, ca_a_).ok());
}

TEST_F(TlsKeyPairTest, KeyOfAnotherPairIsRefusedWithoutKeyBytes) {
  absl::Status s = CheckTlsKeyPair(cert_a_, key_b_, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("does not match"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(TlsKeyPairTest, BrokenPartsAreNamed) {
  EXPECT_THAT(CheckTlsKeyPair("not pem", key_a_, "").message(),
              HasSubstr("certificate chain"));
  std::string broken_chain = cert_a_ +
                             "-----BEGIN CERTIFICATE-----\nAAAA\n"
                             "-----END CERTIFICATE-----\n";
  EXPECT_THAT(CheckTlsKeyPair(broken_chain, key_a_, "").message(),
              HasSubstr("certificate 2"));
  EXPECT_THAT(CheckTlsKeyPair(cert_a_, "garbage", "").message(),
              HasSubstr("private key"));
  EXPECT_THAT(CheckTlsKeyPair(cert_a_, key_a_, "garbage").message(),
              HasSubstr("client CA bundle"));
}

}  // namespace
}  // namespace zlayer::secrets
