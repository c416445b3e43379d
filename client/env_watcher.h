// Follows a WatchEnv stream (docs/watch.md) across reconnects: when the
// stream ends (the daemon's drain, a restart, a lost connection) it waits a
// backoff (0.2 s doubling to 5 s, reset by a message) and reopens it with the
// last position, so no change is missed; a position too old comes back as a
// message with `resync` set.
//
//   EnvWatcher watcher(client, request);
//   absl::Status ended = watcher.Run(
//       [](const v1::WatchEnvResponse& m) { /* receipt, changes, errors */ },
//       [](const absl::Status& why) { /* reconnecting */ });
//   // from another thread: watcher.Stop();
//
// Messages never hold values (the client re-resolves with ResolveEnv).
//
// Thread safety: Run() on one thread at a time; Stop() from any thread.
#ifndef ZLAYER_SECRETS_CLIENT_ENV_WATCHER_H_
#define ZLAYER_SECRETS_CLIENT_ENV_WATCHER_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/secrets_client.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

struct EnvWatcherOptions {
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // false: a refusal (any end other than OK or UNAVAILABLE: bad input,
  // PERMISSION_DENIED, RESOURCE_EXHAUSTED) ends Run with it. true: every end
  // is retried after the backoff (a supervisor keeps its child running and
  // keeps trying).
  bool retry_refusals = false;
};

class EnvWatcher {
 public:
  // `client` must outlive the watcher. The request's resume_position is
  // where the first stream starts ("" for the current receipt).
  EnvWatcher(SecretsClient* client, v1::WatchEnvRequest request,
             EnvWatcherOptions options = {});
  ~EnvWatcher();

  EnvWatcher(const EnvWatcher&) = delete;
  EnvWatcher& operator=(const EnvWatcher&) = delete;

  // Reads messages until Stop(), calling `on_message` for each (on this
  // thread) and `on_reconnect` with the reason each time a stream ended and
  // is about to be reopened. Returns OK after Stop(), or the refusal that
  // ended the watch (see EnvWatcherOptions::retry_refusals).
  absl::Status Run(
      const std::function<void(const v1::WatchEnvResponse&)>& on_message,
      const std::function<void(const absl::Status&)>& on_reconnect);

  // Ends Run promptly (cancels the open stream, cuts a backoff short).
  // Thread-safe; later Run calls return at once.
  void Stop();

 private:
  SecretsClient* const client_;
  v1::WatchEnvRequest request_;  // resume_position follows the messages
  const EnvWatcherOptions options_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* open_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_ENV_WATCHER_H_
