// Container registry credentials (docs/compatibility.md,
// "Credentials"), for pulling images and for
// the docker credential helper.
//
// Each credential has a UUID v4 id and two records in internal scopes of any
// SecretStore (clients never reach "system:" scopes):
//   "system:registry_credentials_meta"/<id>  flat JSON metadata
//       {"id","registry","username","auth_type":"basic"|"token","created_at"}
//   "system:registry_credentials"/<id>       the raw password or token
// Unlike upstream, the value is written before the metadata (and the
// metadata deleted first), so a listed credential always has its value, and
// Delete destroys every stored version of both
// (core/identity/credential_records.h keeps the two in step).
//
//   RegistryCredentialStore creds(store, clock);
//   ASSIGN_OR_RETURN(RegistryCredential c,
//       creds.Create("ghcr.io", "bot", password, RegistryAuthType::kBasic));
//   ASSIGN_OR_RETURN(RegistryCredential m, creds.FindByRegistry("ghcr.io"));
//   ASSIGN_OR_RETURN(SecretBytes pw, creds.GetPassword(m.id));
//
// Matching (FindByRegistry): both the stored registry and the query are
// normalised by NormalizeRegistryHost and compared for equality (the port is
// part of the host). When several credentials match, the newest wins (then
// the smallest id).
//
// Thread-safe (the SecretStore is).
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_REGISTRY_CREDENTIAL_STORE_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_REGISTRY_CREDENTIAL_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/identity/credential_records.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

enum class RegistryAuthType { kBasic, kToken };

// "basic", "token".
absl::string_view RegistryAuthTypeName(RegistryAuthType type);
absl::optional<RegistryAuthType> ParseRegistryAuthType(absl::string_view text);

// Lower-cases, trims ASCII space, drops a "http://"/"https://" scheme and
// any path, and maps Docker Hub's aliases ("docker.io", "index.docker.io",
// "registry-1.docker.io", "registry.hub.docker.com",
// "https://index.docker.io/v1/") to "docker.io".
std::string NormalizeRegistryHost(absl::string_view registry);

// Metadata only: never the password.
struct RegistryCredential {
  std::string id;        // UUID v4
  std::string registry;  // as given (trimmed), e.g. "ghcr.io"
  std::string username;
  RegistryAuthType auth_type = RegistryAuthType::kBasic;
  int64_t created_at = 0;  // Unix seconds
};

class RegistryCredentialStore {
 public:
  // `store` and `clock` are borrowed and must outlive this object.
  RegistryCredentialStore(SecretStore* store, const Clock* clock);

  // Stores a new credential (two creates with equal fields make two).
  // InvalidArgument for a blank registry or username or an empty password;
  // store errors propagate.
  absl::StatusOr<RegistryCredential> Create(absl::string_view registry,
                                            absl::string_view username,
                                            const SecretBytes& password,
                                            RegistryAuthType auth_type);
  // Create() under a given id (a UUID, lower-cased; core/migrate keeps
  // upstream's ids, which projects refer to). InvalidArgument for a non-UUID
  // id; AlreadyExists when the id is taken.
  absl::StatusOr<RegistryCredential> CreateWithId(absl::string_view id,
                                                  absl::string_view registry,
                                                  absl::string_view username,
                                                  const SecretBytes& password,
                                                  RegistryAuthType auth_type);
  // NotFound "registry credential <id> not found"; DataLoss "corrupt
  // registry credential '<id>'"; InvalidArgument for a non-UUID id.
  absl::StatusOr<RegistryCredential> Get(absl::string_view id);
  // The password or token. NotFound as Get.
  absl::StatusOr<SecretBytes> GetPassword(absl::string_view id);
  // Every credential, ordered by id; entries deleted meanwhile are skipped.
  absl::StatusOr<std::vector<RegistryCredential>> List();
  // Destroys metadata and value. NotFound if the metadata is absent.
  absl::Status Delete(absl::string_view id);
  // The credential for `registry` (see Matching above). NotFound "no
  // registry credential for <host>".
  absl::StatusOr<RegistryCredential> FindByRegistry(absl::string_view registry);

 private:
  CredentialRecords records_;
  const Clock* const clock_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_REGISTRY_CREDENTIAL_STORE_H_
