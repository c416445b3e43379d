#include "core/ops/environment_ops.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::Status DeleteEmptyEnvironment(EnvironmentRegistry* registry,
                                    SecretStore* store,
                                    const Environment& env) {
  ListOptions one;
  one.page_size = 1;
  ASSIGN_OR_RETURN(ListPage page, store->List(EnvironmentScope(env), one));
  if (!page.secrets.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "environment '", env.name, "' still holds secrets; delete them first"));
  }
  return registry->Delete(env.id);
}

}  // namespace zlayer::secrets
