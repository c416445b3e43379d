// Cluster mode end to end: a real 3-member etcd cluster (Debian's
// /usr/bin/etcd on loopback) and two real zlayer-secretsd processes with
// --store etcd and the same master key, each on its own Unix socket.
//   - a write acknowledged by daemon A is read by daemon B right after,
//     every time (linearizable across daemons);
//   - SIGKILL of the etcd leader during a write loop through A: no
//     acknowledged write is lost (each is read back through B), and writes
//     succeed again after the election;
//   - SIGKILL of daemon A: B keeps serving reads and writes;
//   - a daemon with a different master key is refused at start, and writes
//     nothing.
// Skipped, with the reason, only when /usr/bin/etcd is not installed.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/etcd_cluster.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(60);

void WriteKeyFile(const std::string& path, char fill) {
  const std::string key(32, fill);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, key.data(), key.size()),
            static_cast<ssize_t>(key.size()));
  ::close(fd);
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    auto etcd = EtcdCluster::Start(3);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    WriteKeyFile(dir_.Sub("master.key"), 'M');
  }

  std::vector<std::string> Args(const std::string& name,
                                const std::string& key_file) {
    ::mkdir(dir_.Sub(name).c_str(), 0700);
    return {"--data-dir",       dir_.Sub(name),
            "--key-file",       key_file,
            "--socket",         dir_.Sub(name + ".sock"),
            "--store",          "etcd",
            "--etcd-endpoints", etcd_->JoinedEndpoints(),
            "--etcd-prefix",    "/zs-cluster-test"};
  }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& name) {
    return testing::StartReadyDaemon(dir_, Args(name, dir_.Sub("master.key")),
                                     kWait);
  }

  std::unique_ptr<v1::Secrets::Stub> Client(const std::string& name) {
    return v1::Secrets::NewStub(UnixChannel(dir_.Sub(name + ".sock")));
  }

  static grpc::Status Set(v1::Secrets::Stub& stub, const std::string& name,
                          const std::string& value, uint32_t* version,
                          absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    request.set_value(value);
    v1::SetSecretResponse response;
    grpc::Status s = stub.SetSecret(&context, request, &response);
    if (s.ok() && version != nullptr) *version = response.metadata().version();
    return s;
  }

  static grpc::Status Get(v1::Secrets::Stub& stub, const std::string& name,
                          std::string* value, uint32_t* version = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    v1::GetSecretResponse response;
    grpc::Status s = stub.GetSecret(&context, request, &response);
    if (s.ok()) {
      *value = response.value();
      if (version != nullptr) *version = response.version();
    }
    return s;
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(ClusterTest, WriteOnOneDaemonIsReadOnTheOtherRightAfter) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto client_a = Client("a");
  auto client_b = Client("b");
  for (int i = 1; i <= 200; ++i) {
    const std::string value = absl::StrCat("value-", i);
    uint32_t written = 0;
    grpc::Status set = Set(*client_a, "ryw", value, &written);
    ASSERT_TRUE(set.ok()) << set.error_message();
    std::string read;
    uint32_t version = 0;
    grpc::Status get = Get(*client_b, "ryw", &read, &version);
    ASSERT_TRUE(get.ok()) << get.error_message();
    ASSERT_EQ(read, value) << "iteration " << i;
    ASSERT_EQ(version, written);
  }
}

TEST_F(ClusterTest, KillingTheEtcdLeaderLosesNoAcknowledgedWrite) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto client_a = Client("a");
  auto client_b = Client("b");
  constexpr int kWrites = 120;
  constexpr int kKillAt = 40;
  std::vector<int> acknowledged;
  int failed = 0;
  absl::Duration longest_gap;
  absl::Time last_ack = absl::Now();
  int killed = -1;
  for (int i = 0; i < kWrites; ++i) {
    if (i == kKillAt) {
      auto leader = etcd_->LeaderIndex();
      ASSERT_TRUE(leader.ok()) << leader.status();
      killed = *leader;
      etcd_->Kill(killed);
    }
    grpc::Status s =
        Set(*client_a, absl::StrCat("w", i), absl::StrCat("v", i), nullptr);
    if (s.ok()) {
      acknowledged.push_back(i);
      longest_gap = std::max(longest_gap, absl::Now() - last_ack);
      last_ack = absl::Now();
    } else {
      ++failed;
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
          << s.error_message();
    }
  }
  // Service resumed: the writes after the kill were acknowledged again.
  ASSERT_FALSE(acknowledged.empty());
  EXPECT_GE(acknowledged.back(), kKillAt);
  int lost = 0;
  for (int i : acknowledged) {
    std::string value;
    grpc::Status s = Get(*client_b, absl::StrCat("w", i), &value);
    if (!s.ok() || value != absl::StrCat("v", i)) ++lost;
  }
  EXPECT_EQ(lost, 0);
  // Figures for docs/cluster.md (not asserted).
  std::printf(
      "cluster figures: killed etcd member %d (leader); writes %d, "
      "acknowledged %zu, failed %d, lost %d; longest gap between "
      "acknowledgements %s\n",
      killed, kWrites, acknowledged.size(), failed, lost,
      absl::FormatDuration(longest_gap).c_str());
  // The killed member rejoins and the cluster is whole again.
  ASSERT_TRUE(etcd_->Restart(killed).ok());
  uint32_t version = 0;
  EXPECT_TRUE(Set(*client_b, "after-restart", "x", &version).ok());
}

TEST_F(ClusterTest, KillingOneDaemonLeavesTheOtherServing) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto client_a = Client("a");
  auto client_b = Client("b");
  ASSERT_TRUE(Set(*client_a, "shared", "from-a", nullptr).ok());
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->WaitForExit(kWait).ok());
  std::string value;
  grpc::Status get = Get(*client_b, "shared", &value);
  ASSERT_TRUE(get.ok()) << get.error_message();
  EXPECT_EQ(value, "from-a");
  ASSERT_TRUE(Set(*client_b, "shared", "from-b", nullptr).ok());
  // A restarted daemon A sees what B wrote while it was gone.
  a.reset();
  auto again = StartDaemon("a");
  ASSERT_NE(again, nullptr);
  auto client_again = Client("a");
  ASSERT_TRUE(Get(*client_again, "shared", &value).ok());
  EXPECT_EQ(value, "from-b");
}

TEST_F(ClusterTest, DaemonWithAnotherMasterKeyIsRefusedAtStart) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto client_a = Client("a");
  ASSERT_TRUE(Set(*client_a, "s", "v", nullptr).ok());
  WriteKeyFile(dir_.Sub("other.key"), 'X');
  auto wrong =
      DaemonProcess::Start(Args("w", dir_.Sub("other.key")), dir_.path());
  ASSERT_TRUE(wrong.ok());
  auto status = (*wrong)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_TRUE(absl::StrContains((*wrong)->Stderr(), "key check failed"))
      << (*wrong)->Stderr();
  // Daemon A still reads the same single version.
  std::string value;
  uint32_t version = 0;
  ASSERT_TRUE(Get(*client_a, "s", &value, &version).ok());
  EXPECT_EQ(value, "v");
  EXPECT_EQ(version, 1u);
}

}  // namespace
}  // namespace zlayer::secrets
