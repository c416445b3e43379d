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

  // Delegated identity (docs/identity.md, "Delegated identity"): set only
  // on a principal built by ActingAs(), when a caller holding an
  // impersonate grant asserted an end user. `actor` is the asserting
  // caller's Subject() ("apikey:api-server", "uid:1001"); `user` and
  // `groups` are the ids asserted (without "user:"/"group:"). Such a
  // principal has no API key, roles, uid or gid of its own: it is
  // authorized by the grants of "user:<user>" and "group:<g>" only.
  std::string actor;
  std::string user;
  std::vector<std::string> groups;

  // Node identity (docs/identity.md, "Node affinity"): the node names and
  // labels ("key=value") this caller speaks for — from its API key's
  // `node:<name>` / `node-label:<key>=<value>` roles, or, with mTLS, its
  // client certificate's name. Empty = no node: secrets with a node
  // affinity are invisible to it (core/identity/node_affinity_view.h). A
  // delegated principal has none.
  std::vector<std::string> node_names;
  std::vector<std::string> node_labels;

  bool HasRole(absl::string_view role) const;
  bool IsDelegated() const { return !actor.empty(); }
  // A stable, log-safe description: "uid:1000", "apikey:ci", "anonymous",
  // "user:alice" for a delegated principal.
  std::string Subject() const;
};

// The principal `actor` asserts: user `user` in `groups`, on the actor's
// transport, with none of the actor's own rights. Does not check that the
// actor may (Authorizer::CheckImpersonate does).
Principal ActingAs(const Principal& actor, absl::string_view user,
                   std::vector<std::string> groups);

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
  // OK when `actor` may assert "user:<user>" and every "group:<g>" of
  // `groups`, else PermissionDenied naming the first subject it may not
  // assert. The default denies every impersonation.
  virtual absl::Status CheckImpersonate(
      const Principal& actor, absl::string_view user,
      const std::vector<std::string>& groups) const;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_ACCESS_H_
