// ReadSecrets: several secrets at one snapshot with a bound on the answer's
// size (what Secrets.GetSecrets does), independent of gRPC.
//
//   ASSIGN_OR_RETURN(BatchRead read, ReadSecrets(store, keys, 4 << 20));
//   // read.found[i] has read.values[i]; read.missing lists the rest
//
// Thread-safe if the store is.
#ifndef ZLAYER_SECRETS_CORE_OPS_BATCH_READ_H_
#define ZLAYER_SECRETS_CORE_OPS_BATCH_READ_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct BatchRead {
  std::vector<SecretKey> found;        // in the order asked
  std::vector<VersionedValue> values;  // aligned with `found`
  std::vector<std::string> missing;    // names absent or soft-deleted
};

// Reads `keys` in one ReadBatch. ResourceExhausted ("the answer would hold
// N bytes; the per-call limit is M bytes") when the names and values found
// exceed `max_answer_bytes` (0 = unbounded), checked before any value is
// copied; the first per-key error other than NotFound (DataLoss, ...); the
// snapshot's error. No partial answer next to an error.
absl::StatusOr<BatchRead> ReadSecrets(SecretStore* store,
                                      const std::vector<SecretKey>& keys,
                                      size_t max_answer_bytes);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_BATCH_READ_H_
