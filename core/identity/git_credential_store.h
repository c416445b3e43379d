// Git credentials (docs/compatibility.md, "Credentials"): personal access
// tokens and SSH private keys, for cloning sources and for the git credential
// helper.
//
// Each credential has a UUID v4 id and two records in internal scopes of any
// SecretStore (clients never reach "system:" scopes):
//   "system:git_credentials_meta"/<id>  flat JSON metadata {"id","name",
//       "kind":"pat"|"ssh_key","host","path_prefix","username","created_at"}
//   "system:git_credentials"/<id>       the token or key text
// "host", "path_prefix" and "username" are ours (upstream has only a display
// name); they say where the credential applies. The value is written before
// the metadata and deleted after it, so a listed credential has its value
// (core/identity/credential_records.h keeps the two in step).
//
//   GitCredentialStore creds(store, clock);
//   GitCredentialMatch where;
//   where.host = "github.com";
//   where.path_prefix = "acme";
//   ASSIGN_OR_RETURN(GitCredential c, creds.Create("acme bot", token,
//                                                  GitCredentialKind::kPat,
//                                                  where));
//   ASSIGN_OR_RETURN(GitCredential m,
//                    creds.FindForUrl("https", "github.com", "acme/app.git"));
//
// Matching (FindForUrl, what `git credential fill` asks): only PAT
// credentials with a host apply, only for protocol "https" (a token is never
// offered over plain http or to ssh). Hosts compare case-insensitively and
// include any port ("git.example.com:8443"). Paths are compared by whole
// segments after trimming '/' at both ends and a trailing ".git" from the
// request: prefix "acme" matches "acme", "acme/app.git" and "acme/x/y" but
// not "acme-corp/app"; an empty prefix matches every path on the host. The
// longest matching prefix wins, then the newest credential, then the
// smallest id.
//
// Thread-safe (the SecretStore is).
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_GIT_CREDENTIAL_STORE_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_GIT_CREDENTIAL_STORE_H_

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

enum class GitCredentialKind { kPat, kSshKey };

// "pat", "ssh_key".
absl::string_view GitCredentialKindName(GitCredentialKind kind);
// Accepts "pat", "ssh_key" and the CLI's "ssh-key".
absl::optional<GitCredentialKind> ParseGitCredentialKind(
    absl::string_view text);

// Where a credential applies; all optional.
struct GitCredentialMatch {
  std::string host;         // e.g. "github.com" (lower-cased when stored)
  std::string path_prefix;  // e.g. "acme" (stored without surrounding '/')
  std::string username;     // offered to git with the token; "" = git decides
};

// Metadata only: never the value.
struct GitCredential {
  std::string id;    // UUID v4
  std::string name;  // display label
  GitCredentialKind kind = GitCredentialKind::kPat;
  GitCredentialMatch match;
  int64_t created_at = 0;  // Unix seconds
};

class GitCredentialStore {
 public:
  // `store` and `clock` are borrowed and must outlive this object.
  GitCredentialStore(SecretStore* store, const Clock* clock);

  // InvalidArgument for a blank name, an empty value, or a host with '/',
  // whitespace or control characters; store errors propagate.
  absl::StatusOr<GitCredential> Create(absl::string_view name,
                                       const SecretBytes& value,
                                       GitCredentialKind kind,
                                       const GitCredentialMatch& match);
  // Create() under a given id (a UUID; core/migrate keeps upstream's ids).
  // InvalidArgument for a non-UUID id; AlreadyExists when the id is taken.
  absl::StatusOr<GitCredential> CreateWithId(absl::string_view id,
                                             absl::string_view name,
                                             const SecretBytes& value,
                                             GitCredentialKind kind,
                                             const GitCredentialMatch& match);
  // NotFound "git credential <id> not found"; DataLoss "corrupt git
  // credential '<id>'"; InvalidArgument for a non-UUID id.
  absl::StatusOr<GitCredential> Get(absl::string_view id);
  // The token or key text. NotFound as Get.
  absl::StatusOr<SecretBytes> GetValue(absl::string_view id);
  // Every credential, ordered by id; entries deleted meanwhile are skipped.
  absl::StatusOr<std::vector<GitCredential>> List();
  // Destroys metadata and value. NotFound if the metadata is absent.
  absl::Status Delete(absl::string_view id);
  // The credential for a git URL (see Matching above). NotFound "no git
  // credential for <protocol>://<host>".
  absl::StatusOr<GitCredential> FindForUrl(absl::string_view protocol,
                                           absl::string_view host,
                                           absl::string_view path);

 private:
  CredentialRecords records_;
  const Clock* const clock_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_GIT_CREDENTIAL_STORE_H_
