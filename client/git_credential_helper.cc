// git-credential-zlayer: a git credential helper backed by the
// zlayer-secretsd git credentials (Admin.*GitCredential*).
//
// Protocol (gitcredentials(7)): the operation is the last argument; git
// writes `key=value` lines (protocol, host, path, username, password, ...)
// ended by a blank line or EOF on stdin.
//   get    prints `username=U` (the credential's username, else the one git
//          sent) and `password=<token>` for the best PAT matching
//          protocol/host/path (core/git_credential_store.h); prints nothing
//          and exits 0 when none matches or the caller may not read it, so
//          git moves on to its next helper or prompt.
//   store  stores git's username/password as a PAT for protocol https and
//          that host (and path, when git sends one), replacing an earlier
//          one for the same host, path and username (admin only).
//   erase  removes the PATs for that host (and username, if given) (admin
//          only).
// Configure: git config credential.helper "/path/to/git-credential-zlayer
// --socket /run/zlayer/secretsd.sock" (or put it on PATH as "zlayer").
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
#include "core/secret_bytes.h"

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

absl::StatusOr<std::vector<std::string>> Matching(SecretsClient* client,
                                                  const std::string& host,
                                                  const std::string& path,
                                                  const std::string& username,
                                                  bool exact_path) {
  absl::StatusOr<v1::ListGitCredentialsResponse> all =
      client->ListGitCredentials(v1::ListGitCredentialsRequest());
  if (!all.ok()) return all.status();
  std::vector<std::string> ids;
  const std::string want_path(absl::StripSuffix(
      absl::StripSuffix(absl::StripPrefix(path, "/"), "/"), ".git"));
  for (const v1::GitCredential& c : all->credentials()) {
    if (c.kind() != v1::GIT_CREDENTIAL_KIND_PAT) continue;
    if (absl::AsciiStrToLower(c.host()) != absl::AsciiStrToLower(host)) {
      continue;
    }
    if (!username.empty() && c.username() != username) continue;
    if (exact_path && c.path_prefix() != want_path) continue;
    ids.push_back(c.id());
  }
  return ids;
}

absl::Status DeleteAll(SecretsClient* client,
                       const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    v1::DeleteGitCredentialRequest req;
    req.set_id(id);
    absl::StatusOr<v1::DeleteGitCredentialResponse> resp =
        client->DeleteGitCredential(req);
    if (!resp.ok() && resp.status().code() != absl::StatusCode::kNotFound) {
      return resp.status();
    }
  }
  return absl::OkStatus();
}

int DoStore(SecretsClient* client,
            const std::map<std::string, std::string>& attrs) {
  const std::string host = Get(attrs, "host");
  const std::string password = Get(attrs, "password");
  if (Get(attrs, "protocol") != "https" || host.empty() || password.empty()) {
    return 0;  // only https PATs are kept
  }
  const std::string path = Get(attrs, "path");
  const std::string username = Get(attrs, "username");
  absl::StatusOr<std::vector<std::string>> old =
      Matching(client, host, path, username, /*exact_path=*/true);
  if (!old.ok()) return Fail(old.status().message());
  v1::CreateGitCredentialRequest req;
  req.set_name(absl::StrCat("git ", host));
  req.set_value(password);
  req.set_kind(v1::GIT_CREDENTIAL_KIND_PAT);
  req.set_host(host);
  req.set_path_prefix(std::string(absl::StripSuffix(path, ".git")));
  req.set_username(username);
  absl::StatusOr<v1::GitCredential> created = client->CreateGitCredential(req);
  WipeString(req.mutable_value());
  if (!created.ok()) return Fail(created.status().message());
  absl::Status deleted = DeleteAll(client, *old);
  return deleted.ok() ? 0 : Fail(deleted.message());
}

int DoErase(SecretsClient* client,
            const std::map<std::string, std::string>& attrs) {
  const std::string host = Get(attrs, "host");
  if (host.empty()) return 0;
  absl::StatusOr<std::vector<std::string>> ids =
      Matching(client, host, "", Get(attrs, "username"), /*exact_path=*/false);
  if (!ids.ok()) return Fail(ids.status().message());
  absl::Status deleted = DeleteAll(client, *ids);
  return deleted.ok() ? 0 : Fail(deleted.message());
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
