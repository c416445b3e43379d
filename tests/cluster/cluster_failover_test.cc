// Failure modes of cluster mode, end to end: a real 3-member etcd cluster
// (Debian's /usr/bin/etcd on loopback) and real zlayer-secretsd processes
// with --store etcd, each on its own Unix socket.
//   - client failover: SecretsClient and the CLI given both daemons; SIGKILL
//     of daemon A: reads go on through B with no error reaching the caller,
//     a write that never reached A (no connection) is sent to B and
//     succeeds; A restarted serves again and sees what B wrote; B stopped
//     (SIGSTOP, hanging) costs a read one per-daemon attempt timeout, then
//     A answers;
//   - quorum loss: 2 of 3 etcd members killed: writes fail UNAVAILABLE
//     ("no quorum") inside the caller's deadline instead of hanging; after
//     the members return, the secret holds exactly the acknowledged
//     versions and a failed write left nothing.
// Figures (failover time, how long a write took to fail) are printed, not
// asserted. Skipped, with the reason, only when /usr/bin/etcd is missing.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/secrets.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/etcd_cluster.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::TempDir;

constexpr absl::Duration kWait = absl::Seconds(60);

class ClusterFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    auto etcd = EtcdCluster::Start(3);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    const std::string key(32, 'M');
    const int fd = ::open(dir_.Sub("master.key").c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, key.data(), key.size()),
              static_cast<ssize_t>(key.size()));
    ::close(fd);
  }

  std::string Socket(const std::string& name) {
    return dir_.Sub(name + ".sock");
  }

  std::unique_ptr<DaemonProcess> StartDaemon(
      const std::string& name, std::vector<std::string> extra = {}) {
    ::mkdir(dir_.Sub(name).c_str(), 0700);
    std::vector<std::string> args = {
        "--data-dir",       dir_.Sub(name),
        "--key-file",       dir_.Sub("master.key"),
        "--socket",         Socket(name),
        "--store",          "etcd",
        "--etcd-endpoints", etcd_->JoinedEndpoints(),
        "--etcd-prefix",    "/zs-failover-test"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::StartReadyDaemon(dir_, args, kWait);
  }

  std::unique_ptr<SecretsClient> Client(const std::string& address,
                                        absl::Duration deadline) {
    ClientOptions options;
    options.address = address;
    options.default_deadline = deadline;
    auto client = SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  static v1::SetSecretRequest SetRequest(const std::string& name,
                                         const std::string& value) {
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    request.set_value(value);
    return request;
  }
  static v1::GetSecretRequest GetRequest(const std::string& name) {
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    return request;
  }

  testing::ProcessResult Cli(const std::vector<std::string>& args,
                             const std::string& input = "") {
    std::vector<std::string> argv = {
        testing::Runfile("client/zlayer-secret"), "--socket",
        absl::StrCat(Socket("a"), ",", Socket("b")), "--deployment", "prod"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv, input, {"HOME=" + dir_.path()});
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(ClusterFailoverTest, ClientsFailOverToTheOtherDaemonAndBack) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  const std::string both = absl::StrCat(Socket("a"), ",", Socket("b"));
  auto client = Client(both, absl::Seconds(20));
  ASSERT_NE(client, nullptr);
  auto first = client->SetSecret(SetRequest("shared", "from-a"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(client->CurrentAddress(), Socket("a"));

  a->Signal(SIGKILL);
  ASSERT_TRUE(a->WaitForExit(kWait).ok());

  // Reads go on through B; the caller never sees an error.
  const absl::Time killed = absl::Now();
  absl::Duration first_read;
  for (int i = 0; i < 50; ++i) {
    auto read = client->GetSecret(GetRequest("shared"));
    ASSERT_TRUE(read.ok()) << "read " << i << ": " << read.status();
    EXPECT_EQ(read->value(), "from-a");
    if (i == 0) first_read = absl::Now() - killed;
  }
  EXPECT_EQ(client->CurrentAddress(), Socket("b"));

  // A new client lists A first: its write finds no connection to A, so it
  // was provably not sent there, and goes to B.
  auto fresh = Client(both, absl::Seconds(20));
  ASSERT_NE(fresh, nullptr);
  const absl::Time write_start = absl::Now();
  auto written = fresh->SetSecret(SetRequest("shared", "from-b"));
  const absl::Duration write_failover = absl::Now() - write_start;
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->metadata().version(), 2u);
  EXPECT_EQ(fresh->CurrentAddress(), Socket("b"));

  // The CLI with both sockets does the same.
  testing::ProcessResult set = Cli({"set", "cli", "--from-stdin"}, "by-cli");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  testing::ProcessResult get = Cli({"get", "cli", "--reveal"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("by-cli"));

  // A comes back and serves what B wrote while it was gone.
  a.reset();
  auto again = StartDaemon("a");
  ASSERT_NE(again, nullptr);
  auto only_a = Client(Socket("a"), absl::Seconds(20));
  ASSERT_NE(only_a, nullptr);
  auto caught_up = only_a->GetSecret(GetRequest("shared"));
  ASSERT_TRUE(caught_up.ok()) << caught_up.status();
  EXPECT_EQ(caught_up->value(), "from-b");
  EXPECT_EQ(caught_up->version(), 2u);
  auto cli_secret = only_a->GetSecret(GetRequest("cli"));
  ASSERT_TRUE(cli_secret.ok()) << cli_secret.status();
  EXPECT_EQ(cli_secret->value(), "by-cli");

  // B hangs (SIGSTOP) instead of dying: the long-lived client, sticky on B,
  // gives B one attempt_timeout and reads through the restarted A.
  ASSERT_EQ(client->CurrentAddress(), Socket("b"));
  b->Signal(SIGSTOP);
  const absl::Time stopped = absl::Now();
  auto via_a = client->GetSecret(GetRequest("shared"));
  const absl::Duration hung_read = absl::Now() - stopped;
  b->Signal(SIGCONT);
  ASSERT_TRUE(via_a.ok()) << via_a.status();
  EXPECT_EQ(via_a->value(), "from-b");
  EXPECT_EQ(client->CurrentAddress(), Socket("a"));

  std::printf(
      "failover figures: first read after SIGKILL of daemon A answered by B "
      "in %s; a fresh client's write (A listed first, refused) answered by B "
      "in %s; read with the sticky daemon B stopped (SIGSTOP) answered by "
      "A in %s (attempt_timeout 2s)\n",
      absl::FormatDuration(first_read).c_str(),
      absl::FormatDuration(write_failover).c_str(),
      absl::FormatDuration(hung_read).c_str());
}

TEST_F(ClusterFailoverTest, QuorumLossFailsWritesUnavailableAndLosesNothing) {
  // The daemon gives each etcd request 2 s; the caller's deadline is longer,
  // so a daemon that hung would show up as DEADLINE_EXCEEDED here.
  auto a = StartDaemon("a", {"--etcd-timeout", "2s"});
  ASSERT_NE(a, nullptr);
  auto client = Client(Socket("a"), absl::Seconds(15));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SetSecret(SetRequest("q", "v1")).ok());
  ASSERT_TRUE(client->SetSecret(SetRequest("q", "v2")).ok());

  // Kill the leader and one follower: the last member can neither lead nor
  // reach one, and no member holds an uncommitted proposal that could be
  // committed later.
  auto leader = etcd_->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int follower = (*leader + 1) % 3;
  etcd_->Kill(*leader);
  etcd_->Kill(follower);

  absl::Duration slowest;
  for (const char* name : {"q", "absent", "q"}) {
    const absl::Time start = absl::Now();
    auto r = client->SetSecret(SetRequest(name, "during-outage"));
    slowest = std::max(slowest, absl::Now() - start);
    // It returned, and with the daemon's answer, not the client's deadline.
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("no quorum"));
  }
  auto read = client->GetSecret(GetRequest("q"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable)
      << read.status();

  ASSERT_TRUE(etcd_->Restart(*leader).ok()) << etcd_->Log(*leader);
  ASSERT_TRUE(etcd_->Restart(follower).ok()) << etcd_->Log(follower);

  // Service returns. The daemon's etcd channels may still be backing off:
  // wait with reads (a write retried here could be applied twice, since a
  // failed write's outcome is unknown), then write once.
  absl::StatusOr<v1::GetSecretResponse> back;
  for (absl::Time until = absl::Now() + kWait; absl::Now() < until;) {
    back = client->GetSecret(GetRequest("q"));
    if (back.ok()) break;
    ASSERT_EQ(back.status().code(), absl::StatusCode::kUnavailable)
        << back.status();
  }
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->value(), "v2");
  auto after = client->SetSecret(SetRequest("q", "v3"));
  ASSERT_TRUE(after.ok()) << after.status();

  // Exactly the acknowledged versions: 1, 2 and 3; nothing of the failed
  // writes.
  v1::ListVersionsRequest list;
  list.mutable_target()->set_scope("prod");
  list.set_name("q");
  auto versions = client->ListVersions(list);
  ASSERT_TRUE(versions.ok()) << versions.status();
  std::vector<uint32_t> numbers;
  for (const auto& v : versions->versions()) numbers.push_back(v.version());
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(after->metadata().version(), 3u);
  for (uint32_t version : {1u, 2u, 3u}) {
    v1::GetSecretRequest get = GetRequest("q");
    get.set_version(version);
    auto r = client->GetSecret(get);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value(), absl::StrCat("v", version));
  }
  EXPECT_EQ(client->GetSecret(GetRequest("absent")).status().code(),
            absl::StatusCode::kNotFound);

  std::printf(
      "quorum-loss figures: etcd members %d (leader) and %d killed; slowest "
      "failed SetSecret returned after %s (--etcd-timeout 2s)\n",
      *leader, follower, absl::FormatDuration(slowest).c_str());
}

}  // namespace
}  // namespace zlayer::secrets
