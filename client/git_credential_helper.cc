// git-credential-zlayer: a git credential helper backed by the
// zlayer-secretsd git credentials (Admin.*GitCredential*).
//
// Protocol (gitcredentials(7)): the operation is the last argument; git
// writes `key=value` lines (protocol, host, path, username, password, ...)
// ended by a blank line or EOF on stdin.
//   get    prints `username=U` (the credential's username, else the one git
//          sent) and `password=<token>` for the best PAT matching
//          protocol/host/path (core/identity/git_credential_store.h); prints
//          nothing and exits 0 when none matches or the caller may not read it,
//          so git moves on to its next helper or prompt.
//   store  (git sends it after every successful authentication) does
//          nothing when `get` would already answer this URL with the same
//          password (and username), or when the caller may not write (no
//          error: git would print it after every fetch). Otherwise stores
//          git's username/password as a PAT for protocol https, that host
//          and exactly that path (when git sends one: credential.useHttpPath),
//          replacing an earlier one for the same host, path and username
//          (admin only).
//   erase  (git sends it when a server rejected the credential) removes
//          only the PAT for exactly that host, path and username whose
//          token equals git's password; other paths and other tokens for the
//          host stay; without a password nothing is removed (admin only).
// Configure: git config credential.helper "/path/to/git-credential-zlayer
// --socket /run/zlayer-secrets/zlayer-secretsd.sock" (or put it on PATH as
// "zlayer").
// Errors: one line on stderr, exit 1 (git ignores a failing store/erase).
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/helper_common.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {
namespace {

int Fail(absl::string_view message) {
  std::cerr << "git-credential-zlayer: " << message << "\n";
  return 1;
}

// git's attributes, up to a blank line or EOF. Values are kept verbatim.
std::map<std::string, std::string> ReadAttributes() {
  std::map<std::string, std::string> attrs;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    attrs[line.substr(0, eq)] = line.substr(eq + 1);
    WipeString(&line);
  }
  return attrs;
}

void WipeAttributes(std::map<std::string, std::string>* attrs) {
  for (auto& [key, value] : *attrs) WipeString(&value);
}

std::string Get(const std::map<std::string, std::string>& attrs,
                const std::string& key) {
  auto it = attrs.find(key);
  return it == attrs.end() ? "" : it->second;
}

int DoGet(SecretsClient* client,
          const std::map<std::string, std::string>& attrs) {
  v1::GetGitCredentialRequest req;
  req.mutable_url()->set_protocol(Get(attrs, "protocol"));
  req.mutable_url()->set_host(Get(attrs, "host"));
  req.mutable_url()->set_path(Get(attrs, "path"));
  if (req.url().host().empty()) return 0;
  absl::StatusOr<v1::GetGitCredentialResponse> resp =
      client->GetGitCredential(req);
  if (!resp.ok()) {
    // Not ours to answer: git asks its next helper (or the user).
    if (resp.status().code() == absl::StatusCode::kNotFound ||
        resp.status().code() == absl::StatusCode::kPermissionDenied) {
      return 0;
    }
    return Fail(resp.status().message());
  }
  std::string username = resp->credential().username();
  if (username.empty()) username = Get(attrs, "username");
  if (!username.empty()) std::cout << "username=" << username << "\n";
  std::cout << "password=";
  std::cout.write(resp->value().data(),
                  static_cast<std::streamsize>(resp->value().size()));
  std::cout << "\n";
  WipeString(resp->mutable_value());
  return 0;
}

// git's path as credentials store it: no surrounding '/', no ".git".
std::string NormalizePath(absl::string_view path) {
  path = absl::StripPrefix(absl::StripSuffix(path, "/"), "/");
  path = absl::StripSuffix(path, ".git");
  return std::string(absl::StripSuffix(path, "/"));
}

bool IsDenied(const absl::Status& status) {
  return status.code() == absl::StatusCode::kPermissionDenied ||
         status.code() == absl::StatusCode::kUnauthenticated;
}

// The PATs stored for exactly this host, path and username. A credential
// without a username matches any (get offers it with git's own username).
absl::StatusOr<std::vector<v1::GitCredential>> ExactEntries(
    SecretsClient* client, const std::string& host, const std::string& path,
    const std::string& username) {
  absl::StatusOr<v1::ListGitCredentialsResponse> all =
      client->ListGitCredentials(v1::ListGitCredentialsRequest());
  if (!all.ok()) return all.status();
  std::vector<v1::GitCredential> out;
  const std::string want_path = NormalizePath(path);
  for (const v1::GitCredential& c : all->credentials()) {
    if (c.kind() != v1::GIT_CREDENTIAL_KIND_PAT &&
        c.kind() != v1::GIT_CREDENTIAL_KIND_UNSPECIFIED) {
      continue;
    }
    if (absl::AsciiStrToLower(c.host()) != absl::AsciiStrToLower(host)) {
      continue;
    }
    if (NormalizePath(c.path_prefix()) != want_path) continue;
    if (!c.username().empty() && c.username() != username) continue;
    out.push_back(c);
  }
  return out;
}

// Whether credential `id` holds exactly `password` (compared in constant
// time; the value is wiped).
absl::StatusOr<bool> HoldsPassword(SecretsClient* client, const std::string& id,
                                   const SecretBytes& password) {
  v1::GetGitCredentialRequest req;
  req.set_id(id);
  absl::StatusOr<v1::GetGitCredentialResponse> resp =
      client->GetGitCredential(req);
  if (!resp.ok()) return resp.status();
  bool same = password.ConstantTimeEquals(resp->value());
  WipeString(resp->mutable_value());
  return same;
}

// git calls `store` after every successful authentication, usually with the
// credential `get` just gave it. Nothing is written then, nor for a caller
// who may not write (git would print our error after every fetch).
// Otherwise the credential is kept for exactly this host and path, and an
// earlier one for the same host, path and username is replaced.
int DoStore(SecretsClient* client,
            const std::map<std::string, std::string>& attrs) {
  const std::string host = Get(attrs, "host");
  if (Get(attrs, "protocol") != "https" || host.empty() ||
      Get(attrs, "password").empty()) {
    return 0;  // only https PATs are kept
  }
  const std::string path = Get(attrs, "path");
  const std::string username = Get(attrs, "username");
  const SecretBytes password = SecretBytes::FromString(Get(attrs, "password"));

  // What `get` would answer for this URL: identical means nothing to store.
  v1::GetGitCredentialRequest lookup;
  lookup.mutable_url()->set_protocol("https");
  lookup.mutable_url()->set_host(host);
  lookup.mutable_url()->set_path(path);
  absl::StatusOr<v1::GetGitCredentialResponse> current =
      client->GetGitCredential(lookup);
  if (current.ok()) {
    bool same = password.ConstantTimeEquals(current->value()) &&
                (current->credential().username().empty() ||
                 current->credential().username() == username);
    WipeString(current->mutable_value());
    if (same) return 0;
  } else if (IsDenied(current.status())) {
    return 0;  // may not even read this host's credentials
  } else if (current.status().code() != absl::StatusCode::kNotFound) {
    return Fail(current.status().message());
  }

  absl::StatusOr<std::vector<v1::GitCredential>> old =
      ExactEntries(client, host, path, username);
  if (!old.ok()) {
    return IsDenied(old.status()) ? 0 : Fail(old.status().message());
  }
  v1::CreateGitCredentialRequest req;
  req.set_name(absl::StrCat("git ", host));
  req.set_value(std::string(password.InsecureView()));
  req.set_kind(v1::GIT_CREDENTIAL_KIND_PAT);
  req.set_host(host);
  req.set_path_prefix(NormalizePath(path));
  req.set_username(username);
  absl::StatusOr<v1::GitCredential> created = client->CreateGitCredential(req);
  WipeString(req.mutable_value());
  if (!created.ok()) {
    return IsDenied(created.status()) ? 0 : Fail(created.status().message());
  }
  for (const v1::GitCredential& c : *old) {
    // Replace only an entry for this very username (not one without).
    if (c.username() != username || c.id() == created->id()) continue;
    v1::DeleteGitCredentialRequest del;
    del.set_id(c.id());
    absl::StatusOr<v1::DeleteGitCredentialResponse> resp =
        client->DeleteGitCredential(del);
    if (!resp.ok() && resp.status().code() != absl::StatusCode::kNotFound) {
      return Fail(resp.status().message());
    }
  }
  return 0;
}

// git calls `erase` with the credential a server rejected. Only the entry
// for exactly that host, path and username whose token is that password is
// removed: never other paths, other tokens for the host, or anything when
// git sends no password.
int DoErase(SecretsClient* client,
            const std::map<std::string, std::string>& attrs) {
  const std::string host = Get(attrs, "host");
  if (host.empty() || Get(attrs, "password").empty()) return 0;
  const SecretBytes password = SecretBytes::FromString(Get(attrs, "password"));
  absl::StatusOr<std::vector<v1::GitCredential>> entries =
      ExactEntries(client, host, Get(attrs, "path"), Get(attrs, "username"));
  if (!entries.ok()) {
    return IsDenied(entries.status()) ? 0 : Fail(entries.status().message());
  }
  for (const v1::GitCredential& c : *entries) {
    absl::StatusOr<bool> same = HoldsPassword(client, c.id(), password);
    if (!same.ok()) {
      if (IsDenied(same.status()) ||
          same.status().code() == absl::StatusCode::kNotFound) {
        continue;
      }
      return Fail(same.status().message());
    }
    if (!*same) continue;
    v1::DeleteGitCredentialRequest del;
    del.set_id(c.id());
    absl::StatusOr<v1::DeleteGitCredentialResponse> resp =
        client->DeleteGitCredential(del);
    if (!resp.ok() && resp.status().code() != absl::StatusCode::kNotFound &&
        !IsDenied(resp.status())) {
      return Fail(resp.status().message());
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<HelperArgs> args = ParseHelperArgs(argc, argv);
  if (!args.ok()) {
    return Fail(absl::StrCat(args.status().message(),
                             " (usage: git-credential-zlayer [--socket PATH] "
                             "get|store|erase)"));
  }
  const std::string op = args->operation;
  if (op != "get" && op != "store" && op != "erase") {
    return 0;  // gitcredentials(7): ignore unknown operations
  }
  std::map<std::string, std::string> attrs = ReadAttributes();
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      ConnectHelper(*std::move(args));
  if (!client.ok()) {
    WipeAttributes(&attrs);
    return Fail(client.status().message());
  }
  int code = op == "get"     ? DoGet(client->get(), attrs)
             : op == "store" ? DoStore(client->get(), attrs)
                             : DoErase(client->get(), attrs);
  WipeAttributes(&attrs);
  return code;
}

}  // namespace
}  // namespace zlayer::secrets

int main(int argc, char** argv) { return zlayer::secrets::Main(argc, argv); }
