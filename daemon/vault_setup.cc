#include "daemon/vault_setup.h"

#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// The file's content without surrounding whitespace (a trailing newline).
absl::StatusOr<SecretBytes> ReadCredentialFile(const std::string& path,
                                               const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  SecretBytes raw = SecretBytes::FromString(
      std::string(std::istreambuf_iterator<char>(in), {}));
  SecretBytes trimmed =
      SecretBytes::FromString(absl::StripAsciiWhitespace(raw.InsecureView()));
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, " is empty"));
  }
  return trimmed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VaultSource>> OpenVaultSource(
    const DaemonOptions& options, const Clock* clock, SecretsProvider* store) {
  if (options.vault_scopes.empty()) return nullptr;
  VaultClientOptions client_options;
  client_options.address = options.vault_addr;
  if (!options.vault_token_file.empty()) {
    ASSIGN_OR_RETURN(
        client_options.token,
        ReadCredentialFile(options.vault_token_file, "vault-token-file"));
  }
  if (!options.vault_approle_role_id_file.empty()) {
    ASSIGN_OR_RETURN(client_options.approle_role_id,
                     ReadCredentialFile(options.vault_approle_role_id_file,
                                        "vault-approle-role-id-file"));
    ASSIGN_OR_RETURN(client_options.approle_secret_id,
                     ReadCredentialFile(options.vault_approle_secret_id_file,
                                        "vault-approle-secret-id-file"));
  }
  client_options.vault_namespace = options.vault_namespace;
  client_options.ca_file = options.vault_ca_file;
  client_options.request_timeout = options.vault_timeout;

  auto out = std::make_unique<VaultSource>();
  ASSIGN_OR_RETURN(out->client,
                   VaultClient::Create(std::move(client_options), clock));
  std::map<std::string, VaultSecretsProvider*> by_mount;
  std::vector<ScopeRoute> routes;
  for (const VaultScopeMapping& m : options.vault_scopes) {
    VaultSecretsProvider*& provider = by_mount[m.mount];
    if (provider == nullptr) {
      out->mounts.push_back(
          std::make_unique<VaultSecretsProvider>(out->client.get(), m.mount));
      provider = out->mounts.back().get();
    }
    routes.push_back({m.scope, provider, m.prefix});
    spdlog::info("event=vault_scope scope={} mount={} prefix={}", m.scope,
                 m.mount, m.prefix);
  }
  out->source = std::make_unique<ScopeRoutedProvider>(store, std::move(routes));
  return out;
}

}  // namespace zlayer::secrets
