#include "daemon/cluster_change_relay.h"

#include <string>

#include "core/base/status_macros.h"
#include "core/identity/identity_records.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {

void ClusterChangeRelay::OnStoreChange(const StoreChange& change) {
  if (change.scope == kGrantsScope) {
    absl::Status refreshed = grants_->Refresh(change.name);
    if (!refreshed.ok()) {
      // The grant left the index (no access from it) until it is re-read.
      spdlog::warn("event=cluster_grant_refresh_failed grant={} error=\"{}\"",
                   change.name, std::string(refreshed.message()));
    }
  } else if (change.scope == kApiKeysScope) {
    api_keys_->InvalidateCached(change.name);
  }
  feed_->OnStoreChange(change);
}

absl::Status ClusterChangeRelay::Resync() {
  RETURN_IF_ERROR(grants_->Reload());
  api_keys_->InvalidateAllCached();
  feed_->ResyncAll();
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
