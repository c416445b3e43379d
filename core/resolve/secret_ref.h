// Secret references: the strings in an environment map that name a secret.
//
//   $S:name                  deployment scope
//   $S:name/field            deployment scope, JSON field of the value
//   $S:@service/name[/f]     service scope "{deployment}/{service}"; f may
//                            hold '/'
//   $S::env/name[/field]     environment `env` (global)
//   $S:project:env/name[/f]  environment `env` of `project`
//   $secret://env/KEY[/f]    URL form: environment `env`, secret KEY
//
// The `$S:` grammar and rendering follow upstream exactly (see
// docs/compatibility.md, "`$S:` grammar"): for every string that parses,
// ToString() re-parses to an equal value and equals the input, except
// `$S:@svc/name/` which renders as `$S:@svc/name`.
//
//   ASSIGN_OR_RETURN(SecretRef ref, SecretRef::Parse("$S:@api/db/password"));
//   ref.service == "api", ref.name == "db", ref.field == "password"
#ifndef ZLAYER_SECRETS_CORE_RESOLVE_SECRET_REF_H_
#define ZLAYER_SECRETS_CORE_RESOLVE_SECRET_REF_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace zlayer::secrets {

inline constexpr absl::string_view kSecretRefPrefix = "$S:";
inline constexpr absl::string_view kSecretUrlPrefix = "$secret://";

// True when `value` starts with exactly "$S:" (even if it does not parse).
bool IsSecretRef(absl::string_view value);
// True when `value` starts with exactly "$secret://".
bool IsSecretUrl(absl::string_view value);

struct SecretRef {
  std::string name;
  absl::optional<std::string> service;
  absl::optional<std::string> project;
  absl::optional<std::string> environment;
  absl::optional<std::string> field;

  // Returns InvalidArgument, with a message that says which part is wrong
  // and at which byte offset of `input`, for anything upstream rejects, e.g.
  //   invalid secret reference "$S:a:b": ':' is only allowed in environment
  //   references (offset 4)
  // The message quotes the reference itself, C-escaped (references are not
  // secret). Thread-safe (no shared state).
  static absl::StatusOr<SecretRef> Parse(absl::string_view input);

  // Canonical rendering (docs/compatibility.md, "`$S:` grammar").
  std::string ToString() const;

  bool is_deployment_level() const {
    return !service && !project && !environment;
  }
  bool is_service_level() const { return service.has_value(); }
  bool is_environment_level() const { return environment.has_value(); }
  bool is_project_environment_level() const { return project && environment; }
  bool has_field() const { return field.has_value(); }

  bool operator==(const SecretRef& o) const {
    return name == o.name && service == o.service && project == o.project &&
           environment == o.environment && field == o.field;
  }
  bool operator!=(const SecretRef& o) const { return !(*this == o); }
};

// `$secret://env/KEY[/field]` (docs/compatibility.md, "`$secret://` (URL
// form)"). The field is everything after the second '/', may contain '/', and
// may be present but empty.
struct SecretUrlRef {
  std::string environment;
  std::string key;
  absl::optional<std::string> field;

  // InvalidArgument (with the failing part and offset) for a missing '/',
  // empty environment or empty key.
  static absl::StatusOr<SecretUrlRef> Parse(absl::string_view input);
  std::string ToString() const;

  bool operator==(const SecretUrlRef& o) const {
    return environment == o.environment && key == o.key && field == o.field;
  }
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_RESOLVE_SECRET_REF_H_
