#include "core/env/environment_registry.h"

#include <sodium.h>

#include <cstdlib>

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

bool LooksLikeUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

std::string NewUuidV4() {
  // sodium_init is idempotent and thread-safe.
  if (sodium_init() < 0) std::abort();
  uint8_t b[16];
  randombytes_buf(b, sizeof(b));
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
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
