// Access control vocabulary shared by the daemon and the permission store.
//
// A Principal is who is calling (a local uid/gid on the Unix socket, an API
// key over TLS); an Authorizer decides whether it may act on a secret at a
// level. Levels are upstream's and ordered: kRead < kExecute < kWrite, a
// higher level implying the lower ones. Reading a value needs kRead,
// resolving references for a container needs kExecute, writing needs kWrite.
//
//   RETURN_IF_ERROR(authorizer->Check(principal, {"prod", "db"},
//   AccessLevel::kRead));
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_ACCESS_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_ACCESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace zlayer::secrets {

enum class AccessLevel : int {
  kNone = 0,
  kRead = 1,
  kExecute = 2,
  kWrite = 3,
};

// "none", "read", "execute", "write".
absl::string_view AccessLevelName(AccessLevel level);
// Parses a trimmed, lower-cased level name; "none" is not accepted.
absl::optional<AccessLevel> ParseAccessLevel(absl::string_view text);

enum class Transport { kUnix, kTls, kInsecureTcp, kInProcess };

struct Principal {
  Transport transport = Transport::kUnix;
  // Unix socket peers (SO_PEERCRED); -1 when unknown.
  int64_t uid = -1;
  int64_t gid = -1;
  int64_t pid = -1;
  // API key id when one was presented and verified.
  std::string api_key_id;
  // Roles granted by the API key or by configuration ("admin", ...).
  std::vector<std::string> roles;

  bool HasRole(absl::string_view role) const;
  // A stable, log-safe description: "uid:1000", "apikey:ci", "anonymous".
  std::string Subject() const;
};

// What an access check is about: a scope, optionally one secret in it
// ("" name = the scope as a whole, e.g. for listing).
struct Resource {
  std::string scope;
  std::string name;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // OK, or PermissionDenied "<subject> lacks <level> on <scope>[/<name>]".
  // Must be cheap: it runs before every store access.
  virtual absl::Status Check(const Principal& principal,
                             const Resource& resource,
                             AccessLevel level) const = 0;
  // Administrative actions (environments, keys, grants): admin only.
  virtual absl::Status CheckAdmin(const Principal& principal) const = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_ACCESS_H_
