#include "core/store/store_common.h"

#include <algorithm>
#include <limits>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/ids.h"
#include "core/base/status_macros.h"
#include "core/store/node_affinity.h"

namespace zlayer::secrets {

absl::Status ValidateKey(absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateScope(scope));
  return ValidateName(name);
}

absl::Status ValidateWrite(absl::string_view scope, absl::string_view name,
                           const SecretBytes& value,
                           const WriteOptions& options) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  if (value.size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret value is larger than ", kMaxValueBytes, " bytes"));
  }
  if (options.max_versions > kMaxMaxVersions) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_versions must be 1..", kMaxMaxVersions,
                     " (0 keeps the current setting)"));
  }
  if (options.node_affinity.has_value()) {
    RETURN_IF_ERROR(ValidateCanonicalNodeAffinity(*options.node_affinity));
  }
  return absl::OkStatus();
}

absl::Status CheckExpectedVersion(const absl::optional<uint32_t>& expected,
                                  bool live, uint32_t current_version) {
  if (!expected.has_value()) return absl::OkStatus();
  if (*expected == 0) {
    if (live) {
      return absl::AlreadyExistsError(
          "secret already exists (create-only write)");
    }
    return absl::OkStatus();
  }
  if (!live) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expected version ", *expected, " but the secret does not exist"));
  }
  if (current_version != *expected) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected version ", *expected,
                     " but the current version is ", current_version));
  }
  return absl::OkStatus();
}

uint32_t EffectiveMaxVersions(uint32_t requested, uint32_t existing) {
  if (requested != 0) return requested;
  if (existing != 0) return existing;
  return kDefaultMaxVersions;
}

uint32_t OldestKeptVersion(uint32_t current, uint32_t max_versions) {
  max_versions = std::max<uint32_t>(max_versions, 1);
  return current >= max_versions ? current - max_versions + 1 : 1;
}

absl::StatusOr<uint32_t> NextVersion(uint32_t current) {
  if (current == std::numeric_limits<uint32_t>::max()) {
    return absl::OutOfRangeError("secret version counter is exhausted");
  }
  return current + 1;
}

uint32_t EffectivePageSize(uint32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

std::string EncodePageToken(absl::string_view last_name) {
  return absl::BytesToHexString(last_name);
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  // Tokens are issued in lowercase (absl::BytesToHexString); one spelling per
  // position keeps them canonical.
  if (token.size() > 2 * kMaxNameBytes || absl::c_any_of(token, [](char c) {
        return absl::ascii_isupper(static_cast<unsigned char>(c));
      })) {
    return absl::InvalidArgumentError("malformed page token");
  }
  absl::StatusOr<std::string> name = HexDecode(token);
  if (!name.ok()) return absl::InvalidArgumentError("malformed page token");
  return name;
}

absl::optional<std::string> PrefixUpperBound(absl::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xFF) {
    bound.pop_back();
  }
  if (bound.empty()) return absl::nullopt;
  bound.back() =
      static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
  return bound;
}

}  // namespace zlayer::secrets
