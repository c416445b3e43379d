#include "core/resolve/scope_routed_provider.h"

#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

// Sends each group of keys (by provider) as one batch and puts the answers
// back in the callers' order.
template <typename Key, typename Call>
absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> Scatter(
    const std::vector<Key>& keys,
    const std::function<std::pair<SecretsProvider*, Key>(const Key&)>& route,
    Call call) {
  std::vector<SecretsProvider*> order;
  absl::flat_hash_map<SecretsProvider*,
                      std::pair<std::vector<Key>, std::vector<size_t>>>
      groups;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [provider, key] = route(keys[i]);
    auto [it, inserted] = groups.try_emplace(provider);
    if (inserted) order.push_back(provider);
    it->second.first.push_back(std::move(key));
    it->second.second.push_back(i);
  }
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    out.push_back(absl::InternalError("not read"));
  }
  for (SecretsProvider* provider : order) {
    auto& [group, index] = groups[provider];
    ASSIGN_OR_RETURN(auto read, call(provider, group));
    if (read.size() != group.size()) {
      return absl::InternalError(
          "a provider returned a batch of the wrong size");
    }
    for (size_t j = 0; j < read.size(); ++j) out[index[j]] = std::move(read[j]);
  }
  return out;
}

}  // namespace

ScopeRoutedProvider::ScopeRoutedProvider(SecretsProvider* fallback,
                                         std::vector<ScopeRoute> routes)
    : fallback_(fallback), routes_(std::move(routes)) {}

int ScopeRoutedProvider::RouteIndex(absl::string_view scope) const {
  int best = -1;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const std::string& s = routes_[i].scope;
    const bool match =
        scope == s || (absl::StartsWith(scope, s) && scope.size() > s.size() &&
                       scope[s.size()] == '/');
    if (match && (best < 0 || s.size() > routes_[best].scope.size())) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

std::pair<SecretsProvider*, std::string> ScopeRoutedProvider::Route(
    absl::string_view scope) const {
  const int i = RouteIndex(scope);
  if (i < 0) return {fallback_, std::string(scope)};
  const ScopeRoute& r = routes_[i];
  absl::string_view rest = scope.substr(r.scope.size());  // "" or "/..."
  if (r.path_prefix.empty() && !rest.empty()) rest.remove_prefix(1);
  return {r.provider, absl::StrCat(r.path_prefix, rest)};
}

absl::StatusOr<SecretBytes> ScopeRoutedProvider::GetSecret(
    absl::string_view scope, absl::string_view name) {
  auto [provider, at] = Route(scope);
  return provider->GetSecret(at, name);
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
ScopeRoutedProvider::GetSecrets(absl::string_view scope,
                                const std::vector<std::string>& names) {
  auto [provider, at] = Route(scope);
  return provider->GetSecrets(at, names);
}

absl::StatusOr<std::vector<SecretMetadata>> ScopeRoutedProvider::ListSecrets(
    absl::string_view scope) {
  auto [provider, at] = Route(scope);
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> list, provider->ListSecrets(at));
  for (SecretMetadata& m : list) m.scope = std::string(scope);
  return list;
}

absl::StatusOr<bool> ScopeRoutedProvider::Exists(absl::string_view scope,
                                                 absl::string_view name) {
  auto [provider, at] = Route(scope);
  return provider->Exists(at, name);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
ScopeRoutedProvider::ReadBatch(const std::vector<SecretKey>& keys) {
  std::function<std::pair<SecretsProvider*, SecretKey>(const SecretKey&)>
      route = [this](const SecretKey& k) {
        auto [provider, at] = Route(k.scope);
        return std::make_pair(provider, SecretKey{std::move(at), k.name});
      };
  return Scatter(keys, route,
                 [](SecretsProvider* p, const std::vector<SecretKey>& group) {
                   return p->ReadBatch(group);
                 });
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
ScopeRoutedProvider::ReadVersions(const std::vector<VersionedKey>& keys) {
  std::function<std::pair<SecretsProvider*, VersionedKey>(const VersionedKey&)>
      route = [this](const VersionedKey& k) {
        auto [provider, at] = Route(k.key.scope);
        return std::make_pair(
            provider,
            VersionedKey{SecretKey{std::move(at), k.key.name}, k.version});
      };
  return Scatter(
      keys, route,
      [](SecretsProvider* p, const std::vector<VersionedKey>& group) {
        return p->ReadVersions(group);
      });
}

}  // namespace zlayer::secrets
