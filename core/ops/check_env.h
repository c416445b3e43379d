// CheckEnvMap: the dry run of ResolveEnv (Secrets.CheckEnv) — parses and
// locates every entry of an env map and says, per entry, whether the caller
// may execute it and whether the secret exists, without reading a value.
//
//   ASSIGN_OR_RETURN(EnvCheck check,
//                    CheckEnvMap(store, envs, env, context, may_execute,
//                                may_read, keep_going));
//
// Thread-safe if the store and registry are.
#ifndef ZLAYER_SECRETS_CORE_OPS_CHECK_ENV_H_
#define ZLAYER_SECRETS_CORE_OPS_CHECK_ENV_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/env/environment_registry.h"
#include "core/resolve/resolver.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct CheckedEnvEntry {
  std::string key;
  bool is_reference = false;
  // Set once the reference parsed, even when its environment is unknown.
  std::string reference;  // canonical form
  std::string scope;      // "" when the scope could not be found
  std::string name;
  std::string field;
  bool readable = false;  // the caller may execute it
  bool exists = false;    // shown only to callers with read access
  uint32_t version = 0;   // with `exists`
  std::string error;      // "" = resolvable; never holds a value
};

struct EnvCheck {
  std::vector<CheckedEnvEntry> entries;  // ordered by key
  bool ok = true;                        // every entry resolvable
};

// `may_execute` decides `readable`; `may_read` whether existence and version
// (metadata, read without decrypting) are shown. `keep_going` is asked
// before each entry's metadata read; its error ends the check. A metadata
// read failing other than NotFound is returned.
absl::StatusOr<EnvCheck> CheckEnvMap(
    SecretStore* store, EnvironmentRegistry* environments,
    const std::map<std::string, std::string>& env,
    const ResolveContext& context, const AccessCheck& may_execute,
    const AccessCheck& may_read,
    const std::function<absl::Status()>& keep_going);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_CHECK_ENV_H_
