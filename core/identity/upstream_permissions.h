// Import of upstream's permission grants (`StoredPermission` JSON, reference
// §13) into a GrantStore, mapped onto our scopes so that the daemon's access
// check gives upstream's allow/deny answers (reference §12.3) with its group
// QUIRK fixed. docs/identity.md, "Upstream permissions", has the table.
//
// Input: a JSON array of objects
//   {"id","subject_kind":"user"|"group","subject_id","resource_kind",
//    "resource_id": string|null (null = every resource of the kind),
//    "level":"none"|"read"|"execute"|"write","created_at"}
// Subjects become "user:<id>" / "group:<id>" (the subjects a proxy asserts,
// docs/identity.md "Delegated identity"). Resources:
//   secret "S:N"    GrantResource::Secret(S, N), split at the LAST ':'
//                   (scopes hold ':', names that do are not migrated either)
//   secret null     GrantResource::Scope("*"): every scope, listings too, as
//                   upstream's wildcard matches "{scope}:" as well
//   environment E   GrantResource::Environment(E) (its own scope only);
//                   level execute is imported as read: upstream lets
//                   execute and write on an environment's secrets need
//                   write on the environment, so execute gives read only
//   environment null  GrantResource::AllOf(kEnvironment)
//   deployment D    Scope(D) and Scope("D/*"): the deployment and its
//                   services' scopes (two grants)
//   project P       Scope("project:P:env:*"): its environments' scopes
//   project null    Scope("project:*")
// Skipped, each with its reason in the report (upstream accepts them, we
// cannot express them): node grants (no node resource here), a wildcard
// deployment (no scope pattern means "every deployment" without covering
// environments), level none (grants nothing), a deployment or project id
// that cannot be spliced into a scope, a secret of a "system:" scope.
//
// Refused with InvalidArgument naming the element (index and id), nothing
// imported: text that is not a JSON array of objects, a missing or mistyped
// field, subject_kind other than user/group, a blank subject_id or
// resource_kind, an unknown resource_kind, an unknown level, a secret
// resource_id without non-empty parts either side of its first ':', a node
// resource_id that is not a UUID (upstream's own validation, §13), or a
// subject id our grants refuse (',' or over 128 bytes).
//
//   ASSIGN_OR_RETURN(UpstreamPermissionReport report,
//                    ImportUpstreamPermissions(json_text, grants));
//
// All or nothing: every element is checked before the first grant is
// stored; if the store fails midway, the grants stored by this call are
// revoked again and the error returned. Importing twice stores duplicates
// (harmless: the effective level is the max).
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_UPSTREAM_PERMISSIONS_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_UPSTREAM_PERMISSIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/identity/access.h"
#include "core/identity/grant_store.h"

namespace zlayer::secrets {

// One of our grants an upstream permission becomes.
struct MappedUpstreamGrant {
  std::string upstream_id;  // the StoredPermission's id
  std::string subject;      // "user:<id>" or "group:<id>"
  GrantResource resource;
  AccessLevel level = AccessLevel::kNone;
};

struct SkippedUpstreamPermission {
  std::string upstream_id;
  std::string reason;
};

struct UpstreamPermissionPlan {
  size_t permissions = 0;  // elements in the document
  std::vector<MappedUpstreamGrant> grants;
  std::vector<SkippedUpstreamPermission> skipped;
  // Mappings that changed a level ("<id>: environment execute imported as
  // read ...").
  std::vector<std::string> notes;
};

struct UpstreamPermissionReport {
  UpstreamPermissionPlan plan;
  std::vector<AccessGrant> imported;  // as stored, in plan order
};

// Parses and maps the whole document without storing anything.
absl::StatusOr<UpstreamPermissionPlan> PlanUpstreamPermissions(
    absl::string_view json);

// PlanUpstreamPermissions, then stores every mapped grant in `grants`.
absl::StatusOr<UpstreamPermissionReport> ImportUpstreamPermissions(
    absl::string_view json, GrantStore* grants);

// The report as text: counts, one line per imported grant, skip and note.
std::string FormatUpstreamPermissionReport(
    const UpstreamPermissionReport& report);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_UPSTREAM_PERMISSIONS_H_
