// Cluster backups against a real etcd: a round trip restores every key and
// value byte for byte (and every secret and version through the store); a
// backup taken while 8 writers write holds every key at the one revision it
// records; bad files (edited, truncated, wrong key, foreign, a SQLite
// backup) and a non-empty target are refused with nothing written; a
// prefix holding a restore marker is refused by the store; compaction
// during a backup is a clear error.
#include "core/backup/cluster_backup.h"

#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/backup/backup.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/store/etcd/etcd_client.h"
#include "core/store/etcd/etcd_secret_store.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testutil/etcd_cluster.h"
#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

#define ZS_CAT_INNER(a, b) a##b
#define ZS_CAT(a, b) ZS_CAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ZS_ASSERT_OK_AND_ASSIGN(ZS_CAT(zs_or_, __LINE__), lhs, expr)
#define ZS_ASSERT_OK_AND_ASSIGN(tmp, lhs, expr) \
  auto tmp = (expr);                            \
  ASSERT_TRUE(tmp.ok()) << tmp.status();        \
  lhs = *std::move(tmp)

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::MakeTempDir;

SecretBytes KeyA() { return SecretBytes::FromString(std::string(32, 'a')); }
SecretBytes KeyB() { return SecretBytes::FromString(std::string(32, 'b')); }

EtcdCluster* SharedEtcd() {
  static EtcdCluster* cluster = [] {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> c = EtcdCluster::Start(1);
    if (!c.ok()) {
      ADD_FAILURE() << "etcd did not start: " << c.status();
      return static_cast<EtcdCluster*>(nullptr);
    }
    return c->release();
  }();
  return cluster;
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

// key (relative to the prefix) -> value, read raw from etcd.
using RawDump = std::map<std::string, std::string>;

// scope/name -> version -> value, through the store.
using Dump = std::map<std::string, std::map<uint32_t, std::string>>;

class ClusterBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    etcd_ = SharedEtcd();
    ASSERT_NE(etcd_, nullptr);
    static std::atomic<int> n{0};
    const int id = n.fetch_add(1);
    src_prefix_ = absl::StrCat("/zs-backup-src-", id);
    dst_prefix_ = absl::StrCat("/zs-backup-dst-", id);
    EtcdClientOptions client;
    client.endpoints = etcd_->ClientEndpoints();
    ASSERT_OK_AND_ASSIGN(client_, EtcdClient::Create(client));
    ASSERT_OK_AND_ASSIGN(store_, OpenStore(src_prefix_, KeyA()));
  }

  EtcdStoreOptions StoreOptions(const std::string& prefix) {
    EtcdStoreOptions options;
    options.client.endpoints = etcd_->ClientEndpoints();
    options.prefix = prefix;
    return options;
  }

  absl::StatusOr<std::unique_ptr<EtcdSecretStore>> OpenStore(
      const std::string& prefix, SecretBytes key) {
    ASSIGN_OR_RETURN(std::unique_ptr<Keyring> ring,
                     Keyring::Create(1, std::move(key)));
    return EtcdSecretStore::Open(StoreOptions(prefix), std::move(ring),
                                 &clock_);
  }

  RawDump Raw(const std::string& prefix, int64_t revision = 0) {
    etcdserverpb::RangeRequest range;
    range.set_key(prefix + "/");
    range.set_range_end(prefix + "0");
    range.set_revision(revision);
    RawDump out;
    auto r = client_->Range(range);
    EXPECT_OK(r);
    if (!r.ok()) return out;
    for (const auto& kv : r->kvs()) {
      out[kv.key().substr(prefix.size())] = kv.value();
    }
    return out;
  }

  Dump DumpStore(EtcdSecretStore& store,
                 const std::vector<std::string>& scopes) {
    Dump dump;
    for (const std::string& scope : scopes) {
      auto list = store.ListSecrets(scope);
      EXPECT_OK(list);
      if (!list.ok()) continue;
      for (const SecretMetadata& m : *list) {
        auto versions = store.ListVersions(scope, m.name);
        EXPECT_OK(versions);
        if (!versions.ok()) continue;
        for (const VersionInfo& v : *versions) {
          auto value = store.GetVersioned(scope, m.name, v.version);
          EXPECT_OK(value);
          if (!value.ok()) continue;
          dump[absl::StrCat(scope, "/", m.name)][v.version] =
              std::string(value->value.InsecureView());
        }
      }
    }
    return dump;
  }

  void Fill() {
    for (int i = 0; i < 5; ++i) {
      for (int v = 0; v < 3; ++v) {
        ASSERT_OK(store_->SetSecret(
            "prod", absl::StrCat("s", i),
            SecretBytes::FromString(absl::StrCat("value-", i, "-", v)), {}));
      }
    }
    ASSERT_OK(store_->SetSecret(
        "prod/api", "bin", SecretBytes::FromString(std::string("\0\1\xff", 3)),
        {}));
    ASSERT_OK(store_->DeleteSecret("prod", "s4"));  // soft-deleted: kept
  }

  // Drains a backup of the source store into a file (as the CLI does).
  std::string Backup(BackupInfo* info = nullptr,
                     ClusterBackupOptions options = {}) {
    auto source = OpenClusterBackup(*store_, clock_, options);
    EXPECT_OK(source);
    if (!source.ok()) return "";
    const std::string path = MakeTempDir() + "/cluster.zsb";
    auto writer = BackupFileWriter::Create(path);
    EXPECT_OK(writer);
    while (true) {
      auto piece = (*source)->Next(4096);
      EXPECT_OK(piece);
      if (!piece.ok() || piece->empty()) break;
      EXPECT_OK((*writer)->Append(*piece));
    }
    auto checked = (*writer)->Commit();
    EXPECT_OK(checked);
    if (info != nullptr && checked.ok()) *info = *checked;
    return path;
  }

  absl::StatusOr<BackupInfo> Restore(const std::string& file,
                                     SecretBytes key = KeyA(),
                                     bool verify_only = false) {
    ClusterRestoreOptions options;
    options.backup_path = file;
    options.target = StoreOptions(dst_prefix_);
    options.verify_only = verify_only;
    return RestoreClusterBackup(options, std::move(key));
  }

  FakeClock clock_;
  EtcdCluster* etcd_ = nullptr;
  std::string src_prefix_, dst_prefix_;
  std::unique_ptr<EtcdClient> client_;
  std::unique_ptr<EtcdSecretStore> store_;
};

TEST_F(ClusterBackupTest, RoundTripRestoresEveryKeyAndVersionByteForByte) {
  Fill();
  BackupInfo info;
  const std::string file = Backup(&info);
  EXPECT_EQ(info.format_version, kClusterBackupFormatVersion);
  EXPECT_EQ(info.prefix, src_prefix_);
  EXPECT_GT(info.revision, 0);
  EXPECT_EQ(info.secrets, 6u);
  EXPECT_EQ(info.versions, 16u);
  const RawDump before = Raw(src_prefix_);
  EXPECT_EQ(info.keys, before.size());
  // Values stay sealed: no plaintext in the file.
  EXPECT_EQ(ReadFile(file).find("value-1-2"), std::string::npos);

  ASSERT_OK_AND_ASSIGN(BackupInfo restored, Restore(file));
  EXPECT_EQ(restored.revision, info.revision);
  // Every key and value under the prefix, byte for byte.
  EXPECT_EQ(Raw(dst_prefix_), before);
  // And through the store, opened with the same key: every version.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> copy,
                       OpenStore(dst_prefix_, KeyA()));
  EXPECT_EQ(copy->store_id(), store_->store_id());
  const Dump want = DumpStore(*store_, {"prod", "prod/api"});
  EXPECT_EQ(want.size(), 5u);  // s4 is deleted, so not listed
  EXPECT_EQ(DumpStore(*copy, {"prod", "prod/api"}), want);
  EXPECT_EQ(copy->GetSecret("prod/api", "bin")->InsecureView(),
            std::string("\0\1\xff", 3));
  ASSERT_OK(copy->UndeleteSecret("prod", "s4"));
  EXPECT_EQ(copy->GetSecret("prod", "s4")->InsecureView(), "value-4-2");
}

TEST_F(ClusterBackupTest, BackupUnderEightWritersHoldsOneRevision) {
  for (int i = 0; i < 120; ++i) {
    ASSERT_OK(store_->SetSecret("bulk", absl::StrCat("b", i),
                                SecretBytes::FromString("x"), {}));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::array<std::atomic<int>, 8> writes_of{};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int n = 0; !stop.load(); ++n) {
        if (store_
                ->SetSecret("live", absl::StrCat("w", w),
                            SecretBytes::FromString(absl::StrCat(w, ":", n)),
                            {})
                .ok()) {
          writes_of[w].fetch_add(1);
          writes.fetch_add(1);
        }
      }
    });
  }
  // Wait until every writer has written (each one: a slow thread must not
  // be missing from the backup's revision), then back up in pages of 4 keys
  // (many Range calls while the writers go on).
  auto everyone_wrote = [&] {
    for (const std::atomic<int>& n : writes_of) {
      if (n.load() == 0) return false;
    }
    return writes.load() >= 16;
  };
  while (!everyone_wrote()) std::this_thread::yield();
  const int writes_before = writes.load();
  ClusterBackupOptions small_pages;
  small_pages.page_keys = 4;
  BackupInfo info;
  const std::string file = Backup(&info, small_pages);
  const int writes_during = writes.load() - writes_before;
  stop = true;
  for (std::thread& t : writers) t.join();
  EXPECT_GT(writes_during, 0) << "no write happened during the backup";

  // The live store moved on; the backup is exactly the prefix at its
  // revision (etcd still has that revision: nothing compacted it).
  const RawDump at_revision = Raw(src_prefix_, info.revision);
  EXPECT_NE(Raw(src_prefix_), at_revision);
  ASSERT_OK(Restore(file));
  EXPECT_EQ(Raw(dst_prefix_), at_revision);
  // Every live/wN secret is there, each at its value of that revision.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> copy,
                       OpenStore(dst_prefix_, KeyA()));
  for (int w = 0; w < 8; ++w) {
    EXPECT_OK(copy->GetSecret("live", absl::StrCat("w", w)));
  }
}

TEST_F(ClusterBackupTest, VerifyOnlyChecksAndWritesNothing) {
  Fill();
  const std::string file = Backup();
  ASSERT_OK_AND_ASSIGN(BackupInfo info, Restore(file, KeyA(), true));
  EXPECT_EQ(info.secrets, 6u);
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, WrongKeyIsRefusedAndNothingWritten) {
  Fill();
  const std::string file = Backup();
  absl::StatusOr<BackupInfo> r = Restore(file, KeyB());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition)
      << r.status();
  EXPECT_NE(r.status().message().find("master key"), std::string::npos);
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, TruncatedFilesAreRefusedAndNothingWritten) {
  Fill();
  const std::string file = Backup();
  const std::string bytes = ReadFile(file);
  for (size_t keep : {size_t{0}, size_t{7}, size_t{20}, bytes.size() / 3,
                      bytes.size() / 2, bytes.size() - 33, bytes.size() - 1}) {
    const std::string cut = MakeTempDir() + "/cut.zsb";
    WriteFile(cut, bytes.substr(0, keep));
    absl::StatusOr<BackupInfo> r = Restore(cut);
    EXPECT_FALSE(r.ok()) << "kept " << keep;
    EXPECT_FALSE(CheckBackupFile(cut).ok()) << "kept " << keep;
    EXPECT_TRUE(Raw(dst_prefix_).empty()) << "kept " << keep;
  }
  // Extra bytes at the end too.
  const std::string longer = MakeTempDir() + "/long.zsb";
  WriteFile(longer, bytes + "x");
  EXPECT_EQ(Restore(longer).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, EditedFilesAreRefusedAndNothingWritten) {
  Fill();
  const std::string file = Backup();
  const std::string bytes = ReadFile(file);
  // A flipped bit anywhere: the header, a record, the trailer, the MAC.
  int refused = 0;
  for (size_t at = 9; at < bytes.size(); at += bytes.size() / 37) {
    std::string edited = bytes;
    edited[at] ^= 0x01;
    const std::string path = MakeTempDir() + "/edited.zsb";
    WriteFile(path, edited);
    absl::StatusOr<BackupInfo> r = Restore(path);
    EXPECT_FALSE(r.ok()) << "flipped byte " << at;
    refused += !r.ok();
    EXPECT_TRUE(Raw(dst_prefix_).empty()) << "flipped byte " << at;
  }
  EXPECT_GT(refused, 30);
  std::string last = bytes;
  last.back() ^= 0x80;  // the MAC itself
  const std::string path = MakeTempDir() + "/mac.zsb";
  WriteFile(path, last);
  absl::StatusOr<BackupInfo> r = Restore(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("authentication"), std::string::npos);
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, ForeignFilesAreRefused) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/text", "hello, this is not a backup\n");
  EXPECT_EQ(Restore(dir + "/text").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A backup of another store (same key): its MAC key differs, so records
  // spliced from it are refused; a whole one restores its own store only.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdSecretStore> other,
                       OpenStore(src_prefix_ + "-other", KeyA()));
  ASSERT_OK(other->SetSecret("prod", "x", SecretBytes::FromString("y"), {}));
  Fill();
  const std::string mine = ReadFile(Backup());
  auto source = OpenClusterBackup(*other, clock_);
  ASSERT_OK(source);
  std::string theirs;
  while (true) {
    auto piece = (*source)->Next(1 << 20);
    ASSERT_OK(piece);
    if (piece->empty()) break;
    theirs += *piece;
  }
  // My header, their records: refused.
  const size_t my_header = 12 + (static_cast<unsigned char>(mine[10]) << 8 |
                                 static_cast<unsigned char>(mine[11]));
  const size_t their_header =
      12 + (static_cast<unsigned char>(theirs[10]) << 8 |
            static_cast<unsigned char>(theirs[11]));
  WriteFile(dir + "/spliced",
            mine.substr(0, my_header) + theirs.substr(their_header));
  absl::StatusOr<BackupInfo> r = Restore(dir + "/spliced");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, RestoreIntoANonEmptyPrefixIsRefused) {
  Fill();
  const std::string file = Backup();
  etcdserverpb::PutRequest put;
  put.set_key(dst_prefix_ + "/unrelated");
  put.set_value("keep me");
  ASSERT_OK(client_->Put(put));
  absl::StatusOr<BackupInfo> r = Restore(file);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition)
      << r.status();
  EXPECT_NE(r.status().message().find("not empty"), std::string::npos);
  EXPECT_EQ(Raw(dst_prefix_), (RawDump{{"/unrelated", "keep me"}}));
  // The live source itself is never a restore target either.
  ClusterRestoreOptions onto_source;
  onto_source.backup_path = file;
  onto_source.target = StoreOptions(src_prefix_);
  const RawDump source = Raw(src_prefix_);
  EXPECT_EQ(RestoreClusterBackup(onto_source, KeyA()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Raw(src_prefix_), source);
}

// A key-rotation lock held while the backup is taken is lease-bound; a
// restored copy would have no lease and never expire, so it is left out.
TEST_F(ClusterBackupTest, RotationLockIsNotBackedUp) {
  Fill();
  etcdserverpb::PutRequest lock;
  lock.set_key(src_prefix_ + "/lock/keys");
  lock.set_value("host pid 1 socket /run/x.sock");
  ASSERT_OK(client_->Put(lock));
  BackupInfo info;
  const std::string file = Backup(&info);
  RawDump want = Raw(src_prefix_);
  ASSERT_EQ(want.erase("/lock/keys"), 1u);
  EXPECT_EQ(info.keys, want.size());
  ASSERT_OK(Restore(file).status());
  EXPECT_EQ(Raw(dst_prefix_), want);
}

TEST_F(ClusterBackupTest, StoreRefusesAPrefixWithARestoreMarker) {
  // What an interrupted restore leaves: keys and the marker, no meta.
  etcdserverpb::PutRequest put;
  put.set_key(
      absl::StrCat(dst_prefix_, "/meta/", EtcdSecretStore::kRestoreMarker));
  put.set_value("0123");
  ASSERT_OK(client_->Put(put));
  absl::StatusOr<std::unique_ptr<EtcdSecretStore>> opened =
      OpenStore(dst_prefix_, KeyA());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition)
      << opened.status();
  EXPECT_NE(opened.status().message().find("restore"), std::string::npos);
  // And it did not create a store there.
  EXPECT_EQ(Raw(dst_prefix_).size(), 1u);
}

TEST_F(ClusterBackupTest, SqliteBackupIsNotRestoredIntoEtcd) {
  const std::string path = MakeTempDir() + "/v1.zsb";
  // A minimal, structurally valid version 1 header is enough: the kind is
  // refused before any key is used.
  BackupInfo v1;
  v1.created_at = absl::UnixEpoch();
  v1.store_id = "00";
  WriteFile(path, FrameBackupHeader(v1) + std::string(8, '\0') +
                      std::string(kBackupMacBytes, '\0'));
  absl::StatusOr<BackupInfo> r = Restore(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Raw(dst_prefix_).empty());
}

TEST_F(ClusterBackupTest, CompactionDuringTheBackupIsAClearError) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(store_->SetSecret("bulk", absl::StrCat("b", i),
                                SecretBytes::FromString("x"), {}));
  }
  ClusterBackupOptions small_pages;
  small_pages.page_keys = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BackupSource> source,
                       OpenClusterBackup(*store_, clock_, small_pages));
  ASSERT_OK(source->Next(1));  // the header: the revision is fixed
  ASSERT_OK(store_->SetSecret("bulk", "b0", SecretBytes::FromString("y"), {}));
  // Compact past the backup's revision.
  auto channel = grpc::CreateChannel(etcd_->ClientEndpoints()[0],
                                     grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext ctx;
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(Raw(src_prefix_).empty() ? 0 : [&] {
    etcdserverpb::RangeRequest r;
    r.set_key(src_prefix_ + "/");
    auto resp = client_->Range(r);
    return resp.ok() ? resp->header().revision() : int64_t{0};
  }());
  compact.set_physical(true);
  etcdserverpb::CompactionResponse compacted;
  ASSERT_TRUE(kv->Compact(&ctx, compact, &compacted).ok());
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<std::string> piece = source->Next(1 << 16);
    if (!piece.ok()) {
      status = piece.status();
      break;
    }
    ASSERT_FALSE(piece->empty()) << "the backup ended despite compaction";
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_NE(status.message().find("compacted"), std::string::npos);
}

}  // namespace
}  // namespace zlayer::secrets
