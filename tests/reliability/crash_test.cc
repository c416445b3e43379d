// Crash safety of the real daemon binary.
//
// KillLoopKeepsEveryAcknowledgedWrite: writer threads do SetSecret with
// unique values and record every acknowledged (name, version, value); the
// daemon is SIGKILLed at a random moment, the database is checked with
// `PRAGMA integrity_check` (read-only, daemon stopped), the daemon restarts,
// and every acknowledged write must be there with its version and value. A
// write in flight at the kill is either fully present as the next version
// (committed, acknowledgement lost) or absent; versions stay dense.
// ZS_CRASH_CYCLES overrides the number of kills (default 50).
//
// SnapshotCopyStartsWithEveryEarlierAcknowledgedWrite: a power-loss style
// copy. While writers run, the daemon is frozen (SIGSTOP, so the files are
// captured at one instant with writes in flight, as a power cut would leave
// them), the database, WAL, shm and key are copied, the daemon continues.
// A second daemon opened on the copy must start and hold every write
// acknowledged before the copy began.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr char kScope[] = "crash";
constexpr int kWriters = 4;
constexpr int kNamesPerWriter = 24;

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  int value = 0;
  if (text != nullptr && absl::SimpleAtoi(text, &value) && value > 0) {
    return value;
  }
  return fallback;
}

std::string NameOf(int writer, int index) {
  return absl::StrCat("w", writer, "-", index);
}

// What the writers know: per name, the acknowledged values by version.
struct Model {
  std::map<std::string, std::map<uint32_t, std::string>> acked;
  uint64_t acked_count = 0;
  uint32_t Current(const std::string& name) const {
    auto it = acked.find(name);
    return it == acked.end() || it->second.empty() ? 0
                                                   : it->second.rbegin()->first;
  }
};

// One writer's in-flight write when its call failed.
struct Pending {
  bool present = false;
  std::string name;
  std::string value;
};

// Writer `w` writes its own names (so it knows their versions) until a call
// fails or `stop` is set.
void WriterLoop(SecretsClient* client, int w, int cycle,
                std::atomic<bool>* stop, absl::Mutex* mu, Model* model,
                Pending* pending) {
  absl::BitGen gen;
  for (uint64_t seq = 0; !stop->load(); ++seq) {
    v1::SetSecretRequest req;
    *req.mutable_target() = ScopeTarget(kScope);
    req.set_name(NameOf(w, absl::Uniform(gen, 0, kNamesPerWriter)));
    // Unique, and of varied size so WAL frames span pages now and then.
    std::string value = absl::StrCat("c", cycle, "-w", w, "-s", seq, "-",
                                     absl::Uniform<uint64_t>(gen), "-");
    value.append(absl::Uniform(gen, 0, 6000),
                 static_cast<char>('a' + seq % 26));
    req.set_value(value);
    req.set_max_versions(1000);
    absl::StatusOr<v1::SetSecretResponse> resp = client->SetSecret(req);
    absl::MutexLock lock(mu);
    if (!resp.ok()) {
      *pending = Pending{true, req.name(), value};
      return;
    }
    uint32_t version = resp->metadata().version();
    std::map<uint32_t, std::string>& versions = model->acked[req.name()];
    uint32_t before = versions.empty() ? 0 : versions.rbegin()->first;
    // Only this writer writes this name: versions follow one another.
    EXPECT_EQ(version, before + 1) << req.name();
    versions[version] = value;
    ++model->acked_count;
  }
}

// Compares the daemon's current versions and values with the model, after
// folding in the writes that were in flight at the kill. Returns false on
// the first mismatch (with a test failure).
bool CheckCurrent(SecretsClient* client, Model* model,
                  const std::vector<Pending>& pending, uint64_t* recovered) {
  for (int w = 0; w < kWriters; ++w) {
    v1::GetSecretsRequest req;
    *req.mutable_target() = ScopeTarget(kScope);
    for (int i = 0; i < kNamesPerWriter; ++i) req.add_names(NameOf(w, i));
    absl::StatusOr<v1::GetSecretsResponse> resp = client->GetSecrets(req);
    if (!resp.ok()) {
      ADD_FAILURE() << "GetSecrets after restart: " << resp.status();
      return false;
    }
    for (int i = 0; i < kNamesPerWriter; ++i) {
      std::string name = NameOf(w, i);
      uint32_t expected = model->Current(name);
      auto version_it = resp->versions().find(name);
      uint32_t stored =
          version_it == resp->versions().end() ? 0 : version_it->second;
      const Pending& p = pending[w];
      if (p.present && p.name == name && stored == expected + 1) {
        // Committed before the kill, acknowledgement lost: fully present.
        if (resp->values().at(name) != p.value) {
          ADD_FAILURE() << name << " v" << stored
                        << " holds a value nobody wrote there";
          return false;
        }
        model->acked[name][stored] = p.value;
        ++*recovered;
        continue;
      }
      if (stored != expected) {
        ADD_FAILURE() << name << ": stored version " << stored
                      << ", acknowledged " << expected;
        return false;
      }
      if (expected > 0 &&
          resp->values().at(name) != model->acked[name][expected]) {
        ADD_FAILURE() << name << " v" << expected << ": wrong value";
        return false;
      }
    }
  }
  return true;
}

// Every acknowledged version of every name, read back by version, and the
// version list dense (1..current, nothing missing, nothing extra).
void CheckEverything(SecretsClient* client, const Model& model) {
  for (const auto& [name, versions] : model.acked) {
    v1::ListVersionsRequest list;
    *list.mutable_target() = ScopeTarget(kScope);
    list.set_name(name);
    absl::StatusOr<v1::ListVersionsResponse> listed =
        client->ListVersions(list);
    ASSERT_TRUE(listed.ok()) << name << ": " << listed.status();
    uint32_t current = versions.rbegin()->first;
    ASSERT_EQ(listed->versions_size(), static_cast<int>(current)) << name;
    for (int i = 0; i < listed->versions_size(); ++i) {
      EXPECT_EQ(listed->versions(i).version(), current - i) << name;
    }
    for (const auto& [version, value] : versions) {
      v1::GetSecretRequest get;
      *get.mutable_target() = ScopeTarget(kScope);
      get.set_name(name);
      get.set_version(version);
      absl::StatusOr<v1::GetSecretResponse> got = client->GetSecret(get);
      ASSERT_TRUE(got.ok()) << name << " v" << version << ": " << got.status();
      ASSERT_EQ(got->value(), value) << name << " v" << version;
    }
  }
}

DaemonChild::Options DaemonOptions(const TempDir& dir, const std::string& tag) {
  DaemonChild::Options options;
  options.data_dir = dir.Sub("data" + tag);
  options.socket = dir.Sub("d" + tag + ".sock");
  options.log_path = dir.Sub("daemon" + tag + ".log");
  return options;
}

TEST(CrashTest, KillLoopKeepsEveryAcknowledgedWrite) {
  const int cycles = EnvInt("ZS_CRASH_CYCLES", 50);
  TempDir dir;
  DaemonChild::Options options = DaemonOptions(dir, "");
  const std::string db = options.data_dir + "/secrets.db";
  Model model;
  absl::Mutex mu;
  absl::BitGen gen;
  uint64_t recovered = 0, lost_in_flight = 0, integrity_checks = 0;
  absl::Time start = absl::Now();

  for (int cycle = 0; cycle < cycles; ++cycle) {
    auto daemon = DaemonChild::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    ASSERT_TRUE((*daemon)->WaitReady(kStartTimeout).ok()) << (*daemon)->Log();
    std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
    ASSERT_NE(client, nullptr);

    std::atomic<bool> stop{false};
    std::vector<Pending> in_flight(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back(WriterLoop, client.get(), w, cycle, &stop, &mu,
                           &model, &in_flight[w]);
    }
    // Kill at a random moment: sometimes right away, mostly mid-stream.
    ::poll(nullptr, 0, absl::Uniform(gen, 0, 250));
    (*daemon)->Signal(SIGKILL);
    absl::StatusOr<int> exited = (*daemon)->WaitExit(absl::Seconds(10));
    ASSERT_TRUE(exited.ok());
    EXPECT_EQ(ExitCode(*exited), 128 + SIGKILL);
    stop = true;
    for (std::thread& t : writers) t.join();
    client.reset();

    ASSERT_EQ(IntegrityCheck(db), "ok") << "cycle " << cycle;
    ++integrity_checks;

    // Restart and fold in what was in flight.
    auto again = DaemonChild::Start(options);
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->WaitReady(kStartTimeout).ok()) << (*again)->Log();
    client = ConnectClient(options.socket);
    uint64_t before = recovered;
    ASSERT_TRUE(CheckCurrent(client.get(), &model, in_flight, &recovered))
        << "cycle " << cycle;
    for (const Pending& p : in_flight) lost_in_flight += p.present;
    lost_in_flight -= recovered - before;
    client.reset();
    // Stop this one hard too: every cycle is a kill.
    (*again)->Signal(SIGKILL);
    ASSERT_TRUE((*again)->WaitExit(absl::Seconds(10)).ok());
  }

  // Last start: everything, by version.
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kStartTimeout).ok()) << (*daemon)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
  CheckEverything(client.get(), model);
  client.reset();
  (*daemon)->Signal(SIGTERM);
  absl::StatusOr<int> exited = (*daemon)->WaitExit(absl::Seconds(30));
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
  EXPECT_EQ(IntegrityCheck(db), "ok");

  uint64_t total = 0;
  for (const auto& [name, versions] : model.acked) total += versions.size();
  std::cout << "crash_test: " << cycles << " SIGKILLs survived, " << total
            << " acknowledged writes verified by version (" << recovered
            << " in-flight writes found committed, " << lost_in_flight
            << " in-flight writes absent), " << integrity_checks + 1
            << " integrity checks ok, "
            << absl::ToDoubleSeconds(absl::Now() - start) << " s\n";
  EXPECT_GT(total, static_cast<uint64_t>(cycles));
}

TEST(CrashTest, SnapshotCopyStartsWithEveryEarlierAcknowledgedWrite) {
  constexpr int kCopies = 5;
  TempDir dir;
  DaemonChild::Options options = DaemonOptions(dir, "");
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kStartTimeout).ok()) << (*daemon)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);

  Model model;
  absl::Mutex mu;
  std::atomic<bool> stop{false};
  std::vector<Pending> in_flight(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back(WriterLoop, client.get(), w, 0, &stop, &mu, &model,
                         &in_flight[w]);
  }
  std::vector<Model> snapshots;
  absl::BitGen gen;
  for (int c = 0; c < kCopies; ++c) {
    ::poll(nullptr, 0, absl::Uniform(gen, 20, 120));
    {
      absl::MutexLock lock(&mu);
      snapshots.push_back(model);  // acknowledged before the copy began
    }
    (*daemon)->Signal(SIGSTOP);
    std::string copy_dir = dir.Sub(absl::StrCat("copy", c));
    ASSERT_EQ(::mkdir(copy_dir.c_str(), 0700), 0);
    // The last copy leaves the shm behind: SQLite must rebuild it from the
    // WAL, as after a reboot.
    std::vector<std::string> files = {"secrets.db", "secrets.db-wal",
                                      "secrets_zlayer.key"};
    if (c + 1 < kCopies) files.push_back("secrets.db-shm");
    for (const std::string& f : files) {
      ASSERT_TRUE(
          CopyFileIfExists(options.data_dir + "/" + f, copy_dir + "/" + f)
              .ok());
    }
    (*daemon)->Signal(SIGCONT);
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  for (const Pending& p : in_flight) EXPECT_FALSE(p.present) << p.name;
  client.reset();
  (*daemon)->Signal(SIGTERM);
  ASSERT_TRUE((*daemon)->WaitExit(absl::Seconds(30)).ok());

  uint64_t verified = 0;
  for (int c = 0; c < kCopies; ++c) {
    DaemonChild::Options copy;
    copy.data_dir = dir.Sub(absl::StrCat("copy", c));
    copy.socket = dir.Sub(absl::StrCat("c", c, ".sock"));
    copy.log_path = dir.Sub(absl::StrCat("copy", c, ".log"));
    auto restored = DaemonChild::Start(copy);
    ASSERT_TRUE(restored.ok());
    ASSERT_TRUE((*restored)->WaitReady(kStartTimeout).ok())
        << "copy " << c << ": " << (*restored)->Log();
    std::unique_ptr<SecretsClient> reader = ConnectClient(copy.socket);
    for (const auto& [name, versions] : snapshots[c].acked) {
      for (const auto& [version, value] : versions) {
        v1::GetSecretRequest get;
        *get.mutable_target() = ScopeTarget(kScope);
        get.set_name(name);
        get.set_version(version);
        absl::StatusOr<v1::GetSecretResponse> got = reader->GetSecret(get);
        ASSERT_TRUE(got.ok()) << "copy " << c << " " << name << " v" << version
                              << ": " << got.status();
        ASSERT_EQ(got->value(), value) << "copy " << c << " " << name;
        ++verified;
      }
    }
    reader.reset();
    (*restored)->Signal(SIGTERM);
    absl::StatusOr<int> exited = (*restored)->WaitExit(absl::Seconds(30));
    ASSERT_TRUE(exited.ok());
    EXPECT_EQ(ExitCode(*exited), 0);
    EXPECT_EQ(IntegrityCheck(copy.data_dir + "/secrets.db"), "ok");
  }
  std::cout << "crash_test: " << kCopies << " mid-write snapshot copies "
            << "started; " << verified
            << " writes acknowledged before their copy verified\n";
  EXPECT_GT(verified, 0u);
}

}  // namespace
}  // namespace zlayer::secrets::reliability
