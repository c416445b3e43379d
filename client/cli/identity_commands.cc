#include "client/cli/identity_commands.h"

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/cli/value_input.h"
#include "client/sealed_reveal.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"

namespace zlayer::secrets::cli {
namespace {

std::string LevelName(v1::AccessLevel level) {
  switch (level) {
    case v1::ACCESS_LEVEL_READ:
      return "read";
    case v1::ACCESS_LEVEL_EXECUTE:
      return "execute";
    case v1::ACCESS_LEVEL_WRITE:
      return "write";
    default:
      return "none";
  }
}

v1::AccessLevel LevelFromName(absl::string_view name) {
  if (name == "read") return v1::ACCESS_LEVEL_READ;
  if (name == "execute") return v1::ACCESS_LEVEL_EXECUTE;
  if (name == "write") return v1::ACCESS_LEVEL_WRITE;
  return v1::ACCESS_LEVEL_UNSPECIFIED;
}

// "environment <id>", "scope 'prod'", "secret 'prod/db'".
std::string Describe(const v1::GrantResource& r) {
  switch (r.kind()) {
    case v1::RESOURCE_KIND_ENVIRONMENT:
      return absl::StrCat("environment ", r.id().empty() ? "*" : r.id());
    case v1::RESOURCE_KIND_SECRET:
      return absl::StrCat("secret '", r.id(), "/", r.name(), "'");
    case v1::RESOURCE_KIND_IMPERSONATE:
      return absl::StrCat("impersonation of '", r.id(), "'");
    default:
      return absl::StrCat("scope '", r.id().empty() ? "*" : r.id(), "'");
  }
}

std::string KindName(const v1::GrantResource& r) {
  switch (r.kind()) {
    case v1::RESOURCE_KIND_ENVIRONMENT:
      return "environment";
    case v1::RESOURCE_KIND_SECRET:
      return "secret";
    case v1::RESOURCE_KIND_IMPERSONATE:
      return "impersonate";
    default:
      return "scope";
  }
}

std::string GrantJson(const v1::AccessGrant& g) {
  std::string out = absl::StrCat(
      "  {\n    \"id\": ", JsonQuote(g.id()),
      ",\n    \"subject\": ", JsonQuote(g.subject()),
      ",\n    \"resource_kind\": ", JsonQuote(KindName(g.resource())),
      ",\n    \"resource_id\": ",
      g.resource().id().empty() ? "null" : JsonQuote(g.resource().id()));
  if (g.resource().kind() == v1::RESOURCE_KIND_SECRET) {
    absl::StrAppend(
        &out, ",\n    \"resource_name\": ", JsonQuote(g.resource().name()));
  }
  absl::StrAppend(&out, ",\n    \"level\": ", JsonQuote(LevelName(g.level())),
                  ",\n    \"created_at\": ", g.created_at(), "\n  }");
  return out;
}

std::string GrantsJson(const v1::ListGrantsResponse& resp) {
  if (resp.grants().empty()) return "[]\n";
  std::vector<std::string> items;
  for (const v1::AccessGrant& g : resp.grants()) items.push_back(GrantJson(g));
  return absl::StrCat("[\n", absl::StrJoin(items, ",\n"), "\n]\n");
}

std::string TrimRight(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string GrantsTable(const v1::ListGrantsResponse& resp) {
  std::string out = TrimRight(absl::StrFormat(
      "%-38s %-6s %-38s %-8s", "PERMISSION_ID", "KIND", "SUBJECT_ID", "LEVEL"));
  for (const v1::AccessGrant& g : resp.grants()) {
    absl::string_view subject = g.subject();
    size_t colon = subject.find(':');
    std::string kind(subject.substr(0, colon));
    std::string id(
        colon == absl::string_view::npos ? "" : subject.substr(colon + 1));
    out += TrimRight(absl::StrFormat("%-38s %-6s %-38s %-8s", g.id(), kind, id,
                                     LevelName(g.level())));
  }
  return out;
}

std::string SubjectGrantsTable(const v1::ListGrantsResponse& resp) {
  std::string out = TrimRight(absl::StrFormat(
      "%-38s %-40s %-8s", "PERMISSION_ID", "RESOURCE", "LEVEL"));
  for (const v1::AccessGrant& g : resp.grants()) {
    out += TrimRight(absl::StrFormat("%-38s %-40s %-8s", g.id(),
                                     Describe(g.resource()),
                                     LevelName(g.level())));
  }
  return out;
}

void WriteSecret(std::ostream& out, absl::string_view value) {
  out.write(value.data(), static_cast<std::streamsize>(value.size()));
}

class IdentityRunner {
 public:
  IdentityRunner(const Command& cmd, SecretsClient* client, Io io)
      : cmd_(cmd), g_(cmd.global), client_(client), io_(io) {}

  int Run() {
    const std::string& v = cmd_.verb;
    if (v == "grant") return Grant();
    if (v == "revoke") return Revoke();
    if (v == "permissions") return Permissions();
    if (v == "apikey") return ApiKey();
    if (v == "client-key") return ClientKey();
    return Credential();
  }

 private:
  int Fail(const absl::Status& status) {
    return PrintCallFailure(*io_.err, status, cmd_.global);
  }
  bool Json() const { return g_.output == OutputFormat::kJson; }
  // --output plain: the ids, one per line.
  bool Plain() const { return g_.output == OutputFormat::kPlain; }
  template <typename Items>
  int PrintIds(const Items& items) {
    for (const auto& item : items) *io_.out << item.id() << "\n";
    return kExitOk;
  }

  // The resource named by --scope [--name], --env, or the ENV positional.
  absl::StatusOr<v1::GrantResource> Resource(absl::string_view env_arg) {
    v1::GrantResource r;
    if (!cmd_.scope.empty()) {
      r.set_kind(cmd_.secret_name.empty() ? v1::RESOURCE_KIND_SCOPE
                                          : v1::RESOURCE_KIND_SECRET);
      r.set_id(cmd_.scope);
      r.set_name(cmd_.secret_name);
      return r;
    }
    std::string env(g_.env.empty() ? env_arg : g_.env);
    v1::GetEnvironmentRequest req;
    req.set_name_or_id(env);
    req.set_project(g_.project);
    absl::StatusOr<v1::Environment> found = client_->GetEnvironment(req);
    if (!found.ok()) return found.status();
    r.set_kind(v1::RESOURCE_KIND_ENVIRONMENT);
    r.set_id(found->id());
    return r;
  }

  static absl::StatusOr<v1::GrantResource> ImpersonateResource(
      absl::string_view pattern) {
    v1::GrantResource r;
    r.set_kind(v1::RESOURCE_KIND_IMPERSONATE);
    r.set_id(std::string(pattern));
    return r;
  }

  int Grant() {
    const std::vector<std::string>& p = cmd_.positionals;
    const bool impersonate = p.size() == 3 && p[1] == "impersonate";
    absl::StatusOr<v1::GrantResource> resource =
        impersonate ? ImpersonateResource(p[2])
                    : Resource(p.size() == 3 ? p[1] : "");
    if (!resource.ok()) return Fail(resource.status());
    v1::GrantRequest req;
    req.set_subject(cmd_.subject);
    *req.mutable_resource() = *resource;
    // An impersonate grant's level is not consulted; read is stored.
    req.set_level(impersonate ? v1::ACCESS_LEVEL_READ
                              : LevelFromName(p.back()));
    absl::StatusOr<v1::AccessGrant> grant = client_->Grant(req);
    if (!grant.ok()) return Fail(grant.status());
    if (Json()) {
      *io_.out << absl::StripPrefix(GrantJson(*grant), "  ") << "\n";
      return kExitOk;
    }
    if (impersonate) {
      *io_.out << "Granted " << Describe(grant->resource()) << " to "
               << grant->subject() << " (permission id " << grant->id()
               << ")\n";
      return kExitOk;
    }
    *io_.out << "Granted " << LevelName(grant->level()) << " on "
             << Describe(grant->resource()) << " to " << grant->subject()
             << " (permission id " << grant->id() << ")\n";
    return kExitOk;
  }

  void PrintRevoked(const v1::AccessGrant& g) {
    if (Json()) {
      // One grant object per line: revoking by subject may match several.
      *io_.out << absl::StrReplaceAll(absl::StripPrefix(GrantJson(g), "  "),
                                      {{"\n", ""}})
               << "\n";
      return;
    }
    *io_.out << "Revoked " << LevelName(g.level()) << " on "
             << Describe(g.resource()) << " from " << g.subject()
             << " (permission id " << g.id() << ")\n";
  }

  int Revoke() {
    if (!cmd_.grant_id.empty()) {
      v1::RevokeRequest req;
      req.set_id(cmd_.grant_id);
      absl::StatusOr<v1::RevokeResponse> resp = client_->Revoke(req);
      if (!resp.ok()) return Fail(resp.status());
      PrintRevoked(resp->grant());
      return kExitOk;
    }
    const std::vector<std::string>& p = cmd_.positionals;
    absl::StatusOr<v1::GrantResource> resource =
        Resource(p.size() == 2 ? p[1] : "");
    if (!resource.ok()) return Fail(resource.status());
    v1::RevokeMatchingRequest req;
    req.set_subject(cmd_.subject);
    *req.mutable_resource() = *resource;
    absl::StatusOr<v1::RevokeMatchingResponse> resp =
        client_->RevokeMatching(req);
    if (!resp.ok()) {
      if (resp.status().code() == absl::StatusCode::kNotFound) {
        *io_.out << "No grant to revoke: " << cmd_.subject
                 << " has no permission on " << Describe(*resource) << "\n";
        return kExitOk;
      }
      return Fail(resp.status());
    }
    for (const v1::AccessGrant& g : resp->grants()) PrintRevoked(g);
    return kExitOk;
  }

  int Permissions() {
    v1::ListGrantsRequest req;
    std::string what;
    if (!cmd_.subject.empty()) {
      req.set_subject(cmd_.subject);
      what = absl::StrCat("for ", cmd_.subject);
    } else {
      absl::StatusOr<v1::GrantResource> resource =
          Resource(cmd_.positionals.empty() ? "" : cmd_.positionals[0]);
      if (!resource.ok()) return Fail(resource.status());
      what = absl::StrCat("on ", Describe(*resource));
      *req.mutable_resource() = *std::move(resource);
    }
    absl::StatusOr<v1::ListGrantsResponse> resp = client_->ListGrants(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Plain()) return PrintIds(resp->grants());
    if (Json()) {
      *io_.out << GrantsJson(*resp);
    } else if (resp->grants().empty()) {
      *io_.out << "(no grants " << what << ")\n";
    } else {
      *io_.out << (cmd_.subject.empty() ? GrantsTable(*resp)
                                        : SubjectGrantsTable(*resp));
    }
    return kExitOk;
  }

  // client-key create KEYFILE | ls [--all] | revoke ID (sealed reveals).
  int ClientKey() {
    const std::vector<std::string>& p = cmd_.positionals;
    const std::string& sub = p[0];
    if (sub == "create") {
      absl::StatusOr<ClientKeyFile> key = CreateClientKeyFile(client_, p[1]);
      if (!key.ok()) return Fail(key.status());
      if (Json()) {
        *io_.out << "{\"id\": " << JsonQuote(key->id)
                 << ", \"file\": " << JsonQuote(p[1]) << "}\n";
      } else if (Plain()) {
        *io_.out << key->id << "\n";
      } else {
        *io_.out << "Created client key " << key->id
                 << "; its secret key is in " << p[1] << " (mode 0600)\n";
      }
      return kExitOk;
    }
    if (sub == "revoke") {
      v1::RevokeClientKeyRequest req;
      req.set_id(p[1]);
      absl::StatusOr<v1::ClientKey> resp = client_->RevokeClientKey(req);
      if (!resp.ok()) return Fail(resp.status());
      *io_.out << "Revoked client key " << resp->id() << "\n";
      return kExitOk;
    }
    v1::ListClientKeysRequest req;
    req.set_all(cmd_.all);
    absl::StatusOr<v1::ListClientKeysResponse> resp =
        client_->ListClientKeys(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Plain()) return PrintIds(resp->keys());
    if (Json()) {
      std::vector<std::string> items;
      for (const v1::ClientKey& k : resp->keys()) {
        items.push_back(absl::StrCat("  {\"id\": ", JsonQuote(k.id()),
                                     ", \"owner\": ", JsonQuote(k.owner()),
                                     ", \"created_at\": ", k.created_at(),
                                     ", \"revoked_at\": ", k.revoked_at(),
                                     "}"));
      }
      *io_.out << (items.empty()
                       ? "[]\n"
                       : absl::StrCat("[\n", absl::StrJoin(items, ",\n"),
                                      "\n]\n"));
      return kExitOk;
    }
    if (resp->keys().empty()) {
      *io_.out << "(no client keys)\n";
      return kExitOk;
    }
    *io_.out << TrimRight(
        absl::StrFormat("%-38s %-30s %s", "ID", "OWNER", "STATUS"));
    for (const v1::ClientKey& k : resp->keys()) {
      *io_.out << TrimRight(
          absl::StrFormat("%-38s %-30s %s", k.id(), k.owner(),
                          k.revoked_at() > 0 ? "revoked" : "active"));
    }
    return kExitOk;
  }

  int ApiKey() {
    const std::vector<std::string>& p = cmd_.positionals;
    const std::string& sub = p[0];
    if (sub == "ls" || sub == "list") {
      absl::StatusOr<v1::ListApiKeysResponse> resp =
          client_->ListApiKeys(v1::ListApiKeysRequest());
      if (!resp.ok()) return Fail(resp.status());
      if (Plain()) return PrintIds(resp->keys());
      if (Json()) {
        std::vector<std::string> items;
        for (const v1::ApiKey& k : resp->keys()) {
          std::vector<std::string> roles;
          for (const std::string& r : k.roles()) roles.push_back(JsonQuote(r));
          items.push_back(absl::StrCat(
              "  {\"id\": ", JsonQuote(k.id()), ", \"roles\": [",
              absl::StrJoin(roles, ", "), "], \"created_at\": ", k.created_at(),
              ", \"updated_at\": ", k.updated_at(), "}"));
        }
        *io_.out << (items.empty()
                         ? "[]\n"
                         : absl::StrCat("[\n", absl::StrJoin(items, ",\n"),
                                        "\n]\n"));
        return kExitOk;
      }
      if (resp->keys().empty()) {
        *io_.out << "(no API keys)\n";
        return kExitOk;
      }
      *io_.out << TrimRight(absl::StrFormat("%-30s %s", "ID", "ROLES"));
      for (const v1::ApiKey& k : resp->keys()) {
        *io_.out << TrimRight(
            absl::StrFormat("%-30s %s", k.id(), absl::StrJoin(k.roles(), ",")));
      }
      return kExitOk;
    }
    if (sub == "create" || sub == "rotate") {
      absl::StatusOr<v1::CreateApiKeyResponse> resp;
      if (sub == "create") {
        v1::CreateApiKeyRequest req;
        req.set_id(p[1]);
        for (const std::string& r : cmd_.roles) req.add_roles(r);
        resp = client_->CreateApiKey(req);
      } else {
        v1::RotateApiKeyRequest req;
        req.set_id(p[1]);
        resp = client_->RotateApiKey(req);
      }
      if (!resp.ok()) return Fail(resp.status());
      if (Json()) {
        std::string line = absl::StrCat(
            "{\"id\": ", JsonQuote(resp->key().id()),
            ", \"key\": ", JsonQuote(resp->presentable_key()), "}\n");
        WriteSecret(*io_.out, line);
        WipeString(&line);
      } else {
        *io_.out << (sub == "create" ? "Created" : "Rotated") << " API key '"
                 << resp->key().id() << "' (roles: "
                 << (resp->key().roles().empty()
                         ? std::string("none")
                         : absl::StrJoin(resp->key().roles(), ", "))
                 << ")\n\n  ";
        WriteSecret(*io_.out, resp->presentable_key());
        *io_.out << "\n\nThis is the only time it will be shown. Store it "
                    "now.\n";
      }
      WipeString(resp->mutable_presentable_key());
      return kExitOk;
    }
    if (sub == "roles") {
      v1::SetApiKeyRolesRequest req;
      req.set_id(p[1]);
      for (size_t i = 2; i < p.size(); ++i) req.add_roles(p[i]);
      for (const std::string& r : cmd_.roles) req.add_roles(r);
      absl::StatusOr<v1::ApiKey> key = client_->SetApiKeyRoles(req);
      if (!key.ok()) return Fail(key.status());
      if (Json()) {
        std::vector<std::string> roles;
        for (const std::string& r : key->roles()) roles.push_back(JsonQuote(r));
        *io_.out << "{\"id\": " << JsonQuote(key->id()) << ", \"roles\": ["
                 << absl::StrJoin(roles, ", ") << "]}\n";
        return kExitOk;
      }
      *io_.out << "API key '" << key->id() << "' roles: "
               << (key->roles().empty() ? std::string("none")
                                        : absl::StrJoin(key->roles(), ", "))
               << "\n";
      return kExitOk;
    }
    v1::DeleteApiKeyRequest req;
    req.set_id(p[1]);
    absl::StatusOr<v1::DeleteApiKeyResponse> resp = client_->DeleteApiKey(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << "{\"id\": " << JsonQuote(p[1]) << ", \"removed\": true}\n";
      return kExitOk;
    }
    *io_.out << "Removed API key '" << p[1] << "'\n";
    return kExitOk;
  }

  absl::StatusOr<SecretBytes> ReadCredentialSecret() {
    absl::StatusOr<SecretBytes> value = ReadValue(*cmd_.value, *io_.in);
    if (value.ok() && cmd_.value->kind == ValueSource::Kind::kValue) {
      *io_.err << kValueFlagWarning << "\n";
    }
    return value;
  }

  int Credential() {
    const std::vector<std::string>& p = cmd_.positionals;
    const bool registry = p[0] == "registry";
    const std::string& sub = p[1];
    if (sub == "add") {
      absl::StatusOr<SecretBytes> secret = ReadCredentialSecret();
      if (!secret.ok()) return Fail(secret.status());
      absl::string_view bytes = secret->InsecureView();
      if (registry) {
        v1::CreateRegistryCredentialRequest req;
        req.set_registry(cmd_.registry);
        req.set_username(cmd_.username);
        req.mutable_password()->assign(bytes.data(), bytes.size());
        req.set_auth_type(cmd_.auth_type == "token"
                              ? v1::REGISTRY_AUTH_TYPE_TOKEN
                              : v1::REGISTRY_AUTH_TYPE_BASIC);
        absl::StatusOr<v1::RegistryCredential> c =
            client_->CreateRegistryCredential(req);
        WipeString(req.mutable_password());
        if (!c.ok()) return Fail(c.status());
        if (Json()) {
          *io_.out << "{\"id\": " << JsonQuote(c->id()) << "}\n";
          return kExitOk;
        }
        *io_.out << "Added registry credential " << c->id() << " for "
                 << c->registry() << " (user " << c->username() << ")\n";
        return kExitOk;
      }
      v1::CreateGitCredentialRequest req;
      req.set_name(cmd_.label);
      req.mutable_value()->assign(bytes.data(), bytes.size());
      req.set_kind(cmd_.kind == "pat" ? v1::GIT_CREDENTIAL_KIND_PAT
                                      : v1::GIT_CREDENTIAL_KIND_SSH_KEY);
      req.set_host(cmd_.host);
      req.set_path_prefix(cmd_.path_prefix);
      req.set_username(cmd_.username);
      absl::StatusOr<v1::GitCredential> c = client_->CreateGitCredential(req);
      WipeString(req.mutable_value());
      if (!c.ok()) return Fail(c.status());
      if (Json()) {
        *io_.out << "{\"id\": " << JsonQuote(c->id()) << "}\n";
        return kExitOk;
      }
      *io_.out << "Added git credential " << c->id() << " '" << c->name()
               << "' for " << c->host() << "\n";
      return kExitOk;
    }
    if (sub == "ls" || sub == "list") {
      return registry ? ListRegistry() : ListGit();
    }
    const std::string& id = p[2];
    if (registry) {
      v1::DeleteRegistryCredentialRequest req;
      req.set_id(id);
      absl::StatusOr<v1::DeleteRegistryCredentialResponse> resp =
          client_->DeleteRegistryCredential(req);
      if (!resp.ok()) return Fail(resp.status());
    } else {
      v1::DeleteGitCredentialRequest req;
      req.set_id(id);
      absl::StatusOr<v1::DeleteGitCredentialResponse> resp =
          client_->DeleteGitCredential(req);
      if (!resp.ok()) return Fail(resp.status());
    }
    if (Json()) {
      *io_.out << "{\"id\": " << JsonQuote(id) << ", \"removed\": true}\n";
      return kExitOk;
    }
    *io_.out << "Removed " << p[0] << " credential " << id << "\n";
    return kExitOk;
  }

  int ListRegistry() {
    absl::StatusOr<v1::ListRegistryCredentialsResponse> resp =
        client_->ListRegistryCredentials(v1::ListRegistryCredentialsRequest());
    if (!resp.ok()) return Fail(resp.status());
    if (Plain()) return PrintIds(resp->credentials());
    if (Json()) {
      std::vector<std::string> items;
      for (const v1::RegistryCredential& c : resp->credentials()) {
        items.push_back(absl::StrCat(
            "  {\"id\": ", JsonQuote(c.id()),
            ", \"registry\": ", JsonQuote(c.registry()),
            ", \"username\": ", JsonQuote(c.username()), ", \"auth_type\": \"",
            c.auth_type() == v1::REGISTRY_AUTH_TYPE_TOKEN ? "token" : "basic",
            "\"}"));
      }
      *io_.out << (items.empty()
                       ? "[]\n"
                       : absl::StrCat("[\n", absl::StrJoin(items, ",\n"),
                                      "\n]\n"));
      return kExitOk;
    }
    if (resp->credentials().empty()) {
      *io_.out << "(no registry credentials)\n";
      return kExitOk;
    }
    *io_.out << TrimRight(absl::StrFormat("%-36s %-30s %-20s %-6s", "ID",
                                          "REGISTRY", "USERNAME", "AUTH"));
    for (const v1::RegistryCredential& c : resp->credentials()) {
      *io_.out << TrimRight(absl::StrFormat(
          "%-36s %-30s %-20s %-6s", c.id(), c.registry(), c.username(),
          c.auth_type() == v1::REGISTRY_AUTH_TYPE_TOKEN ? "token" : "basic"));
    }
    return kExitOk;
  }

  int ListGit() {
    absl::StatusOr<v1::ListGitCredentialsResponse> resp =
        client_->ListGitCredentials(v1::ListGitCredentialsRequest());
    if (!resp.ok()) return Fail(resp.status());
    if (Plain()) return PrintIds(resp->credentials());
    auto kind = [](const v1::GitCredential& c) {
      return c.kind() == v1::GIT_CREDENTIAL_KIND_SSH_KEY ? "ssh_key" : "pat";
    };
    if (Json()) {
      std::vector<std::string> items;
      for (const v1::GitCredential& c : resp->credentials()) {
        items.push_back(
            absl::StrCat("  {\"id\": ", JsonQuote(c.id()),
                         ", \"name\": ", JsonQuote(c.name()), ", \"kind\": \"",
                         kind(c), "\", \"host\": ", JsonQuote(c.host()),
                         ", \"path_prefix\": ", JsonQuote(c.path_prefix()),
                         ", \"username\": ", JsonQuote(c.username()), "}"));
      }
      *io_.out << (items.empty()
                       ? "[]\n"
                       : absl::StrCat("[\n", absl::StrJoin(items, ",\n"),
                                      "\n]\n"));
      return kExitOk;
    }
    if (resp->credentials().empty()) {
      *io_.out << "(no git credentials)\n";
      return kExitOk;
    }
    *io_.out << TrimRight(absl::StrFormat("%-36s %-24s %-8s %-30s %s", "ID",
                                          "NAME", "KIND", "HOST", "PATH"));
    for (const v1::GitCredential& c : resp->credentials()) {
      *io_.out << TrimRight(absl::StrFormat("%-36s %-24s %-8s %-30s %s", c.id(),
                                            c.name(), kind(c), c.host(),
                                            c.path_prefix()));
    }
    return kExitOk;
  }

  const Command& cmd_;
  const GlobalOptions& g_;
  SecretsClient* client_;
  Io io_;
};

}  // namespace

bool IsIdentityVerb(absl::string_view verb) {
  return verb == "grant" || verb == "revoke" || verb == "permissions" ||
         verb == "apikey" || verb == "client-key" || verb == "credential";
}

int RunIdentityCommand(const Command& cmd, SecretsClient* client, Io io) {
  return IdentityRunner(cmd, client, io).Run();
}

}  // namespace zlayer::secrets::cli
