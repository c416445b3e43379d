// docker-credential-zlayer: a Docker credential helper backed by the
// zlayer-secretsd registry credentials (Admin.*RegistryCredential*).
//
// Protocol (docker's credential-helpers): the operation is the argument,
// input on stdin, output on stdout.
//   get      stdin: a server URL      stdout: {"ServerURL","Username","Secret"}
//            unknown registry: "credentials not found in native keychain",
//            exit 1 (the message docker recognises)
//   store    stdin: {"ServerURL","Username","Secret"}   (admin only)
//   erase    stdin: a server URL      removes every credential for that host
//                                     (admin only)
//   list     stdout: {"<registry>": "<username>", ...} (what the caller may
//            read)
//   version  stdout: the version
// Registries are matched by normalised host (Docker Hub aliases are one
// registry; see core/identity/registry_credential_store.h). Configure docker
// with
// {"credsStore": "zlayer"} (the binary on PATH) and, if the daemon is not on
// the default socket, ZLAYER_SECRETS_SOCKET in docker's environment.
// Errors: one line on stdout, exit 1, as docker-credential-helpers' Serve()
// does: docker reads only stdout and matches these texts exactly:
//   "credentials not found in native keychain"   no credential for the URL
//   "no credentials server URL"                  empty URL / ServerURL
//   "no credentials username"                    empty Username (store)
//   "docker-credential-zlayer: unknown action: X"
// A daemon that cannot be reached gets the CLI's actionable wording
// (client/cli/exit_codes.h).
#include <iostream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/cli/exit_codes.h"
#include "client/helper_common.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "core/format/json.h"
#include "core/identity/registry_credential_store.h"

namespace zlayer::secrets {
namespace {

// docker-credential-helpers' messages (credentials/error.go), which docker's
// client recognises by exact text.
constexpr char kNotFound[] = "credentials not found in native keychain";
constexpr char kMissingServerUrl[] = "no credentials server URL";
constexpr char kMissingUsername[] = "no credentials username";

int Fail(absl::string_view message) {
  std::cout << absl::StrReplaceAll(message, {{"\n", "; "}}) << "\n";
  return 1;
}

// A failed call to the daemon at `address`.
int Fail(const absl::Status& status, absl::string_view address) {
  return Fail(cli::FailureMessage(status, address));
}

std::string ReadStdin() {
  return std::string((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
}

void PrintJson(const JsonValue& value) {
  WipingString text = SerializeJson(value);
  std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::cout << "\n";
}

int Get(SecretsClient* client, absl::string_view address) {
  std::string url(absl::StripAsciiWhitespace(ReadStdin()));
  if (url.empty()) return Fail(kMissingServerUrl);
  v1::GetRegistryCredentialRequest req;
  req.set_registry(url);
  absl::StatusOr<v1::GetRegistryCredentialResponse> resp =
      client->GetRegistryCredential(req);
  if (!resp.ok()) {
    if (resp.status().code() == absl::StatusCode::kNotFound) {
      return Fail(kNotFound);
    }
    return Fail(resp.status(), address);
  }
  JsonValue out = JsonValue::EmptyObject();
  out.Set("ServerURL", JsonValue::FromString(url));
  out.Set("Username", JsonValue::FromString(resp->credential().username()));
  out.Set("Secret", JsonValue::FromString(resp->password()));
  WipeString(resp->mutable_password());
  PrintJson(out);
  return 0;
}

// Every stored credential whose registry normalises to `url`'s host.
absl::StatusOr<std::vector<std::string>> IdsFor(SecretsClient* client,
                                                absl::string_view url) {
  absl::StatusOr<v1::ListRegistryCredentialsResponse> all =
      client->ListRegistryCredentials(v1::ListRegistryCredentialsRequest());
  if (!all.ok()) return all.status();
  std::vector<std::string> ids;
  const std::string host = NormalizeRegistryHost(url);
  for (const v1::RegistryCredential& c : all->credentials()) {
    if (NormalizeRegistryHost(c.registry()) == host) ids.push_back(c.id());
  }
  return ids;
}

absl::Status DeleteIds(SecretsClient* client,
                       const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    v1::DeleteRegistryCredentialRequest req;
    req.set_id(id);
    absl::StatusOr<v1::DeleteRegistryCredentialResponse> resp =
        client->DeleteRegistryCredential(req);
    if (!resp.ok() && resp.status().code() != absl::StatusCode::kNotFound) {
      return resp.status();
    }
  }
  return absl::OkStatus();
}

int Store(SecretsClient* client, absl::string_view address) {
  std::string input = ReadStdin();
  absl::StatusOr<JsonValue> parsed = ParseJson(input);
  WipeString(&input);
  if (!parsed.ok() || !parsed->is_object()) {
    return Fail("stdin must be a JSON object {ServerURL, Username, Secret}");
  }
  const JsonValue* url = parsed->Find("ServerURL");
  const JsonValue* user = parsed->Find("Username");
  const JsonValue* secret = parsed->Find("Secret");
  if (url == nullptr || !url->is_string() || user == nullptr ||
      !user->is_string() || secret == nullptr || !secret->is_string()) {
    return Fail("ServerURL, Username and Secret must be strings");
  }
  if (url->string_value().empty()) return Fail(kMissingServerUrl);
  if (user->string_value().empty()) return Fail(kMissingUsername);
  // Replaces what was stored for the registry: new first, then the old
  // ones, so the registry always has a credential.
  absl::StatusOr<std::vector<std::string>> old =
      IdsFor(client, url->string_value());
  if (!old.ok()) return Fail(old.status(), address);
  v1::CreateRegistryCredentialRequest req;
  req.set_registry(std::string(url->string_value()));
  req.set_username(std::string(user->string_value()));
  req.set_password(std::string(secret->string_value()));
  req.set_auth_type(v1::REGISTRY_AUTH_TYPE_BASIC);
  absl::StatusOr<v1::RegistryCredential> created =
      client->CreateRegistryCredential(req);
  WipeString(req.mutable_password());
  if (!created.ok()) return Fail(created.status(), address);
  absl::Status deleted = DeleteIds(client, *old);
  if (!deleted.ok()) return Fail(deleted, address);
  return 0;
}

int Erase(SecretsClient* client, absl::string_view address) {
  std::string url(absl::StripAsciiWhitespace(ReadStdin()));
  if (url.empty()) return Fail(kMissingServerUrl);
  absl::StatusOr<std::vector<std::string>> ids = IdsFor(client, url);
  if (!ids.ok()) return Fail(ids.status(), address);
  absl::Status deleted = DeleteIds(client, *ids);
  if (!deleted.ok()) return Fail(deleted, address);
  return 0;
}

int List(SecretsClient* client, absl::string_view address) {
  absl::StatusOr<v1::ListRegistryCredentialsResponse> all =
      client->ListRegistryCredentials(v1::ListRegistryCredentialsRequest());
  if (!all.ok()) return Fail(all.status(), address);
  JsonValue out = JsonValue::EmptyObject();
  for (const v1::RegistryCredential& c : all->credentials()) {
    out.Set(c.registry(), JsonValue::FromString(c.username()));
  }
  PrintJson(out);
  return 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<HelperArgs> args = ParseHelperArgs(argc, argv);
  if (!args.ok()) {
    return Fail(absl::StrCat(args.status().message(),
                             " (usage: docker-credential-zlayer "
                             "get|store|erase|list|version)"));
  }
  const std::string op = args->operation;
  const std::string address =
      args->client.address.empty() ? DefaultSocketPath() : args->client.address;
  if (op == "version") {
    std::cout << "docker-credential-zlayer 0.1.0\n";
    return 0;
  }
  if (op != "get" && op != "store" && op != "erase" && op != "list") {
    return Fail(absl::StrCat("docker-credential-zlayer: unknown action: ", op));
  }
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      ConnectHelper(*std::move(args));
  if (!client.ok()) return Fail(client.status(), address);
  if (op == "get") return Get(client->get(), address);
  if (op == "store") return Store(client->get(), address);
  if (op == "erase") return Erase(client->get(), address);
  return List(client->get(), address);
}

}  // namespace
}  // namespace zlayer::secrets

int main(int argc, char** argv) { return zlayer::secrets::Main(argc, argv); }
