// What ResolveEnv, RotateSecret and RollbackSecret tell the consumer graph
// (core/watch/consumer_graph.h): who resolved which versions, and how many
// live consumers still hold the version a rotation replaced. Never values.
//
//   ASSIGN_OR_RETURN(ResolvedEnv env, resolver.Resolve(...));
//   RecordResolve(graph, "prod/api/7", env.receipt);  // graph full: not fatal
//   ...
//   ASSIGN_OR_RETURN(RotationResult r, store->RotateSecret(...));
//   size_t stale = ConsumersOnVersion(graph, {scope, name},
//                                     r.previous_version);
//
// Thread-safe (the graph is).
#ifndef ZLAYER_SECRETS_CORE_OPS_CONSUMER_RECORD_H_
#define ZLAYER_SECRETS_CORE_OPS_CONSUMER_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/resolve/resolver.h"
#include "core/store/secret_store.h"
#include "core/watch/consumer_graph.h"

namespace zlayer::secrets {

// Records that `consumer` now holds the versions of `receipt` (one per
// secret; a secret named by several entries is recorded once). Does nothing
// for an anonymous consumer ("") or a null graph. ResourceExhausted when the
// graph is full (nothing recorded): callers log it and still answer, as the
// limit refuses new consumers, never a resolve.
absl::Status RecordResolve(ConsumerGraph* graph, absl::string_view consumer,
                           const std::vector<ReceiptEntry>& receipt);

// How many live consumers hold `version` of `secret`; 0 for a null graph or
// version 0 (there was no previous version).
size_t ConsumersOnVersion(ConsumerGraph* graph, const SecretKey& secret,
                          uint32_t version);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_CONSUMER_RECORD_H_
