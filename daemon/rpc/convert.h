// Conversion between the v1 protos and core/ types, in one place for every
// service (daemon/rpc/secrets_service.cc, daemon/rpc/admin_service.cc).
// *FromProto validates what a core type cannot hold (InvalidArgument);
// *ToProto never fails. Values travel as bytes (SetBytes): conversion never
// logs or formats one.
//
//   ASSIGN_OR_RETURN(GrantResource resource,
//                    ResourceFromProto(request->resource()));
//   ToProto(grant, response);
#ifndef ZLAYER_SECRETS_DAEMON_RPC_CONVERT_H_
#define ZLAYER_SECRETS_DAEMON_RPC_CONVERT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/env/environment_registry.h"
#include "core/format/env_file_format.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/client_key_store.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/grant_store.h"
#include "core/identity/registry_credential_store.h"
#include "core/ops/batch_read.h"
#include "core/ops/check_env.h"
#include "core/ops/import.h"
#include "core/resolve/resolver.h"
#include "core/store/secret_store.h"
#include "daemon/rpc/service_context.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

// Bytes of a value into a proto bytes/string field.
void SetBytes(const SecretBytes& value, std::string* out);

// --- Admin
void ToProto(const Environment& in, v1::Environment* out);
// InvalidArgument for an unspecified or unknown level.
absl::StatusOr<AccessLevel> LevelFromProto(v1::AccessLevel level);
v1::AccessLevel LevelToProto(AccessLevel level);
// Kind required; a name only for kind secret; ValidateGrantResource.
absl::StatusOr<GrantResource> ResourceFromProto(const v1::GrantResource& in);
void ToProto(const GrantResource& in, v1::GrantResource* out);
void ToProto(const AccessGrant& in, v1::AccessGrant* out);
void ToProto(const ApiKeyInfo& in, v1::ApiKey* out);
void ToProto(const ClientKeyInfo& in, v1::ClientKey* out);
void ToProto(const RegistryCredential& in, v1::RegistryCredential* out);
void ToProto(const GitCredential& in, v1::GitCredential* out);
std::vector<std::string> Roles(
    const google::protobuf::RepeatedPtrField<std::string>& roles);
// Unspecified = basic / PAT; InvalidArgument for an unknown value.
absl::StatusOr<RegistryAuthType> RegistryAuthTypeFromProto(
    v1::RegistryAuthType type);
absl::StatusOr<GitCredentialKind> GitCredentialKindFromProto(
    v1::GitCredentialKind kind);
void RekeyStatusToProto(const RekeyStatusInfo& info, v1::RekeyStatus* out);

// --- Secrets
void ToProto(const SecretMetadata& in, v1::SecretMetadata* out);
// Unspecified = dotenv; InvalidArgument for an unknown format.
absl::StatusOr<SecretFileFormat> FormatFromRequest(v1::SecretFormat format);
v1::ImportAction ToProto(ImportAction action);
void BatchToProto(const BatchRead& in, v1::GetSecretsResponse* out);
void ResolvedToProto(const ResolvedEnv& in, v1::ResolveEnvResponse* out);
// Sealed reveals: as BatchToProto / ResolvedToProto, but each value goes
// into the sealed_* map as a sealed box to `public_key`
// (core/crypto/sealed_box.h) and the plain map stays empty. Errors of
// SealToPublicKey; `out` then holds no value either.
absl::Status SealedBatchToProto(const BatchRead& in,
                                absl::string_view public_key,
                                v1::GetSecretsResponse* out);
absl::Status SealedResolvedToProto(const ResolvedEnv& in,
                                   absl::string_view public_key,
                                   v1::ResolveEnvResponse* out);
void CheckToProto(const EnvCheck& in, v1::CheckEnvResponse* out);
void ImportToProto(const ImportOutcome& in, v1::ImportSecretsResponse* out);

// --- Requests, checked against the daemon's limits (InvalidArgument)
absl::Status CheckValueSize(size_t size, const Limits& limits);
absl::Status CheckMaxVersions(uint32_t max_versions);
// A write's node affinity (SetSecret/RotateSecret): nullopt when the request
// has none (`present` false: keep the secret's); else the canonical list
// (core/store/node_affinity.h), InvalidArgument for a malformed one.
absl::StatusOr<absl::optional<std::vector<std::string>>> NodeAffinityFromProto(
    bool present, const v1::NodeAffinity& affinity);
// ImportSecrets' content against limits.max_import_bytes.
absl::Status CheckImportSize(size_t size, const Limits& limits);
// GetSecret's optional JSON `field`: empty, or 1..kMaxNameBytes of text.
absl::Status CheckField(const std::string& field);
// An env map key: 1..kMaxNameBytes of text without '='.
absl::Status ValidateEnvKey(absl::string_view key);
// The env map of ResolveEnv/CheckEnv; a bad key is named by its position
// (it may not be printable).
absl::StatusOr<std::map<std::string, std::string>> EnvMapFromRequest(
    const google::protobuf::Map<std::string, std::string>& env,
    const Limits& limits);
// GetSecrets' names, deduplicated in order; a bad name is named by its index.
absl::StatusOr<std::vector<SecretKey>> KeysFromRequest(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const std::string& scope, const Limits& limits);

// ResolveEnvRequest.pin: the receipt a pinned resolution must follow.
std::vector<ReceiptEntry> PinsFromProto(
    const google::protobuf::RepeatedPtrField<v1::ResolvedEntry>& pins);

// --- Targets and per-RPC request shapes

// The scope a Target names (scope, deployment[/service] or an environment
// looked up in `environments`). InvalidArgument for a malformed target, a
// "system:" scope or a credential grant resource (they hold no secrets);
// FailedPrecondition for an environment without a registry; the registry's
// errors (NotFound).
absl::StatusOr<std::string> ScopeFromTarget(const v1::Target& target,
                                            EnvironmentRegistry* environments);

ResolveContext ResolveContextFromProto(const v1::ResolveContext& context);

void ToProto(const VersionInfo& in, v1::VersionInfo* out);

// ResolveEnv's plain `env` map is proto `string`: FailedPrecondition naming
// every entry whose value is not UTF-8 (the client would reject the whole
// message).
absl::Status CheckValuesAreText(const ResolvedEnv& resolved, size_t entries);

// A revealed value into `plain`, or, with a `seal_key`, sealed to it into
// `sealed` and `value` wiped at once. Errors of SealToPublicKey.
absl::Status SetValueOrSealed(SecretBytes* value, absl::string_view seal_key,
                              std::string* plain, std::string* sealed);

// GetRegistryCredential / GetGitCredential: the lookup by id or by host/URL
// (core/ops/credential_access.h decides access). `host_name` is set to the
// credential's grant resource name once known (for the call's log).
absl::StatusOr<RegistryCredential> RequestedRegistryCredential(
    const v1::GetRegistryCredentialRequest& request,
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, std::string* host_name);
absl::StatusOr<GitCredential> RequestedGitCredential(
    const v1::GetGitCredentialRequest& request, GitCredentialStore* creds,
    const Authorizer& authorizer, const Principal& principal,
    std::string* host_name);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_CONVERT_H_
