#include "core/ops/batch_read.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::StatusOr<BatchRead> ReadSecrets(SecretStore* store,
                                      const std::vector<SecretKey>& keys,
                                      size_t max_answer_bytes) {
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> reads,
                   store->ReadBatch(keys));
  // The answer's size is known from the reads: refuse before copying.
  size_t answer_bytes = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    answer_bytes += keys[i].name.size();
    if (reads[i].ok()) answer_bytes += reads[i]->value.size();
  }
  if (max_answer_bytes != 0 && answer_bytes > max_answer_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the answer would hold ", answer_bytes,
        " bytes; the per-call limit is ", max_answer_bytes, " bytes"));
  }
  BatchRead out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (reads[i].ok()) {
      out.found.push_back(keys[i]);
      out.values.push_back(*std::move(reads[i]));
    } else if (absl::IsNotFound(reads[i].status())) {
      out.missing.push_back(keys[i].name);
    } else {
      return reads[i].status();
    }
  }
  return out;
}

}  // namespace zlayer::secrets
