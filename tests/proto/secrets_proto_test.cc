// The generated API round-trips and marks every value field as sensitive.
#include <string>

#include "gtest/gtest.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::v1::SetSecretRequest;

TEST(SecretsProtoTest, SetSecretRequestRoundTripsThroughWireFormat) {
  SetSecretRequest req;
  req.mutable_target()->mutable_deployment()->set_deployment("prod");
  req.mutable_target()->mutable_deployment()->set_service("api");
  req.set_name("db_password");
  req.set_value(std::string("p\0ss", 4));
  req.set_expected_version(0);

  std::string wire;
  ASSERT_TRUE(req.SerializeToString(&wire));
  SetSecretRequest back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.target().deployment().service(), "api");
  EXPECT_EQ(back.name(), "db_password");
  EXPECT_EQ(back.value(), std::string("p\0ss", 4));
  // proto3 `optional`: an explicit 0 (create-only) is distinguishable from
  // unset.
  EXPECT_TRUE(back.has_expected_version());
  EXPECT_EQ(back.expected_version(), 0u);
}

TEST(SecretsProtoTest, ValueFieldsCarryTheSensitiveOption) {
  const char* kMessagesWithValues[][2] = {
      {"zlayer.secrets.v1.SetSecretRequest", "value"},
      {"zlayer.secrets.v1.GetSecretResponse", "value"},
      {"zlayer.secrets.v1.GetSecretsResponse", "values"},
      {"zlayer.secrets.v1.RotateSecretRequest", "value"},
      {"zlayer.secrets.v1.ResolveEnvResponse", "env"},
      {"zlayer.secrets.v1.ImportSecretsRequest", "content"},
      {"zlayer.secrets.v1.ExportSecretsResponse", "content"},
      {"zlayer.secrets.v1.RotateMasterKeyRequest", "new_key"},
      {"zlayer.secrets.v1.CreateApiKeyResponse", "presentable_key"},
      {"zlayer.secrets.v1.CreateRegistryCredentialRequest", "password"},
      {"zlayer.secrets.v1.GetRegistryCredentialResponse", "password"},
      {"zlayer.secrets.v1.CreateGitCredentialRequest", "value"},
      {"zlayer.secrets.v1.GetGitCredentialResponse", "value"},
  };
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& [message, field] : kMessagesWithValues) {
    const auto* desc = pool->FindMessageTypeByName(message);
    ASSERT_NE(desc, nullptr) << message;
    const auto* f = desc->FindFieldByName(field);
    ASSERT_NE(f, nullptr) << message << "." << field;
    EXPECT_TRUE(f->options().GetExtension(v1::sensitive))
        << message << "." << field;
  }
  // And a non-value field is not marked.
  const auto* name = SetSecretRequest::descriptor()->FindFieldByName("name");
  EXPECT_FALSE(name->options().GetExtension(v1::sensitive));
}

}  // namespace
}  // namespace zlayer::secrets
