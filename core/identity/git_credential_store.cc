#include "core/identity/git_credential_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/ids.h"
#include "core/base/status_macros.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {
namespace {

absl::string_view TrimSlashes(absl::string_view p) {
  while (absl::ConsumePrefix(&p, "/")) {
  }
  while (absl::ConsumeSuffix(&p, "/")) {
  }
  return p;
}

// True when `prefix` equals `path` or names a leading run of its segments.
bool SegmentPrefix(absl::string_view prefix, absl::string_view path) {
  if (prefix.empty()) return true;
  if (!absl::StartsWith(path, prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

// nullopt unless `json` is a well-formed git credential record for `id`.
absl::optional<GitCredential> Decode(absl::string_view id,
                                     absl::string_view json) {
  absl::StatusOr<FlatRecord> r = FlatRecord::Parse(json);
  if (!r.ok()) return absl::nullopt;
  absl::StatusOr<std::string> rid = r->String("id");
  absl::StatusOr<std::string> name = r->String("name");
  absl::StatusOr<std::string> kind = r->String("kind");
  absl::StatusOr<std::string> host = r->OptionalString("host");
  absl::StatusOr<std::string> prefix = r->OptionalString("path_prefix");
  absl::StatusOr<std::string> user = r->OptionalString("username");
  if (!rid.ok() || *rid != id || !name.ok() || !kind.ok() || !host.ok() ||
      !prefix.ok() || !user.ok()) {
    return absl::nullopt;
  }
  absl::optional<GitCredentialKind> k = ParseGitCredentialKind(*kind);
  if (!k.has_value()) return absl::nullopt;
  GitCredential c;
  c.id = *std::move(rid);
  c.name = *std::move(name);
  c.kind = *k;
  c.match.host = *std::move(host);
  c.match.path_prefix = *std::move(prefix);
  c.match.username = *std::move(user);
  absl::StatusOr<int64_t> created = r->Int("created_at");
  c.created_at = created.ok() ? *created : 0;
  return c;
}

}  // namespace

absl::string_view GitCredentialKindName(GitCredentialKind kind) {
  return kind == GitCredentialKind::kSshKey ? "ssh_key" : "pat";
}

absl::optional<GitCredentialKind> ParseGitCredentialKind(
    absl::string_view text) {
  if (text == "pat") return GitCredentialKind::kPat;
  if (text == "ssh_key" || text == "ssh-key") return GitCredentialKind::kSshKey;
  return absl::nullopt;
}

GitCredentialStore::GitCredentialStore(SecretStore* store, const Clock* clock)
    : records_(store, kGitCredentialsMetaScope, kGitCredentialsScope,
               "git credential"),
      clock_(clock) {}

absl::StatusOr<GitCredential> GitCredentialStore::Create(
    absl::string_view name, const SecretBytes& value, GitCredentialKind kind,
    const GitCredentialMatch& match) {
  return CreateWithId(NewUuidV4(), name, value, kind, match);
}

absl::StatusOr<GitCredential> GitCredentialStore::CreateWithId(
    absl::string_view id, absl::string_view name, const SecretBytes& value,
    GitCredentialKind kind, const GitCredentialMatch& match) {
  RETURN_IF_ERROR(CredentialRecords::CheckId(id));
  name = absl::StripAsciiWhitespace(name);
  if (name.empty()) return absl::InvalidArgumentError("name must not be blank");
  if (value.empty()) {
    return absl::InvalidArgumentError("value must not be empty");
  }
  const std::string host =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(match.host));
  if (std::any_of(host.begin(), host.end(), [](char c) {
        return c == '/' || !absl::ascii_isgraph(static_cast<unsigned char>(c));
      })) {
    return absl::InvalidArgumentError(
        "host must be a bare host[:port] without '/' or spaces");
  }
  GitCredential c;
  c.id = absl::AsciiStrToLower(id);
  c.name = std::string(name);
  c.kind = kind;
  c.match.host = host;
  c.match.path_prefix = std::string(TrimSlashes(match.path_prefix));
  c.match.username = std::string(absl::StripAsciiWhitespace(match.username));
  c.created_at = clock_->NowUnixSeconds();

  const std::string json = RecordWriter()
                               .Str("id", c.id)
                               .Str("name", c.name)
                               .Str("kind", GitCredentialKindName(kind))
                               .Str("host", c.match.host)
                               .Str("path_prefix", c.match.path_prefix)
                               .Str("username", c.match.username)
                               .Int("created_at", c.created_at)
                               .Finish();
  RETURN_IF_ERROR(records_.Put(c.id, value, json));
  return c;
}

absl::StatusOr<GitCredential> GitCredentialStore::Get(absl::string_view id) {
  return records_.GetRecord(id, &Decode);
}

absl::StatusOr<SecretBytes> GitCredentialStore::GetValue(absl::string_view id) {
  return records_.GetValue(id);
}

absl::StatusOr<std::vector<GitCredential>> GitCredentialStore::List() {
  return records_.ListRecords(&Decode);
}

absl::Status GitCredentialStore::Delete(absl::string_view id) {
  return records_.Delete(id);
}

absl::StatusOr<GitCredential> GitCredentialStore::FindForUrl(
    absl::string_view protocol, absl::string_view host,
    absl::string_view path) {
  const std::string proto = absl::AsciiStrToLower(protocol);
  const std::string want_host =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(host));
  absl::string_view want_path = TrimSlashes(path);
  absl::ConsumeSuffix(&want_path, ".git");
  want_path = TrimSlashes(want_path);
  auto not_found = [&]() {
    return absl::NotFoundError(
        absl::StrCat("no git credential for ", proto, "://", want_host));
  };
  if (proto != "https" || want_host.empty()) return not_found();

  ASSIGN_OR_RETURN(std::vector<GitCredential> all, List());
  const GitCredential* best = nullptr;
  for (const GitCredential& c : all) {
    if (c.kind != GitCredentialKind::kPat || c.match.host.empty() ||
        c.match.host != want_host ||
        !SegmentPrefix(c.match.path_prefix, want_path)) {
      continue;
    }
    if (best == nullptr) {
      best = &c;
      continue;
    }
    const size_t len = c.match.path_prefix.size();
    const size_t best_len = best->match.path_prefix.size();
    // `all` is ordered by id, so strict comparisons keep the smallest id.
    if (len > best_len ||
        (len == best_len && c.created_at > best->created_at)) {
      best = &c;
    }
  }
  if (best == nullptr) return not_found();
  return *best;
}

}  // namespace zlayer::secrets
