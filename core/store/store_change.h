// The change-notification hook of the store layer: what changed (never a
// value) and who is told. A SecretStore does not notify by itself; the
// daemon wraps its local store in an ObservedSecretStore
// (core/store/observed_secret_store.h), and a backend with a change stream
// of its own (etcd's Watch, for writes made through other daemons) feeds the
// same StoreChangeObserver from that stream. Duplicates (a local write seen
// again through such a stream) are harmless: observers coalesce by secret.
//
//   class Printer : public StoreChangeObserver {
//     void OnStoreChange(const StoreChange& c) override { ... c.name ... }
//   };
//   ObservedSecretStore store(&sqlite_store, &printer);
//   store.SetSecret("prod", "db", value, {});   // Printer sees kSet, v1
#ifndef ZLAYER_SECRETS_CORE_STORE_STORE_CHANGE_H_
#define ZLAYER_SECRETS_CORE_STORE_STORE_CHANGE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace zlayer::secrets {

enum class ChangeKind {
  kSet,       // a new version written by SetSecret (or an import)
  kRotate,    // a new version written by RotateSecret
  kRollback,  // a new version copied from an old one by RollbackSecret
  kDelete,    // soft delete
  kUndelete,  // soft delete reversed
  kDestroy,   // every version removed
  // An environment created, renamed or deleted (core/env): `scope` is the
  // environment's scope, `name` is "", and the environment_* fields say
  // which one. References by environment name may resolve differently now.
  kEnvironment,
};

// "set", "rotate", ...: for logs and the CLI.
absl::string_view ChangeKindName(ChangeKind kind);

// One committed change. Metadata only: a value is never part of it.
struct StoreChange {
  ChangeKind kind = ChangeKind::kSet;
  std::string scope;
  std::string name;
  uint32_t version = 0;           // the version now current (0: none live)
  uint32_t previous_version = 0;  // the version current before (0: none)
  // kEnvironment only (empty otherwise). Initialized, so that the brace
  // lists of secret changes ({kind, scope, name, v, prev}) stay complete.
  std::string environment_id = {};
  std::string environment_project = {};        // "" = global
  std::string environment_name = {};           // its name now ("" once deleted)
  std::string previous_environment_name = {};  // before ("" if created)
};

// Told about every committed change. Called on the writer's thread after the
// write committed and outside the store's locks: an implementation must be
// thread-safe and must not block (it may not call back into the store on
// that thread).
class StoreChangeObserver {
 public:
  virtual ~StoreChangeObserver() = default;
  virtual void OnStoreChange(const StoreChange& change) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_STORE_CHANGE_H_
