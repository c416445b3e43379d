// EtcdWatcher: follows every change under one key prefix through etcd's
// Watch RPC, from a given revision on, on a thread of its own, and never
// misses one:
//
//   - the stream asks for each event's previous key-value (prev_kv), so a
//     caller can tell what a change was (EtcdSecretStore::ChangeOfEvent);
//   - when the stream breaks (member down, leader change, network), the
//     watcher reopens it on the next endpoint from the revision after the
//     last one it delivered, with exponential backoff (the client's
//     initial_backoff doubling up to max_backoff);
//   - when that revision is no longer in etcd's history (compacted), it
//     calls on_resync instead: the caller re-reads the state it keeps, and
//     the watch goes on from the revision current before that re-read. A
//     failed on_resync is retried after the backoff.
//
//   EtcdWatcher::Callbacks callbacks;
//   callbacks.on_events = [](const std::vector<mvccpb::Event>& events) {...};
//   callbacks.on_resync = [] { return ReloadEverything(); };
//   ASSIGN_OR_RETURN(int64_t now, EtcdWatcher::CurrentRevision(client));
//   ... read the initial state ...
//   auto watcher = EtcdWatcher::Start(client, "/zlayer-secrets/", now + 1,
//                                     std::move(callbacks));
//
// Callbacks run on the watcher's thread, one at a time, in revision order;
// the events of one revision come in one call. Destroying the watcher
// cancels the stream and joins the thread (a callback in progress finishes
// first). Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_WATCHER_H_
#define ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_WATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/store/etcd/etcd_client.h"
#include "etcd/mvcc/mvccpb/kv.pb.h"

namespace zlayer::secrets {

class EtcdWatcher {
 public:
  struct Callbacks {
    // The events of one or more revisions, oldest first.
    std::function<void(const std::vector<mvccpb::Event>& events)> on_events;
    // History was compacted past the resume revision: re-read the state.
    std::function<absl::Status()> on_resync;
    // Optional: told why the watch was interrupted (stream broken,
    // compaction, failed resync), for the caller's log. Never a value.
    std::function<void(const absl::Status& why)> on_interrupted;
  };

  // The cluster's current revision (a linearizable Range).
  static absl::StatusOr<int64_t> CurrentRevision(EtcdClient& client);

  // Starts watching keys that begin with `key_prefix` from `start_revision`
  // (> 0). `client` is borrowed and must outlive the watcher.
  static std::unique_ptr<EtcdWatcher> Start(EtcdClient* client,
                                            std::string key_prefix,
                                            int64_t start_revision,
                                            Callbacks callbacks);

  EtcdWatcher(const EtcdWatcher&) = delete;
  EtcdWatcher& operator=(const EtcdWatcher&) = delete;
  ~EtcdWatcher();

  // The revision the watch resumes after (every event up to it delivered).
  int64_t delivered_revision() const { return delivered_.load(); }
  // Streams reopened after a failure, and resyncs after a compaction.
  uint64_t reconnects() const { return reconnects_.load(); }
  uint64_t resyncs() const { return resyncs_.load(); }

 private:
  EtcdWatcher(EtcdClient* client, std::string key_prefix,
              int64_t start_revision, Callbacks callbacks);

  void Run();
  // One stream, until it fails or is cancelled; true when it ended because
  // the resume revision was compacted.
  bool RunStream();
  void Report(const absl::Status& status);
  // Waits `pause` or until Stop; false once stopping.
  bool Pause(absl::Duration pause);

  EtcdClient* const client_;
  const std::string key_prefix_;
  const Callbacks callbacks_;
  std::atomic<int64_t> delivered_;
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> resyncs_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, so Stop can cancel it.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_WATCHER_H_
