// Node affinity of a secret: the nodes (by name or by label) whose callers
// may read or resolve its value (docs/identity.md, "Node affinity"). The
// store keeps it with the secret's metadata; who matches is decided in
// core/identity/node_affinity_view.h.
//
// An affinity is a list of entries, kept canonical (sorted, no duplicates):
//   node:<name>          the node called <name>
//   label:<key>=<value>  every node carrying that label
// <name>, <key> and <value> are 1..63 bytes of [A-Za-z0-9._-] (a key may
// also hold '/', as Kubernetes label keys do). At most kMaxNodeAffinityEntries
// entries. An empty list means "no affinity": any node.
//
//   ASSIGN_OR_RETURN(std::vector<std::string> affinity,
//                    CanonicalNodeAffinity({"n1", "label:zone=a"}));
//   // {"label:zone=a", "node:n1"}
//
// Pure functions; thread-safe.
#ifndef ZLAYER_SECRETS_CORE_STORE_NODE_AFFINITY_H_
#define ZLAYER_SECRETS_CORE_STORE_NODE_AFFINITY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets {

inline constexpr size_t kMaxNodeAffinityEntries = 32;
inline constexpr size_t kMaxNodeAffinityPartBytes = 63;
inline constexpr absl::string_view kNodeAffinityNodePrefix = "node:";
inline constexpr absl::string_view kNodeAffinityLabelPrefix = "label:";

// Validates `entries` as a user wrote them and returns the canonical list:
// a bare name ("n1") means "node:n1"; sorted; duplicates dropped.
// InvalidArgument naming the entry's position and the rule it breaks (the
// entry itself is quoted only when it is printable and short).
absl::StatusOr<std::vector<std::string>> CanonicalNodeAffinity(
    const std::vector<std::string>& entries);

// OK when `entries` is already canonical (what a store accepts in
// WriteOptions::node_affinity); InvalidArgument otherwise.
absl::Status ValidateCanonicalNodeAffinity(
    const std::vector<std::string>& entries);

// A node name or a label "key=value" as a caller's identity carries it
// (API key roles, certificate names): the same character rules as above.
bool IsValidNodeName(absl::string_view name);
bool IsValidNodeLabel(absl::string_view key_equals_value);

// The stored form: entries joined by ',' ("" = no affinity). Entries never
// hold ','. Decode answers DataLoss for text that is not a canonical list.
std::string EncodeNodeAffinity(const std::vector<std::string>& entries);
absl::StatusOr<std::vector<std::string>> DecodeNodeAffinity(
    absl::string_view stored);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_STORE_NODE_AFFINITY_H_
