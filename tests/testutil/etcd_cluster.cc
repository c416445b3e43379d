#include "tests/testutil/etcd_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets::testing {
namespace {

// A port the kernel says is free on 127.0.0.1 (bound to port 0, then
// released). Another process could take it in between; etcd then fails to
// start and the test reports it.
absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return absl::InternalError("bind to a free port failed");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string Url(int port) { return absl::StrCat("http://127.0.0.1:", port); }

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

bool EtcdCluster::Available() { return ::access(kBinary, X_OK) == 0; }

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    int members, absl::Duration ready_timeout) {
  return StartMembers(members, absl::nullopt, ready_timeout);
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::StartTls(
    int members, Tls tls, absl::Duration ready_timeout) {
  return StartMembers(members, std::move(tls), ready_timeout);
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::StartMembers(
    int members, absl::optional<Tls> tls, absl::Duration ready_timeout) {
  // A port FreeLoopbackPort found free can be taken by another process
  // before etcd binds it (tests run in parallel): start again on new ports.
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster;
  for (int attempt = 0; attempt < 3; ++attempt) {
    cluster = StartOnce(members, tls, ready_timeout);
    if (cluster.ok() || !absl::StrContains(cluster.status().message(),
                                           "address already in use")) {
      break;
    }
  }
  return cluster;
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::StartOnce(
    int members, const absl::optional<Tls>& tls, absl::Duration ready_timeout) {
  if (!Available()) return absl::FailedPreconditionError(kMissing);
  if (members != 1 && members != 3) {
    return absl::InvalidArgumentError("an EtcdCluster has 1 or 3 members");
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  cluster->tls_ = tls;
  cluster->dir_ = MakeTempDir();
  cluster->token_ =
      absl::StrCat("zs-", ::getpid(), "-", absl::ToUnixNanos(absl::Now()));
  std::vector<std::string> peers;
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.data_dir = absl::StrCat(cluster->dir_, "/", m.name, ".etcd");
    m.log_path = absl::StrCat(cluster->dir_, "/", m.name, ".log");
    auto client = FreeLoopbackPort();
    if (!client.ok()) return client.status();
    auto peer = FreeLoopbackPort();
    if (!peer.ok()) return peer.status();
    m.client_port = *client;
    m.peer_port = *peer;
    peers.push_back(absl::StrCat(m.name, "=", Url(m.peer_port)));
    cluster->members_.push_back(std::move(m));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  for (int i = 0; i < members; ++i) {
    absl::Status s = cluster->Spawn(i, /*initial=*/true);
    if (!s.ok()) return s;
  }
  const absl::Time deadline = absl::Now() + ready_timeout;
  for (int i = 0; i < members; ++i) {
    absl::Status s = cluster->WaitServing(i, deadline);
    if (!s.ok()) return s;
  }
  return cluster;
}

std::string EtcdCluster::ClientUrl(int port) const {
  return absl::StrCat(tls_.has_value() ? "https" : "http",
                      "://127.0.0.1:", port);
}

std::shared_ptr<grpc::Channel> EtcdCluster::MemberChannel(int index) const {
  const std::string target =
      absl::StrCat("127.0.0.1:", members_[index].client_port);
  if (!tls_.has_value()) {
    return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrEmpty(tls_->ca_cert);
  ssl.pem_cert_chain = ReadFileOrEmpty(tls_->client_cert);
  ssl.pem_private_key = ReadFileOrEmpty(tls_->client_key);
  return grpc::CreateChannel(target, grpc::SslCredentials(ssl));
}

absl::Status EtcdCluster::Spawn(int index, bool initial) {
  Member& m = members_[index];
  std::vector<std::string> args = {
      kBinary,
      "--name",
      m.name,
      "--data-dir",
      m.data_dir,
      "--listen-client-urls",
      ClientUrl(m.client_port),
      "--advertise-client-urls",
      ClientUrl(m.client_port),
      "--listen-peer-urls",
      Url(m.peer_port),
      "--initial-advertise-peer-urls",
      Url(m.peer_port),
      "--initial-cluster",
      initial_cluster_,
      "--initial-cluster-token",
      token_,
      "--initial-cluster-state",
      initial ? "new" : "existing",
      // Short Raft timers: elections after a leader kill finish in well
      // under a second on loopback.
      "--heartbeat-interval",
      "50",
      "--election-timeout",
      "500",
      "--logger",
      "zap",
      "--log-outputs",
      "stderr",
  };
  if (tls_.has_value()) {
    args.insert(args.end(), {"--cert-file", tls_->server_cert, "--key-file",
                             tls_->server_key});
    if (tls_->client_cert_auth) {
      args.insert(args.end(),
                  {"--client-cert-auth", "--trusted-ca-file", tls_->ca_cert});
    }
  }
  const int log_fd = ::open(m.log_path.c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", m.log_path));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // The member dies with the test binary, whatever way it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execv(kBinary, argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitServing(int index, absl::Time deadline) {
  const Member& m = members_[index];
  auto kv = etcdserverpb::KV::NewStub(MemberChannel(index));
  grpc::Status last;
  while (absl::Now() < deadline) {
    int status = 0;
    if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      members_[index].pid = -1;
      return absl::InternalError(absl::StrCat(
          "etcd member ", m.name, " exited at start; log:\n", Log(index)));
    }
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Seconds(1))));
    context.set_wait_for_ready(true);
    etcdserverpb::RangeRequest request;
    request.set_key("zs-ready-probe");
    etcdserverpb::RangeResponse response;
    last = kv->Range(&context, request, &response);
    if (last.ok()) return absl::OkStatus();
    // Not serving yet (no leader elected): poll again shortly.
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("etcd member ", m.name, " did not serve in time (",
                   last.error_message(), "); log:\n", Log(index)));
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::vector<std::string> EtcdCluster::ClientEndpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) {
    out.push_back(absl::StrCat("127.0.0.1:", m.client_port));
  }
  return out;
}

std::string EtcdCluster::JoinedEndpoints() const {
  return absl::StrJoin(ClientEndpoints(), ",");
}

absl::StatusOr<int> EtcdCluster::LeaderIndex() {
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    auto maintenance = etcdserverpb::Maintenance::NewStub(MemberChannel(i));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    etcdserverpb::StatusResponse status;
    if (!maintenance->Status(&context, etcdserverpb::StatusRequest(), &status)
             .ok() ||
        status.leader() == 0) {
      continue;
    }
    // Ask each running member its id to find which one leads.
    for (int j = 0; j < size(); ++j) {
      if (!running(j)) continue;
      auto m = etcdserverpb::Maintenance::NewStub(MemberChannel(j));
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      etcdserverpb::StatusResponse s;
      if (m->Status(&ctx, etcdserverpb::StatusRequest(), &s).ok() &&
          s.header().member_id() == status.leader()) {
        return j;
      }
    }
  }
  return absl::UnavailableError("no etcd member reports a leader");
}

void EtcdCluster::Kill(int index) {
  Member& m = members_[index];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  int status = 0;
  while (::waitpid(m.pid, &status, 0) < 0 && errno == EINTR) {
  }
  m.pid = -1;
}

absl::Status EtcdCluster::Restart(int index, absl::Duration ready_timeout) {
  if (running(index)) return absl::FailedPreconditionError("still running");
  // The data dir holds the membership: start as a member of the existing
  // cluster.
  absl::Status s = Spawn(index, /*initial=*/false);
  if (!s.ok()) return s;
  return WaitServing(index, absl::Now() + ready_timeout);
}

std::string EtcdCluster::Log(int index) const {
  std::ifstream in(members_[index].log_path);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  // The tail is what explains a failure.
  if (text.size() > 4000) text = text.substr(text.size() - 4000);
  return text;
}

}  // namespace zlayer::secrets::testing
