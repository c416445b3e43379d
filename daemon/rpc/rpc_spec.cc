#include "daemon/rpc/rpc_spec.h"

namespace zlayer::secrets {
namespace {

constexpr Access kCaller = Access::kCaller;
constexpr Access kAdmin = Access::kAdmin;
constexpr Access kRead = Access::kRead;
constexpr Access kWrite = Access::kWrite;
constexpr Access kPerItem = Access::kPerItem;
constexpr Target kNone = Target::kNone;
constexpr Target kSecret = Target::kSecret;
constexpr Target kScope = Target::kScope;

// One line per RPC. kPerItem says what the body checks for each item.
constexpr RpcSpec kSpecs[] = {
    {"Secrets", "GetSecret", kRead, kSecret},
    {"Secrets", "GetSecrets", kPerItem, kNone},  // read, each name
    {"Secrets", "ListSecrets", kRead, kScope},
    {"Secrets", "SecretExists", kRead, kSecret},
    {"Secrets", "SetSecret", kWrite, kSecret},
    {"Secrets", "DeleteSecret", kWrite, kSecret},
    {"Secrets", "UndeleteSecret", kWrite, kSecret},
    {"Secrets", "DestroySecret", kWrite, kSecret},
    {"Secrets", "RotateSecret", kWrite, kSecret},
    {"Secrets", "ListVersions", kRead, kSecret},
    {"Secrets", "RollbackSecret", kWrite, kSecret},
    {"Secrets", "ResolveEnv", kPerItem, kNone},  // execute, each reference
    {"Secrets", "CheckEnv", kPerItem, kNone},    // execute + read, each ref
    {"Secrets", "ImportSecrets", kWrite, kScope},
    {"Secrets", "ExportSecrets", kRead, kScope},
    // Streams (daemon/rpc/watch_service.cc) check per item as they go.
    {"Secrets", "WatchEnv", kPerItem, kNone},       // execute, each reference
    {"Secrets", "WatchSecrets", kPerItem, kNone},   // read, the scope
    {"Secrets", "ListConsumers", kPerItem, kNone},  // read, the secret

    {"Admin", "CreateEnvironment", kAdmin, kNone},
    {"Admin", "GetEnvironment", kCaller, kNone},
    {"Admin", "ListEnvironments", kCaller, kNone},
    {"Admin", "UpdateEnvironment", kAdmin, kNone},
    {"Admin", "DeleteEnvironment", kAdmin, kNone},
    {"Admin", "RotateMasterKey", kAdmin, kNone},
    {"Admin", "WhoAmI", kCaller, kNone},
    {"Admin", "RekeyDataKeys", kAdmin, kNone},
    {"Admin", "GetRekeyStatus", kAdmin, kNone},
    {"Admin", "Backup", kAdmin, kNone},  // daemon/rpc/backup_stream.cc
    {"Admin", "CreateApiKey", kAdmin, kNone},
    {"Admin", "RotateApiKey", kAdmin, kNone},
    {"Admin", "ListApiKeys", kAdmin, kNone},
    {"Admin", "RegisterClientKey", kCaller, kNone},  // bound to the caller
    {"Admin", "ListClientKeys", kPerItem, kNone},    // own; all=true: admin
    {"Admin", "RevokeClientKey", kPerItem, kNone},   // owner or admin
    {"Admin", "SetApiKeyRoles", kAdmin, kNone},
    {"Admin", "DeleteApiKey", kAdmin, kNone},
    {"Admin", "Grant", kAdmin, kNone},
    {"Admin", "Revoke", kAdmin, kNone},
    {"Admin", "RevokeMatching", kAdmin, kNone},
    {"Admin", "ListGrants", kAdmin, kNone},
    {"Admin", "CreateRegistryCredential", kAdmin, kNone},
    {"Admin", "ListRegistryCredentials", kPerItem, kNone},  // read, each
    {"Admin", "DeleteRegistryCredential", kAdmin, kNone},
    {"Admin", "GetRegistryCredential", kPerItem, kNone},  // read, the host
    {"Admin", "CreateGitCredential", kAdmin, kNone},
    {"Admin", "ListGitCredentials", kPerItem, kNone},  // read, each
    {"Admin", "DeleteGitCredential", kAdmin, kNone},
    {"Admin", "GetGitCredential", kPerItem, kNone},  // read, the host
};

}  // namespace

absl::Span<const RpcSpec> AllRpcSpecs() { return kSpecs; }

const RpcSpec* FindRpcSpec(absl::string_view rpc) {
  for (const RpcSpec& spec : kSpecs) {
    if (spec.rpc == rpc) return &spec;
  }
  return nullptr;
}

absl::string_view AccessName(Access access) {
  switch (access) {
    case Access::kCaller:
      return "caller";
    case Access::kAdmin:
      return "admin";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
    case Access::kPerItem:
      return "per-item";
  }
  return "?";
}

}  // namespace zlayer::secrets
