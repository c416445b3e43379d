// ConsumerGraph: who runs which version of which secret. A consumer is a
// caller-chosen identity such as "deployment/service/instance"; the daemon
// records consumer -> (scope, name, version, last seen) whenever a consumer
// resolves or watches, and forgets a consumer that has neither an open
// watch nor resolved anything for `expiry`. Never holds a value.
//
//   ConsumerGraph graph(&clock, ConsumerGraphOptions{});
//   graph.Record("prod/api/7", {{{"prod", "db"}, 3}});
//   graph.WatchOpened("prod/api/7");
//   graph.Users({"prod", "db"});           // [{prod/api/7, v3, watching}]
//   graph.LiveOnVersion({"prod", "db"}, 3);  // 1
//
// Bounded: Record answers ResourceExhausted once max_entries (consumer,
// secret) pairs are held and none has expired. Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_WATCH_CONSUMER_GRAPH_H_
#define ZLAYER_SECRETS_CORE_WATCH_CONSUMER_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct ConsumerGraphOptions {
  // A consumer without an open watch is forgotten this long after its last
  // resolve.
  absl::Duration expiry = absl::Hours(1);
  // (consumer, secret) pairs held at most.
  size_t max_entries = 100000;
};

// One consumer's use of one secret.
struct ConsumerUse {
  std::string consumer;
  SecretKey secret;
  uint32_t version = 0;   // the version it last resolved
  absl::Time last_seen;   // when it last resolved or watched
  bool watching = false;  // it has an open watch stream
};

// A consumer identity: 1..256 bytes of printable ASCII without spaces.
// InvalidArgument otherwise (the message never echoes the input).
absl::Status ValidateConsumer(absl::string_view consumer);

class ConsumerGraph {
 public:
  // `clock` is not owned and must outlive the graph.
  ConsumerGraph(Clock* clock, ConsumerGraphOptions options);

  // `consumer` now holds these versions (other secrets it uses are kept).
  // ResourceExhausted when the graph is full; nothing is recorded then.
  absl::Status Record(
      absl::string_view consumer,
      const std::vector<std::pair<SecretKey, uint32_t>>& versions);

  // Open watch streams keep a consumer alive; calls must pair up.
  void WatchOpened(absl::string_view consumer);
  void WatchClosed(absl::string_view consumer);

  // The live consumers of `secret`, ordered by consumer.
  std::vector<ConsumerUse> Users(const SecretKey& secret);
  // How many live consumers hold `version` of `secret`.
  size_t LiveOnVersion(const SecretKey& secret, uint32_t version);
  // Forgets expired consumers; returns how many (consumer, secret) pairs
  // went. Also done by every other method.
  size_t Expire();

 private:
  struct Consumer {
    absl::flat_hash_map<SecretKey, uint32_t> versions;
    absl::Time last_seen;
    int watches = 0;
  };

  size_t ExpireLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const ConsumerGraphOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Consumer> consumers_ ABSL_GUARDED_BY(mu_);
  size_t entries_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_WATCH_CONSUMER_GRAPH_H_
