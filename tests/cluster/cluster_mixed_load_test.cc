// Cluster mode under load: a real 3-member etcd cluster (Debian's
// /usr/bin/etcd on loopback), two real zlayer-secretsd processes with
// --store etcd, and 8 client threads, each with its own SecretsClient given
// both daemons (four list A first, four list B first), each looping
// SetSecret on four secrets of its own and ResolveEnv of those four.
// Under that load, one after the other:
//   1. SIGKILL of the etcd Raft leader: writes are acknowledged again after
//      the election (by calls sent after the kill);
//   2. SIGKILL of daemon A: every client goes on through B; A restarted
//      serves every version acknowledged while it was down.
// Then, with the load stopped:
//   - 0 acknowledged writes lost: every acknowledged (name, version) reads
//     back with its value, through A and through B;
//   - nothing half written and nothing invented: each secret's versions are
//     exactly 1..current, and each holds the value of an acknowledged write
//     of that version or of a write that failed with an unknown outcome;
//   - no stale read: every ResolveEnv answer during the load held, for each
//     secret, a version and value at least as new as the client's last
//     acknowledged write of it.
// The unavailability windows (from an event to the first acknowledgement
// of a write sent after it) and call counts are printed, never asserted.
// Skipped, with the reason, only when /usr/bin/etcd is missing.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "proto/secrets.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/etcd_cluster.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::TempDir;

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr int kClients = 8;
constexpr int kKeysPerClient = 4;
// Acknowledged writes (all clients) to wait for after each event.
constexpr int64_t kAcksPerPhase = 160;

// "c<client>-k<key>": the secret's name; its values are
// "c<client>-k<key>-s<seq>", seq counting that client's writes.
std::string SecretName(int client, int key) {
  return absl::StrCat("c", client, "-k", key);
}

// The seq of `value` if it is a value of secret `name`, else -1.
int64_t SeqOf(const std::string& name, const std::string& value) {
  const std::string prefix = name + "-s";
  int64_t seq = -1;
  if (value.compare(0, prefix.size(), prefix) != 0 ||
      !absl::SimpleAtoi(value.substr(prefix.size()), &seq)) {
    return -1;
  }
  return seq;
}

struct Acked {
  std::string name;
  uint32_t version = 0;
  std::string value;
  absl::Time start, end;
};

struct Call {
  bool write = false;
  bool ok = false;
  absl::Time start, end;
  std::string error;  // the status of a failed call
};

// What one client thread saw.
struct ClientLog {
  std::vector<Acked> acked;
  // Values of writes that failed (outcome unknown: applied or not).
  std::map<std::string, std::set<std::string>> failed_values;
  std::vector<Call> calls;
  std::vector<std::string> violations;  // stale reads, unexpected errors
};

class MixedLoad {
 public:
  // Client i gets addresses[i % addresses.size()].
  explicit MixedLoad(std::vector<std::string> addresses)
      : addresses_(std::move(addresses)), logs_(kClients) {}
  ~MixedLoad() { Stop(); }

  void Start() {
    for (int i = 0; i < kClients; ++i) {
      threads_.emplace_back([this, i] { Run(i); });
    }
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  int64_t acks() {
    absl::MutexLock lock(&mu_);
    return acks_;
  }
  // Waits until `more` writes were acknowledged after now; false on timeout.
  bool AwaitMoreAcks(int64_t more, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const int64_t target = acks_ + more;
    auto reached = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acks_ >= target;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  // Waits until every client had a write acknowledged that it sent after
  // `since`; false on timeout.
  bool AwaitEveryClientWroteSince(absl::Time since, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all = [this, since]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const ClientLog& log : logs_) {
        if (log.acked.empty() || log.acked.back().start < since) return false;
      }
      return true;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&all), timeout);
  }

  // Copies (the load may still run).
  std::vector<Acked> AckedSnapshot() {
    absl::MutexLock lock(&mu_);
    std::vector<Acked> out;
    for (const ClientLog& log : logs_) {
      out.insert(out.end(), log.acked.begin(), log.acked.end());
    }
    return out;
  }
  // After Stop().
  const std::vector<ClientLog>& logs() const { return logs_; }

 private:
  void Run(int client) {
    ClientOptions options;
    options.address = addresses_[client % addresses_.size()];
    options.default_deadline = absl::Seconds(20);
    auto connected = SecretsClient::Connect(std::move(options));
    if (!connected.ok()) {
      absl::MutexLock lock(&mu_);
      logs_[client].violations.push_back(connected.status().ToString());
      return;
    }
    SecretsClient& c = **connected;
    // The client's last acknowledged (version, seq) per key.
    std::vector<std::pair<uint32_t, int64_t>> last(kKeysPerClient, {0, -1});
    for (int64_t seq = 0; !stop_; ++seq) {
      const int key = static_cast<int>(seq % kKeysPerClient);
      const std::string name = SecretName(client, key);
      const std::string value = absl::StrCat(name, "-s", seq);
      v1::SetSecretRequest set;
      set.mutable_target()->set_scope("prod");
      set.set_name(name);
      set.set_value(value);
      set.set_max_versions(1000);  // keep every version for the check
      const absl::Time set_start = absl::Now();
      auto written = c.SetSecret(set);
      const absl::Time set_end = absl::Now();
      {
        absl::MutexLock lock(&mu_);
        ClientLog& log = logs_[client];
        log.calls.push_back({true, written.ok(), set_start, set_end,
                             written.ok() ? "" : written.status().ToString()});
        if (written.ok()) {
          log.acked.push_back(
              {name, written->metadata().version(), value, set_start, set_end});
          last[key] = {written->metadata().version(), seq};
          ++acks_;
        } else {
          log.failed_values[name].insert(value);
          if (!IsOutage(written.status())) {
            log.violations.push_back(absl::StrCat("SetSecret ", name, ": ",
                                                  written.status().ToString()));
          }
        }
      }

      v1::ResolveEnvRequest resolve;
      resolve.mutable_context()->set_deployment("prod");
      for (int k = 0; k < kKeysPerClient; ++k) {
        if (last[k].second < 0) continue;  // never acknowledged yet
        (*resolve.mutable_env())[absl::StrCat("K", k)] =
            absl::StrCat("$S:", SecretName(client, k));
      }
      const absl::Time resolve_start = absl::Now();
      auto resolved = c.ResolveEnv(resolve);
      const absl::Time resolve_end = absl::Now();
      absl::MutexLock lock(&mu_);
      ClientLog& log = logs_[client];
      log.calls.push_back({false, resolved.ok(), resolve_start, resolve_end,
                           resolved.ok() ? "" : resolved.status().ToString()});
      if (!resolved.ok()) {
        if (!IsOutage(resolved.status())) {
          log.violations.push_back(
              absl::StrCat("ResolveEnv: ", resolved.status().ToString()));
        }
        continue;
      }
      for (const v1::ResolvedEntry& entry : resolved->receipt()) {
        const int k = entry.key()[1] - '0';
        const std::string expected_name = SecretName(client, k);
        const std::string& got = resolved->env().at(entry.key());
        if (entry.name() != expected_name || entry.version() < last[k].first ||
            SeqOf(expected_name, got) < last[k].second) {
          log.violations.push_back(
              absl::StrCat("stale ResolveEnv of ", expected_name, ": version ",
                           entry.version(), " seq ", SeqOf(expected_name, got),
                           ", acknowledged before: version ", last[k].first,
                           " seq ", last[k].second));
        }
      }
    }
  }

  // The errors an outage may cause: no daemon or no etcd quorum reachable,
  // or a write whose answer was lost.
  static bool IsOutage(const absl::Status& s) {
    return s.code() == absl::StatusCode::kUnavailable ||
           s.code() == absl::StatusCode::kDeadlineExceeded;
  }

  const std::vector<std::string> addresses_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  int64_t acks_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ClientLog> logs_;  // logs_[i] guarded by mu_ while running
};

// What the clients saw of an event at `at`.
struct Window {
  // From `at` to the first acknowledgement of a write sent after `at`.
  absl::Duration to_first_write = absl::InfiniteDuration();
  absl::Duration to_first_read = absl::InfiniteDuration();
  // The longest call in flight at `at` (it waited out the event).
  absl::Duration longest_call;
  int failed_writes = 0;  // in flight at `at` or sent in [at, until)
  int failed_reads = 0;
  std::string first_error;
  absl::Duration longest_failed;  // how long the slowest of them took
};

Window Measure(const std::vector<ClientLog>& logs, absl::Time at,
               absl::Time until) {
  Window w;
  for (const ClientLog& log : logs) {
    for (const Call& call : log.calls) {
      if (call.start < at && call.end >= at) {
        w.longest_call = std::max(w.longest_call, call.end - call.start);
      }
      if (call.end < at || call.start >= until) continue;
      if (!call.ok) {
        ++(call.write ? w.failed_writes : w.failed_reads);
        if (w.first_error.empty()) w.first_error = call.error;
        w.longest_failed = std::max(w.longest_failed, call.end - call.start);
        continue;
      }
      if (call.start < at) continue;
      absl::Duration& first = call.write ? w.to_first_write : w.to_first_read;
      first = std::min(first, call.end - at);
    }
  }
  return w;
}

std::string Describe(const Window& w) {
  return absl::StrCat(
      "first write sent after it acknowledged ",
      absl::FormatDuration(w.to_first_write), " after it, first read ",
      absl::FormatDuration(w.to_first_read), "; longest call in flight ",
      absl::FormatDuration(w.longest_call), "; failed writes ", w.failed_writes,
      ", failed reads ", w.failed_reads, " (slowest failed after ",
      absl::FormatDuration(w.longest_failed), ")",
      w.first_error.empty() ? "" : " (first: ", w.first_error,
      w.first_error.empty() ? "" : ")");
}

class ClusterMixedLoadTest : public ::testing::Test {
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

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& name) {
    ::mkdir(dir_.Sub(name).c_str(), 0700);
    return testing::StartReadyDaemon(
        dir_,
        {"--data-dir", dir_.Sub(name), "--key-file", dir_.Sub("master.key"),
         "--socket", Socket(name), "--store", "etcd", "--etcd-endpoints",
         etcd_->JoinedEndpoints(), "--etcd-prefix", "/zs-mixed-load-test"},
        kWait);
  }

  std::unique_ptr<SecretsClient> Client(const std::string& address) {
    ClientOptions options;
    options.address = address;
    options.default_deadline = absl::Seconds(20);
    auto client = SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // The number of `acked` whose version does not read back with its value
  // through `client`.
  static int Lost(SecretsClient& client, const std::vector<Acked>& acked) {
    int lost = 0;
    for (const Acked& a : acked) {
      v1::GetSecretRequest get;
      get.mutable_target()->set_scope("prod");
      get.set_name(a.name);
      get.set_version(a.version);
      auto read = client.GetSecret(get);
      if (!read.ok() || read->value() != a.value ||
          read->version() != a.version) {
        ADD_FAILURE() << a.name << " v" << a.version << " acknowledged, read "
                      << (read.ok() ? "another value"
                                    : read.status().ToString());
        ++lost;
      }
    }
    return lost;
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(ClusterMixedLoadTest, EightClientsSurviveLeaderKillAndDaemonKill) {
  auto a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  auto b = StartDaemon("b");
  ASSERT_NE(b, nullptr);
  const std::string ab = absl::StrCat(Socket("a"), ",", Socket("b"));
  const std::string ba = absl::StrCat(Socket("b"), ",", Socket("a"));
  MixedLoad load({ab, ba});
  load.Start();
  ASSERT_TRUE(load.AwaitMoreAcks(kAcksPerPhase, kWait)) << "no load";

  // 1. SIGKILL the etcd leader under load.
  auto leader = etcd_->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int64_t acks_before_leader_kill = load.acks();
  etcd_->Kill(*leader);
  const absl::Time leader_killed = absl::Now();
  // Service resumes: every client has a write sent after the kill
  // acknowledged, and the load goes on.
  ASSERT_TRUE(load.AwaitEveryClientWroteSince(leader_killed, kWait))
      << "writes did not resume after the election";
  ASSERT_TRUE(load.AwaitMoreAcks(kAcksPerPhase, kWait));
  ASSERT_TRUE(etcd_->Restart(*leader).ok()) << etcd_->Log(*leader);
  // Both daemons lived through it and serve on their own.
  for (DaemonProcess* d : {a.get(), b.get()}) {
    int status = 0;
    ASSERT_EQ(::waitpid(d->pid(), &status, WNOHANG), 0)
        << "a daemon died when the etcd leader did: " << d->Stderr();
  }

  // 2. SIGKILL daemon A under load: clients go on through B.
  const int64_t acks_before_daemon_kill = load.acks();
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->WaitForExit(kWait).ok());
  const absl::Time daemon_killed = absl::Now();
  ASSERT_TRUE(load.AwaitEveryClientWroteSince(daemon_killed, kWait))
      << "not every client went on through daemon B";
  ASSERT_TRUE(load.AwaitMoreAcks(kAcksPerPhase, kWait));
  // A restarted catches up: it serves every version acknowledged so far,
  // among them everything written while it was down.
  a.reset();
  const absl::Time restart = absl::Now();
  a = StartDaemon("a");
  ASSERT_NE(a, nullptr);
  const absl::Duration restart_time = absl::Now() - restart;
  std::vector<Acked> meanwhile = load.AckedSnapshot();
  meanwhile.erase(
      std::remove_if(meanwhile.begin(), meanwhile.end(),
                     [&](const Acked& x) { return x.start < daemon_killed; }),
      meanwhile.end());
  ASSERT_FALSE(meanwhile.empty());
  auto only_a = Client(Socket("a"));
  ASSERT_NE(only_a, nullptr);
  EXPECT_EQ(Lost(*only_a, meanwhile), 0) << "restarted daemon A lags";
  ASSERT_TRUE(load.AwaitMoreAcks(kAcksPerPhase / 2, kWait));
  load.Stop();
  const absl::Time stopped = absl::Now();

  for (const ClientLog& log : load.logs()) {
    for (const std::string& v : log.violations) ADD_FAILURE() << v;
  }
  // 0 acknowledged writes lost, read through each daemon.
  std::vector<Acked> acked;
  int64_t writes = 0, reads = 0;
  for (const ClientLog& log : load.logs()) {
    acked.insert(acked.end(), log.acked.begin(), log.acked.end());
    for (const Call& call : log.calls) ++(call.write ? writes : reads);
  }
  auto only_b = Client(Socket("b"));
  ASSERT_NE(only_b, nullptr);
  const int lost_a = Lost(*only_a, acked);
  const int lost_b = Lost(*only_b, acked);
  EXPECT_EQ(lost_a, 0);
  EXPECT_EQ(lost_b, 0);

  // Nothing half written or invented: versions 1..current, each the value
  // of an acknowledged write of that version or of a failed write.
  int unacked_applied = 0;
  for (int client = 0; client < kClients; ++client) {
    const ClientLog& log = load.logs()[client];
    for (int key = 0; key < kKeysPerClient; ++key) {
      const std::string name = SecretName(client, key);
      std::map<uint32_t, std::string> acked_values;
      for (const Acked& x : log.acked) {
        if (x.name == name) acked_values[x.version] = x.value;
      }
      v1::ListVersionsRequest list;
      list.mutable_target()->set_scope("prod");
      list.set_name(name);
      auto versions = only_b->ListVersions(list);
      ASSERT_TRUE(versions.ok()) << name << ": " << versions.status();
      std::vector<uint32_t> numbers;
      for (const auto& v : versions->versions()) numbers.push_back(v.version());
      std::sort(numbers.begin(), numbers.end());
      for (size_t i = 0; i < numbers.size(); ++i) {
        ASSERT_EQ(numbers[i], i + 1) << name << " has a gap";
      }
      for (uint32_t version : numbers) {
        if (acked_values.count(version) > 0) continue;  // checked above
        v1::GetSecretRequest get;
        get.mutable_target()->set_scope("prod");
        get.set_name(name);
        get.set_version(version);
        auto read = only_b->GetSecret(get);
        ASSERT_TRUE(read.ok()) << name << " v" << version << read.status();
        auto failed = log.failed_values.find(name);
        EXPECT_TRUE(failed != log.failed_values.end() &&
                    failed->second.count(read->value()) > 0)
            << name << " v" << version
            << " holds a value no write of it failed with";
        ++unacked_applied;
      }
    }
  }

  const std::vector<ClientLog>& logs = load.logs();
  std::printf(
      "mixed-load figures: %d clients over 2 daemons and 3 etcd members; "
      "%lld SetSecret (%zu acknowledged) and %lld ResolveEnv calls in %s; "
      "lost %d (through A) / %d (through B); versions from failed writes "
      "found applied %d\n"
      "  etcd leader (member %d) SIGKILLed after %lld acknowledgements: %s\n"
      "  daemon A SIGKILLed after %lld acknowledgements: %s; A restarted in "
      "%s and served all %zu versions acknowledged meanwhile\n",
      kClients, static_cast<long long>(writes), acked.size(),
      static_cast<long long>(reads),
      absl::FormatDuration(stopped - leader_killed).c_str(), lost_a, lost_b,
      unacked_applied, *leader, static_cast<long long>(acks_before_leader_kill),
      Describe(Measure(logs, leader_killed, daemon_killed)).c_str(),
      static_cast<long long>(acks_before_daemon_kill),
      Describe(Measure(logs, daemon_killed, stopped)).c_str(),
      absl::FormatDuration(restart_time).c_str(), meanwhile.size());
}

}  // namespace
}  // namespace zlayer::secrets
