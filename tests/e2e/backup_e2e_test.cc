// Backup, restore and the audit chain end to end: the real daemon serves
// Admin.Backup to the real CLI (`zlayer-secret backup`) while 8 writers keep
// writing; `zlayer-secret restore` checks and restores it offline, and the
// restored store holds one consistent moment, byte for byte. `zlayer-secret
// audit verify` accepts the daemon's audit log (also across a restart, which
// continues the chain) and finds a deleted record.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/secrets_client.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/crypto/key_manager.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using testing::E2eDaemon;
using ::testing::HasSubstr;
using testing::Transport;

constexpr int kWriters = 8;
constexpr char kScope[] = "load";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BackupE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = E2eDaemon::Start(Transport::kUnix);
    ASSERT_TRUE(started.ok()) << started.status();
    daemon_ = *std::move(started);
    auto client = SecretsClient::Connect(daemon_->client_options());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  testing::ProcessResult Cli(std::vector<std::string> args,
                             bool online = true) {
    std::vector<std::string> argv = {testing::Runfile("client/zlayer-secret")};
    if (online) {
      argv.insert(argv.end(), daemon_->cli_args().begin(),
                  daemon_->cli_args().end());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunWithEnvironment(argv);
  }

  bool Set(const std::string& name, const std::string& value) {
    v1::SetSecretRequest req;
    req.mutable_target()->set_scope(kScope);
    req.set_name(name);
    req.set_value(value);
    auto r = client_->SetSecret(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok();
  }

  std::unique_ptr<E2eDaemon> daemon_;
  std::unique_ptr<SecretsClient> client_;
};

TEST_F(BackupE2eTest, BackupUnderLoadRestoresOneConsistentMoment) {
  // Writer w sets a<w> then b<w> to i (two transactions), i = 1, 2, ...
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 1; !stop.load(); ++i) {
        if (!Set(absl::StrCat("a", w), absl::StrCat(i))) return;
        if (!Set(absl::StrCat("b", w), absl::StrCat(i))) return;
        rounds.fetch_add(1);
      }
    });
  }
  while (rounds.load() < 5 * kWriters) std::this_thread::yield();
  const std::string file = daemon_->Path("backup.zsb");
  testing::ProcessResult backup = Cli({"backup", file});
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_THAT(backup.out, HasSubstr("Backup written to"));
  EXPECT_GT(rounds.load(), 0);

  // The file is refused over again (never overwritten).
  testing::ProcessResult again = Cli({"backup", file});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("exists"));

  // Offline checks, with the daemon's key.
  testing::ProcessResult verify =
      Cli({"restore", file, "--verify-only", "--key-dir", daemon_->data_dir()},
          false);
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("verified"));
  const std::string wrong_key = daemon_->Path("wrong.key");
  {
    std::ofstream out(wrong_key, std::ios::binary);
    out << std::string(32, 'w');
  }
  ASSERT_EQ(chmod(wrong_key.c_str(), 0600), 0);
  const std::string refused_dir = daemon_->Path("refused");
  testing::ProcessResult wrong =
      Cli({"restore", file, "--data-dir", refused_dir, "--key-file", wrong_key},
          false);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.err, HasSubstr("master key does not open this backup"));
  EXPECT_NE(access((refused_dir + "/secrets.db").c_str(), F_OK), 0);

  const std::string restored = daemon_->Path("restored");
  testing::ProcessResult restore = Cli({"restore", file, "--data-dir", restored,
                                        "--key-dir", daemon_->data_dir()},
                                       false);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;

  // Open the restored store with the daemon's key, as the daemon would.
  KeyManagerOptions key_options;
  key_options.key_dir = daemon_->data_dir();
  auto keys = KeyManager::Create(key_options);
  ASSERT_TRUE(keys.ok());
  auto master = (*keys)->GetExistingKey();
  ASSERT_TRUE(master.ok()) << master.status();
  SqliteStoreOptions options;
  options.path = restored + "/secrets.db";
  auto key_id = SqliteSecretStore::RecordedKeyId(options.path);
  ASSERT_TRUE(key_id.ok());
  auto ring = Keyring::Create(*key_id, std::move(master->key));
  ASSERT_TRUE(ring.ok());
  RealClock clock;
  auto store = SqliteSecretStore::Open(options, *std::move(ring), &clock);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int w = 0; w < kWriters; ++w) {
    SCOPED_TRACE(w);
    auto current = [&](const std::string& name) -> int64_t {
      auto versions = (*store)->ListVersions(kScope, name);
      if (!versions.ok()) return 0;
      int64_t latest = 0;
      for (const VersionInfo& v : *versions) {
        auto value = (*store)->GetVersioned(kScope, name, v.version);
        EXPECT_TRUE(value.ok()) << value.status();
        if (!value.ok()) continue;
        // Byte for byte: version v holds what was written as version v.
        EXPECT_EQ(value->value.InsecureView(), absl::StrCat(v.version));
        latest = std::max<int64_t>(latest, v.version);
      }
      return latest;
    };
    const int64_t a = current(absl::StrCat("a", w));
    const int64_t b = current(absl::StrCat("b", w));
    EXPECT_GE(a, 5);
    EXPECT_TRUE(b == a || b == a - 1) << "a=" << a << " b=" << b;
  }
}

TEST_F(BackupE2eTest, AuditChainVerifiesAcrossRestartAndFindsADeletion) {
  ASSERT_TRUE(Set("x", "1"));
  const std::string audit = daemon_->data_dir() + "/audit.log";
  testing::ProcessResult backup = Cli({"backup", daemon_->Path("b.zsb")});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  // The backup is audited (before any byte was sent).
  EXPECT_THAT(Slurp(audit), HasSubstr("\"rpc\":\"Backup\""));
  // Each record names the caller's pid and the call's duration.
  EXPECT_THAT(Slurp(audit), HasSubstr(absl::StrCat("\"peer\":\"pid:")));
  EXPECT_THAT(Slurp(audit), HasSubstr("\"duration_us\":"));
  ASSERT_TRUE(daemon_->Restart().ok());
  auto client = SecretsClient::Connect(daemon_->client_options());
  ASSERT_TRUE(client.ok());
  client_ = *std::move(client);
  ASSERT_TRUE(Set("x", "2"));
  ASSERT_TRUE(Set("x", "3"));

  testing::ProcessResult ok = Cli({"audit", "verify", audit}, false);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("Audit chain intact"));
  EXPECT_THAT(ok.out, HasSubstr("matches its head file"));

  // A copy with its second record deleted, checked against the real head.
  std::vector<std::string> lines =
      absl::StrSplit(Slurp(audit), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u);
  const std::string copy = daemon_->Path("audit-copy.log");
  {
    std::ofstream out(copy);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i != 1) out << lines[i] << "\n";
    }
  }
  testing::ProcessResult bad =
      Cli({"audit", "verify", copy, "--head", audit + ".head"}, false);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("deleted: seq 2"));
}

}  // namespace
}  // namespace zlayer::secrets
