// A real etcd cluster for tests: 1 or 3 members of Debian's /usr/bin/etcd on
// free loopback ports, each with its own data directory under a fresh temp
// dir, started and killed by pid. Members die with the test binary
// (PR_SET_PDEATHSIG).
//
//   if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdCluster> etcd,
//                        EtcdCluster::Start(3));
//   options.client.endpoints = etcd->ClientEndpoints();
//   etcd->Kill(*etcd->LeaderIndex());   // SIGKILL the Raft leader
//
// With StartTls the client ports serve TLS (etcd's --cert-file/--key-file)
// and, with client_cert_auth, demand a client certificate signed by the CA
// (--client-cert-auth --trusted-ca-file); peers stay on plain loopback HTTP.
//
// Not thread-safe (one test thread drives it).
#ifndef ZLAYER_SECRETS_TESTS_TESTUTIL_ETCD_CLUSTER_H_
#define ZLAYER_SECRETS_TESTS_TESTUTIL_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "grpcpp/channel.h"

namespace zlayer::secrets::testing {

class EtcdCluster {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";
  static constexpr const char* kMissing =
      "/usr/bin/etcd is not installed (apt-get install etcd-server, or "
      "./x setup); the etcd tests need a real etcd";
  // True when /usr/bin/etcd is executable.
  static bool Available();

  // Starts `members` members (1 or 3) and waits (up to `ready_timeout`)
  // until a linearizable read succeeds on every member's client port. A
  // member that lost its port to another process ("address already in
  // use") makes it start the cluster again on new ports (3 tries).
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      int members, absl::Duration ready_timeout = absl::Seconds(60));

  // TLS on the client ports (PEM files). The cluster's own probes present
  // client_cert/client_key.
  struct Tls {
    std::string ca_cert;
    std::string server_cert, server_key;
    std::string client_cert, client_key;
    bool client_cert_auth = true;
  };
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> StartTls(
      int members, Tls tls, absl::Duration ready_timeout = absl::Seconds(60));
  ~EtcdCluster();  // SIGKILLs and reaps every member still running

  int size() const { return static_cast<int>(members_.size()); }
  // "127.0.0.1:PORT" of every member, in member order.
  std::vector<std::string> ClientEndpoints() const;
  // The same joined with ','.
  std::string JoinedEndpoints() const;

  // The index of the member that is the Raft leader now (asked of the
  // running members). Unavailable if none answers or there is no leader.
  absl::StatusOr<int> LeaderIndex();
  // SIGKILLs member `index` and reaps it.
  void Kill(int index);
  // Starts a killed member again on its data dir and ports, and waits until
  // it serves linearizable reads.
  absl::Status Restart(int index,
                       absl::Duration ready_timeout = absl::Seconds(60));
  bool running(int index) const { return members_[index].pid > 0; }
  // The member's log (its stderr), for failure messages.
  std::string Log(int index) const;

 private:
  struct Member {
    std::string name;
    std::string data_dir;
    std::string log_path;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
  };
  EtcdCluster() = default;
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> StartMembers(
      int members, absl::optional<Tls> tls, absl::Duration ready_timeout);
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> StartOnce(
      int members, const absl::optional<Tls>& tls,
      absl::Duration ready_timeout);
  absl::Status Spawn(int index, bool initial);
  std::string ClientUrl(int port) const;  // http or https
  // A channel to member `index`'s client port, TLS when the cluster has it.
  std::shared_ptr<grpc::Channel> MemberChannel(int index) const;
  absl::Status WaitServing(int index, absl::Time deadline);

  std::string dir_;
  std::string initial_cluster_;
  std::string token_;
  std::vector<Member> members_;
  absl::optional<Tls> tls_;
};

}  // namespace zlayer::secrets::testing

#endif  // ZLAYER_SECRETS_TESTS_TESTUTIL_ETCD_CLUSTER_H_
