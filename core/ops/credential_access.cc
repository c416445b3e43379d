#include "core/ops/credential_access.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/identity/grant_store.h"

namespace zlayer::secrets {
namespace {

bool MayRead(const Authorizer& authorizer, const Principal& principal,
             const Resource& resource) {
  return authorizer.Check(principal, resource, AccessLevel::kRead).ok();
}

// `credential` is the lookup's result; `resource_of` gives the grant
// resource of a found credential.
template <typename T, typename ResourceOf>
absl::StatusOr<T> CheckedById(absl::StatusOr<T> got,
                              const Authorizer& authorizer,
                              const Principal& principal,
                              absl::string_view kind_scope,
                              absl::string_view id, ResourceOf resource_of) {
  const bool reads_all =
      MayRead(authorizer, principal, {std::string(kind_scope), ""});
  if (!reads_all &&
      !(got.ok() && MayRead(authorizer, principal, resource_of(*got)))) {
    return absl::PermissionDeniedError(
        absl::StrCat(principal.Subject(), " lacks read on ", kind_scope,
                     " credential id ", id));
  }
  return got;
}

template <typename T, typename ResourceOf>
std::vector<T> Readable(std::vector<T> all, const Authorizer& authorizer,
                        const Principal& principal, ResourceOf resource_of) {
  std::vector<T> shown;
  for (T& c : all) {
    if (MayRead(authorizer, principal, resource_of(c))) {
      shown.push_back(std::move(c));
    }
  }
  return shown;
}

Resource OfRegistry(const RegistryCredential& c) {
  return RegistryResource(c.registry);
}
Resource OfGit(const GitCredential& c) { return GitResource(c.match.host); }

}  // namespace

Resource RegistryResource(absl::string_view registry) {
  return {kRegistryCredentialResource, NormalizeRegistryHost(registry)};
}

Resource GitResource(absl::string_view host) {
  return {kGitCredentialResource, absl::AsciiStrToLower(host)};
}

absl::StatusOr<std::vector<RegistryCredential>> ReadableRegistryCredentials(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal) {
  ASSIGN_OR_RETURN(std::vector<RegistryCredential> all, creds->List());
  return Readable(std::move(all), authorizer, principal, OfRegistry);
}

absl::StatusOr<std::vector<GitCredential>> ReadableGitCredentials(
    GitCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal) {
  ASSIGN_OR_RETURN(std::vector<GitCredential> all, creds->List());
  return Readable(std::move(all), authorizer, principal, OfGit);
}

absl::StatusOr<RegistryCredential> RegistryCredentialById(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, absl::string_view id) {
  return CheckedById(creds->Get(id), authorizer, principal,
                     kRegistryCredentialResource, id, OfRegistry);
}

absl::StatusOr<GitCredential> GitCredentialById(GitCredentialStore* creds,
                                                const Authorizer& authorizer,
                                                const Principal& principal,
                                                absl::string_view id) {
  return CheckedById(creds->Get(id), authorizer, principal,
                     kGitCredentialResource, id, OfGit);
}

absl::StatusOr<RegistryCredential> RegistryCredentialForHost(
    RegistryCredentialStore* creds, const Authorizer& authorizer,
    const Principal& principal, absl::string_view registry) {
  RETURN_IF_ERROR(authorizer.Check(principal, RegistryResource(registry),
                                   AccessLevel::kRead));
  return creds->FindByRegistry(registry);
}

absl::StatusOr<GitCredential> GitCredentialForUrl(GitCredentialStore* creds,
                                                  const Authorizer& authorizer,
                                                  const Principal& principal,
                                                  absl::string_view protocol,
                                                  absl::string_view host,
                                                  absl::string_view path) {
  RETURN_IF_ERROR(
      authorizer.Check(principal, GitResource(host), AccessLevel::kRead));
  return creds->FindForUrl(protocol, host, path);
}

}  // namespace zlayer::secrets
