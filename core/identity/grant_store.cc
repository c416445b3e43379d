#include "core/identity/grant_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/ids.h"
#include "core/base/status_macros.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kMaxSubjectValueBytes = 128;

bool HasControlChar(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool OlderFirst(const AccessGrant& a, const AccessGrant& b) {
  if (a.created_at != b.created_at) return a.created_at < b.created_at;
  return a.id < b.id;
}

// Scope grants spell "every scope" as "" or "*"; the index keeps "".
GrantResource Normalize(GrantResource r) {
  if (r.kind == ResourceKind::kScope && r.id == "*") r.id.clear();
  return r;
}

std::string EncodeGrant(const AccessGrant& g) {
  RecordWriter w;
  w.Str("id", g.id)
      .Str("subject", g.subject)
      .Str("resource_kind", ResourceKindName(g.resource.kind));
  if (g.resource.id.empty()) {
    w.Null("resource_id");
  } else {
    w.Str("resource_id", g.resource.id);
  }
  if (g.resource.kind == ResourceKind::kSecret && !g.resource.name.empty()) {
    w.Str("resource_name", g.resource.name);
  }
  return w.Str("level", AccessLevelName(g.level))
      .Int("created_at", g.created_at)
      .Finish();
}

absl::StatusOr<AccessGrant> DecodeGrant(absl::string_view name,
                                        absl::string_view json) {
  auto corrupt = [&name]() {
    return absl::DataLossError(
        absl::StrCat("corrupt grant record '", name, "'"));
  };
  absl::StatusOr<FlatRecord> r = FlatRecord::Parse(json);
  if (!r.ok()) return corrupt();
  absl::StatusOr<std::string> id = r->String("id");
  absl::StatusOr<std::string> subject = r->String("subject");
  absl::StatusOr<std::string> kind = r->String("resource_kind");
  absl::StatusOr<std::string> rid = r->OptionalString("resource_id");
  absl::StatusOr<std::string> rname = r->OptionalString("resource_name");
  absl::StatusOr<std::string> level = r->String("level");
  absl::StatusOr<int64_t> created = r->Int("created_at");
  if (!id.ok() || !subject.ok() || !kind.ok() || !rid.ok() || !rname.ok() ||
      !level.ok() || !created.ok() || *id != name) {
    return corrupt();
  }
  absl::optional<ResourceKind> k = ParseResourceKind(*kind);
  absl::optional<AccessLevel> l = ParseAccessLevel(*level);
  if (!k.has_value() || !l.has_value()) return corrupt();
  AccessGrant g;
  g.id = *std::move(id);
  g.subject = *std::move(subject);
  g.resource.kind = *k;
  g.resource.id = *std::move(rid);
  g.resource.name = *std::move(rname);
  g.level = *l;
  g.created_at = *created;
  if (!ValidateSubject(g.subject).ok() ||
      !ValidateGrantResource(g.resource).ok()) {
    return corrupt();
  }
  return g;
}

}  // namespace

absl::string_view ResourceKindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kEnvironment:
      return "environment";
    case ResourceKind::kScope:
      return "scope";
    case ResourceKind::kSecret:
      return "secret";
    case ResourceKind::kImpersonate:
      return "impersonate";
  }
  return "scope";
}

absl::optional<ResourceKind> ParseResourceKind(absl::string_view text) {
  if (text == "environment") return ResourceKind::kEnvironment;
  if (text == "scope") return ResourceKind::kScope;
  if (text == "secret") return ResourceKind::kSecret;
  if (text == "impersonate") return ResourceKind::kImpersonate;
  return absl::nullopt;
}

GrantResource GrantResource::Environment(absl::string_view env_id) {
  return {ResourceKind::kEnvironment, std::string(env_id), ""};
}
GrantResource GrantResource::Scope(absl::string_view scope_or_prefix) {
  return {ResourceKind::kScope, std::string(scope_or_prefix), ""};
}
GrantResource GrantResource::Secret(absl::string_view scope,
                                    absl::string_view name) {
  return {ResourceKind::kSecret, std::string(scope), std::string(name)};
}
GrantResource GrantResource::AllOf(ResourceKind kind) { return {kind, "", ""}; }
GrantResource GrantResource::Impersonate(absl::string_view subject_pattern) {
  return {ResourceKind::kImpersonate, std::string(subject_pattern), ""};
}

std::string GrantResource::DebugString() const {
  if (IsWildcard()) return absl::StrCat(ResourceKindName(kind), ":*");
  if (kind == ResourceKind::kSecret)
    return absl::StrCat("secret:", id, "/", name);
  return absl::StrCat(ResourceKindName(kind), ":", id);
}

absl::Status ValidateSubject(absl::string_view subject) {
  const size_t colon = subject.find(':');
  const absl::string_view kind = subject.substr(0, colon);
  const absl::string_view value =
      colon == absl::string_view::npos ? "" : subject.substr(colon + 1);
  if (kind == "uid" || kind == "gid") {
    int64_t n = 0;
    if (!value.empty() &&
        std::all_of(value.begin(), value.end(), absl::ascii_isdigit) &&
        absl::SimpleAtoi(value, &n) && n >= 0) {
      return absl::OkStatus();
    }
  } else if (kind == "apikey" || kind == "role" || kind == "user" ||
             kind == "group") {
    // A ',' would make a group list in call metadata ambiguous.
    const bool listable = kind != "user" && kind != "group";
    if (!value.empty() && value.size() <= kMaxSubjectValueBytes &&
        std::all_of(value.begin(), value.end(), [listable](char c) {
          return absl::ascii_isgraph(c) && (listable || c != ',');
        })) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      "subject must be apikey:<id>, role:<name>, user:<id>, group:<id>, "
      "uid:<n> or gid:<n>");
}

absl::Status ValidateGrantResource(const GrantResource& r) {
  if (HasControlChar(r.id) || HasControlChar(r.name)) {
    return absl::InvalidArgumentError("resource contains control characters");
  }
  switch (r.kind) {
    case ResourceKind::kEnvironment:
      if (!r.name.empty()) {
        return absl::InvalidArgumentError("environment grants take no name");
      }
      break;
    case ResourceKind::kScope:
      if (!r.name.empty()) {
        return absl::InvalidArgumentError("scope grants take no name");
      }
      if (IsSystemScope(r.id)) {
        return absl::InvalidArgumentError("system scopes cannot be granted");
      }
      break;
    case ResourceKind::kSecret:
      if (r.id.empty() != r.name.empty()) {
        return absl::InvalidArgumentError(
            "secret grants need both scope and name (or neither)");
      }
      if (r.name.find('/') != std::string::npos) {
        return absl::InvalidArgumentError("secret names contain no '/'");
      }
      if (IsSystemScope(r.id)) {
        return absl::InvalidArgumentError("system scopes cannot be granted");
      }
      break;
    case ResourceKind::kImpersonate: {
      const auto bad = [] {
        return absl::InvalidArgumentError(
            "impersonate grants take a pattern user:<id> or group:<id> (the "
            "id may end in '*'), and no name");
      };
      if (!r.name.empty()) return bad();
      absl::string_view pattern = r.id;
      if (!absl::ConsumePrefix(&pattern, "user:") &&
          !absl::ConsumePrefix(&pattern, "group:")) {
        return bad();
      }
      if (pattern.empty()) return bad();
      const size_t star = pattern.find('*');
      if (star != absl::string_view::npos && star + 1 != pattern.size()) {
        return bad();
      }
      absl::ConsumeSuffix(&pattern, "*");
      // "user:*" is every user; anything else must be a valid subject
      // prefix.
      if (!pattern.empty() &&
          !ValidateSubject(
               absl::StrCat(r.id.substr(0, r.id.find(':') + 1), pattern))
               .ok()) {
        return bad();
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::optional<std::string> EnvironmentIdOfScope(absl::string_view scope) {
  if (absl::ConsumePrefix(&scope, "env:")) {
    if (scope.empty()) return absl::nullopt;
    return std::string(scope);
  }
  if (absl::ConsumePrefix(&scope, "project:")) {
    const size_t at = scope.find(":env:");
    if (at == absl::string_view::npos || at == 0) return absl::nullopt;
    absl::string_view id = scope.substr(at + 5);
    if (id.empty()) return absl::nullopt;
    return std::string(id);
  }
  return absl::nullopt;
}

bool IsCredentialScope(absl::string_view scope) {
  return scope == kRegistryCredentialResource ||
         scope == kGitCredentialResource;
}

bool ImpersonationPatternMatches(absl::string_view pattern,
                                 absl::string_view subject) {
  const size_t colon = pattern.find(':');
  if (colon == absl::string_view::npos) return false;
  // The kinds must agree: "user:*" never lets anyone assert a group.
  if (subject.substr(0, colon + 1) != pattern.substr(0, colon + 1)) {
    return false;
  }
  if (absl::EndsWith(pattern, "*")) {
    pattern.remove_suffix(1);
    return subject.size() > colon + 1 && absl::StartsWith(subject, pattern);
  }
  return subject == pattern;
}

bool GrantCovers(const GrantResource& grant, const Resource& resource,
                 absl::string_view verified_environment_id) {
  if (IsSystemScope(resource.scope)) return false;
  // Only a grant that names a credential scope exactly reaches it.
  const bool credential = IsCredentialScope(resource.scope);
  switch (grant.kind) {
    case ResourceKind::kEnvironment:
      // The scope must be the environment's own, not merely shaped like it.
      if (verified_environment_id.empty()) return false;
      if (EnvironmentIdOfScope(resource.scope) != verified_environment_id) {
        return false;
      }
      return grant.id.empty() || grant.id == verified_environment_id;
    case ResourceKind::kScope:
      if (grant.IsWildcard()) return !credential;
      if (absl::EndsWith(grant.id, "*")) {
        return !credential &&
               absl::StartsWith(
                   resource.scope,
                   absl::string_view(grant.id).substr(0, grant.id.size() - 1));
      }
      return grant.id == resource.scope;
    case ResourceKind::kSecret:
      if (resource.name.empty()) return false;
      if (grant.id.empty()) return !credential;
      return grant.id == resource.scope && grant.name == resource.name;
    case ResourceKind::kImpersonate:
      return false;
  }
  return false;
}

// ---- GrantStore ----

absl::StatusOr<std::unique_ptr<GrantStore>> GrantStore::Open(
    SecretStore* store, const Clock* clock) {
  if (store == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("store and clock are required");
  }
  std::unique_ptr<GrantStore> grants(new GrantStore(store, clock));
  ASSIGN_OR_RETURN(std::vector<AccessGrant> all, ReadAll(store));
  absl::MutexLock lock(&grants->mu_);
  for (AccessGrant& g : all) grants->IndexAdd(std::move(g));
  return grants;
}

absl::StatusOr<std::vector<AccessGrant>> GrantStore::ReadAll(
    SecretStore* store) {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> metas,
                   store->ListSecrets(kGrantsScope));
  std::vector<std::string> names;
  names.reserve(metas.size());
  for (const SecretMetadata& m : metas) names.push_back(m.name);
  ASSIGN_OR_RETURN(auto values, store->GetSecrets(kGrantsScope, names));
  std::vector<AccessGrant> out;
  out.reserve(values.size());
  for (const auto& [name, value] : values) {
    ASSIGN_OR_RETURN(AccessGrant g, DecodeGrant(name, value.InsecureView()));
    out.push_back(std::move(g));
  }
  return out;
}

absl::Status GrantStore::Refresh(absl::string_view id) {
  absl::MutexLock write_lock(&write_mu_);
  absl::StatusOr<SecretBytes> value = store_->GetSecret(kGrantsScope, id);
  absl::StatusOr<AccessGrant> grant =
      value.ok() ? DecodeGrant(id, value->InsecureView())
                 : absl::StatusOr<AccessGrant>(value.status());
  absl::MutexLock lock(&mu_);
  IndexRemove(id);
  if (grant.ok()) {
    IndexAdd(*std::move(grant));
    return absl::OkStatus();
  }
  if (absl::IsNotFound(grant.status())) return absl::OkStatus();
  return grant.status();
}

absl::Status GrantStore::Reload() {
  absl::MutexLock write_lock(&write_mu_);
  ASSIGN_OR_RETURN(std::vector<AccessGrant> all, ReadAll(store_));
  absl::MutexLock lock(&mu_);
  by_id_.clear();
  by_subject_.clear();
  for (AccessGrant& g : all) IndexAdd(std::move(g));
  return absl::OkStatus();
}

void GrantStore::IndexAdd(AccessGrant grant) {
  by_subject_[grant.subject].push_back(grant);
  std::string id = grant.id;
  by_id_[id] = std::move(grant);
}

void GrantStore::IndexRemove(absl::string_view id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto s = by_subject_.find(it->second.subject);
  if (s != by_subject_.end()) {
    auto& v = s->second;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&id](const AccessGrant& g) { return g.id == id; }),
            v.end());
    if (v.empty()) by_subject_.erase(s);
  }
  by_id_.erase(it);
}

absl::StatusOr<AccessGrant> GrantStore::Grant(absl::string_view subject,
                                              const GrantResource& resource,
                                              AccessLevel level) {
  RETURN_IF_ERROR(ValidateSubject(subject));
  RETURN_IF_ERROR(ValidateGrantResource(resource));
  if (level == AccessLevel::kNone) {
    return absl::InvalidArgumentError("level must be read, execute or write");
  }
  AccessGrant g;
  g.id = NewUuidV4();
  g.subject = std::string(subject);
  g.resource = Normalize(resource);
  g.level = level;
  g.created_at = clock_->NowUnixSeconds();

  absl::MutexLock write_lock(&write_mu_);
  WriteOptions create_only;
  create_only.expected_version = 0;
  RETURN_IF_ERROR(store_
                      ->SetSecret(kGrantsScope, g.id,
                                  SecretBytes::FromString(EncodeGrant(g)),
                                  create_only)
                      .status());
  {
    absl::MutexLock lock(&mu_);
    IndexAdd(g);
  }
  Notify(ChangeKind::kSet, g.id);
  return g;
}

absl::Status GrantStore::RevokeLocked(absl::string_view id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!by_id_.contains(id)) {
      return absl::NotFoundError(absl::StrCat("grant ", id, " not found"));
    }
  }
  absl::Status status = store_->DestroySecret(kGrantsScope, id);
  // Already gone from the store: the index was stale, so drop it too.
  if (!status.ok() && !absl::IsNotFound(status)) return status;
  {
    absl::MutexLock lock(&mu_);
    IndexRemove(id);
  }
  Notify(ChangeKind::kDestroy, id);
  return absl::OkStatus();
}

void GrantStore::Notify(ChangeKind kind, absl::string_view id) {
  if (observer_ == nullptr) return;
  StoreChange change;
  change.kind = kind;
  change.scope = std::string(kGrantsScope);
  change.name = std::string(id);
  observer_->OnStoreChange(change);
}

absl::Status GrantStore::Revoke(absl::string_view id) {
  absl::MutexLock write_lock(&write_mu_);
  return RevokeLocked(id);
}

absl::StatusOr<size_t> GrantStore::RevokeMatching(
    absl::string_view subject, const GrantResource& resource) {
  const GrantResource wanted = Normalize(resource);
  absl::MutexLock write_lock(&write_mu_);
  std::vector<std::string> ids;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_subject_.find(subject);
    if (it != by_subject_.end()) {
      for (const AccessGrant& g : it->second) {
        if (g.resource == wanted) ids.push_back(g.id);
      }
    }
  }
  if (ids.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no grant of ", subject, " on ", wanted.DebugString()));
  }
  for (const std::string& id : ids) RETURN_IF_ERROR(RevokeLocked(id));
  return ids.size();
}

std::vector<AccessGrant> GrantStore::ListForSubject(
    absl::string_view subject) const {
  std::vector<AccessGrant> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_subject_.find(subject);
    if (it != by_subject_.end()) out = it->second;
  }
  std::sort(out.begin(), out.end(), OlderFirst);
  return out;
}

std::vector<AccessGrant> GrantStore::ListForResource(
    const GrantResource& resource) const {
  const GrantResource wanted = Normalize(resource);
  std::vector<AccessGrant> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, g] : by_id_) {
      if (g.resource == wanted) out.push_back(g);
    }
  }
  std::sort(out.begin(), out.end(), OlderFirst);
  return out;
}

std::vector<AccessGrant> GrantStore::ListAll() const {
  std::vector<AccessGrant> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    out.reserve(by_id_.size());
    for (const auto& [id, g] : by_id_) out.push_back(g);
  }
  std::sort(out.begin(), out.end(), OlderFirst);
  return out;
}

AccessLevel GrantStore::EffectiveLevel(
    const std::vector<std::string>& subjects, const Resource& resource,
    absl::string_view verified_environment_id) const {
  AccessLevel best = AccessLevel::kNone;
  absl::ReaderMutexLock lock(&mu_);
  for (const std::string& subject : subjects) {
    auto it = by_subject_.find(subject);
    if (it == by_subject_.end()) continue;
    for (const AccessGrant& g : it->second) {
      if (g.level > best &&
          GrantCovers(g.resource, resource, verified_environment_id)) {
        best = g.level;
        if (best == AccessLevel::kWrite) return best;
      }
    }
  }
  return best;
}

bool GrantStore::MayImpersonate(const std::vector<std::string>& subjects,
                                absl::string_view asserted) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const std::string& subject : subjects) {
    auto it = by_subject_.find(subject);
    if (it == by_subject_.end()) continue;
    for (const AccessGrant& g : it->second) {
      if (g.resource.kind == ResourceKind::kImpersonate &&
          ImpersonationPatternMatches(g.resource.id, asserted)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace zlayer::secrets
