#include "core/store/sealed_row_cache.h"

namespace zlayer::secrets {

size_t SealedRowCache::SizeOf(const std::pair<std::string, std::string>& key,
                              const SealedRow& row) {
  return kEntryOverheadBytes + key.first.size() + key.second.size() +
         row.metadata.scope.size() + row.metadata.name.size() +
         row.incarnation.size() + row.ciphertext.size();
}

uint64_t SealedRowCache::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

std::shared_ptr<const SealedRow> SealedRowCache::Lookup(
    absl::string_view scope, absl::string_view name) {
  if (!enabled()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = rows_.find(std::make_pair(std::string(scope), std::string(name)));
  if (it == rows_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  return it->second;
}

void SealedRowCache::Insert(absl::string_view scope, absl::string_view name,
                            SealedRow row, uint64_t read_epoch) {
  if (!enabled()) return;
  std::pair<std::string, std::string> key{std::string(scope),
                                          std::string(name)};
  const size_t size = SizeOf(key, row);
  absl::MutexLock lock(&mu_);
  if (read_epoch != epoch_ || size > max_bytes_) {
    ++stats_.refused;
    return;
  }
  auto it = rows_.find(key);
  if (it != rows_.end()) {
    bytes_ -= SizeOf(it->first, *it->second);
    rows_.erase(it);
  }
  if (bytes_ + size > max_bytes_) {
    rows_.clear();
    bytes_ = 0;
    ++stats_.clears_for_space;
  }
  rows_.emplace(std::move(key),
                std::make_shared<const SealedRow>(std::move(row)));
  bytes_ += size;
  ++stats_.inserts;
}

void SealedRowCache::InvalidateAll() {
  if (!enabled()) return;
  absl::MutexLock lock(&mu_);
  ++epoch_;
  ++stats_.invalidations;
  rows_.clear();
  bytes_ = 0;
}

SealedRowCache::Stats SealedRowCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats out = stats_;
  out.entries = rows_.size();
  out.bytes = bytes_;
  return out;
}

}  // namespace zlayer::secrets
