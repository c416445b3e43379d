// api_proxy: an example of an API server in front of zlayer-secretsd
// (docs/identity.md, "The proxy pattern, end to end").
//
// The API server authenticates to the daemon as itself (its own API key over
// TLS) and forwards each of its users' calls *as that user*
// (CallOptions::act_as_user, sent as x-zlayer-act-as-user): the daemon, not
// the proxy, decides what the user may do, and its audit record names both
// (actor = the proxy, subject = the user). The daemon administrator grants
// the proxy key `impersonate user:<pattern>` and nothing else; each user gets
// their own grants. Reveals can be sealed to the user's client key
// (CallOptions::seal_to): the proxy passes the sealed answer on untouched and
// never holds the value.
//
//   api_proxy ADDRESS CA_FILE API_KEY_FILE
//
// How the proxy's users reach it is the API server's business; here they
// write one request per line on stdin and get one answer per line on
// stdout. A real API server authenticates its users first (sessions, OIDC);
// this example takes the user named on the line as already authenticated.
//
//   request:  USER[+GROUP,GROUP...] VERB ARGS...     (USER "-" = no act-as)
//     get          SCOPE NAME             -> ok plain BASE64(value) VERSION
//     get          SCOPE NAME KEY_ID      -> ok sealed
//     BASE64(GetSecretResponse) set          SCOPE NAME BASE64(value)  -> ok
//     VERSION list         SCOPE                  -> ok NAME... delete SCOPE
//     NAME             -> ok register-key BASE64(public key)     -> ok KEY_ID
//     revoke-key   KEY_ID                 -> ok
//   answer on failure: error CODE MESSAGE (CODE as absl spells it, e.g.
//   PERMISSION_DENIED; MESSAGE is the daemon's, which never holds a value)
//
// The sealed answer is the daemon's serialized GetSecretResponse, forwarded
// as received: the end client parses it and opens `sealed_value` with its
// secret key (client/sealed_reveal.h, OpenSealedValue). One log line per
// request goes to stderr: user, verb, scope, name, outcome; never a value.
//
// Exit: 0 at the end of stdin; 2 on a usage or connection error.
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {
namespace {

// One request line, split into the user's identity and the call.
struct Request {
  CallOptions call;  // act-as (and seal_to for a sealed get)
  std::string verb;
  std::vector<std::string> args;
};

absl::StatusOr<Request> ParseRequest(const std::string& line) {
  std::vector<std::string> words =
      absl::StrSplit(line, ' ', absl::SkipWhitespace());
  if (words.size() < 2) {
    return absl::InvalidArgumentError("expected USER VERB ARGS...");
  }
  Request request;
  if (words[0] != "-") {
    std::vector<std::string> who = absl::StrSplit(words[0], '+');
    request.call.act_as_user = who[0];
    if (who.size() > 1) {
      request.call.act_as_groups = absl::StrSplit(who[1], ',');
    }
  }
  request.verb = words[1];
  request.args.assign(words.begin() + 2, words.end());
  return request;
}

v1::Target Target(const std::string& scope) {
  v1::Target target;
  target.set_scope(scope);
  return target;
}

// Forwards one request; the answer line without "ok " (or the daemon's
// error, returned as is).
absl::StatusOr<std::string> Forward(SecretsClient& daemon, Request& request) {
  const std::vector<std::string>& a = request.args;
  const std::string& verb = request.verb;
  if (verb == "get" && (a.size() == 2 || a.size() == 3)) {
    v1::GetSecretRequest get;
    *get.mutable_target() = Target(a[0]);
    get.set_name(a[1]);
    if (a.size() == 3) request.call.seal_to = a[2];
    absl::StatusOr<v1::GetSecretResponse> got =
        daemon.GetSecret(get, request.call);
    if (!got.ok()) return got.status();
    if (a.size() == 3) {
      // Sealed: bytes only the user's secret key opens, passed on as is.
      return absl::StrCat("sealed ",
                          absl::Base64Escape(got->SerializeAsString()));
    }
    // Plain: the proxy holds the value, at least for this moment.
    std::string answer = absl::StrCat(
        "plain ", absl::Base64Escape(got->value()), " ", got->version());
    WipeString(got->mutable_value());
    return answer;
  }
  if (verb == "set" && a.size() == 3) {
    v1::SetSecretRequest set;
    *set.mutable_target() = Target(a[0]);
    set.set_name(a[1]);
    if (!absl::Base64Unescape(a[2], set.mutable_value())) {
      return absl::InvalidArgumentError("the value is not base64");
    }
    absl::StatusOr<v1::SetSecretResponse> made =
        daemon.SetSecret(set, request.call);
    WipeString(set.mutable_value());
    if (!made.ok()) return made.status();
    return absl::StrCat(made->metadata().version());
  }
  if (verb == "list" && a.size() == 1) {
    v1::ListSecretsRequest list;
    *list.mutable_target() = Target(a[0]);
    absl::StatusOr<v1::ListSecretsResponse> listed =
        daemon.ListSecrets(list, request.call);
    if (!listed.ok()) return listed.status();
    std::vector<std::string> names;
    for (const v1::SecretMetadata& s : listed->secrets()) {
      names.push_back(s.name());
    }
    return absl::StrJoin(names, " ");
  }
  if (verb == "delete" && a.size() == 2) {
    v1::DeleteSecretRequest del;
    *del.mutable_target() = Target(a[0]);
    del.set_name(a[1]);
    absl::StatusOr<v1::DeleteSecretResponse> deleted =
        daemon.DeleteSecret(del, request.call);
    if (!deleted.ok()) return deleted.status();
    return std::string();
  }
  if (verb == "register-key" && a.size() == 1) {
    // Registered while acting as the user: the key belongs to user:<id>.
    v1::RegisterClientKeyRequest reg;
    if (!absl::Base64Unescape(a[0], reg.mutable_public_key())) {
      return absl::InvalidArgumentError("the public key is not base64");
    }
    absl::StatusOr<v1::ClientKey> key =
        daemon.RegisterClientKey(reg, request.call);
    if (!key.ok()) return key.status();
    return key->id();
  }
  if (verb == "revoke-key" && a.size() == 1) {
    v1::RevokeClientKeyRequest revoke;
    revoke.set_id(a[0]);
    absl::StatusOr<v1::ClientKey> key =
        daemon.RevokeClientKey(revoke, request.call);
    if (!key.ok()) return key.status();
    return std::string();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown request '", verb, "' with ", a.size(), " args"));
}

// The log's view of a request: who, what, where; never a value or a key.
std::string Describe(const Request& request) {
  const std::string user =
      request.call.act_as_user.empty() ? "-" : request.call.act_as_user;
  std::string where;
  if (request.verb != "register-key" && !request.args.empty()) {
    where = request.args[0];
    if (request.args.size() > 1) absl::StrAppend(&where, "/", request.args[1]);
  }
  return absl::StrCat("user=", user, " ", request.verb, " ", where);
}

int Run(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: api_proxy ADDRESS CA_FILE API_KEY_FILE\n";
    return 2;
  }
  ClientOptions options;
  options.address = argv[1];
  options.tls_ca_file = argv[2];
  // The proxy's own API key (zs_<id>.<secret>), from a file, never argv.
  std::string key;
  std::getline(std::ifstream(argv[3]), key);
  options.api_key = SecretBytes::FromString(absl::StripAsciiWhitespace(key));
  WipeString(&key);
  absl::StatusOr<std::unique_ptr<SecretsClient>> daemon =
      SecretsClient::Connect(std::move(options));
  if (!daemon.ok()) {
    std::cerr << "api_proxy: " << daemon.status() << "\n";
    return 2;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    absl::StatusOr<Request> request = ParseRequest(line);
    absl::StatusOr<std::string> answer =
        request.ok() ? Forward(**daemon, *request) : request.status();
    if (answer.ok()) {
      std::cout << "ok" << (answer->empty() ? "" : " ") << *answer << "\n";
    } else {
      std::cout << "error " << absl::StatusCodeToString(answer.status().code())
                << " " << answer.status().message() << "\n";
    }
    std::cout.flush();
    if (request.ok()) {
      std::cerr << "api_proxy: " << Describe(*request) << " -> "
                << absl::StatusCodeToString(answer.status().code()) << "\n";
    }
    // A set's value travelled in the line, a get's in the answer.
    WipeString(&line);
    if (answer.ok()) WipeString(&*answer);
  }
  return 0;
}

}  // namespace
}  // namespace zlayer::secrets

int main(int argc, char** argv) { return zlayer::secrets::Run(argc, argv); }
