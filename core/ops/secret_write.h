// Request-level write operations over a SecretStore: what a SetSecret call
// does, independent of gRPC.
//
//   ASSIGN_OR_RETURN(WriteOutcome out,
//                    WriteSecret(store, "shop", "db", value, options));
//   // out.metadata.version, out.created
//
// Thread-safe if the store is (each call is a few store calls; concurrency
// between writers is settled by the store's check-and-set).
#ifndef ZLAYER_SECRETS_CORE_OPS_SECRET_WRITE_H_
#define ZLAYER_SECRETS_CORE_OPS_SECRET_WRITE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

// How often WriteSecret re-reads the current version when a concurrent
// writer slips in between its read and its check-and-set write.
inline constexpr int kCreateProbeAttempts = 4;

struct WriteOutcome {
  SecretMetadata metadata;  // of the version written
  bool created = false;     // no live secret existed before the write
};

// Writes `value` as a new version of scope/name.
//
// With options.expected_version set, one check-and-set write: 0 succeeds
// only when no live secret exists (created = true), N only when version N
// is live; AlreadyExists / FailedPrecondition from the store otherwise.
//
// Without it, an unconditional write whose `created` is exact: the current
// version is read and the write is a check-and-set against exactly it; when
// another writer slips in between (the write fails, nothing written) it
// looks again, up to kCreateProbeAttempts times, then writes
// unconditionally (only then may `created` be wrong, and only for a
// soft-deleted secret revived at version > 1). Other store errors are
// returned as they are.
absl::StatusOr<WriteOutcome> WriteSecret(SecretStore* store,
                                         absl::string_view scope,
                                         absl::string_view name,
                                         const SecretBytes& value,
                                         WriteOptions options);

// RotateSecret that may also set the node affinity (RotateSecret RPC):
// without options.node_affinity exactly store->RotateSecret; with it a
// check-and-set write against the live version (re-read up to
// kCreateProbeAttempts times when another writer slips in; then Aborted).
// NotFound when there is no live secret, as RotateSecret.
absl::StatusOr<RotationResult> RotateSecretWith(SecretStore* store,
                                                absl::string_view scope,
                                                absl::string_view name,
                                                const SecretBytes& value,
                                                WriteOptions options);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_SECRET_WRITE_H_
