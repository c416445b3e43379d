// Environments: named targets (id, name, optional project) whose secrets live
// in their own scope. The registry turns the `--env NAME|ID` of the CLI and
// the env part of `$S::env/x`, `$S:project:env/x` and `$secret://env/KEY`
// into a scope (it is upstream's EnvScopeProvider).
//
//   ASSIGN_OR_RETURN(Environment e, registry->Create("staging", "", ""));
//   ASSIGN_OR_RETURN(std::string scope, registry->ResolveScope("staging", ""));
//   // scope == "env:" + e.id
//
// Names are unique within a project ("" = global); ids are UUID v4 strings.
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_ENV_ENVIRONMENT_REGISTRY_H_
#define ZLAYER_SECRETS_CORE_ENV_ENVIRONMENT_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/ids.h"  // NewUuidV4, LooksLikeUuid

namespace zlayer::secrets {

struct Environment {
  std::string id;       // UUID v4, lowercase
  std::string name;     // 1..256 bytes, unique within project
  std::string project;  // "" = global
  std::string description;
  int64_t created_at = 0;  // Unix seconds
  int64_t updated_at = 0;
};

// The scope string of an environment: "env:{id}" or "project:{p}:env:{id}".
std::string EnvironmentScope(const Environment& env);

// Rules shared by every registry. NormalizeEnvironmentName trims ASCII
// whitespace and returns the name, or InvalidArgument when it is blank,
// longer than kMaxEnvironmentNameBytes, not UTF-8, holds control characters
// or '/', or looks like a UUID (ids and names must never be confused).
// ValidateProject accepts "" (global) or 1..256 bytes of UTF-8 without
// control characters, ':' or '/' (it is spliced into a scope string).
// ValidateDescription accepts up to kMaxEnvironmentDescriptionBytes of UTF-8.
inline constexpr size_t kMaxEnvironmentNameBytes = 256;
inline constexpr size_t kMaxEnvironmentDescriptionBytes = 4096;
absl::StatusOr<std::string> NormalizeEnvironmentName(absl::string_view name);
absl::Status ValidateProject(absl::string_view project);
absl::Status ValidateDescription(absl::string_view description);

// The NotFound that Find() returns: names the scope searched and the
// environments known there (names are not secret).
absl::Status EnvironmentNotFound(absl::string_view name_or_id,
                                 absl::string_view project,
                                 const std::vector<std::string>& known_names);

class EnvironmentRegistry {
 public:
  virtual ~EnvironmentRegistry() = default;

  // InvalidArgument for a blank/oversized name; AlreadyExists when the name
  // is taken in that project.
  virtual absl::StatusOr<Environment> Create(absl::string_view name,
                                             absl::string_view project,
                                             absl::string_view description) = 0;
  // NotFound if no environment has this id.
  virtual absl::StatusOr<Environment> Get(absl::string_view id) = 0;
  // Environments of `project` ("" = global ones), ordered by name.
  virtual absl::StatusOr<std::vector<Environment>> List(
      absl::string_view project) = 0;
  // Renames / re-describes. An empty `name` keeps the current name; the
  // description is always replaced. NotFound, AlreadyExists as above.
  virtual absl::StatusOr<Environment> Update(absl::string_view id,
                                             absl::string_view name,
                                             absl::string_view description) = 0;
  // NotFound if absent. The caller checks the scope is empty first.
  virtual absl::Status Delete(absl::string_view id) = 0;

  // Finds an environment by id (UUID shape, either case; any project) or by
  // exact name within `project` ("" = global). NotFound lists the known names.
  virtual absl::StatusOr<Environment> Find(absl::string_view name_or_id,
                                           absl::string_view project) = 0;
  // Find() then EnvironmentScope().
  absl::StatusOr<std::string> ResolveScope(absl::string_view name_or_id,
                                           absl::string_view project) {
    auto env = Find(name_or_id, project);
    if (!env.ok()) return env.status();
    return EnvironmentScope(*env);
  }
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_ENV_ENVIRONMENT_REGISTRY_H_
