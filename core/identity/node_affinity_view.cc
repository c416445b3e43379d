#include "core/identity/node_affinity_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/identity/api_key_store.h"
#include "core/store/node_affinity.h"

namespace zlayer::secrets {
namespace {

// What every store answers for a missing secret (the conformance suite's
// NotFound), so a hidden secret cannot be told from a missing one.
absl::Status SecretNotFound() {
  return absl::NotFoundError("secret not found");
}

bool Contains(const std::vector<std::string>& list, absl::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

void AddUnique(std::vector<std::string>* list, absl::string_view item) {
  if (!Contains(*list, item)) list->emplace_back(item);
}

}  // namespace

bool NodeAffinityAdmits(const std::vector<std::string>& affinity,
                        const Principal& principal) {
  if (affinity.empty()) return true;
  for (absl::string_view entry : affinity) {
    if (absl::ConsumePrefix(&entry, kNodeAffinityNodePrefix)) {
      if (Contains(principal.node_names, entry)) return true;
    } else if (absl::ConsumePrefix(&entry, kNodeAffinityLabelPrefix)) {
      if (Contains(principal.node_labels, entry)) return true;
    }
  }
  return false;
}

void AddNodeIdentityFromRoles(Principal* principal) {
  for (absl::string_view role : principal->roles) {
    if (absl::ConsumePrefix(&role, kNodeRolePrefix)) {
      if (IsValidNodeName(role)) AddUnique(&principal->node_names, role);
    } else if (absl::ConsumePrefix(&role, kNodeLabelRolePrefix)) {
      if (IsValidNodeLabel(role)) AddUnique(&principal->node_labels, role);
    }
  }
}

NodeAffinityView::NodeAffinityView(SecretStore* store, SecretsProvider* values,
                                   const Principal& principal,
                                   bool administrator)
    : store_(store),
      values_(values != nullptr ? values : store),
      principal_(principal),
      administrator_(administrator) {}

void NodeAffinityView::Hide(absl::string_view scope, absl::string_view name) {
  SecretKey key{std::string(scope), std::string(name)};
  if (std::find(hidden_.begin(), hidden_.end(), key) == hidden_.end()) {
    hidden_.push_back(std::move(key));
  }
}

absl::Status NodeAffinityView::CheckValue(absl::string_view scope,
                                          absl::string_view name) {
  absl::StatusOr<SecretMetadata> metadata = store_->GetMetadata(scope, name);
  // No metadata here (a scope read from elsewhere, or a secret deleted
  // since the value was read): no affinity to enforce.
  if (absl::IsNotFound(metadata.status())) return absl::OkStatus();
  if (!metadata.ok()) return metadata.status();
  if (NodeAffinityAdmits(metadata->node_affinity, principal_)) {
    return absl::OkStatus();
  }
  Hide(scope, name);
  return SecretNotFound();
}

absl::Status NodeAffinityView::CheckRead(absl::string_view scope,
                                         absl::string_view name,
                                         const VersionedValue& read) {
  if (!read.node_affinity.has_value()) return CheckValue(scope, name);
  if (NodeAffinityAdmits(*read.node_affinity, principal_)) {
    return absl::OkStatus();
  }
  Hide(scope, name);
  return SecretNotFound();
}

bool NodeAffinityView::MetadataVisible(const SecretMetadata& metadata) {
  if (administrator_ ||
      NodeAffinityAdmits(metadata.node_affinity, principal_)) {
    return true;
  }
  Hide(metadata.scope, metadata.name);
  return false;
}

SecretMetadata NodeAffinityView::Shown(SecretMetadata metadata) const {
  if (!administrator_) metadata.node_affinity.clear();
  return metadata;
}

// --- Values

absl::StatusOr<SecretBytes> NodeAffinityView::GetSecret(
    absl::string_view scope, absl::string_view name) {
  ASSIGN_OR_RETURN(SecretBytes value, values_->GetSecret(scope, name));
  RETURN_IF_ERROR(CheckValue(scope, name));
  return value;
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
NodeAffinityView::GetSecrets(absl::string_view scope,
                             const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(auto values, values_->GetSecrets(scope, names));
  for (auto it = values.begin(); it != values.end();) {
    const absl::Status status = CheckValue(scope, it->first);
    if (absl::IsNotFound(status)) {
      values.erase(it++);
      continue;
    }
    RETURN_IF_ERROR(status);
    ++it;
  }
  return values;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
NodeAffinityView::ReadBatch(const std::vector<SecretKey>& keys) {
  ASSIGN_OR_RETURN(auto read, values_->ReadBatch(keys));
  for (size_t i = 0; i < read.size() && i < keys.size(); ++i) {
    if (!read[i].ok()) continue;
    absl::Status status = CheckRead(keys[i].scope, keys[i].name, *read[i]);
    if (!status.ok()) read[i] = std::move(status);
  }
  return read;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
NodeAffinityView::ReadVersions(const std::vector<VersionedKey>& keys) {
  ASSIGN_OR_RETURN(auto read, values_->ReadVersions(keys));
  for (size_t i = 0; i < read.size() && i < keys.size(); ++i) {
    if (!read[i].ok()) continue;
    absl::Status status =
        CheckRead(keys[i].key.scope, keys[i].key.name, *read[i]);
    if (!status.ok()) read[i] = std::move(status);
  }
  return read;
}

absl::StatusOr<VersionedValue> NodeAffinityView::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  ASSIGN_OR_RETURN(VersionedValue value,
                   store_->GetVersioned(scope, name, version));
  RETURN_IF_ERROR(CheckRead(scope, name, value));
  return value;
}

absl::StatusOr<ValueWithMetadata> NodeAffinityView::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  // Value and affinity from one snapshot: no second read needed.
  ASSIGN_OR_RETURN(ValueWithMetadata got,
                   store_->GetWithMetadata(scope, name, version));
  if (!NodeAffinityAdmits(got.metadata.node_affinity, principal_)) {
    Hide(scope, name);
    return SecretNotFound();
  }
  got.metadata = Shown(std::move(got.metadata));
  return got;
}

// --- Metadata

absl::StatusOr<SecretMetadata> NodeAffinityView::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  ASSIGN_OR_RETURN(SecretMetadata metadata, store_->GetMetadata(scope, name));
  if (!MetadataVisible(metadata)) return SecretNotFound();
  return Shown(std::move(metadata));
}

absl::StatusOr<std::vector<SecretMetadata>> NodeAffinityView::ListSecrets(
    absl::string_view scope) {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> list,
                   store_->ListSecrets(scope));
  std::vector<SecretMetadata> out;
  for (SecretMetadata& m : list) {
    if (MetadataVisible(m)) out.push_back(Shown(std::move(m)));
  }
  return out;
}

absl::StatusOr<ListPage> NodeAffinityView::List(absl::string_view scope,
                                                const ListOptions& options) {
  ASSIGN_OR_RETURN(ListPage page, store_->List(scope, options));
  ListPage out;
  out.next_page_token = std::move(page.next_page_token);
  for (SecretMetadata& m : page.secrets) {
    if (MetadataVisible(m)) out.secrets.push_back(Shown(std::move(m)));
  }
  return out;
}

absl::StatusOr<bool> NodeAffinityView::Exists(absl::string_view scope,
                                              absl::string_view name) {
  absl::StatusOr<SecretMetadata> metadata = GetMetadata(scope, name);
  if (absl::IsNotFound(metadata.status())) return false;
  if (!metadata.ok()) return metadata.status();
  return true;
}

absl::StatusOr<std::vector<VersionInfo>> NodeAffinityView::ListVersions(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(GetMetadata(scope, name).status());
  return store_->ListVersions(scope, name);
}

// --- Writes

absl::StatusOr<SecretMetadata> NodeAffinityView::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  if (options.node_affinity.has_value() && !administrator_) {
    // A soft-deleted secret keeps its affinity (and its old values), so it
    // counts too: reviving it with another affinity would expose them.
    ListOptions one;
    one.name_prefix = std::string(name);
    one.page_size = 1;
    one.include_deleted = true;
    ASSIGN_OR_RETURN(ListPage page, store_->List(scope, one));
    if (!page.secrets.empty() && page.secrets[0].name == name &&
        !page.secrets[0].node_affinity.empty() &&
        page.secrets[0].node_affinity != *options.node_affinity) {
      return absl::PermissionDeniedError(
          absl::StrCat("changing the node affinity of ", scope, "/", name,
                       " needs an administrator"));
    }
  }
  ASSIGN_OR_RETURN(SecretMetadata written,
                   store_->SetSecret(scope, name, value, options));
  return Shown(std::move(written));
}

absl::Status NodeAffinityView::DeleteSecret(absl::string_view scope,
                                            absl::string_view name) {
  return store_->DeleteSecret(scope, name);
}

absl::Status NodeAffinityView::UndeleteSecret(absl::string_view scope,
                                              absl::string_view name) {
  return store_->UndeleteSecret(scope, name);
}

absl::Status NodeAffinityView::DestroySecret(absl::string_view scope,
                                             absl::string_view name) {
  return store_->DestroySecret(scope, name);
}

absl::StatusOr<RotationResult> NodeAffinityView::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  return store_->RotateSecret(scope, name, value);
}

absl::StatusOr<SecretMetadata> NodeAffinityView::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  ASSIGN_OR_RETURN(SecretMetadata written,
                   store_->RollbackSecret(scope, name, version));
  return Shown(std::move(written));
}

}  // namespace zlayer::secrets
