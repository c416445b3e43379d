// EtcdSecretStore against a real etcd (Debian's /usr/bin/etcd, one member,
// free loopback port, temp data dir) started once for this binary: the
// SecretStore conformance suite, unchanged, plus etcd-specific integrity and
// key-check tests that edit etcd directly, as anyone with etcd write access
// could. Each store gets its own prefix, so each test starts empty.
#include "core/store/etcd/etcd_secret_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/aead.h"
#include "tests/core/store/secret_store_conformance.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets::testing {
namespace {

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }
std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }
SecretBytes KeyA() { return SecretBytes::FromString(std::string(32, 'A')); }
SecretBytes KeyB() { return SecretBytes::FromString(std::string(32, 'B')); }

// The one etcd of this binary, started on first use.
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
  return absl::StrCat("/zs-test-", n.fetch_add(1));
}

EtcdStoreOptions Options(const std::string& prefix) {
  EtcdStoreOptions options;
  options.client.endpoints = SharedEtcd().ClientEndpoints();
  options.prefix = prefix;
  return options;
}

absl::StatusOr<std::unique_ptr<EtcdSecretStore>> OpenStore(
    const std::string& prefix, SecretBytes key, Clock* clock) {
  absl::StatusOr<std::unique_ptr<Keyring>> ring =
      Keyring::Create(1, std::move(key));
  if (!ring.ok()) return ring.status();
  return EtcdSecretStore::Open(Options(prefix), *std::move(ring), clock);
}

// Only instantiated where etcd is installed (CI installs it); otherwise the
// one test below says why nothing ran.
std::vector<SecretStoreFactory> EtcdFactories() {
  if (!EtcdCluster::Available()) return {};
  return {SecretStoreFactory{
      "Etcd", [](Clock* clock) -> absl::StatusOr<std::unique_ptr<SecretStore>> {
        absl::StatusOr<std::unique_ptr<EtcdSecretStore>> store =
            OpenStore(FreshPrefix(), KeyA(), clock);
        if (!store.ok()) return store.status();
        return std::unique_ptr<SecretStore>(*std::move(store));
      }}};
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SecretStoreConformanceTest);
INSTANTIATE_TEST_SUITE_P(Etcd, SecretStoreConformanceTest,
                         ::testing::ValuesIn(EtcdFactories()),
                         SecretStoreFactoryName);

// Direct etcd access, as an attacker with etcd credentials would have.
class EtcdSecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    prefix_ = FreshPrefix();
    auto store = OpenStore(prefix_, KeyA(), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
    auto raw = EtcdClient::Create(Options(prefix_).client);
    ASSERT_OK(raw);
    raw_ = *std::move(raw);
  }

  std::string VersionKey(absl::string_view scope, absl::string_view name,
                         uint32_t version) {
    return absl::StrCat(prefix_, "/v/", absl::BytesToHexString(scope), "/",
                        name, "/", absl::StrFormat("%08x", version));
  }
  std::string RowKey(absl::string_view scope, absl::string_view name) {
    return absl::StrCat(prefix_, "/s/", absl::BytesToHexString(scope), "/",
                        name);
  }
  std::string RawGet(const std::string& key) {
    etcdserverpb::RangeRequest r;
    r.set_key(key);
    auto resp = raw_->Range(r);
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (!resp.ok() || resp->kvs_size() == 0) return "";
    return resp->kvs(0).value();
  }
  void RawPut(const std::string& key, const std::string& value) {
    etcdserverpb::PutRequest p;
    p.set_key(key);
    p.set_value(value);
    ASSERT_OK(raw_->Put(p));
  }
  int64_t CountUnderPrefix() {
    etcdserverpb::RangeRequest r;
    r.set_key(prefix_ + "/");
    r.set_range_end(prefix_ + "0");  // '0' follows '/'
    r.set_count_only(true);
    auto resp = raw_->Range(r);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? resp->count() : -1;
  }

  FakeClock clock_;
  std::string prefix_;
  std::unique_ptr<EtcdSecretStore> store_;
  std::unique_ptr<EtcdClient> raw_;
};

TEST(EtcdAvailability, EtcdIsInstalledOrTheReasonIsGiven) {
  if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
  EXPECT_FALSE(SharedEtcd().ClientEndpoints().empty());
}

TEST_F(EtcdSecretStoreTest, FlippedCiphertextBitIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "b", V("value-b"), {}));
  std::string stored = RawGet(VersionKey("prod", "a", 1));
  ASSERT_GT(stored.size(), kBlobOverheadBytes);
  stored[stored.size() - 20] ^= 0x01;
  RawPut(VersionKey("prod", "a", 1), stored);

  EXPECT_STATUS(store_->GetSecret("prod", "a"), kDataLoss);
  EXPECT_STATUS(store_->GetSecrets("prod", {"a", "b"}), kDataLoss);
  auto batch = store_->ReadBatch({{"prod", "a"}, {"prod", "b"}});
  ASSERT_OK(batch);
  EXPECT_STATUS((*batch)[0], kDataLoss);
  ASSERT_OK((*batch)[1]);
  EXPECT_EQ(Str((*batch)[1]->value), "value-b");
  EXPECT_EQ(store_->GetSecret("prod", "a").status().message().find("value-a"),
            absl::string_view::npos);
}

TEST_F(EtcdSecretStoreTest, VersionCopiedToAnotherNameIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "b", V("value-b"), {}));
  RawPut(VersionKey("prod", "b", 1), RawGet(VersionKey("prod", "a", 1)));
  EXPECT_STATUS(store_->GetSecret("prod", "b"), kDataLoss);
  // A record copied to another scope fails its MAC.
  RawPut(RowKey("staging", "a"), RawGet(RowKey("prod", "a")));
  EXPECT_STATUS(store_->GetMetadata("staging", "a"), kDataLoss);
}

TEST_F(EtcdSecretStoreTest, RecordRolledBackUnderNewerVersionsIsDataLoss) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("v1"), {}));
  const std::string old_row = RawGet(RowKey("prod", "a"));
  ASSERT_OK(store_->SetSecret("prod", "a", V("v2"), {}));
  RawPut(RowKey("prod", "a"), old_row);
  EXPECT_STATUS(store_->GetSecret("prod", "a"), kDataLoss);
  EXPECT_STATUS(store_->SetSecret("prod", "a", V("v3"), {}), kDataLoss);
}

TEST_F(EtcdSecretStoreTest, WrongKeyIsRefusedAndNothingWritten) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("value-a"), {}));
  const int64_t before = CountUnderPrefix();
  ASSERT_GT(before, 0);
  auto wrong = OpenStore(prefix_, KeyB(), &clock_);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.status().message(),
            "the master key does not match this store (key check failed)");
  EXPECT_EQ(CountUnderPrefix(), before);
  // The right key on a second store object (a second daemon) reads it.
  auto second = OpenStore(prefix_, KeyA(), &clock_);
  ASSERT_OK(second);
  EXPECT_EQ(Str(*(*second)->GetSecret("prod", "a")), "value-a");
  EXPECT_EQ((*second)->store_id(), store_->store_id());
}

TEST_F(EtcdSecretStoreTest, WriteOnOneStoreIsReadOnAnotherAtOnce) {
  auto second = OpenStore(prefix_, KeyA(), &clock_);
  ASSERT_OK(second);
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(store_->SetSecret("prod", "k", V(absl::StrCat("v", i)), {}));
    auto got = (*second)->GetVersioned("prod", "k", 0);
    ASSERT_OK(got);
    EXPECT_EQ(Str(got->value), absl::StrCat("v", i));
    EXPECT_EQ(got->version, static_cast<uint32_t>(i + 1));
  }
}

TEST_F(EtcdSecretStoreTest, CheckAndSetAcrossTwoStoresLetsOneWin) {
  auto second = OpenStore(prefix_, KeyA(), &clock_);
  ASSERT_OK(second);
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), {}));
  WriteOptions expect1;
  expect1.expected_version = 1;
  ASSERT_OK(store_->SetSecret("prod", "k", V("from-a"), expect1));
  EXPECT_STATUS((*second)->SetSecret("prod", "k", V("from-b"), expect1),
                kFailedPrecondition);
  EXPECT_EQ(Str(*(*second)->GetSecret("prod", "k")), "from-a");
}

TEST_F(EtcdSecretStoreTest, BatchLargerThanOneTxnReadsEveryKey) {
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) {
    names.push_back(absl::StrCat("n", i));
    ASSERT_OK(store_->SetSecret("prod", names.back(), V(absl::StrCat(i)), {}));
  }
  auto got = store_->GetSecrets("prod", names);
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), names.size());
  for (int i = 0; i < 150; ++i) {
    EXPECT_EQ(Str(got->at(absl::StrCat("n", i))), absl::StrCat(i));
  }
}

TEST(EtcdClientTest, UnreachableEtcdIsUnavailableWithinTheDeadline) {
  EtcdClientOptions options;
  // Port 1 on loopback: nothing listens there.
  options.endpoints = {"127.0.0.1:1"};
  options.call_timeout = absl::Milliseconds(200);
  options.total_timeout = absl::Milliseconds(800);
  auto client = EtcdClient::Create(options);
  ASSERT_OK(client);
  etcdserverpb::RangeRequest r;
  r.set_key("x");
  const absl::Time start = absl::Now();
  auto resp = (*client)->Range(r);
  EXPECT_STATUS(resp, kUnavailable);
  EXPECT_NE(resp.status().message().find("etcd unavailable"),
            absl::string_view::npos);
  // Bounded by the total timeout (generous slack for a loaded machine).
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(EtcdClientTest, BadOptionsAreInvalidArgument) {
  EtcdClientOptions none;
  EXPECT_STATUS(EtcdClient::Create(none), kInvalidArgument);
  EtcdClientOptions bad;
  bad.endpoints = {"no-port"};
  EXPECT_STATUS(EtcdClient::Create(bad), kInvalidArgument);
  EtcdClientOptions half_tls;
  half_tls.endpoints = {"127.0.0.1:2379"};
  half_tls.ca_cert_file = "/nonexistent/ca.pem";
  EXPECT_STATUS(EtcdClient::Create(half_tls), kInvalidArgument);
}

}  // namespace
}  // namespace zlayer::secrets::testing
