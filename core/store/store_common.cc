#include "core/store/store_common.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

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
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(last_name.size() * 2);
  for (char c : last_name) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0F]);
  }
  return out;
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (token.size() % 2 != 0 || token.size() > 2 * kMaxNameBytes) {
    return absl::InvalidArgumentError("malformed page token");
  }
  std::string out;
  out.reserve(token.size() / 2);
  for (size_t i = 0; i < token.size(); i += 2) {
    const int hi = nibble(token[i]);
    const int lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("malformed page token");
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
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
