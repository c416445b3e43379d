#include "core/ops/consumer_record.h"

#include <utility>

#include "absl/container/flat_hash_set.h"

namespace zlayer::secrets {

absl::Status RecordResolve(ConsumerGraph* graph, absl::string_view consumer,
                           const std::vector<ReceiptEntry>& receipt) {
  if (graph == nullptr || consumer.empty()) return absl::OkStatus();
  // The graph counts each pair it is given: a secret named by several
  // entries (DB_URL and DB_USER fields of one secret) goes in once.
  absl::flat_hash_set<SecretKey> seen;
  std::vector<std::pair<SecretKey, uint32_t>> versions;
  versions.reserve(receipt.size());
  for (const ReceiptEntry& r : receipt) {
    if (seen.insert(r.target).second) {
      versions.emplace_back(r.target, r.version);
    }
  }
  return graph->Record(consumer, versions);
}

size_t ConsumersOnVersion(ConsumerGraph* graph, const SecretKey& secret,
                          uint32_t version) {
  if (graph == nullptr || version == 0) return 0;
  return graph->LiveOnVersion(secret, version);
}

}  // namespace zlayer::secrets
