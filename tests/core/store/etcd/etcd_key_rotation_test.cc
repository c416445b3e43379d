// Key rotation of EtcdSecretStore against a real etcd (two stores on one
// prefix stand for two daemons): data-key rekey with a concurrent writer on
// the other store, the cluster lock (held by a lease that expires), a rekey
// cut short and resumed by the other store, master-key rotation.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "core/store/etcd/etcd_watcher.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/status_testing.h"

// ASSERT_OK on a StatusOr, then its value into `lhs`.
#define ZS_KR_CONCAT_INNER(a, b) a##b
#define ZS_KR_CONCAT(a, b) ZS_KR_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ZS_KR_ASSIGN(ZS_KR_CONCAT(result_, __LINE__), lhs, expr)
#define ZS_KR_ASSIGN(result, lhs, expr) \
  auto result = (expr);                 \
  ASSERT_OK(result);                    \
  lhs = *std::move(result)

namespace zlayer::secrets::testing {
namespace {

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }
SecretBytes KeyA() { return SecretBytes::FromString(std::string(32, 'A')); }
SecretBytes KeyB() { return SecretBytes::FromString(std::string(32, 'B')); }

EtcdCluster& SharedEtcd() {
  static EtcdCluster* cluster = [] {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> c = EtcdCluster::Start(1);
    if (!c.ok()) {
      ADD_FAILURE() << "etcd did not start: " << c.status();
      std::abort();
    }
    return c->release();
  }();
  return *cluster;
}

std::string FreshPrefix() {
  static std::atomic<int> n{0};
  return absl::StrCat("/zs-keyrot-", n.fetch_add(1));
}

// Collects watch changes; waits for one naming `name`.
class Collector final : public StoreChangeObserver {
 public:
  void OnStoreChange(const StoreChange& change) override {
    absl::MutexLock lock(&mu_);
    changes_.push_back(change);
  }
  std::vector<StoreChange> WaitForName(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto seen = [this, &name] {
      mu_.AssertReaderHeld();
      for (const StoreChange& c : changes_) {
        if (c.name == name) return true;
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(30));
    return changes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<StoreChange> changes_ ABSL_GUARDED_BY(mu_);
};

class EtcdKeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    prefix_ = FreshPrefix();
    auto a = Open(KeyA());
    ASSERT_OK(a);
    a_ = *std::move(a);
    auto b = Open(KeyA());
    ASSERT_OK(b);
    b_ = *std::move(b);
    auto raw = EtcdClient::Create(Options().client);
    ASSERT_OK(raw);
    raw_ = *std::move(raw);
  }

  EtcdStoreOptions Options() {
    EtcdStoreOptions options;
    options.client.endpoints = SharedEtcd().ClientEndpoints();
    options.prefix = prefix_;
    options.key_lock_ttl = absl::Seconds(2);
    options.rekey_batch_secrets = 4;
    return options;
  }

  absl::StatusOr<std::unique_ptr<EtcdSecretStore>> Open(SecretBytes key) {
    ASSIGN_OR_RETURN(uint32_t id, EtcdSecretStore::RecordedKeyId(Options()));
    ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                     Keyring::Create(id, std::move(key)));
    return EtcdSecretStore::Open(Options(), std::move(ring), &clock_);
  }

  void Populate(EtcdSecretStore& store, int count, int versions) {
    for (int i = 0; i < count; ++i) {
      for (int v = 1; v <= versions; ++v) {
        ASSERT_OK(store.SetSecret("prod", absl::StrCat("s", i),
                                  V(absl::StrCat("v", i, ".", v)), {}));
      }
    }
  }

  // Every version of s0..s{count-1} opens on `store` and names `generation`
  // (0: not checked).
  void ExpectAll(EtcdSecretStore& store, int count, int versions,
                 uint32_t generation) {
    for (int i = 0; i < count; ++i) {
      const std::string name = absl::StrCat("s", i);
      for (int v = 1; v <= versions; ++v) {
        auto read = store.GetVersioned("prod", name, v);
        ASSERT_OK(read);
        ASSERT_EQ(Str(read->value), absl::StrCat("v", i, ".", v));
      }
      if (generation == 0) continue;
      auto listed = store.ListVersions("prod", name);
      ASSERT_OK(listed);
      for (const VersionInfo& info : *listed) {
        ASSERT_EQ(info.key_id, generation) << name << " " << info.version;
      }
    }
  }

  std::vector<std::string> KeysIn(const std::string& sub) {
    const std::string key = prefix_ + sub;
    etcdserverpb::RangeRequest range;
    range.set_key(key);
    std::string end = key;
    end.back() = static_cast<char>(end.back() + 1);
    range.set_range_end(end);
    range.set_keys_only(true);
    auto r = raw_->Range(range);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& kv : r->kvs()) out.push_back(kv.key().substr(key.size()));
    return out;
  }

  EtcdRekeyProgress WaitUntilDone(EtcdSecretStore& store) {
    store.WaitForRekey();
    return store.rekey_progress();
  }

  FakeClock clock_;
  std::string prefix_;
  std::unique_ptr<EtcdSecretStore> a_, b_;
  std::unique_ptr<EtcdClient> raw_;
};

TEST_F(EtcdKeyRotationTest, RekeyMovesEveryVersionWhileTheOtherStoreWrites) {
  Populate(*a_, 60, 3);
  ASSERT_EQ(b_->ActiveDataKeyGeneration(), 1u);
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (int round = 0; !stop.load(); ++round) {
      const std::string name = absl::StrCat("w", round % 7);
      if (!b_->SetSecret("prod", name, V(absl::StrCat("w", round)), {}).ok()) {
        ++failures;
      }
      ++writes;
    }
  });
  ASSERT_OK_AND_ASSIGN(uint32_t generation, a_->StartRekey("store a"));
  EXPECT_EQ(generation, 2u);
  const EtcdRekeyProgress done = WaitUntilDone(*a_);
  stop.store(true);
  writer.join();
  ASSERT_OK(done.status);
  EXPECT_FALSE(done.running);
  EXPECT_GE(done.done, 180u);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(writes.load(), 0);
  ExpectAll(*a_, 60, 3, 2);
  ExpectAll(*b_, 60, 3, 2);
  // B's writes during the rekey landed on generation 2 too (its stale
  // generation lost the compare and it read the keyring again).
  EXPECT_EQ(b_->ActiveDataKeyGeneration(), 2u);
  for (int i = 0; i < 7; ++i) {
    auto listed = b_->ListVersions("prod", absl::StrCat("w", i));
    if (absl::IsNotFound(listed.status())) continue;
    ASSERT_OK(listed);
    for (const VersionInfo& info : *listed) EXPECT_EQ(info.key_id, 2u);
  }
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/lock/").empty());
  EXPECT_TRUE(KeysIn("/rekey/").empty());
  // A store opened now (another daemon starting) reads everything.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> c, Open(KeyA()));
  ExpectAll(*c, 60, 3, 2);
}

TEST_F(EtcdKeyRotationTest, RekeyIsNotAChangeToWatchers) {
  Populate(*a_, 20, 2);
  ASSERT_OK_AND_ASSIGN(int64_t now, EtcdWatcher::CurrentRevision(*raw_));
  Collector seen;
  auto watch = b_->WatchChanges(
      now + 1, &seen, [] { return absl::OkStatus(); }, nullptr);
  ASSERT_OK(a_->StartRekey("store a").status());
  ASSERT_OK(WaitUntilDone(*a_).status);
  // A write after the rekey: once the watch delivered it, it delivered
  // every record event of the rekey before it.
  ASSERT_OK(a_->SetSecret("prod", "marker", V("m"), {}));
  const std::vector<StoreChange> changes = seen.WaitForName("marker");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name, "marker");
  EXPECT_EQ(changes[0].kind, ChangeKind::kSet);
  watch.reset();
}

TEST_F(EtcdKeyRotationTest, LockHeldByAnotherLeaseRefusesUntilItExpires) {
  Populate(*a_, 3, 1);
  // A lock left by a daemon that died: its lease is not kept alive.
  ASSERT_OK_AND_ASSIGN(etcdserverpb::LeaseGrantResponse lease,
                       raw_->LeaseGrant(absl::Seconds(2)));
  etcdserverpb::PutRequest put;
  put.set_key(prefix_ + "/lock/keys");
  put.set_value("node-9 pid 42");
  put.set_lease(lease.id());
  ASSERT_OK(raw_->Put(put));
  absl::StatusOr<uint32_t> refused = b_->StartRekey("store b");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "already running on node-9 pid 42"))
      << refused.status();
  uint64_t rewrapped = 0;
  EXPECT_EQ(b_->RotateKey(2, KeyB(), "store b", &rewrapped).code(),
            absl::StatusCode::kFailedPrecondition);
  // Once the lease expires, the lock is free (waits on that condition).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<uint32_t> started = b_->StartRekey("store b");
  while (!started.ok() && absl::Now() < deadline) {
    ASSERT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
    started = b_->StartRekey("store b");
  }
  ASSERT_OK(started);
  ASSERT_OK(WaitUntilDone(*b_).status);
  ExpectAll(*a_, 3, 1, 2);
}

TEST_F(EtcdKeyRotationTest, RekeyCutShortIsResumedByTheOtherStore) {
  Populate(*a_, 200, 1);
  ASSERT_OK_AND_ASSIGN(uint32_t generation, a_->StartRekey("store a"));
  // Closing the store stops its run between batches (as a shutdown does);
  // the progress record stays.
  a_.reset();
  ASSERT_EQ(KeysIn("/rekey/"), std::vector<std::string>{"progress"})
      << "the rekey finished before the store closed";
  ASSERT_OK_AND_ASSIGN(bool pending, b_->RekeyPending());
  EXPECT_TRUE(pending);
  // Reads go on meanwhile, whichever generation a value is on.
  ExpectAll(*b_, 200, 1, 0);
  ASSERT_OK_AND_ASSIGN(uint32_t resumed, b_->StartRekey("store b"));
  EXPECT_EQ(resumed, generation);
  ASSERT_OK(WaitUntilDone(*b_).status);
  ExpectAll(*b_, 200, 1, generation);
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/rekey/").empty());
}

TEST_F(EtcdKeyRotationTest, StoreOpenedAfterACutShortRekeyFinishesIt) {
  Populate(*a_, 100, 1);
  ASSERT_OK_AND_ASSIGN(uint32_t generation, a_->StartRekey("store a"));
  a_.reset();
  ASSERT_EQ(KeysIn("/rekey/"), std::vector<std::string>{"progress"})
      << "the rekey finished before the store closed";
  // As if its daemon had died holding the lock: a lease nobody renews.
  ASSERT_OK_AND_ASSIGN(etcdserverpb::LeaseGrantResponse lease,
                       raw_->LeaseGrant(absl::Seconds(2)));
  etcdserverpb::PutRequest put;
  put.set_key(prefix_ + "/lock/keys");
  put.set_value("node-9 pid 42");
  put.set_lease(lease.id());
  ASSERT_OK(raw_->Put(put));
  // What a daemon's start does when it finds the progress record.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> c, Open(KeyA()));
  ASSERT_OK_AND_ASSIGN(bool pending, c->RekeyPending());
  ASSERT_TRUE(pending);
  c->ResumeRekeyWhenFree("store c");
  EXPECT_TRUE(c->rekey_progress().running);
  const EtcdRekeyProgress done = WaitUntilDone(*c);
  ASSERT_OK(done.status);
  EXPECT_EQ(done.generation, generation);
  ExpectAll(*c, 100, 1, generation);
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/rekey/").empty());
  EXPECT_TRUE(KeysIn("/lock/").empty());
}

TEST_F(EtcdKeyRotationTest, MasterKeyRotationLeavesOldKeyHoldersServingUntil) {
  Populate(*a_, 10, 2);
  uint64_t rewrapped = 0;
  ASSERT_OK_AND_ASSIGN(uint32_t id, a_->MasterKeyId());
  ASSERT_EQ(id, 1u);
  ASSERT_OK(a_->RotateKey(2, KeyB(), "store a", &rewrapped));
  EXPECT_EQ(rewrapped, 1u);
  ASSERT_OK_AND_ASSIGN(id, a_->MasterKeyId());
  EXPECT_EQ(id, 2u);
  // The old key opens nothing any more; the new one opens everything.
  EXPECT_EQ(Open(KeyA()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> c, Open(KeyB()));
  ExpectAll(*c, 10, 2, 1);
  // B, opened with the old key before, keeps serving with the data keys it
  // holds (reads and writes).
  ExpectAll(*b_, 10, 2, 1);
  ASSERT_OK(b_->SetSecret("prod", "after", V("after"), {}));
  // It cannot rotate again, nor open a data key made after the rotation.
  EXPECT_EQ(b_->RotateKey(3, KeyA(), "store b", &rewrapped).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(b_->StartRekey("store b").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(a_->StartRekey("store a").status());
  ASSERT_OK(WaitUntilDone(*a_).status);
  absl::StatusOr<SecretBytes> refused = b_->GetSecret("prod", "s0");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "new key file"))
      << refused.status();
  EXPECT_EQ(b_->SetSecret("prod", "s0", V("x"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ExpectAll(*c, 10, 2, 2);
  auto after = c->GetSecret("prod", "after");
  ASSERT_OK(after);
  EXPECT_EQ(Str(*after), "after");
}

}  // namespace
}  // namespace zlayer::secrets::testing
