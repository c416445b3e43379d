#include "core/identity/registry_credential_store.h"

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

// nullopt unless `json` is a well-formed registry credential record for `id`.
absl::optional<RegistryCredential> Decode(absl::string_view id,
                                          absl::string_view json) {
  absl::StatusOr<FlatRecord> r = FlatRecord::Parse(json);
  if (!r.ok()) return absl::nullopt;
  absl::StatusOr<std::string> rid = r->String("id");
  absl::StatusOr<std::string> registry = r->String("registry");
  absl::StatusOr<std::string> username = r->String("username");
  absl::StatusOr<std::string> type = r->String("auth_type");
  if (!rid.ok() || *rid != id || !registry.ok() || !username.ok() ||
      !type.ok()) {
    return absl::nullopt;
  }
  absl::optional<RegistryAuthType> auth = ParseRegistryAuthType(*type);
  if (!auth.has_value()) return absl::nullopt;
  RegistryCredential c;
  c.id = *std::move(rid);
  c.registry = *std::move(registry);
  c.username = *std::move(username);
  c.auth_type = *auth;
  // created_at is ours (not upstream's); records without it sort oldest.
  absl::StatusOr<int64_t> created = r->Int("created_at");
  c.created_at = created.ok() ? *created : 0;
  return c;
}

}  // namespace

absl::string_view RegistryAuthTypeName(RegistryAuthType type) {
  return type == RegistryAuthType::kToken ? "token" : "basic";
}

absl::optional<RegistryAuthType> ParseRegistryAuthType(absl::string_view text) {
  if (text == "basic") return RegistryAuthType::kBasic;
  if (text == "token") return RegistryAuthType::kToken;
  return absl::nullopt;
}

std::string NormalizeRegistryHost(absl::string_view registry) {
  std::string host =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(registry));
  absl::string_view h = host;
  if (!absl::ConsumePrefix(&h, "https://")) absl::ConsumePrefix(&h, "http://");
  h = h.substr(0, h.find('/'));
  std::string out(h);
  if (out == "index.docker.io" || out == "registry-1.docker.io" ||
      out == "registry.hub.docker.com" || out == "docker.io") {
    return "docker.io";
  }
  return out;
}

RegistryCredentialStore::RegistryCredentialStore(SecretStore* store,
                                                 const Clock* clock)
    : records_(store, kRegistryCredentialsMetaScope, kRegistryCredentialsScope,
               "registry credential"),
      clock_(clock) {}

absl::StatusOr<RegistryCredential> RegistryCredentialStore::Create(
    absl::string_view registry, absl::string_view username,
    const SecretBytes& password, RegistryAuthType auth_type) {
  return CreateWithId(NewUuidV4(), registry, username, password, auth_type);
}

absl::StatusOr<RegistryCredential> RegistryCredentialStore::CreateWithId(
    absl::string_view id, absl::string_view registry,
    absl::string_view username, const SecretBytes& password,
    RegistryAuthType auth_type) {
  RETURN_IF_ERROR(CredentialRecords::CheckId(id));
  registry = absl::StripAsciiWhitespace(registry);
  username = absl::StripAsciiWhitespace(username);
  if (registry.empty() || NormalizeRegistryHost(registry).empty()) {
    return absl::InvalidArgumentError("registry must not be blank");
  }
  if (username.empty()) {
    return absl::InvalidArgumentError("username must not be blank");
  }
  if (password.empty()) {
    return absl::InvalidArgumentError("password must not be empty");
  }
  RegistryCredential c;
  c.id = absl::AsciiStrToLower(id);
  c.registry = std::string(registry);
  c.username = std::string(username);
  c.auth_type = auth_type;
  c.created_at = clock_->NowUnixSeconds();

  const std::string json =
      RecordWriter()
          .Str("id", c.id)
          .Str("registry", c.registry)
          .Str("username", c.username)
          .Str("auth_type", RegistryAuthTypeName(auth_type))
          .Int("created_at", c.created_at)
          .Finish();
  RETURN_IF_ERROR(records_.Put(c.id, password, json));
  return c;
}

absl::StatusOr<RegistryCredential> RegistryCredentialStore::Get(
    absl::string_view id) {
  return records_.GetRecord(id, &Decode);
}

absl::StatusOr<SecretBytes> RegistryCredentialStore::GetPassword(
    absl::string_view id) {
  return records_.GetValue(id);
}

absl::StatusOr<std::vector<RegistryCredential>>
RegistryCredentialStore::List() {
  return records_.ListRecords(&Decode);
}

absl::Status RegistryCredentialStore::Delete(absl::string_view id) {
  return records_.Delete(id);
}

absl::StatusOr<RegistryCredential> RegistryCredentialStore::FindByRegistry(
    absl::string_view registry) {
  const std::string wanted = NormalizeRegistryHost(registry);
  ASSIGN_OR_RETURN(std::vector<RegistryCredential> all, List());
  const RegistryCredential* best = nullptr;
  for (const RegistryCredential& c : all) {
    if (NormalizeRegistryHost(c.registry) != wanted) continue;
    // `all` is ordered by id, so ">" keeps the smallest id among equals.
    if (best == nullptr || c.created_at > best->created_at) best = &c;
  }
  if (best == nullptr || wanted.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no registry credential for ", wanted));
  }
  return *best;
}

}  // namespace zlayer::secrets
