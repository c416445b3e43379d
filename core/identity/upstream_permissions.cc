#include "core/identity/upstream_permissions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/ids.h"
#include "core/base/status_macros.h"
#include "core/format/json.h"
#include "core/identity/identity_records.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {
namespace {

// One element of the document, its fields checked for type.
struct UpstreamPermission {
  std::string id;
  std::string subject_kind;
  std::string subject_id;
  std::string resource_kind;
  bool wildcard = false;
  std::string resource_id;
  std::string level;
};

absl::StatusOr<std::string> StringField(const JsonValue& element,
                                        absl::string_view key) {
  const JsonValue* v = element.Find(key);
  if (v == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("missing \"", key, "\""));
  }
  if (!v->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", key, "\" is not a string"));
  }
  return std::string(v->string_value());
}

absl::StatusOr<UpstreamPermission> ParseElement(const JsonValue& element) {
  if (!element.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  UpstreamPermission p;
  ASSIGN_OR_RETURN(p.id, StringField(element, "id"));
  ASSIGN_OR_RETURN(p.subject_kind, StringField(element, "subject_kind"));
  ASSIGN_OR_RETURN(p.subject_id, StringField(element, "subject_id"));
  ASSIGN_OR_RETURN(p.resource_kind, StringField(element, "resource_kind"));
  ASSIGN_OR_RETURN(p.level, StringField(element, "level"));
  ASSIGN_OR_RETURN(std::string created_at, StringField(element, "created_at"));
  const JsonValue* rid = element.Find("resource_id");
  if (rid == nullptr || rid->is_null()) {
    p.wildcard = true;
  } else if (rid->is_string()) {
    p.resource_id = std::string(rid->string_value());
  } else {
    return absl::InvalidArgumentError(
        "\"resource_id\" is neither a string nor null");
  }
  if (p.id.empty()) return absl::InvalidArgumentError("blank \"id\"");
  if (p.subject_kind != "user" && p.subject_kind != "group") {
    return absl::InvalidArgumentError(
        "\"subject_kind\" must be \"user\" or \"group\"");
  }
  if (p.subject_id.empty()) {
    return absl::InvalidArgumentError("blank \"subject_id\"");
  }
  if (p.resource_kind.empty()) {
    return absl::InvalidArgumentError("blank \"resource_kind\"");
  }
  if (p.resource_kind != "environment" && p.resource_kind != "deployment" &&
      p.resource_kind != "project" && p.resource_kind != "secret" &&
      p.resource_kind != "node") {
    return absl::InvalidArgumentError(
        "unknown \"resource_kind\" (environment, deployment, project, secret "
        "or node)");
  }
  if (p.level != "none" && p.level != "read" && p.level != "execute" &&
      p.level != "write") {
    return absl::InvalidArgumentError(
        "\"level\" must be none, read, execute or write");
  }
  if (!p.wildcard && p.resource_kind == "secret") {
    const size_t colon = p.resource_id.find(':');
    if (colon == std::string::npos || colon == 0 ||
        colon + 1 == p.resource_id.size()) {
      return absl::InvalidArgumentError(
          "a secret \"resource_id\" must be \"scope:name\" with both parts "
          "non-empty");
    }
  }
  if (!p.wildcard && p.resource_kind == "node" &&
      !LooksLikeUuid(p.resource_id)) {
    return absl::InvalidArgumentError("a node \"resource_id\" must be a UUID");
  }
  const std::string subject = absl::StrCat(p.subject_kind, ":", p.subject_id);
  if (!ValidateSubject(subject).ok()) {
    return absl::InvalidArgumentError(
        "\"subject_id\" must be 1..128 printable characters without ','");
  }
  return p;
}

// Appends what `p` becomes to `plan` (grants, or a skip, plus notes).
void MapPermission(const UpstreamPermission& p, UpstreamPermissionPlan* plan) {
  auto skip = [&](std::string reason) {
    plan->skipped.push_back({p.id, std::move(reason)});
  };
  if (p.level == "none") {
    skip("level none grants nothing");
    return;
  }
  AccessLevel level = *ParseAccessLevel(p.level);
  const std::string subject = absl::StrCat(p.subject_kind, ":", p.subject_id);
  std::vector<GrantResource> resources;
  if (p.resource_kind == "node") {
    skip(
        "node grants are not supported (this daemon has no node resource); "
        "not imported");
    return;
  } else if (p.resource_kind == "secret") {
    if (p.wildcard) {
      resources.push_back(GrantResource::Scope("*"));
    } else {
      const size_t colon = p.resource_id.rfind(':');
      const std::string scope = p.resource_id.substr(0, colon);
      const std::string name = p.resource_id.substr(colon + 1);
      if (!ValidateScope(scope).ok() || !ValidateName(name).ok() ||
          IsSystemScope(scope)) {
        skip(
            "secret resource_id does not name a secret this store can hold "
            "(scope and name split at the last ':')");
        return;
      }
      resources.push_back(GrantResource::Secret(scope, name));
    }
  } else if (p.resource_kind == "environment") {
    resources.push_back(p.wildcard
                            ? GrantResource::AllOf(ResourceKind::kEnvironment)
                            : GrantResource::Environment(p.resource_id));
    if (level == AccessLevel::kExecute) {
      level = AccessLevel::kRead;
      plan->notes.push_back(absl::StrCat(
          p.id,
          ": environment execute imported as read (upstream needs write on "
          "the environment to execute or write its secrets)"));
    }
  } else if (p.resource_kind == "deployment") {
    if (p.wildcard) {
      skip(
          "a wildcard deployment grant is not imported: no scope pattern "
          "covers every deployment without covering environments (grant "
          "'scope *' explicitly if that is meant)");
      return;
    }
    const std::string& d = p.resource_id;
    if (!ValidateScope(d).ok() || IsSystemScope(d) ||
        d.find_first_of("/*:") != std::string::npos) {
      skip("deployment name cannot be a scope (it holds '/', '*' or ':')");
      return;
    }
    resources.push_back(GrantResource::Scope(d));
    resources.push_back(GrantResource::Scope(absl::StrCat(d, "/*")));
  } else {  // project
    if (p.wildcard) {
      resources.push_back(GrantResource::Scope("project:*"));
    } else if (p.resource_id.size() > 256 ||
               p.resource_id.find_first_of(":/*") != std::string::npos ||
               !ValidateScope(p.resource_id).ok()) {
      skip("project id cannot be part of a scope (it holds ':', '/' or '*')");
      return;
    } else {
      resources.push_back(GrantResource::Scope(
          absl::StrCat("project:", p.resource_id, ":env:*")));
    }
  }
  for (GrantResource& r : resources) {
    if (!ValidateGrantResource(r).ok()) {
      skip("resource_id holds control characters");
      return;
    }
  }
  for (GrantResource& r : resources) {
    plan->grants.push_back({p.id, subject, std::move(r), level});
  }
}

}  // namespace

absl::StatusOr<UpstreamPermissionPlan> PlanUpstreamPermissions(
    absl::string_view json) {
  absl::StatusOr<JsonValue> doc = ParseJson(json);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream permissions: ", doc.status().message()));
  }
  if (!doc->is_array()) {
    return absl::InvalidArgumentError(
        "upstream permissions: the document must be a JSON array");
  }
  UpstreamPermissionPlan plan;
  plan.permissions = doc->elements().size();
  for (size_t i = 0; i < doc->elements().size(); ++i) {
    const JsonValue& element = doc->elements()[i];
    absl::StatusOr<UpstreamPermission> p = ParseElement(element);
    if (!p.ok()) {
      std::string id;
      const JsonValue* v = element.is_object() ? element.Find("id") : nullptr;
      if (v != nullptr && v->is_string() && LooksLikeUuid(v->string_value())) {
        id = absl::StrCat(" (id ", v->string_value(), ")");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("upstream permission #", i, id, ": ",
                       p.status().message(), "; nothing imported"));
    }
    MapPermission(*p, &plan);
  }
  return plan;
}

absl::StatusOr<UpstreamPermissionReport> ImportUpstreamPermissions(
    absl::string_view json, GrantStore* grants) {
  ASSIGN_OR_RETURN(UpstreamPermissionPlan plan, PlanUpstreamPermissions(json));
  UpstreamPermissionReport report;
  for (const MappedUpstreamGrant& g : plan.grants) {
    absl::StatusOr<AccessGrant> stored =
        grants->Grant(g.subject, g.resource, g.level);
    if (!stored.ok()) {
      // Undo this call's grants so the import stays all or nothing.
      for (const AccessGrant& done : report.imported) {
        absl::Status undone = grants->Revoke(done.id);
        if (!undone.ok() && !absl::IsNotFound(undone)) {
          return absl::Status(
              stored.status().code(),
              absl::StrCat("upstream permission ", g.upstream_id, ": ",
                           stored.status().message(),
                           "; undoing the import failed too (",
                           undone.message(), "): remove grant ", done.id,
                           " and the others of this import by hand"));
        }
      }
      return absl::Status(
          stored.status().code(),
          absl::StrCat("upstream permission ", g.upstream_id, ": ",
                       stored.status().message(), "; nothing imported"));
    }
    report.imported.push_back(*std::move(stored));
  }
  report.plan = std::move(plan);
  return report;
}

std::string FormatUpstreamPermissionReport(
    const UpstreamPermissionReport& report) {
  std::string out =
      absl::StrCat("Upstream permissions: ", report.plan.permissions, " read, ",
                   report.imported.size(), " grants imported, ",
                   report.plan.skipped.size(), " skipped\n");
  for (size_t i = 0; i < report.imported.size(); ++i) {
    const AccessGrant& g = report.imported[i];
    const std::string& from = i < report.plan.grants.size()
                                  ? report.plan.grants[i].upstream_id
                                  : std::string();
    absl::StrAppend(&out, "  imported ", from, " -> ", g.subject, " ",
                    AccessLevelName(g.level), " on ", g.resource.DebugString(),
                    " (grant ", g.id, ")\n");
  }
  for (const SkippedUpstreamPermission& s : report.plan.skipped) {
    absl::StrAppend(&out, "  skipped ", s.upstream_id, ": ", s.reason, "\n");
  }
  for (const std::string& note : report.plan.notes) {
    absl::StrAppend(&out, "  note ", note, "\n");
  }
  return out;
}

}  // namespace zlayer::secrets
