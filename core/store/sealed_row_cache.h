// SealedRowCache: recently read secrets, kept *sealed*: the current
// version's ciphertext and the secret's metadata, never a plaintext value.
// A store that finds a row here skips its storage reads but still opens the
// ciphertext (AEAD under the row's associated data) on every hit, so a
// cached row that was altered in memory fails as it would from storage.
//
//   const uint64_t epoch = cache.epoch();       // before reading storage
//   if (auto row = cache.Lookup(scope, name)) { ...open row->ciphertext... }
//   ...read storage, verify...
//   cache.Insert(scope, name, std::move(row), epoch);
//   cache.InvalidateAll();                       // on every committed write
//
// Coherence: every write (or any sign that the storage changed, e.g. a
// commit by another process) calls InvalidateAll() (or Invalidate) before
// the write is acknowledged; it bumps the epoch and drops entries. An Insert
// carries the epoch taken before its storage read and is dropped if the
// epoch moved meanwhile, so a read that raced a write never caches the older
// row. Hence once a write is acknowledged no reader gets an older row here.
//
// Memory: the entries' bytes (keys, ciphertext, incarnation, metadata
// strings, plus kEntryOverheadBytes each) stay <= max_bytes; an Insert that
// would pass it clears the cache first (no LRU bookkeeping on the hit path).
// max_bytes 0 disables the cache (Lookup always misses).
//
// Backend-neutral (SQLite today; an etcd backend invalidates on its watch).
// Thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_SEALED_ROW_CACHE_H_
#define ZLAYER_SECRETS_CORE_STORE_SEALED_ROW_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

// One cached secret: what a read of its current version needs, sealed.
struct SealedRow {
  SecretMetadata metadata;  // metadata.key_id: the generation that sealed it
  std::string incarnation;  // bound into the ciphertext's associated data
  std::string ciphertext;   // the current version (metadata.version), sealed
};

class SealedRowCache {
 public:
  // Per-entry bookkeeping counted against max_bytes (map slot, shared_ptr
  // control block, SecretMetadata).
  static constexpr size_t kEntryOverheadBytes = 192;

  explicit SealedRowCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  SealedRowCache(const SealedRowCache&) = delete;
  SealedRowCache& operator=(const SealedRowCache&) = delete;

  bool enabled() const { return max_bytes_ > 0; }
  // The current epoch: take it before the storage read whose row you will
  // Insert.
  uint64_t epoch() const;
  // The cached row, or null.
  std::shared_ptr<const SealedRow> Lookup(absl::string_view scope,
                                          absl::string_view name);
  // Caches `row` unless the epoch moved since `read_epoch` (a write may have
  // committed after the read) or the row alone passes max_bytes.
  void Insert(absl::string_view scope, absl::string_view name, SealedRow row,
              uint64_t read_epoch);
  // Drops every entry and moves the epoch (in-flight Inserts are refused).
  void InvalidateAll();

  struct Stats {
    uint64_t hits = 0, misses = 0, inserts = 0, refused = 0;
    uint64_t invalidations = 0, clears_for_space = 0;
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  static size_t SizeOf(const std::pair<std::string, std::string>& key,
                       const SealedRow& row);

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::pair<std::string, std::string>,
                      std::shared_ptr<const SealedRow>>
      rows_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_SEALED_ROW_CACHE_H_
