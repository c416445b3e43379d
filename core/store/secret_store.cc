#include "core/store/secret_store.h"

#include "core/base/status_macros.h"
#include "core/base/text_validation.h"

namespace zlayer::secrets {

absl::Status ValidateName(absl::string_view name) {
  RETURN_IF_ERROR(ValidateText(name, "secret name", 1, kMaxNameBytes));
  if (name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "secret name contains '/' (a name is a single path segment)");
  }
  return absl::OkStatus();
}

absl::Status ValidateScope(absl::string_view scope) {
  return ValidateText(scope, "scope", 1, kMaxScopeBytes);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
SecretsProvider::ReadVersions(const std::vector<VersionedKey>& /*keys*/) {
  return absl::UnimplementedError(
      "this secrets provider cannot read pinned versions");
}

}  // namespace zlayer::secrets
