#include "core/registry_credential_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/environment_registry.h"
#include "core/identity_records.h"
#include "core/status_macros.h"

namespace zlayer::secrets {
namespace {

absl::Status CheckId(absl::string_view id) {
  if (!LooksLikeUuid(id)) {
    return absl::InvalidArgumentError("credential id must be a UUID");
  }
  return absl::OkStatus();
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("registry credential ", id, " not found"));
}

absl::StatusOr<RegistryCredential> Decode(absl::string_view id,
                                          absl::string_view json) {
  auto corrupt = [&id]() {
    return absl::DataLossError(
        absl::StrCat("corrupt registry credential '", id, "'"));
  };
  absl::StatusOr<FlatRecord> r = FlatRecord::Parse(json);
  if (!r.ok()) return corrupt();
  absl::StatusOr<std::string> rid = r->String("id");
  absl::StatusOr<std::string> registry = r->String("registry");
  absl::StatusOr<std::string> username = r->String("username");
  absl::StatusOr<std::string> type = r->String("auth_type");
  if (!rid.ok() || *rid != id || !registry.ok() || !username.ok() ||
      !type.ok()) {
    return corrupt();
  }
  absl::optional<RegistryAuthType> auth = ParseRegistryAuthType(*type);
  if (!auth.has_value()) return corrupt();
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

absl::StatusOr<RegistryCredential> RegistryCredentialStore::Create(
    absl::string_view registry, absl::string_view username,
    const SecretBytes& password, RegistryAuthType auth_type) {
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
  c.id = NewUuidV4();
  c.registry = std::string(registry);
  c.username = std::string(username);
  c.auth_type = auth_type;
  c.created_at = clock_->NowUnixSeconds();

  WriteOptions create_only;
  create_only.expected_version = 0;
  RETURN_IF_ERROR(
      store_->SetSecret(kRegistryCredentialsScope, c.id, password, create_only)
          .status());
  const std::string json =
      RecordWriter()
          .Str("id", c.id)
          .Str("registry", c.registry)
          .Str("username", c.username)
          .Str("auth_type", RegistryAuthTypeName(auth_type))
          .Int("created_at", c.created_at)
          .Finish();
  absl::Status meta =
      store_
          ->SetSecret(kRegistryCredentialsMetaScope, c.id,
                      SecretBytes::FromString(json), create_only)
          .status();
  if (!meta.ok()) {
    // Best effort: an orphaned value is invisible but should not linger.
    store_->DestroySecret(kRegistryCredentialsScope, c.id).IgnoreError();
    return meta;
  }
  return c;
}

absl::StatusOr<RegistryCredential> RegistryCredentialStore::Get(
    absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<SecretBytes> raw =
      store_->GetSecret(kRegistryCredentialsMetaScope, id);
  if (absl::IsNotFound(raw.status())) return NotFound(id);
  if (!raw.ok()) return raw.status();
  return Decode(id, raw->InsecureView());
}

absl::StatusOr<SecretBytes> RegistryCredentialStore::GetPassword(
    absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<SecretBytes> value =
      store_->GetSecret(kRegistryCredentialsScope, id);
  if (absl::IsNotFound(value.status())) return NotFound(id);
  return value;
}

absl::StatusOr<std::vector<RegistryCredential>>
RegistryCredentialStore::List() {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> metas,
                   store_->ListSecrets(kRegistryCredentialsMetaScope));
  std::vector<std::string> ids;
  ids.reserve(metas.size());
  for (const SecretMetadata& m : metas) ids.push_back(m.name);
  ASSIGN_OR_RETURN(auto values,
                   store_->GetSecrets(kRegistryCredentialsMetaScope, ids));
  std::vector<RegistryCredential> out;
  for (const std::string& id : ids) {
    auto it = values.find(id);
    if (it == values.end()) continue;  // deleted since the listing
    ASSIGN_OR_RETURN(RegistryCredential c,
                     Decode(id, it->second.InsecureView()));
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const RegistryCredential& a, const RegistryCredential& b) {
              return a.id < b.id;
            });
  return out;
}

absl::Status RegistryCredentialStore::Delete(absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::Status meta = store_->DestroySecret(kRegistryCredentialsMetaScope, id);
  if (absl::IsNotFound(meta)) return NotFound(id);
  RETURN_IF_ERROR(meta);
  absl::Status value = store_->DestroySecret(kRegistryCredentialsScope, id);
  if (!value.ok() && !absl::IsNotFound(value)) return value;
  return absl::OkStatus();
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
