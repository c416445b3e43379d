#include "client/remote_secrets_provider.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

v1::Target ScopeTarget(absl::string_view scope) {
  v1::Target target;
  target.set_scope(std::string(scope));
  return target;
}

// Moves a response's value into secure memory and wipes the field.
SecretBytes TakeValue(std::string* field) {
  SecretBytes value = SecretBytes::FromString(*field);
  WipeString(field);
  return value;
}

SecretMetadata FromProto(const v1::SecretMetadata& m) {
  SecretMetadata out;
  out.scope = m.scope();
  out.name = m.name();
  out.version = m.version();
  out.created_at = m.created_at();
  out.updated_at = m.updated_at();
  out.key_id = m.key_id();
  out.max_versions = m.max_versions();
  out.deleted = m.deleted();
  out.deleted_at = m.deleted_at();
  return out;
}

}  // namespace

RemoteSecretsProvider::RemoteSecretsProvider(SecretsClient* client)
    : client_(client) {}

absl::StatusOr<SecretBytes> RemoteSecretsProvider::GetSecret(
    absl::string_view scope, absl::string_view name) {
  v1::GetSecretRequest req;
  *req.mutable_target() = ScopeTarget(scope);
  req.set_name(std::string(name));
  absl::StatusOr<v1::GetSecretResponse> resp = client_->GetSecret(req);
  if (!resp.ok()) return resp.status();
  return TakeValue(resp->mutable_value());
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
RemoteSecretsProvider::GetSecrets(absl::string_view scope,
                                  const std::vector<std::string>& names) {
  v1::GetSecretsRequest req;
  *req.mutable_target() = ScopeTarget(scope);
  for (const std::string& n : names) req.add_names(n);
  absl::StatusOr<v1::GetSecretsResponse> resp = client_->GetSecrets(req);
  if (!resp.ok()) return resp.status();
  absl::flat_hash_map<std::string, SecretBytes> out;
  for (auto& [name, value] : *resp->mutable_values()) {
    out.emplace(name, TakeValue(&value));
  }
  return out;
}

absl::StatusOr<std::vector<SecretMetadata>> RemoteSecretsProvider::ListSecrets(
    absl::string_view scope) {
  std::vector<SecretMetadata> out;
  v1::ListSecretsRequest req;
  *req.mutable_target() = ScopeTarget(scope);
  req.set_page_size(1000);
  do {
    absl::StatusOr<v1::ListSecretsResponse> page = client_->ListSecrets(req);
    if (!page.ok()) return page.status();
    for (const v1::SecretMetadata& m : page->secrets()) {
      out.push_back(FromProto(m));
    }
    req.set_page_token(page->next_page_token());
  } while (!req.page_token().empty());
  return out;
}

absl::StatusOr<bool> RemoteSecretsProvider::Exists(absl::string_view scope,
                                                   absl::string_view name) {
  v1::SecretExistsRequest req;
  *req.mutable_target() = ScopeTarget(scope);
  req.set_name(std::string(name));
  absl::StatusOr<v1::SecretExistsResponse> resp = client_->SecretExists(req);
  if (!resp.ok()) return resp.status();
  return resp->exists();
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
RemoteSecretsProvider::ReadBatch(const std::vector<SecretKey>& keys) {
  // scope -> distinct names, in first-seen order.
  std::vector<std::string> scopes;
  absl::flat_hash_map<std::string, std::vector<std::string>> names_by_scope;
  for (const SecretKey& key : keys) {
    auto [it, inserted] = names_by_scope.try_emplace(key.scope);
    if (inserted) scopes.push_back(key.scope);
    std::vector<std::string>& names = it->second;
    if (std::find(names.begin(), names.end(), key.name) == names.end()) {
      names.push_back(key.name);
    }
  }
  absl::flat_hash_map<SecretKey, VersionedValue> found;
  for (const std::string& scope : scopes) {
    v1::GetSecretsRequest req;
    *req.mutable_target() = ScopeTarget(scope);
    for (const std::string& n : names_by_scope[scope]) req.add_names(n);
    absl::StatusOr<v1::GetSecretsResponse> resp = client_->GetSecrets(req);
    if (!resp.ok()) return resp.status();
    for (auto& [name, value] : *resp->mutable_values()) {
      VersionedValue v;
      v.value = TakeValue(&value);
      auto version = resp->versions().find(name);
      if (version != resp->versions().end()) v.version = version->second;
      found.emplace(SecretKey{scope, name}, std::move(v));
    }
  }
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (const SecretKey& key : keys) {
    auto it = found.find(key);
    if (it == found.end()) {
      out.push_back(absl::NotFoundError(absl::StrCat(
          "secret '", key.name, "' not found in scope '", key.scope, "'")));
    } else {
      // The same key may be asked for twice; each answer gets its own copy.
      // No affinity: the daemon enforced it before answering.
      out.push_back(VersionedValue{it->second.value.Clone(), it->second.version,
                                   it->second.incarnation, absl::nullopt});
    }
  }
  return out;
}

absl::StatusOr<RemoteResolvedEnv> RemoteSecretsProvider::ResolveEnv(
    const std::map<std::string, std::string>& env,
    const RemoteResolveContext& context) {
  return ResolveEnv(env, context, "", {});
}

absl::StatusOr<RemoteResolvedEnv> RemoteSecretsProvider::ResolveEnv(
    const std::map<std::string, std::string>& env,
    const RemoteResolveContext& context, absl::string_view consumer,
    const std::vector<v1::ResolvedEntry>& pin) {
  v1::ResolveEnvRequest req;
  req.mutable_env()->insert(env.begin(), env.end());
  req.mutable_context()->set_deployment(context.deployment);
  req.mutable_context()->set_project(context.project);
  req.mutable_context()->set_service(context.service);
  req.set_consumer(std::string(consumer));
  req.mutable_pin()->Assign(pin.begin(), pin.end());
  absl::StatusOr<v1::ResolveEnvResponse> resp = client_->ResolveEnv(req);
  // Plain values of the input may be secrets too.
  for (auto& [key, value] : *req.mutable_env()) WipeString(&value);
  if (!resp.ok()) return resp.status();
  RemoteResolvedEnv out;
  for (auto& [key, value] : *resp->mutable_env()) {
    out.values.emplace(key, TakeValue(&value));
  }
  out.receipt.assign(resp->receipt().begin(), resp->receipt().end());
  return out;
}

}  // namespace zlayer::secrets
