// Backup and restore figures for a store of N secrets (core/backup):
// the time to take a backup, its size, and the time to verify and restore
// it. Run with `bazel run -c opt //bench:backup_bench -- N [VERSIONS
// [VALUE_BYTES]]`. The store stays in the printed directory (key: 32 'k'
// bytes), e.g. to measure a daemon's memory during a backup of it.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/backup/backup.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/aead.h"
#include "core/store/sqlite/sqlite_secret_store.h"

namespace zs = zlayer::secrets;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int versions = argc > 2 ? std::atoi(argv[2]) : 1;
  const int value_bytes = argc > 3 ? std::atoi(argv[3]) : 64;
  char dir[] = "/tmp/zs-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  const std::string path = absl::StrCat(dir, "/secrets.db");
  zs::RealClock clock;
  const std::string key(32, 'k');  // a bench key
  auto ring = zs::Keyring::Create(1, zs::SecretBytes::FromString(key));
  zs::SqliteStoreOptions options;
  options.path = path;
  options.synchronous = zs::SqliteStoreOptions::Synchronous::kNormal;
  auto store = zs::SqliteSecretStore::Open(options, *std::move(ring), &clock);
  if (!store.ok()) return 1;
  // Writes in parallel so group commit fills the store quickly.
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < n; i += 8) {
        for (int v = 0; v < versions; ++v) {
          (void)(*store)->SetSecret(
              "bench", absl::StrCat("secret-", i),
              zs::SecretBytes::FromString(std::string(value_bytes, 'v')), {});
        }
      }
    });
  }
  for (auto& w : writers) w.join();

  absl::Time start = absl::Now();
  zs::BackupInfo info;
  auto file = zs::CreateBackup(**store, clock, &info);
  const absl::Duration backup_time = absl::Now() - start;
  if (!file.ok()) return 1;
  const std::string backup_path = absl::StrCat(dir, "/backup.zsb");
  if (!zs::SaveBackupFile(backup_path, *file).ok()) return 1;
  struct stat st;
  stat(path.c_str(), &st);

  zs::RestoreOptions restore;
  restore.backup_path = backup_path;
  restore.data_dir = absl::StrCat(dir, "/restored");
  start = absl::Now();
  auto restored =
      zs::RestoreBackup(restore, zs::SecretBytes::FromString(key), &clock);
  const absl::Duration restore_time = absl::Now() - start;
  if (!restored.ok()) {
    std::fprintf(stderr, "restore: %s\n", restored.status().ToString().c_str());
    return 1;
  }
  std::printf("store_dir=%s\n", dir);
  std::printf("secrets=%d versions_each=%d store_file_bytes=%lld\n", n,
              versions, static_cast<long long>(st.st_size));
  std::printf("backup: %s, %llu bytes (%llu versions)\n",
              absl::FormatDuration(backup_time).c_str(),
              static_cast<unsigned long long>(info.file_bytes),
              static_cast<unsigned long long>(info.versions));
  std::printf("restore (verify + write): %s\n",
              absl::FormatDuration(restore_time).c_str());
  return 0;
}
