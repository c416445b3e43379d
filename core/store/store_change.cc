#include "core/store/store_change.h"

namespace zlayer::secrets {

absl::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kSet:
      return "set";
    case ChangeKind::kRotate:
      return "rotate";
    case ChangeKind::kRollback:
      return "rollback";
    case ChangeKind::kDelete:
      return "delete";
    case ChangeKind::kUndelete:
      return "undelete";
    case ChangeKind::kDestroy:
      return "destroy";
    case ChangeKind::kEnvironment:
      return "environment";
  }
  return "unknown";
}

}  // namespace zlayer::secrets
