// Key rotation in cluster mode (docs/cluster.md, "Key handling"): a real
// etcd (Debian's /usr/bin/etcd on loopback) and two real zlayer-secretsd
// processes with --store etcd.
//   - a data-key rekey started through daemon A while clients write and
//     read through A and B: no call fails, every value reads back, every
//     version ends on the new generation, B learned it without a restart;
//     a second rotation through B (rekey or master key) is refused while
//     A's runs;
//   - SIGKILL of A in the middle of a rekey: the progress record stays in
//     etcd, reads go on through B, and a rerun through B (once the dead
//     daemon's lock lease has expired) finishes the same generation; or A,
//     restarted at once, serves and finishes it by itself;
//   - master-key rotation through A: B keeps serving with the old key file
//     until a rekey makes a data key it cannot open (then it refuses,
//     never a wrong value), is refused at start with the old key, and
//     serves everything once given the new key file.
// Skipped, with the reason, only when /usr/bin/etcd is not installed.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/store/etcd/etcd_client.h"
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
constexpr absl::Duration kRekeyTimeout = absl::Seconds(120);
constexpr char kPrefix[] = "/zs-keys-test";

void WriteKeyFile(const std::string& path, const std::string& key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, key.data(), key.size()),
            static_cast<ssize_t>(key.size()));
  ::close(fd);
}

void SetDeadline(grpc::ClientContext* context,
                 absl::Duration d = absl::Seconds(20)) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + d));
}

std::string Value(const std::string& name, int round) {
  return absl::StrCat("value of ", name, " #", round);
}

class ClusterKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    auto etcd = EtcdCluster::Start(1);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    WriteKeyFile(dir_.Sub("a.key"), std::string(32, 'M'));
    WriteKeyFile(dir_.Sub("b.key"), std::string(32, 'M'));
    EtcdClientOptions options;
    options.endpoints = etcd_->ClientEndpoints();
    auto client = EtcdClient::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    etcd_client_ = *std::move(client);
  }

  std::vector<std::string> Args(const std::string& name,
                                const std::string& key_file) {
    ::mkdir(dir_.Sub(name).c_str(), 0700);
    std::vector<std::string> args = {
        "--data-dir",       dir_.Sub(name),           "--key-file",    key_file,
        "--socket",         dir_.Sub(name + ".sock"), "--store",       "etcd",
        "--etcd-endpoints", etcd_->JoinedEndpoints(), "--etcd-prefix", kPrefix};
    // A's key file is where its rotation writes the new key (in place).
    if (name == "a") {
      args.push_back("--key-file-rotate-to");
      args.push_back(key_file);
    }
    return args;
  }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& name) {
    return testing::StartReadyDaemon(dir_, Args(name, dir_.Sub(name + ".key")),
                                     kWait);
  }

  std::unique_ptr<v1::Secrets::Stub> Secrets(const std::string& name) {
    return v1::Secrets::NewStub(UnixChannel(dir_.Sub(name + ".sock")));
  }
  std::unique_ptr<v1::Admin::Stub> Admin(const std::string& name) {
    return v1::Admin::NewStub(UnixChannel(dir_.Sub(name + ".sock")));
  }

  static grpc::Status Set(v1::Secrets::Stub& stub, const std::string& name,
                          const std::string& value) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    request.set_value(value);
    v1::SetSecretResponse response;
    return stub.SetSecret(&context, request, &response);
  }

  static grpc::Status Get(v1::Secrets::Stub& stub, const std::string& name,
                          std::string* value) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    v1::GetSecretResponse response;
    grpc::Status s = stub.GetSecret(&context, request, &response);
    if (s.ok()) *value = response.value();
    return s;
  }

  static grpc::Status Versions(v1::Secrets::Stub& stub, const std::string& name,
                               v1::ListVersionsResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListVersionsRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name(name);
    return stub.ListVersions(&context, request, response);
  }

  static grpc::Status StartRekey(v1::Admin::Stub& admin, uint32_t* generation) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RekeyDataKeysResponse response;
    grpc::Status s = admin.RekeyDataKeys(&context, {}, &response);
    if (s.ok()) *generation = response.generation();
    return s;
  }

  static v1::RekeyStatus Status(v1::Admin::Stub& admin) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RekeyStatus status;
    grpc::Status s = admin.GetRekeyStatus(&context, {}, &status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  // Polls GetRekeyStatus until no rekey runs on that daemon (the loop ends
  // on that condition; each answer is a fresh read of its progress).
  static v1::RekeyStatus WaitUntilDone(v1::Admin::Stub& admin) {
    const absl::Time deadline = absl::Now() + kRekeyTimeout;
    v1::RekeyStatus last;
    while (absl::Now() < deadline) {
      last = Status(admin);
      EXPECT_LE(last.done(), last.total());
      if (!last.running()) return last;
    }
    ADD_FAILURE() << "rekey still running after " << kRekeyTimeout;
    return last;
  }

  // Writes `count` secrets s0..s{count-1} through `stub`, `versions` each,
  // from 4 threads.
  void Populate(v1::Secrets::Stub& stub, int count, int versions) {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < count; i += 4) {
          for (int v = 1; v <= versions; ++v) {
            const std::string name = absl::StrCat("s", i);
            if (!Set(stub, name, Value(name, v)).ok()) ++failures;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(failures.load(), 0);
  }

  // Every secret s0..s{count-1} reads its value `round` through `stub`,
  // and every version it keeps names `generation` (0: not checked).
  void ExpectAll(v1::Secrets::Stub& stub, int count, int round,
                 uint32_t generation) {
    for (int i = 0; i < count; ++i) {
      const std::string name = absl::StrCat("s", i);
      std::string value;
      grpc::Status s = Get(stub, name, &value);
      ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
      ASSERT_EQ(value, Value(name, round));
      if (generation == 0) continue;
      v1::ListVersionsResponse versions;
      s = Versions(stub, name, &versions);
      ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
      ASSERT_GT(versions.versions_size(), 0);
      for (const v1::VersionInfo& v : versions.versions()) {
        ASSERT_EQ(v.key_id(), generation) << name << " version " << v.version();
      }
    }
  }

  // Keys under the prefix's `sub` (e.g. "/keyring/") in etcd, in order.
  std::vector<std::string> KeysIn(const std::string& sub) {
    const std::string key = absl::StrCat(kPrefix, sub);
    etcdserverpb::RangeRequest range;
    range.set_key(key);
    std::string end = key;
    end.back() = static_cast<char>(end.back() + 1);
    range.set_range_end(end);
    range.set_keys_only(true);
    auto r = etcd_client_->Range(range);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& kv : r->kvs()) out.push_back(kv.key().substr(key.size()));
    return out;
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> etcd_client_;
};

// Clients that write and read their own secrets through both daemons
// until stopped; every failed call and every wrong value is counted.
class Load {
 public:
  Load(v1::Secrets::Stub* a, v1::Secrets::Stub* b) {
    for (int t = 0; t < 4; ++t) {
      threads_.emplace_back([this, a, b, t] {
        // Writes through one daemon, reads back through the other.
        v1::Secrets::Stub* writer = t % 2 == 0 ? a : b;
        v1::Secrets::Stub* reader = t % 2 == 0 ? b : a;
        for (int round = 1; !stop_.load(); ++round) {
          const std::string name = absl::StrCat("load", t, "-", round % 10);
          const std::string value = absl::StrCat("load ", t, " round ", round);
          grpc::ClientContext context;
          SetDeadline(&context);
          v1::SetSecretRequest set;
          set.mutable_target()->set_scope("prod");
          set.set_name(name);
          set.set_value(value);
          v1::SetSecretResponse set_response;
          grpc::Status s = writer->SetSecret(&context, set, &set_response);
          Count(s, "set");
          if (!s.ok()) continue;
          grpc::ClientContext read_context;
          SetDeadline(&read_context);
          v1::GetSecretRequest get;
          get.mutable_target()->set_scope("prod");
          get.set_name(name);
          v1::GetSecretResponse got;
          s = reader->GetSecret(&read_context, get, &got);
          Count(s, "get");
          if (s.ok() && got.value() != value) {
            absl::MutexLock lock(&mu_);
            ++errors_;
            first_error_ = absl::StrCat("get ", name, ": wrong value");
          }
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  void Count(const grpc::Status& s, const char* what) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!s.ok()) {
      ++errors_;
      if (first_error_.empty()) {
        first_error_ = absl::StrCat(what, ": ", s.error_message());
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  int calls_ = 0;
  int errors_ = 0;
  std::string first_error_;
};

TEST_F(ClusterKeysTest, RekeyThroughAWhileClientsUseBothDaemons) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto secrets_a = Secrets("a");
  auto secrets_b = Secrets("b");
  auto admin_a = Admin("a");
  auto admin_b = Admin("b");
  constexpr int kSecrets = 300;
  Populate(*secrets_a, kSecrets, 3);
  EXPECT_EQ(Status(*admin_b).active_generation(), 1u);

  const absl::Time started = absl::Now();
  Load load(secrets_a.get(), secrets_b.get());
  uint32_t generation = 0;
  grpc::Status s = StartRekey(*admin_a, &generation);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(generation, 2u);
  // A second rotation through B while A's runs: refused, naming A.
  uint32_t other = 0;
  s = StartRekey(*admin_b, &other);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "already running on"))
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), dir_.Sub("a.sock")))
      << s.error_message();
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RotateMasterKeyRequest rotate;
    v1::RotateMasterKeyResponse rotated;
    s = admin_b->RotateMasterKey(&context, rotate, &rotated);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
  }
  const v1::RekeyStatus done = WaitUntilDone(*admin_a);
  const absl::Duration took = absl::Now() - started;
  EXPECT_EQ(done.error(), "");
  EXPECT_EQ(done.generation(), 2u);
  EXPECT_EQ(done.active_generation(), 2u);
  EXPECT_GE(done.done(), static_cast<uint64_t>(kSecrets) * 3);
  load.Stop();
  EXPECT_EQ(load.errors(), 0) << load.first_error();
  EXPECT_GT(load.calls(), 0);
  std::printf(
      "rekey figures: %d secrets x 3 versions moved=%llu in %.0f ms; load "
      "calls during it=%d errors=%d\n",
      kSecrets, static_cast<unsigned long long>(done.done()),
      absl::ToDoubleMilliseconds(took), load.calls(), load.errors());

  ExpectAll(*secrets_b, kSecrets, 3, 2);
  ExpectAll(*secrets_a, kSecrets, 3, 0);
  for (int t = 0; t < 4; ++t) {
    v1::ListVersionsResponse versions;
    ASSERT_TRUE(
        Versions(*secrets_a, absl::StrCat("load", t, "-1"), &versions).ok());
    for (const v1::VersionInfo& v : versions.versions()) {
      EXPECT_EQ(v.key_id(), 2u);
    }
  }
  // B seals with the new generation too (it learned it from etcd).
  EXPECT_EQ(Status(*admin_b).active_generation(), 2u);
  // Only generation 2 is left in etcd, and neither lock nor progress.
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/lock/").empty());
  EXPECT_TRUE(KeysIn("/rekey/").empty());
}

TEST_F(ClusterKeysTest, RekeyCutShortBySigkillIsFinishedByARerunOnB) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto secrets_a = Secrets("a");
  auto secrets_b = Secrets("b");
  auto admin_a = Admin("a");
  auto admin_b = Admin("b");
  constexpr int kSecrets = 800;
  Populate(*secrets_a, kSecrets, 1);

  uint32_t generation = 0;
  grpc::Status s = StartRekey(*admin_a, &generation);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Killed once the first batches moved.
  while (true) {
    const v1::RekeyStatus status = Status(*admin_a);
    ASSERT_TRUE(status.running()) << "the rekey ended before the kill";
    if (status.done() > 0) break;
  }
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->WaitForExit(kWait).ok());
  a.reset();
  // The run was cut short: its progress record and generation stay.
  ASSERT_EQ(KeysIn("/rekey/"), std::vector<std::string>{"progress"});
  EXPECT_EQ(KeysIn("/keyring/"),
            (std::vector<std::string>{"00000001", "00000002"}));
  // Reads and writes go on through B meanwhile (some values on each
  // generation).
  ExpectAll(*secrets_b, kSecrets, 1, 0);
  ASSERT_TRUE(Set(*secrets_b, "during", "written during").ok());

  // A rerun through B is refused while the dead daemon's lease lives, then
  // resumes the same generation.
  const absl::Time deadline = absl::Now() + kWait;
  uint32_t resumed = 0;
  int refusals = 0;
  while (true) {
    s = StartRekey(*admin_b, &resumed);
    if (s.ok()) break;
    ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
    ASSERT_TRUE(absl::StrContains(s.error_message(), "already running on"))
        << s.error_message();
    ++refusals;
    ASSERT_LT(absl::Now(), deadline) << "the dead daemon's lock never expired";
  }
  EXPECT_EQ(resumed, generation);
  const v1::RekeyStatus done = WaitUntilDone(*admin_b);
  EXPECT_EQ(done.error(), "");
  std::printf(
      "interrupted rekey: refused %d times before the lease expired; "
      "rerun moved %llu versions\n",
      refusals, static_cast<unsigned long long>(done.done()));
  ExpectAll(*secrets_b, kSecrets, 1, generation);
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/rekey/").empty());

  // A, restarted, reads everything (it never held generation 1 alone).
  a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  secrets_a = Secrets("a");
  ExpectAll(*secrets_a, kSecrets, 1, generation);
  std::string value;
  ASSERT_TRUE(Get(*secrets_a, "during", &value).ok());
  EXPECT_EQ(value, "written during");
}

TEST_F(ClusterKeysTest, RekeyCutShortBySigkillIsFinishedByTheRestartedDaemon) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto admin_a = Admin("a");
  constexpr int kSecrets = 800;
  {
    auto secrets_a = Secrets("a");
    Populate(*secrets_a, kSecrets, 1);
  }
  uint32_t generation = 0;
  grpc::Status s = StartRekey(*admin_a, &generation);
  ASSERT_TRUE(s.ok()) << s.error_message();
  while (true) {
    const v1::RekeyStatus status = Status(*admin_a);
    ASSERT_TRUE(status.running()) << "the rekey ended before the kill";
    if (status.done() > 0) break;
  }
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->WaitForExit(kWait).ok());
  ASSERT_EQ(KeysIn("/rekey/"), std::vector<std::string>{"progress"});
  // Restarted at once: it serves, and resumes the rekey once the lease of
  // the killed process has expired.
  a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  admin_a = Admin("a");
  auto secrets_a = Secrets("a");
  ExpectAll(*secrets_a, kSecrets, 1, 0);
  const absl::Time deadline = absl::Now() + kRekeyTimeout;
  v1::RekeyStatus status = Status(*admin_a);
  while (status.running() || status.generation() == 0) {
    ASSERT_LT(absl::Now(), deadline) << "the restarted daemon never resumed";
    status = Status(*admin_a);
  }
  EXPECT_EQ(status.error(), "");
  EXPECT_EQ(status.generation(), generation);
  ExpectAll(*secrets_a, kSecrets, 1, generation);
  EXPECT_EQ(KeysIn("/keyring/"), std::vector<std::string>{"00000002"});
  EXPECT_TRUE(KeysIn("/rekey/").empty());
  EXPECT_TRUE(absl::StrContains(a->Stderr(), "event=rekey_resuming"))
      << a->Stderr();
}

TEST_F(ClusterKeysTest, MasterKeyRotationThenRestartWithTheNewKeyFile) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  auto secrets_a = Secrets("a");
  auto secrets_b = Secrets("b");
  auto admin_a = Admin("a");
  constexpr int kSecrets = 40;
  Populate(*secrets_a, kSecrets, 1);

  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RotateMasterKeyRequest rotate;
    v1::RotateMasterKeyResponse rotated;
    grpc::Status s = admin_a->RotateMasterKey(&context, rotate, &rotated);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rotated.new_key_id(), 2u);
  }
  auto new_key = testing::ReadFile(dir_.Sub("a.key"));
  ASSERT_TRUE(new_key.ok()) << new_key.status();
  ASSERT_EQ(new_key->size(), 32u);
  ASSERT_NE(*new_key, std::string(32, 'M'));

  // B, still on the old key file, keeps serving with the data keys it holds
  // (a master rotation changes none).
  ExpectAll(*secrets_b, kSecrets, 1, 0);
  ASSERT_TRUE(Set(*secrets_b, "after-rotation", "through b").ok());
  std::string value;
  ASSERT_TRUE(Get(*secrets_a, "after-rotation", &value).ok());
  EXPECT_EQ(value, "through b");

  // A rekey through A makes a data key sealed by the new master key: B
  // cannot open it and refuses (never a wrong value).
  uint32_t generation = 0;
  grpc::Status s = StartRekey(*admin_a, &generation);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(WaitUntilDone(*admin_a).error(), "");
  s = Get(*secrets_b, "s0", &value);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "new key file"))
      << s.error_message();
  s = Set(*secrets_b, "s0", "refused");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();

  // B restarted with the old key: refused at start.
  b->Signal(SIGKILL);
  ASSERT_TRUE(b->WaitForExit(kWait).ok());
  b.reset();
  auto old = DaemonProcess::Start(Args("b", dir_.Sub("b.key")), dir_.path());
  ASSERT_TRUE(old.ok());
  auto exited = (*old)->WaitForExit(kWait);
  ASSERT_TRUE(exited.ok());
  EXPECT_FALSE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0);
  EXPECT_TRUE(absl::StrContains((*old)->Stderr(), "key check failed"))
      << (*old)->Stderr();

  // Given the new key file, B serves everything, on the new generation.
  WriteKeyFile(dir_.Sub("b.key"), *new_key);
  b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  secrets_b = Secrets("b");
  ExpectAll(*secrets_b, kSecrets, 1, generation);
  ASSERT_TRUE(Get(*secrets_b, "after-rotation", &value).ok());
  EXPECT_EQ(value, "through b");
  ASSERT_TRUE(Set(*secrets_b, "s0", Value("s0", 1)).ok());
  // A restarted reads with its rotated key file too.
  testing::StopDaemonCleanly(a, kWait);
  a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  secrets_a = Secrets("a");
  ExpectAll(*secrets_a, kSecrets, 1, generation);
}

}  // namespace
}  // namespace zlayer::secrets
