// Rules shared by every SecretStore implementation, kept in one place so that
// the memory and SQLite stores cannot drift apart: input validation,
// check-and-set, version retention, and paging.
//
//   RETURN_IF_ERROR(ValidateWrite(scope, name, value, options));
//   RETURN_IF_ERROR(
//       CheckExpectedVersion(options.expected_version, live, current));
//   uint32_t max = EffectiveMaxVersions(options.max_versions, existing_max);
//
// Everything here is a pure function; thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_STORE_COMMON_H_
#define ZLAYER_SECRETS_CORE_STORE_STORE_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;

// ValidateScope and ValidateName together.
absl::Status ValidateKey(absl::string_view scope, absl::string_view name);

// Everything SetSecret checks before touching storage: key, value size
// (<= kMaxValueBytes; empty values are allowed) and options.max_versions
// (0 or 1..kMaxMaxVersions) and options.node_affinity (canonical,
// core/store/node_affinity.h). InvalidArgument otherwise.
absl::Status ValidateWrite(absl::string_view scope, absl::string_view name,
                           const SecretBytes& value,
                           const WriteOptions& options);

// The check-and-set rule. `live` says whether a live (not soft-deleted)
// secret exists; `current_version` is its version (ignored when !live).
// OK when `expected` is absent; AlreadyExists when expected == 0 and a live
// secret exists; FailedPrecondition when expected > 0 and the live version
// differs (or there is no live secret).
absl::Status CheckExpectedVersion(const absl::optional<uint32_t>& expected,
                                  bool live, uint32_t current_version);

// The retention a write ends up with: `requested` if non-zero, else
// `existing` if non-zero (the secret's setting), else kDefaultMaxVersions.
uint32_t EffectiveMaxVersions(uint32_t requested, uint32_t existing);

// The oldest version kept when `current` is the newest and `max_versions`
// are kept (>= 1).
uint32_t OldestKeptVersion(uint32_t current, uint32_t max_versions);

// The version a new write gets after `current` (0 = no row). OutOfRange if
// the counter would overflow.
absl::StatusOr<uint32_t> NextVersion(uint32_t current);

// page_size 0 -> kDefaultPageSize; larger than kMaxPageSize is coerced down.
uint32_t EffectivePageSize(uint32_t requested);

// Page tokens are the lowercase hex of the last name returned; opaque to
// callers. Decoding fails with InvalidArgument for anything else.
std::string EncodePageToken(absl::string_view last_name);
absl::StatusOr<std::string> DecodePageToken(absl::string_view token);

// The smallest string greater than every string starting with `prefix`
// (byte-wise), or nullopt when there is none (empty prefix, or all 0xFF).
// A prefix filter is then the range [prefix, upper bound).
absl::optional<std::string> PrefixUpperBound(absl::string_view prefix);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_STORE_COMMON_H_
