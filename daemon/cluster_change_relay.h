// ClusterChangeRelay: in cluster mode (--store etcd), where the changes made
// through every daemon arrive, from etcd's Watch
// (EtcdSecretStore::WatchChanges), before they reach this daemon's watchers.
// In order, for each change:
//   1. the identity caches follow it: a grant of "system:grants" is re-read
//      into the GrantStore's index, an API key of "system:api_keys" leaves
//      the ApiKeyStore's verification cache (the next Verify reads etcd);
//   2. the ChangeFeed gets it, so WatchEnv/WatchSecrets streams on this
//      daemon hear of a change made through any daemon (and a watcher that
//      re-checks its access sees the grant index already updated).
// The etcd watch is the feed's only source in cluster mode: this daemon's
// own writes come back through it too, once each.
//
// Resync (etcd compacted the history the watch would resume from): every
// grant is re-read, the verification cache emptied and every watcher told
// to resync.
#ifndef ZLAYER_SECRETS_DAEMON_CLUSTER_CHANGE_RELAY_H_
#define ZLAYER_SECRETS_DAEMON_CLUSTER_CHANGE_RELAY_H_

#include "absl/status/status.h"
#include "core/identity/api_key_store.h"
#include "core/identity/grant_store.h"
#include "core/store/store_change.h"
#include "core/watch/change_feed.h"

namespace zlayer::secrets {

class ClusterChangeRelay final : public StoreChangeObserver {
 public:
  // None is owned; all must outlive the relay.
  ClusterChangeRelay(GrantStore* grants, ApiKeyStore* api_keys,
                     ChangeFeed* feed)
      : grants_(grants), api_keys_(api_keys), feed_(feed) {}

  void OnStoreChange(const StoreChange& change) override;
  // For EtcdSecretStore::WatchChanges' on_resync; an error is retried.
  absl::Status Resync();

 private:
  GrantStore* const grants_;
  ApiKeyStore* const api_keys_;
  ChangeFeed* const feed_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_CLUSTER_CHANGE_RELAY_H_
