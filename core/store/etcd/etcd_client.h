// EtcdClient: the one way this project talks to an etcd v3 cluster. It wraps
// the KV stubs generated from etcd's own .proto files (third_party/etcd_proto)
// with what every caller needs and should not re-invent:
//
//   - several endpoints, one gRPC channel each; calls are spread round-robin
//     over the endpoints that are not backing off, and a call that fails
//     with UNAVAILABLE / DEADLINE_EXCEEDED / ABORTED (member down, no leader,
//     leader changed) is retried on the next endpoint;
//   - a deadline on every attempt (call_timeout) and on the whole call with
//     its retries (total_timeout): nothing hangs;
//   - an endpoint that failed backs off exponentially (initial_backoff,
//     doubling up to max_backoff) before calls prefer it again; gRPC's own
//     channel reconnects under the same bounds;
//   - optional TLS with a client certificate (etcd's --client-cert-auth).
//
//   EtcdClientOptions options;
//   options.endpoints = {"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"};
//   ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> etcd,
//                    EtcdClient::Create(options));
//   etcdserverpb::RangeRequest range;
//   range.set_key("/zlayer-secrets/meta/store_id");
//   ASSIGN_OR_RETURN(etcdserverpb::RangeResponse r, etcd->Range(range));
//
// Retried writes: a Txn whose response was lost may have been applied. The
// client retries it anyway; callers make their Txns safe to repeat (every
// EtcdSecretStore write compares the row's mod_revision and records an op id
// in it, so a repeat fails its compare and the caller sees its own op id).
//
// Errors: Unavailable when no endpoint answered within total_timeout (the
// message says how many endpoints were tried and the last gRPC error);
// InvalidArgument for bad options; other gRPC errors map to the matching
// absl code (etcd's OUT_OF_RANGE "required revision has been compacted"
// stays OutOfRange). Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_CLIENT_H_
#define ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace zlayer::secrets {

struct EtcdClientOptions {
  // "host:port" of each member's client URL; at least one.
  std::vector<std::string> endpoints;
  // Deadline of one attempt on one endpoint.
  absl::Duration call_timeout = absl::Seconds(2);
  // Deadline of a call with all its retries.
  absl::Duration total_timeout = absl::Seconds(10);
  // Endpoint backoff after a failure: initial, doubling, capped.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  // TLS: when ca_cert_file is set the channels use TLS and trust that CA;
  // cert_file and key_file (PEM) add a client certificate. All or none of
  // cert/key.
  std::string ca_cert_file;
  std::string cert_file;
  std::string key_file;
};

class EtcdClient {
 public:
  // InvalidArgument for no endpoints, an endpoint that is not host:port, or
  // unreadable TLS files. Does not contact etcd (channels connect lazily).
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(
      const EtcdClientOptions& options);

  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  absl::StatusOr<etcdserverpb::RangeResponse> Range(
      const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(
      const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(
      const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request);

  // Leases (etcd's Lease service), for locks whose key goes away when
  // their holder dies (EtcdSecretStore's key-rotation lock). LeaseGrant
  // asks for `ttl` (whole seconds, at least 1); the answer's TTL is what
  // etcd granted. LeaseKeepAliveOnce renews `id` once over a short-lived
  // stream and returns the TTL now left: 0 or less when the lease has
  // expired (or never existed). LeaseRevoke deletes the lease and every key
  // attached to it (NotFound-free: revoking an expired lease is OK).
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(
      absl::Duration ttl);
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t id);
  absl::Status LeaseRevoke(int64_t id);

  // Opens a Watch stream (etcd's bidirectional Watch RPC) on the next
  // endpoint in turn, so a watcher that reconnects after a failure lands on
  // another member. No deadline: a watch lasts until `context` is cancelled
  // (EtcdWatcher, core/store/etcd/etcd_watcher.h, does that). `context`
  // must outlive the stream.
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                           etcdserverpb::WatchResponse>>
  OpenWatch(grpc::ClientContext* context);

  const EtcdClientOptions& options() const { return options_; }
  // Attempts that failed and were retried on another endpoint, so far.
  uint64_t failovers() const { return failovers_.load(); }

 private:
  struct Endpoint {
    std::string address;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    // Guarded by mu_: when calls may prefer this endpoint again, and the
    // backoff the next failure gets.
    absl::Time retry_after = absl::InfinitePast();
    absl::Duration backoff;
  };

  explicit EtcdClient(EtcdClientOptions options);

  // Runs `attempt` on endpoints in turn until it succeeds, fails with a
  // code that is not worth retrying, or total_timeout passes.
  template <typename Response, typename Attempt>
  absl::StatusOr<Response> Call(absl::string_view method, Attempt attempt);
  // The endpoint the next attempt goes to.
  size_t PickEndpoint();
  void MarkFailed(size_t index);
  void MarkHealthy(size_t index);

  const EtcdClientOptions options_;
  std::vector<Endpoint> endpoints_;
  absl::Mutex mu_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> failovers_{0};
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_ETCD_ETCD_CLIENT_H_
