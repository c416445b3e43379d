#include "core/ops/check_env.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::StatusOr<EnvCheck> CheckEnvMap(
    SecretStore* store, EnvironmentRegistry* environments,
    const std::map<std::string, std::string>& env,
    const ResolveContext& context, const AccessCheck& may_execute,
    const AccessCheck& may_read,
    const std::function<absl::Status()>& keep_going) {
  EnvCheck check;
  ResolvePlan plan = Resolver(store, environments).Plan(env, context);
  for (const PlannedEntry& entry : plan.entries) {
    // One metadata read per entry: stop once nobody waits for the answer.
    RETURN_IF_ERROR(keep_going());
    CheckedEnvEntry& out = check.entries.emplace_back();
    out.key = entry.key;
    out.is_reference = entry.is_reference;
    if (!entry.is_reference) continue;
    if (!entry.target.name.empty()) {
      // Parsed: the canonical reference is known even when its
      // environment is not.
      out.reference = entry.reference;
      out.scope = entry.target.scope;
      out.name = entry.target.name;
      out.field = entry.field;
    }
    if (!entry.status.ok()) {
      out.error = std::string(entry.status.message());
      check.ok = false;
      continue;
    }
    absl::Status executable = may_execute(entry.target);
    out.readable = executable.ok();
    // Existence and version are metadata: shown to callers with read on the
    // secret, and found without reading (or decrypting) the value.
    if (may_read(entry.target).ok()) {
      absl::StatusOr<SecretMetadata> metadata =
          store->GetMetadata(entry.target.scope, entry.target.name);
      if (metadata.ok() && !metadata->deleted) {
        out.exists = true;
        out.version = metadata->version;
      } else if (!metadata.ok() && !absl::IsNotFound(metadata.status())) {
        return metadata.status();
      }
    }
    if (!executable.ok()) {
      out.error = std::string(executable.message());
    } else if (!out.exists) {
      out.error =
          absl::StrCat("secret '", entry.target.name, "' not found in scope '",
                       entry.target.scope, "'");
    }
    if (!out.error.empty()) check.ok = false;
  }
  return check;
}

}  // namespace zlayer::secrets
