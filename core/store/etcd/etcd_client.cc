#include "core/store/etcd/etcd_client.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "grpcpp/grpcpp.h"

namespace zlayer::secrets {
namespace {

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the etcd ", what, " file ", path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status ValidateEndpoint(absl::string_view endpoint) {
  // An IPv6 literal would be "[::1]:2379"; take the port after the last ':'.
  const size_t colon = endpoint.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint '", endpoint,
                     "' is not host:port (e.g. 10.0.0.1:2379)"));
  }
  return absl::OkStatus();
}

bool Retryable(grpc::StatusCode code) {
  // UNAVAILABLE: member down, connection refused, "etcdserver: no leader",
  // "leader changed". DEADLINE_EXCEEDED: this attempt's deadline (the total
  // one is checked separately). ABORTED: etcd aborts some requests during a
  // leader election.
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::ABORTED;
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd: ", s.error_message()));
}

std::chrono::system_clock::time_point ToChrono(absl::Time t) {
  return absl::ToChronoTime(t);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    const EtcdClientOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("no etcd endpoints given");
  }
  for (const std::string& e : options.endpoints) {
    RETURN_IF_ERROR(ValidateEndpoint(e));
  }
  if (options.call_timeout <= absl::ZeroDuration() ||
      options.total_timeout < options.call_timeout) {
    return absl::InvalidArgumentError(
        "etcd call timeout must be positive and at most the total timeout");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "etcd client certificate and key must be given together");
  }
  if (!options.cert_file.empty() && options.ca_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "an etcd client certificate needs --etcd-cacert (TLS)");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.ca_cert_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs,
                     ReadPemFile(options.ca_cert_file, "CA certificate"));
    if (!options.cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                       ReadPemFile(options.cert_file, "client certificate"));
      ASSIGN_OR_RETURN(ssl.pem_private_key,
                       ReadPemFile(options.key_file, "client key"));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::unique_ptr<EtcdClient> client(new EtcdClient(options));
  for (const std::string& address : options.endpoints) {
    grpc::ChannelArguments args;
    // gRPC reconnects a broken channel by itself; bound its backoff by ours
    // so a member that comes back is used again soon.
    args.SetInt(
        GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff)));
    args.SetInt(
        GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff)));
    args.SetInt(
        GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
    // Values are up to 1 MiB sealed, and batches hold many.
    args.SetMaxReceiveMessageSize(64 << 20);
    // One channel per endpoint, and not shared with other clients in the
    // process, so a dead member's channel never delays another's.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    Endpoint endpoint;
    endpoint.address = address;
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(address, credentials, args);
    endpoint.kv = etcdserverpb::KV::NewStub(channel);
    endpoint.watch = etcdserverpb::Watch::NewStub(channel);
    endpoint.lease = etcdserverpb::Lease::NewStub(channel);
    endpoint.backoff = options.initial_backoff;
    client->endpoints_.push_back(std::move(endpoint));
  }
  return client;
}

EtcdClient::EtcdClient(EtcdClientOptions options)
    : options_(std::move(options)) {}

size_t EtcdClient::PickEndpoint() {
  const size_t n = endpoints_.size();
  const size_t start = next_.fetch_add(1) % n;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  // The first healthy endpoint from a rotating start; if every one is
  // backing off, the one whose backoff ends first.
  size_t best = start;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (start + i) % n;
    if (endpoints_[index].retry_after <= now) return index;
    if (endpoints_[index].retry_after < endpoints_[best].retry_after) {
      best = index;
    }
  }
  return best;
}

void EtcdClient::MarkFailed(size_t index) {
  absl::MutexLock lock(&mu_);
  Endpoint& e = endpoints_[index];
  e.retry_after = absl::Now() + e.backoff;
  e.backoff = std::min(e.backoff * 2, options_.max_backoff);
}

void EtcdClient::MarkHealthy(size_t index) {
  absl::MutexLock lock(&mu_);
  Endpoint& e = endpoints_[index];
  e.retry_after = absl::InfinitePast();
  e.backoff = options_.initial_backoff;
}

// Deadlines and backoff here read the real clock on purpose, not an injected
// Clock: they bound real network calls, and gRPC's own deadlines are
// wall-clock too (a fake clock could not make a call return sooner).
template <typename Response, typename Attempt>
absl::StatusOr<Response> EtcdClient::Call(absl::string_view method,
                                          Attempt attempt) {
  const absl::Time overall = absl::Now() + options_.total_timeout;
  grpc::Status last;
  int attempts = 0;
  bool connect_failed = false;  // some attempt never got a connection
  absl::Duration pause = options_.initial_backoff;
  while (true) {
    const size_t index = PickEndpoint();
    grpc::ClientContext context;
    context.set_deadline(
        ToChrono(std::min(absl::Now() + options_.call_timeout, overall)));
    Response response;
    last = attempt(endpoints_[index], &context, &response);
    ++attempts;
    if (last.ok()) {
      MarkHealthy(index);
      return response;
    }
    if (!Retryable(last.error_code())) return FromGrpc(last);
    if (absl::StrContains(last.error_message(), "failed to connect")) {
      connect_failed = true;
    }
    MarkFailed(index);
    failovers_.fetch_add(1);
    const absl::Time now = absl::Now();
    if (now >= overall) break;
    // After a full round of failures (every member down, or no leader during
    // an election) wait a little before going round again.
    if (attempts % endpoints_.size() == 0) {
      absl::SleepFor(std::min(pause, overall - now));
      pause = std::min(pause * 2, options_.max_backoff);
    }
  }
  // gRPC's own text for a refused handshake ("tcp handshaker shutdown")
  // does not say what to check; say it.
  absl::string_view hint;
  if (connect_failed) {
    hint = options_.ca_cert_file.empty()
               ? " (no connection was made: are the members up at these "
                 "addresses, and do they expect TLS?)"
               : " (no TLS connection was made: are the members up, are "
                 "their certificates signed by the configured CA, and do "
                 "they accept this client certificate?)";
  }
  return absl::UnavailableError(absl::StrCat(
      "etcd unavailable (the etcd cluster has no quorum, or no "
      "member is reachable): ",
      method, " failed ", attempts, " attempts on ", endpoints_.size(),
      " endpoint(s) within ", absl::FormatDuration(options_.total_timeout),
      "; last error: ", last.error_message(), hint));
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  return Call<etcdserverpb::RangeResponse>(
      "Range", [&](Endpoint& e, grpc::ClientContext* context,
                   etcdserverpb::RangeResponse* response) {
        return e.kv->Range(context, request, response);
      });
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(
    const etcdserverpb::TxnRequest& request) {
  return Call<etcdserverpb::TxnResponse>(
      "Txn", [&](Endpoint& e, grpc::ClientContext* context,
                 etcdserverpb::TxnResponse* response) {
        return e.kv->Txn(context, request, response);
      });
}

absl::StatusOr<etcdserverpb::PutResponse> EtcdClient::Put(
    const etcdserverpb::PutRequest& request) {
  return Call<etcdserverpb::PutResponse>(
      "Put", [&](Endpoint& e, grpc::ClientContext* context,
                 etcdserverpb::PutResponse* response) {
        return e.kv->Put(context, request, response);
      });
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> EtcdClient::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request) {
  return Call<etcdserverpb::DeleteRangeResponse>(
      "DeleteRange", [&](Endpoint& e, grpc::ClientContext* context,
                         etcdserverpb::DeleteRangeResponse* response) {
        return e.kv->DeleteRange(context, request, response);
      });
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(
    absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
  ASSIGN_OR_RETURN(
      etcdserverpb::LeaseGrantResponse granted,
      Call<etcdserverpb::LeaseGrantResponse>(
          "LeaseGrant", [&](Endpoint& e, grpc::ClientContext* context,
                            etcdserverpb::LeaseGrantResponse* response) {
            return e.lease->LeaseGrant(context, request, response);
          }));
  if (!granted.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd refused a lease: ", granted.error()));
  }
  return granted;
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t id) {
  ASSIGN_OR_RETURN(etcdserverpb::LeaseKeepAliveResponse renewed,
                   Call<etcdserverpb::LeaseKeepAliveResponse>(
                       "LeaseKeepAlive",
                       [&](Endpoint& e, grpc::ClientContext* context,
                           etcdserverpb::LeaseKeepAliveResponse* response) {
                         auto stream = e.lease->LeaseKeepAlive(context);
                         etcdserverpb::LeaseKeepAliveRequest request;
                         request.set_id(id);
                         if (stream->Write(request)) stream->Read(response);
                         stream->WritesDone();
                         return stream->Finish();
                       }));
  return renewed.ttl();
}

absl::Status EtcdClient::LeaseRevoke(int64_t id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  absl::StatusOr<etcdserverpb::LeaseRevokeResponse> revoked =
      Call<etcdserverpb::LeaseRevokeResponse>(
          "LeaseRevoke", [&](Endpoint& e, grpc::ClientContext* context,
                             etcdserverpb::LeaseRevokeResponse* response) {
            return e.lease->LeaseRevoke(context, request, response);
          });
  // An expired lease is gone already: what revoking wanted.
  if (absl::IsNotFound(revoked.status())) return absl::OkStatus();
  return revoked.status();
}

std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                         etcdserverpb::WatchResponse>>
EtcdClient::OpenWatch(grpc::ClientContext* context) {
  return endpoints_[PickEndpoint()].watch->Watch(context);
}

}  // namespace zlayer::secrets
