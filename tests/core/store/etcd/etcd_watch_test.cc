// The cluster change stream against a real etcd (Debian's /usr/bin/etcd,
// one member on a free loopback port): EtcdSecretStore::WatchChanges on one
// store instance hears the writes made through another instance on the same
// prefix (another daemon), with the right kinds and versions, in order;
// a watch whose resume revision was compacted resyncs; a watch whose etcd
// member restarts resumes without losing an event.
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/base/clock.h"
#include "core/base/status_macros.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "core/store/etcd/etcd_watcher.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }

// Collects changes; waits for a count.
class Collector final : public StoreChangeObserver {
 public:
  void OnStoreChange(const StoreChange& change) override {
    absl::MutexLock lock(&mu_);
    changes_.push_back(change);
  }
  // The changes once there are at least `n` (fewer at the deadline).
  std::vector<StoreChange> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n] {
      mu_.AssertReaderHeld();
      return changes_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return changes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<StoreChange> changes_ ABSL_GUARDED_BY(mu_);
};

class EtcdWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    auto etcd_or = EtcdCluster::Start(1);
    ASSERT_TRUE(etcd_or.ok()) << etcd_or.status();
    etcd_ = *std::move(etcd_or);
  }

  absl::StatusOr<std::unique_ptr<EtcdSecretStore>> Open() {
    EtcdStoreOptions options;
    options.client.endpoints = etcd_->ClientEndpoints();
    options.client.max_backoff = absl::Milliseconds(200);
    options.prefix = "/zs-watch";
    ASSIGN_OR_RETURN(
        std::unique_ptr<Keyring> ring,
        Keyring::Create(1, SecretBytes::FromString(std::string(32, 'K'))));
    return EtcdSecretStore::Open(options, std::move(ring), &clock_);
  }

  FakeClock clock_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(EtcdWatchTest, AnotherInstancesWritesArriveInOrderWithTheirKinds) {
  auto a_or = Open();
  ASSERT_TRUE(a_or.ok()) << a_or.status();
  auto a = *std::move(a_or);
  auto b_or = Open();
  ASSERT_TRUE(b_or.ok()) << b_or.status();
  auto b = *std::move(b_or);
  auto now_or = EtcdWatcher::CurrentRevision(b->client());
  ASSERT_TRUE(now_or.ok()) << now_or.status();
  int64_t now = *std::move(now_or);
  Collector seen;
  int resyncs = 0;
  auto watch = b->WatchChanges(
      now + 1, &seen,
      [&resyncs] {
        ++resyncs;
        return absl::OkStatus();
      },
      nullptr);

  ASSERT_OK(a->SetSecret("prod", "db", V("one"), {}).status());
  ASSERT_OK(a->RotateSecret("prod", "db", V("two")).status());
  ASSERT_OK(a->DeleteSecret("prod", "db"));
  ASSERT_OK(a->UndeleteSecret("prod", "db"));
  ASSERT_OK(a->DestroySecret("prod", "db"));
  ASSERT_OK(a->SetSecret("system:grants", "g-1", V("{}"), {}).status());

  std::vector<StoreChange> changes = seen.WaitFor(6);
  ASSERT_EQ(changes.size(), 6u);  // one per write: no version/keyring keys
  struct Want {
    ChangeKind kind;
    const char* scope;
    uint32_t version, previous;
  };
  const Want want[] = {
      {ChangeKind::kSet, "prod", 1, 0},
      {ChangeKind::kSet, "prod", 2, 1},
      {ChangeKind::kDelete, "prod", 0, 2},
      {ChangeKind::kUndelete, "prod", 2, 0},
      {ChangeKind::kDestroy, "prod", 0, 2},
      {ChangeKind::kSet, "system:grants", 1, 0},
  };
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(changes[i].kind, want[i].kind);
    EXPECT_EQ(changes[i].scope, want[i].scope);
    EXPECT_EQ(changes[i].version, want[i].version);
    EXPECT_EQ(changes[i].previous_version, want[i].previous);
  }
  EXPECT_EQ(changes[0].name, "db");
  EXPECT_EQ(changes[5].name, "g-1");
  EXPECT_EQ(resyncs, 0);
  // The watcher records a revision as delivered once its callbacks have
  // returned, so it may trail the last change seen here by a moment.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (watch->delivered_revision() <= now && absl::Now() < until) {
    std::this_thread::yield();
  }
  EXPECT_GT(watch->delivered_revision(), now);
}

TEST_F(EtcdWatchTest, CompactedResumeRevisionResyncsThenFollows) {
  auto a_or = Open();
  ASSERT_TRUE(a_or.ok()) << a_or.status();
  auto a = *std::move(a_or);
  auto b_or = Open();
  ASSERT_TRUE(b_or.ok()) << b_or.status();
  auto b = *std::move(b_or);
  ASSERT_OK(a->SetSecret("prod", "old", V("x"), {}).status());
  auto now_or = EtcdWatcher::CurrentRevision(b->client());
  ASSERT_TRUE(now_or.ok()) << now_or.status();
  int64_t now = *std::move(now_or);
  {
    // Compact the history up to now, as etcd's auto-compaction would.
    auto kv = etcdserverpb::KV::NewStub(grpc::CreateChannel(
        etcd_->ClientEndpoints()[0], grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    etcdserverpb::CompactionRequest compact;
    compact.set_revision(now);
    compact.set_physical(true);
    etcdserverpb::CompactionResponse response;
    grpc::Status s = kv->Compact(&context, compact, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  Collector seen;
  absl::Mutex mu;
  int resyncs = 0;
  auto watch = b->WatchChanges(
      /*start_revision=*/2, &seen,
      [&] {
        absl::MutexLock lock(&mu);
        ++resyncs;
        return absl::OkStatus();
      },
      nullptr);
  {
    // The resync re-reads the state; what is written after it is an event.
    absl::MutexLock lock(&mu);
    auto resynced = [&] {
      mu.AssertReaderHeld();
      return resyncs > 0;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&resynced), kWait));
  }
  ASSERT_OK(a->SetSecret("prod", "new", V("y"), {}).status());
  std::vector<StoreChange> changes = seen.WaitFor(1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name, "new");  // the compacted "old" is not replayed
  absl::MutexLock lock(&mu);
  EXPECT_EQ(resyncs, 1);
  EXPECT_EQ(watch->resyncs(), 1u);
}

TEST_F(EtcdWatchTest, RestartedMemberIsResumedFromTheLastRevision) {
  auto a_or = Open();
  ASSERT_TRUE(a_or.ok()) << a_or.status();
  auto a = *std::move(a_or);
  auto b_or = Open();
  ASSERT_TRUE(b_or.ok()) << b_or.status();
  auto b = *std::move(b_or);
  auto now_or = EtcdWatcher::CurrentRevision(b->client());
  ASSERT_TRUE(now_or.ok()) << now_or.status();
  int64_t now = *std::move(now_or);
  Collector seen;
  auto watch = b->WatchChanges(
      now + 1, &seen, [] { return absl::OkStatus(); }, nullptr);
  ASSERT_OK(a->SetSecret("prod", "one", V("1"), {}).status());
  ASSERT_EQ(seen.WaitFor(1).size(), 1u);
  etcd_->Kill(0);
  ASSERT_OK(etcd_->Restart(0));
  ASSERT_OK(a->SetSecret("prod", "two", V("2"), {}).status());
  std::vector<StoreChange> changes = seen.WaitFor(2);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].name, "two");
  EXPECT_GE(watch->reconnects(), 1u);
  EXPECT_EQ(watch->resyncs(), 0u);
}

}  // namespace
}  // namespace zlayer::secrets::testing
