// Tampering with the files of a stopped daemon, then reading through the real
// daemon and client: every change is detected as DATA_LOSS on the affected
// read (with the generic message) or as a refused start with a clear
// message; never a wrong value, never a crash; other secrets stay readable.
// (tests/core/store/sqlite/sqlite_secret_store_test.cc has the store-level
// versions.)
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr char kScope[] = "tamper";
constexpr char kGenericDataLoss[] = "stored data failed its integrity check";

// name -> values by version (1-based), written before tampering.
using Contents = std::map<std::string, std::vector<std::string>>;

Contents SampleContents() {
  Contents contents;
  for (const char* name : {"alpha", "bravo", "charlie", "delta", "echo"}) {
    for (int v = 1; v <= 3; ++v) {
      contents[name].push_back(
          absl::StrCat("value-of-", name, "-v", v, "-", std::string(40, 'x')));
    }
  }
  return contents;
}

DaemonChild::Options OptionsFor(const std::string& dir) {
  DaemonChild::Options options;
  options.data_dir = dir + "/data";
  options.socket = dir + "/d.sock";
  options.log_path = dir + "/daemon.log";
  return options;
}

std::string DbPath(const DaemonChild::Options& o) {
  return o.data_dir + "/secrets.db";
}

// Starts a daemon, writes `contents`, and stops it: with SIGTERM (a clean
// close checkpoints the WAL into the database file) or SIGKILL (the last
// commits stay in the WAL).
void Populate(const DaemonChild::Options& options, const Contents& contents,
              int stop_signal) {
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
  for (const auto& [name, values] : contents) {
    for (const std::string& value : values) {
      v1::SetSecretRequest req;
      *req.mutable_target() = ScopeTarget(kScope);
      req.set_name(name);
      req.set_value(value);
      ASSERT_TRUE(client->SetSecret(req).ok());
    }
  }
  client.reset();
  (*daemon)->Signal(stop_signal);
  ASSERT_TRUE((*daemon)->WaitExit(kTimeout).ok());
}

absl::StatusOr<v1::GetSecretResponse> Get(SecretsClient* client,
                                          const std::string& name,
                                          uint32_t version = 0) {
  v1::GetSecretRequest req;
  *req.mutable_target() = ScopeTarget(kScope);
  req.set_name(name);
  req.set_version(version);
  return client->GetSecret(req);
}

// Flips one byte at `offset` of `path`.
void FlipByte(const std::string& path, size_t offset) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  ASSERT_TRUE(bytes.ok());
  ASSERT_LT(offset, bytes->size());
  (*bytes)[offset] = static_cast<char>((*bytes)[offset] ^ 0x5a);
  ASSERT_TRUE(WriteFileBytes(path, *bytes).ok());
}

std::string Ciphertext(const std::string& db, const std::string& name,
                       int version) {
  auto rows =
      Query(db, absl::StrCat("SELECT ciphertext FROM secret_versions WHERE "
                             "scope = 'tamper' AND name = '",
                             name, "' AND version = ", version));
  if (!rows.ok() || rows->size() != 1) return "";
  return (*rows)[0][0];
}

// A running daemon over tampered files, and what its reads return.
class TamperedDaemon {
 public:
  explicit TamperedDaemon(const DaemonChild::Options& options) {
    auto daemon = DaemonChild::Start(options);
    EXPECT_TRUE(daemon.ok());
    daemon_ = *std::move(daemon);
    ready_ = daemon_->WaitReady(kTimeout);
    if (ready_.ok()) client_ = ConnectClient(options.socket);
  }
  ~TamperedDaemon() {
    client_.reset();
    daemon_->Signal(SIGTERM);
    (void)daemon_->WaitExit(kTimeout);
  }
  const absl::Status& ready() const { return ready_; }
  SecretsClient* client() { return client_.get(); }
  DaemonChild* process() { return daemon_.get(); }

 private:
  std::unique_ptr<DaemonChild> daemon_;
  absl::Status ready_;
  std::unique_ptr<SecretsClient> client_;
};

// Every secret except `broken`: current and every version read back intact.
void ExpectOthersIntact(SecretsClient* client, const Contents& contents,
                        const std::vector<std::string>& broken) {
  for (const auto& [name, values] : contents) {
    if (std::find(broken.begin(), broken.end(), name) != broken.end()) continue;
    for (size_t v = 0; v < values.size(); ++v) {
      auto got = Get(client, name, static_cast<uint32_t>(v + 1));
      ASSERT_TRUE(got.ok()) << name << " v" << v + 1 << ": " << got.status();
      EXPECT_EQ(got->value(), values[v]) << name;
    }
  }
}

void ExpectDataLoss(const absl::StatusOr<v1::GetSecretResponse>& got,
                    const std::string& what) {
  ASSERT_FALSE(got.ok()) << what << " returned a value";
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss)
      << what << ": " << got.status();
  EXPECT_EQ(got.status().message(), kGenericDataLoss) << what;
}

TEST(TamperTest, FlippedCiphertextByteInTheFileIsDataLoss) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir.path());
  Contents contents = SampleContents();
  Populate(options, contents, SIGTERM);
  // Find bravo's current ciphertext in the file itself and flip a byte in
  // its middle (the clean stop checkpointed the WAL into the database).
  std::string blob = Ciphertext(DbPath(options), "bravo", 3);
  ASSERT_FALSE(blob.empty());
  absl::StatusOr<std::string> file = ReadFileBytes(DbPath(options));
  ASSERT_TRUE(file.ok());
  size_t at = file->find(blob);
  ASSERT_NE(at, std::string::npos) << "ciphertext not in the main file";
  FlipByte(DbPath(options), at + blob.size() / 2);

  TamperedDaemon d(options);
  ASSERT_TRUE(d.ready().ok()) << d.ready();
  ExpectDataLoss(Get(d.client(), "bravo"), "bravo current");
  // Older versions of the same secret were not touched.
  auto older = Get(d.client(), "bravo", 2);
  ASSERT_TRUE(older.ok()) << older.status();
  EXPECT_EQ(older->value(), contents["bravo"][1]);
  // A batch that includes it fails as a whole, with the generic message.
  v1::GetSecretsRequest batch;
  *batch.mutable_target() = ScopeTarget(kScope);
  batch.add_names("alpha");
  batch.add_names("bravo");
  auto many = d.client()->GetSecrets(batch);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(many.status().message(), kGenericDataLoss);
  ExpectOthersIntact(d.client(), contents, {"bravo"});
  EXPECT_TRUE(d.process()->Running());
  // The operator log names the secret, never the value.
  EXPECT_FALSE(absl::StrContains(d.process()->Log(), contents["bravo"][2]));
}

TEST(TamperTest, SwappedAndRolledBackRowsAreDataLoss) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir.path());
  Contents contents = SampleContents();
  Populate(options, contents, SIGTERM);
  const std::string db = DbPath(options);
  std::string alpha = Ciphertext(db, "alpha", 3);
  std::string bravo = Ciphertext(db, "bravo", 3);
  std::string charlie_v1 = Ciphertext(db, "charlie", 1);
  const std::string update =
      "UPDATE secret_versions SET ciphertext = ?1 WHERE scope = 'tamper' AND "
      "version = 3 AND name = ";
  // Swap the current ciphertexts of alpha and bravo.
  ASSERT_EQ(*Exec(db, update + "'alpha'", {bravo}), 1);
  ASSERT_EQ(*Exec(db, update + "'bravo'", {alpha}), 1);
  // Roll charlie's newest row back to its first ciphertext.
  ASSERT_EQ(*Exec(db, update + "'charlie'", {charlie_v1}), 1);
  // Point delta back at a version (2) while version 3 still exists.
  ASSERT_EQ(*Exec(db,
                  "UPDATE secrets SET current_version = 2 WHERE scope = "
                  "'tamper' AND name = 'delta'"),
            1);
  // Remove echo's version 2 (inside the retention window).
  ASSERT_EQ(*Exec(db,
                  "DELETE FROM secret_versions WHERE scope = 'tamper' AND "
                  "name = 'echo' AND version = 2"),
            1);

  TamperedDaemon d(options);
  ASSERT_TRUE(d.ready().ok()) << d.ready();
  ExpectDataLoss(Get(d.client(), "alpha"), "alpha (swapped)");
  ExpectDataLoss(Get(d.client(), "bravo"), "bravo (swapped)");
  ExpectDataLoss(Get(d.client(), "charlie"), "charlie (rolled back row)");
  ExpectDataLoss(Get(d.client(), "delta"), "delta (current_version lowered)");
  ExpectDataLoss(Get(d.client(), "echo", 2), "echo v2 (row deleted)");
  // Untouched versions of the tampered secrets still read.
  auto alpha_v1 = Get(d.client(), "alpha", 1);
  ASSERT_TRUE(alpha_v1.ok());
  EXPECT_EQ(alpha_v1->value(), contents["alpha"][0]);
  auto echo_now = Get(d.client(), "echo");
  ASSERT_TRUE(echo_now.ok()) << echo_now.status();
  EXPECT_EQ(echo_now->value(), contents["echo"][2]);
  // A ResolveEnv naming a tampered secret fails (all or nothing).
  v1::ResolveEnvRequest resolve;
  resolve.mutable_context()->set_deployment(kScope);
  (*resolve.mutable_env())["A"] = "$S:alpha";
  auto resolved = d.client()->ResolveEnv(resolve);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(d.process()->Running());
}

TEST(TamperTest, RandomByteFlipsNeverYieldAWrongValueOrACrash) {
  constexpr int kTrials = 32;
  TempDir dir;
  DaemonChild::Options pristine = OptionsFor(dir.Sub("pristine"));
  ASSERT_EQ(::mkdir(dir.Sub("pristine").c_str(), 0700), 0);
  Contents contents = SampleContents();
  Populate(pristine, contents, SIGTERM);
  absl::StatusOr<std::string> original = ReadFileBytes(DbPath(pristine));
  ASSERT_TRUE(original.ok());
  absl::StatusOr<std::string> key =
      ReadFileBytes(pristine.data_dir + "/secrets_zlayer.key");
  ASSERT_TRUE(key.ok());

  std::mt19937 gen(7);  // fixed seed: the same offsets every run
  std::map<std::string, int> outcomes;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string trial_dir = dir.Sub(absl::StrCat("t", trial));
    DaemonChild::Options options = OptionsFor(trial_dir);
    ASSERT_EQ(::mkdir(trial_dir.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(options.data_dir.c_str(), 0700), 0);
    std::string bytes = *original;
    // A quarter of the trials hit the 100-byte header, the rest anywhere.
    size_t offset =
        trial % 4 == 0
            ? std::uniform_int_distribution<size_t>(0, 99)(gen)
            : std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(gen);
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << (trial % 8)));
    ASSERT_TRUE(WriteFileBytes(DbPath(options), bytes).ok());
    ASSERT_TRUE(
        WriteFileBytes(options.data_dir + "/secrets_zlayer.key", *key).ok());

    TamperedDaemon d(options);
    if (!d.ready().ok()) {
      // Refused start: exit code 1 and one clear line.
      absl::StatusOr<int> exited = d.process()->WaitExit(kTimeout);
      ASSERT_TRUE(exited.ok());
      EXPECT_EQ(ExitCode(*exited), 1) << "offset " << offset;
      EXPECT_TRUE(absl::StrContains(d.process()->Log(), "zlayer-secretsd: "))
          << d.process()->Log();
      ++outcomes["refused start"];
      continue;
    }
    for (const auto& [name, values] : contents) {
      for (size_t v = 0; v <= values.size(); ++v) {  // v == 0: current
        auto got = Get(d.client(), name, static_cast<uint32_t>(v));
        if (got.ok()) {
          const std::string& want = values[v == 0 ? values.size() - 1 : v - 1];
          ASSERT_EQ(got->value(), want)
              << "offset " << offset << ": wrong value for " << name;
          ++outcomes["intact read"];
        } else {
          if (got.status().code() == absl::StatusCode::kDataLoss) {
            EXPECT_EQ(got.status().message(), kGenericDataLoss);
          }
          ++outcomes[absl::StrCat(
              "read failed: ", absl::StatusCodeToString(got.status().code()))];
        }
      }
    }
    ASSERT_TRUE(d.process()->Running())
        << "offset " << offset << " crashed " << d.process()->Log();
  }
  std::cout << "tamper_test: " << kTrials << " random byte flips:";
  for (const auto& [what, n] : outcomes) std::cout << " " << what << "=" << n;
  std::cout << "\n";
}

TEST(TamperTest, TruncatedWalRollsBackToACommittedStateNeverGarbage) {
  TempDir dir;
  DaemonChild::Options pristine = OptionsFor(dir.Sub("pristine"));
  ASSERT_EQ(::mkdir(dir.Sub("pristine").c_str(), 0700), 0);
  Contents contents = SampleContents();
  // SIGKILL: the commits stay in the WAL.
  Populate(pristine, contents, SIGKILL);
  absl::StatusOr<std::string> wal = ReadFileBytes(DbPath(pristine) + "-wal");
  ASSERT_TRUE(wal.ok());
  ASSERT_GT(wal->size(), 4096u) << "expected the writes to be in the WAL";

  int lost_versions_total = 0;
  for (size_t keep : {size_t{0}, size_t{20}, wal->size() / 3, wal->size() / 2,
                      wal->size() - 100}) {
    std::string trial_dir = dir.Sub(absl::StrCat("k", keep));
    DaemonChild::Options options = OptionsFor(trial_dir);
    ASSERT_EQ(::mkdir(trial_dir.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(options.data_dir.c_str(), 0700), 0);
    for (const char* f : {"secrets.db", "secrets_zlayer.key"}) {
      ASSERT_TRUE(CopyFileIfExists(pristine.data_dir + "/" + f,
                                   options.data_dir + "/" + f)
                      .ok());
    }
    ASSERT_TRUE(
        WriteFileBytes(DbPath(options) + "-wal", wal->substr(0, keep)).ok());
    ASSERT_EQ(IntegrityCheck(DbPath(options)), "ok") << "keep " << keep;

    TamperedDaemon d(options);
    ASSERT_TRUE(d.ready().ok()) << "keep " << keep << ": " << d.ready();
    // What survives is a committed prefix: each secret is either absent or
    // at some version it really had, with that version's value.
    for (const auto& [name, values] : contents) {
      auto got = Get(d.client(), name);
      if (!got.ok()) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound)
            << name << ": " << got.status();
        lost_versions_total += static_cast<int>(values.size());
        continue;
      }
      uint32_t version = got->version();
      ASSERT_GE(version, 1u);
      ASSERT_LE(version, values.size());
      EXPECT_EQ(got->value(), values[version - 1]) << name;
      lost_versions_total += static_cast<int>(values.size() - version);
    }
    EXPECT_TRUE(d.process()->Running());
  }
  std::cout << "tamper_test: WAL truncated at 5 points; the daemon started "
               "each time and served committed prefixes ("
            << lost_versions_total
            << " versions rolled back in total, 0 wrong values)\n";
}

TEST(TamperTest, ReplacedKeyFileRefusesToStartAndChangesNothing) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir.path());
  Populate(options, SampleContents(), SIGTERM);
  const std::string key_path = options.data_dir + "/secrets_zlayer.key";
  absl::StatusOr<std::string> before = ReadFileBytes(DbPath(options));
  ASSERT_TRUE(before.ok());

  struct Case {
    std::string what;
    std::string key;
    mode_t mode;
    std::string message;  // expected in the one-line error
  };
  std::string other_key(32, '\0');
  absl::BitGen gen;
  for (char& c : other_key)
    c = static_cast<char>(absl::Uniform<int>(gen, 0, 256));
  std::vector<Case> cases = {
      {"another 32-byte key", other_key, 0600, "does not match"},
      {"a short key", other_key.substr(0, 31), 0600, "32"},
      {"an empty key file", "", 0600, "32"},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFileBytes(key_path, c.key, c.mode).ok());
    auto daemon = DaemonChild::Start(options);
    ASSERT_TRUE(daemon.ok());
    absl::StatusOr<int> exited = (*daemon)->WaitExit(kTimeout);
    ASSERT_TRUE(exited.ok()) << c.what << ": the daemon started";
    EXPECT_EQ(ExitCode(*exited), 1) << c.what;
    std::string log = (*daemon)->Log();
    EXPECT_TRUE(absl::StrContains(log, "zlayer-secretsd: ")) << log;
    EXPECT_TRUE(absl::StrContains(log, c.message)) << c.what << ": " << log;
    std::cout << "tamper_test: " << c.what << " -> "
              << log.substr(log.find("zlayer-secretsd: "));
    absl::StatusOr<std::string> after = ReadFileBytes(DbPath(options));
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(*after == *before) << c.what << ": the database changed";
  }
}

TEST(TamperTest, GarbageDatabaseFileRefusesToStart) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir.path());
  Populate(options, SampleContents(), SIGTERM);
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = static_cast<char>(i * 131 + 7);
  }
  ASSERT_TRUE(WriteFileBytes(DbPath(options), garbage).ok());
  ::unlink((DbPath(options) + "-wal").c_str());
  ::unlink((DbPath(options) + "-shm").c_str());
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  absl::StatusOr<int> exited = (*daemon)->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok()) << "the daemon started on garbage";
  EXPECT_EQ(ExitCode(*exited), 1);
  std::string log = (*daemon)->Log();
  EXPECT_TRUE(absl::StrContains(log, "zlayer-secretsd: ")) << log;
  absl::StatusOr<std::string> after = ReadFileBytes(DbPath(options));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*after == garbage) << "the garbage file was modified";
}

}  // namespace
}  // namespace zlayer::secrets::reliability
