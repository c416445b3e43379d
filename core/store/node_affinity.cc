#include "core/store/node_affinity.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace zlayer::secrets {
namespace {

bool IsPart(absl::string_view part, bool allow_slash) {
  if (part.empty() || part.size() > kMaxNodeAffinityPartBytes) return false;
  return std::all_of(part.begin(), part.end(), [allow_slash](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-' || (allow_slash && c == '/');
  });
}

// Why `entry` (canonical form expected) is not a valid entry; "" when it is.
std::string Problem(absl::string_view entry) {
  if (absl::StartsWith(entry, kNodeAffinityNodePrefix)) {
    if (IsValidNodeName(entry.substr(kNodeAffinityNodePrefix.size()))) {
      return "";
    }
    return "a node name is 1..63 characters of [A-Za-z0-9._-]";
  }
  if (absl::StartsWith(entry, kNodeAffinityLabelPrefix)) {
    if (IsValidNodeLabel(entry.substr(kNodeAffinityLabelPrefix.size()))) {
      return "";
    }
    return "a label is key=value, each 1..63 characters of [A-Za-z0-9._-] "
           "(the key may also hold '/')";
  }
  return "an entry is node:<name>, label:<key>=<value> or a bare node name";
}

absl::Status EntryError(size_t index, absl::string_view entry,
                        absl::string_view problem) {
  const bool quotable = entry.size() <= 2 * kMaxNodeAffinityPartBytes &&
                        std::all_of(entry.begin(), entry.end(), [](char c) {
                          return absl::ascii_isgraph(c) && c != '\'';
                        });
  return absl::InvalidArgumentError(
      absl::StrCat("node affinity entry ", index + 1,
                   quotable ? absl::StrCat(" '", entry, "'") : std::string(),
                   ": ", problem));
}

absl::Status CountError(size_t count) {
  return absl::InvalidArgumentError(absl::StrCat("node affinity has ", count,
                                                 " entries; at most ",
                                                 kMaxNodeAffinityEntries));
}

}  // namespace

bool IsValidNodeName(absl::string_view name) {
  return IsPart(name, /*allow_slash=*/false);
}

bool IsValidNodeLabel(absl::string_view key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  if (eq == absl::string_view::npos) return false;
  return IsPart(key_equals_value.substr(0, eq), /*allow_slash=*/true) &&
         IsPart(key_equals_value.substr(eq + 1), /*allow_slash=*/false);
}

absl::StatusOr<std::vector<std::string>> CanonicalNodeAffinity(
    const std::vector<std::string>& entries) {
  if (entries.size() > kMaxNodeAffinityEntries) {
    return CountError(entries.size());
  }
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    std::string canonical =
        entry.find(':') == std::string::npos && IsValidNodeName(entry)
            ? absl::StrCat(kNodeAffinityNodePrefix, entry)
            : entry;
    if (std::string problem = Problem(canonical); !problem.empty()) {
      return EntryError(i, entry, problem);
    }
    out.push_back(std::move(canonical));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status ValidateCanonicalNodeAffinity(
    const std::vector<std::string>& entries) {
  if (entries.size() > kMaxNodeAffinityEntries) {
    return CountError(entries.size());
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (std::string problem = Problem(entries[i]); !problem.empty()) {
      return EntryError(i, entries[i], problem);
    }
    if (i > 0 && entries[i - 1] >= entries[i]) {
      return absl::InvalidArgumentError(
          "node affinity must be sorted without duplicates "
          "(CanonicalNodeAffinity)");
    }
  }
  return absl::OkStatus();
}

std::string EncodeNodeAffinity(const std::vector<std::string>& entries) {
  return absl::StrJoin(entries, ",");
}

absl::StatusOr<std::vector<std::string>> DecodeNodeAffinity(
    absl::string_view stored) {
  if (stored.empty()) return std::vector<std::string>();
  std::vector<std::string> entries = absl::StrSplit(stored, ',');
  if (!ValidateCanonicalNodeAffinity(entries).ok()) {
    return absl::DataLossError("stored node affinity is malformed");
  }
  return entries;
}

}  // namespace zlayer::secrets
