// Backup and restore of a real SQLite store: round trip with a byte-by-byte
// comparison of every version, a consistent point under 8 concurrent
// writers, and every kind of bad file refused with nothing written.
#include "core/backup/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "absl/synchronization/mutex.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/store/secret_store.h"
#include "core/store/sqlite/sqlite_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::MakeTempDir;

SecretBytes KeyA() { return SecretBytes::FromString(std::string(32, 'a')); }
SecretBytes KeyB() { return SecretBytes::FromString(std::string(32, 'b')); }

absl::StatusOr<std::unique_ptr<SqliteSecretStore>> OpenStore(
    const std::string& path, SecretBytes key, Clock* clock) {
  ASSIGN_OR_RETURN(uint32_t id, SqliteSecretStore::RecordedKeyId(path));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                   Keyring::Create(id, std::move(key)));
  SqliteStoreOptions options;
  options.path = path;
  return SqliteSecretStore::Open(options, std::move(ring), clock);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  return out;
}

// scope/name -> version -> value, of every live secret.
using Dump = std::map<std::string, std::map<uint32_t, std::string>>;

Dump DumpStore(SqliteSecretStore& store,
               const std::vector<std::string>& scopes) {
  Dump dump;
  for (const std::string& scope : scopes) {
    auto list = store.ListSecrets(scope);
    EXPECT_TRUE(list.ok()) << list.status();
    if (!list.ok()) continue;
    for (const SecretMetadata& m : *list) {
      auto versions = store.ListVersions(scope, m.name);
      EXPECT_TRUE(versions.ok()) << versions.status();
      if (!versions.ok()) continue;
      for (const VersionInfo& v : *versions) {
        auto value = store.GetVersioned(scope, m.name, v.version);
        EXPECT_TRUE(value.ok()) << value.status();
        if (!value.ok()) continue;
        dump[absl::StrCat(scope, "/", m.name)][v.version] =
            std::string(value->value.InsecureView());
      }
    }
  }
  return dump;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    path_ = dir_ + "/secrets.db";
    auto store = OpenStore(path_, KeyA(), &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  // A store with a few secrets and versions; returns the backup file path.
  std::string MakeBackup(BackupInfo* info = nullptr) {
    for (int i = 0; i < 5; ++i) {
      for (int v = 0; v < 3; ++v) {
        EXPECT_OK(store_->SetSecret(
            "prod", absl::StrCat("s", i),
            SecretBytes::FromString(absl::StrCat("value-", i, "-", v)), {}));
      }
    }
    EXPECT_OK(store_->SetSecret(
        "prod/api", "bin", SecretBytes::FromString(std::string("\0\1\xff", 3)),
        {}));
    auto file = CreateBackup(*store_, clock_, info);
    EXPECT_OK(file);
    const std::string out = MakeTempDir() + "/backup.zsb";
    EXPECT_OK(SaveBackupFile(out, *file));
    return out;
  }

  RestoreOptions Restore(const std::string& file, const std::string& dir) {
    RestoreOptions options;
    options.backup_path = file;
    options.data_dir = dir;
    return options;
  }

  FakeClock clock_;
  std::string dir_, path_;
  std::unique_ptr<SqliteSecretStore> store_;
};

TEST_F(BackupTest, RoundTripRestoresEveryVersionByteForByte) {
  BackupInfo info;
  const std::string file = MakeBackup(&info);
  EXPECT_EQ(info.secrets, 6u);
  EXPECT_EQ(info.versions, 16u);
  EXPECT_EQ(info.master_key_id, 1u);
  EXPECT_EQ(info.data_key_generations, std::vector<uint32_t>{1});
  EXPECT_EQ(info.created_at, clock_.Now());

  const Dump before = DumpStore(*store_, {"prod", "prod/api"});
  ASSERT_EQ(before.size(), 6u);
  const std::string target = MakeTempDir() + "/restored";
  auto restored = RestoreBackup(Restore(file, target), KeyA(), &clock_);
  ASSERT_OK(restored);
  EXPECT_EQ(restored->store_id, info.store_id);
  EXPECT_EQ(Entries(target), std::vector<std::string>{"secrets.db"});

  auto copy = OpenStore(target + "/secrets.db", KeyA(), &clock_);
  ASSERT_OK(copy);
  EXPECT_EQ(DumpStore(**copy, {"prod", "prod/api"}), before);
  EXPECT_EQ((*copy)->store_id(), store_->store_id());
}

TEST_F(BackupTest, HeaderRecordsVersionTimeKeysAndCounts) {
  const std::string file = MakeBackup();
  auto info = ReadBackupHeader(ReadFile(file));
  ASSERT_OK(info);
  EXPECT_EQ(info->format_version, kBackupFormatVersion);
  EXPECT_EQ(info->created_at, clock_.Now());
  EXPECT_EQ(info->secrets, 6u);
  EXPECT_EQ(info->versions, 16u);
  EXPECT_EQ(info->master_key_id, 1u);
  EXPECT_EQ(info->schema_version, kSqliteSchemaVersion);
  // Values stay sealed: no plaintext in the file.
  EXPECT_EQ(ReadFile(file).find("value-3-2"), std::string::npos);
}

TEST_F(BackupTest, VerifyOnlyChecksAndWritesNothing) {
  const std::string file = MakeBackup();
  const std::string target = MakeTempDir() + "/untouched";
  RestoreOptions options = Restore(file, target);
  options.verify_only = true;
  ASSERT_OK(RestoreBackup(options, KeyA(), &clock_));
  struct stat st;
  EXPECT_NE(stat(target.c_str(), &st), 0);  // not even created
  options.data_dir.clear();
  ASSERT_OK(RestoreBackup(options, KeyA(), &clock_));
  EXPECT_STATUS(RestoreBackup(options, KeyB(), &clock_), kFailedPrecondition);
}

TEST_F(BackupTest, WrongKeyIsRefusedAndNothingWritten) {
  const std::string file = MakeBackup();
  const std::string target = MakeTempDir();
  auto restored = RestoreBackup(Restore(file, target), KeyB(), &clock_);
  EXPECT_STATUS(restored, kFailedPrecondition);
  EXPECT_NE(restored.status().message().find("master key does not open"),
            std::string::npos);
  EXPECT_TRUE(Entries(target).empty());
}

TEST_F(BackupTest, TruncatedFilesAreRefusedAndNothingWritten) {
  const std::string file = MakeBackup();
  const std::string bytes = ReadFile(file);
  for (size_t cut : {size_t{3}, size_t{10}, size_t{40}, bytes.size() / 2,
                     bytes.size() - 33, bytes.size() - 1}) {
    SCOPED_TRACE(cut);
    const std::string bad = MakeTempDir() + "/cut.zsb";
    WriteFile(bad, bytes.substr(0, cut));
    const std::string target = MakeTempDir();
    auto restored = RestoreBackup(Restore(bad, target), KeyA(), &clock_);
    EXPECT_FALSE(restored.ok());
    if (cut >= 8) EXPECT_STATUS(restored, kDataLoss);
    EXPECT_TRUE(Entries(target).empty());
  }
  // Appended bytes too.
  const std::string longer = MakeTempDir() + "/long.zsb";
  WriteFile(longer, bytes + "x");
  EXPECT_STATUS(RestoreBackup(Restore(longer, MakeTempDir()), KeyA(), &clock_),
                kDataLoss);
}

TEST_F(BackupTest, EditedFilesAreRefusedAndNothingWritten) {
  const std::string file = MakeBackup();
  const std::string bytes = ReadFile(file);
  const size_t header_at = bytes.find("secrets=");
  ASSERT_NE(header_at, std::string::npos);
  struct Edit {
    const char* what;
    size_t at;
  };
  // A header count, a byte deep in the payload (an unused or a data page),
  // the last payload byte, the MAC.
  for (const Edit& edit :
       {Edit{"header", header_at + 8}, Edit{"payload middle", bytes.size() / 2},
        Edit{"payload end", bytes.size() - 33},
        Edit{"mac", bytes.size() - 5}}) {
    SCOPED_TRACE(edit.what);
    std::string tampered = bytes;
    tampered[edit.at] = static_cast<char>(tampered[edit.at] ^ 0x01);
    const std::string bad = MakeTempDir() + "/edited.zsb";
    WriteFile(bad, tampered);
    const std::string target = MakeTempDir();
    auto restored = RestoreBackup(Restore(bad, target), KeyA(), &clock_);
    EXPECT_FALSE(restored.ok());
    EXPECT_TRUE(absl::IsDataLoss(restored.status()) ||
                absl::IsFailedPrecondition(restored.status()))
        << restored.status();
    EXPECT_TRUE(Entries(target).empty());
  }
}

TEST_F(BackupTest, ForeignFilesAreRefused) {
  const std::string target = MakeTempDir();
  // The store's own SQLite file, and random bytes.
  EXPECT_STATUS(RestoreBackup(Restore(path_, target), KeyA(), &clock_),
                kInvalidArgument);
  const std::string junk = MakeTempDir() + "/junk";
  WriteFile(junk, std::string(4096, 'z'));
  EXPECT_STATUS(RestoreBackup(Restore(junk, target), KeyA(), &clock_),
                kInvalidArgument);
  EXPECT_TRUE(Entries(target).empty());

  // A backup of another store under the same key: each file verifies alone,
  // but a header or MAC from one and a payload from the other do not.
  const std::string mine = MakeBackup();
  FakeClock other_clock;
  auto other = OpenStore(MakeTempDir() + "/other.db", KeyA(), &other_clock);
  ASSERT_OK(other);
  ASSERT_OK(
      (*other)->SetSecret("prod", "s0", SecretBytes::FromString("x"), {}));
  auto theirs = CreateBackup(**other, other_clock);
  ASSERT_OK(theirs);
  const std::string ours = ReadFile(mine);
  std::string spliced = ours.substr(0, ours.size() - kBackupMacBytes) +
                        theirs->substr(theirs->size() - kBackupMacBytes);
  const std::string bad = MakeTempDir() + "/spliced.zsb";
  WriteFile(bad, spliced);
  EXPECT_STATUS(RestoreBackup(Restore(bad, target), KeyA(), &clock_),
                kDataLoss);
  EXPECT_TRUE(Entries(target).empty());
}

TEST_F(BackupTest, RestoreRefusesANonEmptyDirectoryAndExistingBackupFile) {
  const std::string file = MakeBackup();
  const std::string target = MakeTempDir();
  WriteFile(target + "/notes.txt", "x");
  EXPECT_STATUS(RestoreBackup(Restore(file, target), KeyA(), &clock_),
                kFailedPrecondition);
  EXPECT_EQ(Entries(target), std::vector<std::string>{"notes.txt"});
  // A key file in the directory is allowed (the daemon's default key dir).
  const std::string with_key = MakeTempDir();
  WriteFile(with_key + "/secrets_zlayer.key", "k");
  EXPECT_OK(RestoreBackup(Restore(file, with_key), KeyA(), &clock_));
  // Backups never overwrite.
  EXPECT_STATUS(SaveBackupFile(file, "x"), kAlreadyExists);
}

// 8 writers; writer w sets "a<w>" then "b<w>" to the same counter i, each a
// separate transaction. Any single moment has b == a or b == a - 1 for every
// w, and version i of "a<w>" holds i. A copy that is not one snapshot (a
// file copied while written) can show b > a.
TEST_F(BackupTest, BackupUnderEightWritersRestoresOneConsistentMoment) {
  constexpr int kWriters = 8;
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 1; !stop.load(); ++i) {
        const SecretBytes value = SecretBytes::FromString(absl::StrCat(i));
        WriteOptions options;
        options.max_versions = 1000;
        ASSERT_OK(
            store_->SetSecret("load", absl::StrCat("a", w), value, options));
        ASSERT_OK(
            store_->SetSecret("load", absl::StrCat("b", w), value, options));
        rounds.fetch_add(1);
      }
    });
  }
  std::vector<std::string> backups;
  for (int n = 0; n < 3; ++n) {
    // Wait for progress (no sleeps: spin on the writers' counter).
    const int target = rounds.load() + 40;
    while (rounds.load() < target) std::this_thread::yield();
    auto file = CreateBackup(*store_, clock_);
    ASSERT_OK(file);
    backups.push_back(*std::move(file));
  }
  stop = true;
  for (std::thread& t : writers) t.join();

  int mid_pair = 0;
  for (const std::string& bytes : backups) {
    const std::string file = MakeTempDir() + "/load.zsb";
    ASSERT_OK(SaveBackupFile(file, bytes));
    const std::string target = MakeTempDir() + "/r";
    ASSERT_OK(RestoreBackup(Restore(file, target), KeyA(), &clock_));
    auto copy = OpenStore(target + "/secrets.db", KeyA(), &clock_);
    ASSERT_OK(copy);
    const Dump dump = DumpStore(**copy, {"load"});
    for (int w = 0; w < kWriters; ++w) {
      SCOPED_TRACE(w);
      auto current = [&](const std::string& name) -> int64_t {
        auto it = dump.find("load/" + name);
        if (it == dump.end()) return 0;
        int64_t value = 0;
        EXPECT_TRUE(absl::SimpleAtoi(it->second.rbegin()->second, &value));
        // Every restored version holds exactly what was written for it.
        for (const auto& [version, v] : it->second) {
          EXPECT_EQ(v, absl::StrCat(version));
        }
        EXPECT_EQ(it->second.rbegin()->first, value);
        return value;
      };
      const int64_t a = current(absl::StrCat("a", w));
      const int64_t b = current(absl::StrCat("b", w));
      EXPECT_TRUE(b == a || b == a - 1) << "a=" << a << " b=" << b;
      if (b == a - 1) ++mid_pair;
      EXPECT_GT(a, 0);
    }
  }
  // Not asserted (timing), reported for the curious.
  RecordProperty("snapshots_between_a_and_b", mid_pair);
}

TEST_F(BackupTest, StreamedBackupLeavesNoSnapshotFileAndComesInPieces) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(store_->SetSecret("bulk", absl::StrCat("s", i),
                                SecretBytes::FromString(std::string(900, 'v')),
                                {}));
  }
  auto source = OpenBackup(*store_, clock_);
  ASSERT_OK(source);
  // The snapshot's private file is unlinked as soon as it is open.
  for (const std::string& name : Entries(dir_)) {
    EXPECT_EQ(name.rfind(".backup-", 0), std::string::npos) << name;
  }
  std::string file;
  size_t pieces = 0;
  while (true) {
    auto piece = (*source)->Next(4096);
    ASSERT_OK(piece);
    if (piece->empty()) break;
    EXPECT_LE(piece->size(), 4096u);
    file += *piece;
    ++pieces;
  }
  EXPECT_GT(pieces, 10u);
  EXPECT_EQ(file.size(), (*source)->info().file_bytes);
  const std::string path = MakeTempDir() + "/streamed.zsb";
  ASSERT_OK(SaveBackupFile(path, file));
  ASSERT_OK(CheckBackupFile(path));
  const std::string target = MakeTempDir() + "/restored";
  ASSERT_OK(RestoreBackup(Restore(path, target), KeyA(), &clock_));
  auto copy = OpenStore(target + "/secrets.db", KeyA(), &clock_);
  ASSERT_OK(copy);
  EXPECT_EQ(DumpStore(**copy, {"bulk"}), DumpStore(*store_, {"bulk"}));
}

TEST_F(BackupTest, ReceivedFileIsKeptOnlyWhenComplete) {
  const std::string bytes = ReadFile(MakeBackup());
  const std::string dir = MakeTempDir();
  // A stream that stopped early: Commit refuses it, nothing is left.
  {
    auto writer = BackupFileWriter::Create(dir + "/cut.zsb");
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Append(bytes.substr(0, bytes.size() / 2)));
    EXPECT_STATUS((*writer)->Commit(), kDataLoss);
  }
  // A stream that failed before Commit: dropped.
  {
    auto writer = BackupFileWriter::Create(dir + "/failed.zsb");
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Append(bytes.substr(0, 100)));
  }
  EXPECT_TRUE(Entries(dir).empty());
  // A whole one is linked in, and never overwritten.
  {
    auto writer = BackupFileWriter::Create(dir + "/ok.zsb");
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Append(bytes));
    ASSERT_OK((*writer)->Commit());
  }
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"ok.zsb"});
  EXPECT_EQ(ReadFile(dir + "/ok.zsb"), bytes);
  EXPECT_STATUS(BackupFileWriter::Create(dir + "/ok.zsb"), kAlreadyExists);
}

}  // namespace
}  // namespace zlayer::secrets
