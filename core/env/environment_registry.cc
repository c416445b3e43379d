#include "core/env/environment_registry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"

namespace zlayer::secrets {

std::string EnvironmentScope(const Environment& env) {
  if (env.project.empty()) return absl::StrCat("env:", env.id);
  return absl::StrCat("project:", env.project, ":env:", env.id);
}

absl::StatusOr<std::string> NormalizeEnvironmentName(absl::string_view name) {
  name = absl::StripAsciiWhitespace(name);
  RETURN_IF_ERROR(
      ValidateText(name, "environment name", 1, kMaxEnvironmentNameBytes));
  if (name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError("environment name contains '/'");
  }
  if (LooksLikeUuid(name)) {
    return absl::InvalidArgumentError(
        "environment name must not look like a UUID (ids take that form)");
  }
  return std::string(name);
}

absl::Status ValidateProject(absl::string_view project) {
  if (project.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateText(project, "project", 1, 256));
  if (project.find_first_of(":/") != absl::string_view::npos) {
    return absl::InvalidArgumentError("project contains ':' or '/'");
  }
  return absl::OkStatus();
}

absl::Status ValidateDescription(absl::string_view description) {
  if (description.size() > kMaxEnvironmentDescriptionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("description is longer than ",
                     kMaxEnvironmentDescriptionBytes, " bytes"));
  }
  if (!IsValidUtf8(description)) {
    return absl::InvalidArgumentError("description is not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status EnvironmentNotFound(absl::string_view name_or_id,
                                 absl::string_view project,
                                 const std::vector<std::string>& known_names) {
  const std::string where = project.empty()
                                ? "global scope"
                                : absl::StrCat("project '", project, "' scope");
  if (LooksLikeUuid(name_or_id)) {
    return absl::NotFoundError(
        absl::StrCat("no environment has id '", name_or_id, "'"));
  }
  if (known_names.empty()) {
    return absl::NotFoundError(absl::StrCat("environment '", name_or_id,
                                            "' not found: no environments in ",
                                            where));
  }
  return absl::NotFoundError(
      absl::StrCat("environment '", name_or_id, "' not found in ", where,
                   "; known environments: ", absl::StrJoin(known_names, ", ")));
}

}  // namespace zlayer::secrets
