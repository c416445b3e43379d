// Reading registry and git credentials on behalf of a caller who may not
// read every credential of its kind (what Admin.List*/Get*Credential do),
// independent of gRPC. Access is the authorizer's, on the grant resources
// "credentials:registry" / "credentials:git" named by host.
//
//   ASSIGN_OR_RETURN(RegistryCredential c,
//                    RegistryCredentialById(creds, authz, principal, id));
//   ASSIGN_OR_RETURN(SecretBytes password, creds->GetPassword(c.id));
//
// Thread-safe if the stores and the authorizer are.
#ifndef ZLAYER_SECRETS_CORE_OPS_CREDENTIAL_ACCESS_H_
#define ZLAYER_SECRETS_CORE_OPS_CREDENTIAL_ACCESS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/identity/access.h"
#include "core/identity/git_credential_store.h"
#include "core/identity/registry_credential_store.h"

namespace zlayer::secrets {

// The grant resource a credential read is checked against: the kind's scope,
// and the normalised registry host / the lower-cased git host.
Resource RegistryResource(absl::string_view registry);
Resource GitResource(absl::string_view host);

// Every credential of the kind the principal may read (others are left out
// silently). The store's errors.
absl::StatusOr<std::vector<RegistryCredential>> ReadableRegistryCredentials(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal);
absl::StatusOr<std::vector<GitCredential>> ReadableGitCredentials(
    GitCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal);

// A credential by id. Who may read every credential of the kind learns
// NOT_FOUND for an unknown id; anyone else gets the same PERMISSION_DENIED
// for an unknown id and for one they may not read, naming neither host nor
// existence (the lookup is made in both cases, so the work is the same too).
absl::StatusOr<RegistryCredential> RegistryCredentialById(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, absl::string_view id);
absl::StatusOr<GitCredential> GitCredentialById(GitCredentialStore* creds,
                                                const Authorizer& authorizer,
                                                const Principal& principal,
                                                absl::string_view id);

// The credential for a registry host / a git URL. Access is checked first:
// a caller without it learns nothing about what is stored for the host
// (PERMISSION_DENIED); then the store's lookup (NOT_FOUND when none).
absl::StatusOr<RegistryCredential> RegistryCredentialForHost(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, absl::string_view registry);
absl::StatusOr<GitCredential> GitCredentialForUrl(GitCredentialStore* creds,
                                                  const Authorizer& authorizer,
                                                  const Principal& principal,
                                                  absl::string_view protocol,
                                                  absl::string_view host,
                                                  absl::string_view path);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_CREDENTIAL_ACCESS_H_
