// Every RPC whose response can carry secret bytes or an API key's secret is
// declared `option (reveals_values) = true` (proto/secrets.proto), which is
// what makes the daemon fail it closed while the audit log is down
// (daemon/rpc/call_auditor.h). A new RPC returning such a field without the
// declaration fails here.
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/rpc/call_auditor.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// True when `message` holds, at any depth, a `bytes` field or a field
// marked `sensitive`.
bool CarriesSecrets(const Descriptor* message,
                    std::set<const Descriptor*>* seen) {
  if (!seen->insert(message).second) return false;
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    if (field->options().GetExtension(v1::sensitive)) return true;
    if (field->type() == FieldDescriptor::TYPE_BYTES) return true;
    if (field->message_type() != nullptr &&
        CarriesSecrets(field->message_type(), seen)) {
      return true;
    }
  }
  return false;
}

TEST(RevealsValuesTest, EveryRpcReturningSecretsIsDeclaredFailClosed) {
  const google::protobuf::FileDescriptor* file =
      v1::GetSecretRequest::descriptor()->file();
  int revealing = 0;
  for (int s = 0; s < file->service_count(); ++s) {
    for (int m = 0; m < file->service(s)->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method =
          file->service(s)->method(m);
      std::set<const Descriptor*> seen;
      const bool carries = CarriesSecrets(method->output_type(), &seen);
      const bool declared = method->options().GetExtension(v1::reveals_values);
      EXPECT_EQ(declared, carries)
          << method->full_name() << ": response "
          << method->output_type()->full_name()
          << (carries ? " carries secret material but the RPC is not "
                        "declared reveals_values"
                      : " carries no secret material but the RPC is "
                        "declared reveals_values");
      // The daemon's decision follows the declaration, by name and path.
      EXPECT_EQ(RevealsValues(method->name()), declared) << method->full_name();
      EXPECT_EQ(RevealsValues(absl::StrCat("/", file->service(s)->full_name(),
                                           "/", method->name())),
                declared);
      revealing += declared;
    }
  }
  // GetSecret, GetSecrets, ResolveEnv, ExportSecrets, CreateApiKey,
  // RotateApiKey, GetRegistryCredential, GetGitCredential, Backup (sealed
  // values: audited before the first chunk, daemon/backup_stream.h).
  EXPECT_EQ(revealing, 9);
  EXPECT_TRUE(RevealsValues("Backup"));
  EXPECT_TRUE(RevealsValues("CreateApiKey"));
  EXPECT_TRUE(RevealsValues("RotateApiKey"));
  EXPECT_FALSE(RevealsValues("SetSecret"));
}

}  // namespace
}  // namespace zlayer::secrets
