// Node affinity enforcement: the one place that decides what a caller sees
// of a secret pinned to nodes (docs/identity.md, "Node affinity").
//
// The rule (NodeAffinityAdmits): a secret without an affinity is for every
// node. A secret with one is for callers whose node identity
// (Principal::node_names / node_labels) matches at least one entry: a
// `node:<name>` entry matches a caller speaking for node <name>, a
// `label:<k>=<v>` entry a caller carrying that label.
//
// NodeAffinityView is a SecretStore over the daemon's store, made once per
// call for the identified caller; every read of the call goes through it:
//   * a value (GetSecret, GetSecrets, ReadBatch, ReadVersions, GetVersioned,
//     GetWithMetadata) of a secret the caller is not admitted to is
//     NotFound "secret not found", exactly what the store answers for a
//     missing secret (batch reads omit it or answer that status);
//   * its metadata (GetMetadata, ListVersions, List, ListSecrets, Exists) is
//     hidden the same way, except from administrators, who see pinned
//     secrets' metadata — and are the only callers shown the affinity
//     itself (others get metadata with node_affinity cleared);
//   * administrators get no exemption for values: an affinity says where a
//     value may go, and an administrator's terminal is not one of the nodes;
//   * writes pass through, but only an administrator may change or remove
//     a secret's existing affinity (anyone with write may pin a secret that
//     has none: that only narrows who reads it); PermissionDenied
//     "changing the node affinity of <scope>/<name> needs an administrator".
// Every key it hid is recorded (hidden()), so the call's audit record can
// name the reason while the caller's answer does not.
//
//   NodeAffinityView view(ctx.store, nullptr, principal, is_admin);
//   ASSIGN_OR_RETURN(ValueWithMetadata v, view.GetWithMetadata("prod", "db",
//   0)); for (const SecretKey& k : view.hidden()) ...audit...
//
// The affinity comes with the value when the store reads both at one
// snapshot (VersionedValue::node_affinity: ReadBatch, ReadVersions,
// GetVersioned, GetWithMetadata on the daemon's stores); otherwise (plain
// GetSecret/GetSecrets, values from another source) it is read from the
// store's metadata after the value, so a secret pinned while such a read
// runs is hidden from it. Not thread-safe (one
// per call); the stores it wraps must outlive it.
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_NODE_AFFINITY_VIEW_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_NODE_AFFINITY_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

// True when `principal` may read a secret with `affinity` (canonical
// entries; empty = any node).
bool NodeAffinityAdmits(const std::vector<std::string>& affinity,
                        const Principal& principal);

// Sets principal->node_names / node_labels from its `node:` and
// `node-label:` roles (core/identity/api_key_store.h). Idempotent.
void AddNodeIdentityFromRoles(Principal* principal);

class NodeAffinityView final : public SecretStore {
 public:
  // `store` holds the secrets and their metadata; `values` is where values
  // are read from (null = `store`; the daemon's resolve source when some
  // scopes are read elsewhere — their secrets have no metadata here and so
  // no affinity). `principal` must outlive the view. `administrator`: the
  // caller may see pinned metadata and change affinities.
  NodeAffinityView(SecretStore* store, SecretsProvider* values,
                   const Principal& principal, bool administrator);

  // Secrets this view hid from the caller so far, in the order met.
  const std::vector<SecretKey>& hidden() const { return hidden_; }

  // SecretsProvider
  absl::StatusOr<SecretBytes> GetSecret(absl::string_view scope,
                                        absl::string_view name) override;
  absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>> GetSecrets(
      absl::string_view scope, const std::vector<std::string>& names) override;
  absl::StatusOr<std::vector<SecretMetadata>> ListSecrets(
      absl::string_view scope) override;
  absl::StatusOr<bool> Exists(absl::string_view scope,
                              absl::string_view name) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadBatch(
      const std::vector<SecretKey>& keys) override;
  absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> ReadVersions(
      const std::vector<VersionedKey>& keys) override;

  // SecretStore
  absl::StatusOr<VersionedValue> GetVersioned(absl::string_view scope,
                                              absl::string_view name,
                                              uint32_t version) override;
  absl::StatusOr<SecretMetadata> GetMetadata(absl::string_view scope,
                                             absl::string_view name) override;
  absl::StatusOr<ValueWithMetadata> GetWithMetadata(absl::string_view scope,
                                                    absl::string_view name,
                                                    uint32_t version) override;
  absl::StatusOr<SecretMetadata> SetSecret(
      absl::string_view scope, absl::string_view name, const SecretBytes& value,
      const WriteOptions& options) override;
  absl::Status DeleteSecret(absl::string_view scope,
                            absl::string_view name) override;
  absl::Status UndeleteSecret(absl::string_view scope,
                              absl::string_view name) override;
  absl::Status DestroySecret(absl::string_view scope,
                             absl::string_view name) override;
  absl::StatusOr<RotationResult> RotateSecret(
      absl::string_view scope, absl::string_view name,
      const SecretBytes& value) override;
  absl::StatusOr<std::vector<VersionInfo>> ListVersions(
      absl::string_view scope, absl::string_view name) override;
  absl::StatusOr<SecretMetadata> RollbackSecret(absl::string_view scope,
                                                absl::string_view name,
                                                uint32_t version) override;
  absl::StatusOr<ListPage> List(absl::string_view scope,
                                const ListOptions& options) override;

 private:
  // OK when the caller may read the value of (scope, name); NotFound (the
  // store's "secret not found") when the secret's affinity excludes it,
  // recorded in hidden_. Errors of the metadata read other than NotFound
  // (DataLoss: an edited row) are returned as they are.
  absl::Status CheckValue(absl::string_view scope, absl::string_view name);
  // The same for a value read with its affinity (VersionedValue::
  // node_affinity, same snapshot): no second read. Falls back to
  // CheckValue when the source carried none.
  absl::Status CheckRead(absl::string_view scope, absl::string_view name,
                         const VersionedValue& read);
  // The same for metadata: administrators are always admitted.
  bool MetadataVisible(const SecretMetadata& metadata);
  // What the caller is shown of metadata it may see.
  SecretMetadata Shown(SecretMetadata metadata) const;
  void Hide(absl::string_view scope, absl::string_view name);

  SecretStore* const store_;
  SecretsProvider* const values_;
  const Principal& principal_;
  const bool administrator_;
  std::vector<SecretKey> hidden_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_NODE_AFFINITY_VIEW_H_
