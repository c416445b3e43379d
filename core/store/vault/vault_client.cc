#include "core/store/vault/vault_client.h"

#include <curl/curl.h>

#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Collects the answer into a wiping buffer, refusing more than `limit`.
struct Sink {
  WipingString* out;
  size_t limit;
  bool overflow = false;
};

size_t WriteToSink(char* data, size_t size, size_t count, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->out->size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
  }
  sink->out->append(data, n);
  return n;
}

// A header line "Name: value" built in wiped memory; curl copies it.
class HeaderList {
 public:
  ~HeaderList() { curl_slist_free_all(list_); }
  bool Add(absl::string_view name, absl::string_view value) {
    WipingString line;
    line.append(name.data(), name.size());
    line.append(": ");
    line.append(value.data(), value.size());
    curl_slist* next = curl_slist_append(list_, line.c_str());
    WipeWipingString(&line);
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

struct CurlHandle {
  CURL* curl = curl_easy_init();
  ~CurlHandle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

// Vault's {"errors": [...]} strings, printable ASCII only, the token
// scrubbed, at most 300 bytes.
std::string VaultErrors(const JsonValue* body, const SecretBytes& token) {
  if (body == nullptr) return "";
  const JsonValue* errors = body->Find("errors");
  if (errors == nullptr || !errors->is_array()) return "";
  std::vector<std::string> parts;
  for (const JsonValue& e : errors->elements()) {
    if (!e.is_string()) continue;
    std::string text(e.string_value());
    if (!token.empty() && token.size() >= 4) {
      text = absl::StrReplaceAll(text, {{token.InsecureView(), "<token>"}});
    }
    for (char& c : text) {
      if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
    }
    parts.push_back(std::move(text));
  }
  std::string joined = absl::StrJoin(parts, "; ");
  if (joined.size() > 300) joined = absl::StrCat(joined.substr(0, 300), "...");
  return joined;
}

absl::StatusCode CodeForHttp(long status, absl::string_view errors) {
  switch (status) {
    case 400:
      return absl::StrContains(errors, "check-and-set")
                 ? absl::StatusCode::kFailedPrecondition
                 : absl::StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kUnavailable;
    default:
      return status >= 500 ? absl::StatusCode::kUnavailable
                           : absl::StatusCode::kUnknown;
  }
}

// The path without its query, for messages.
absl::string_view PathForMessage(absl::string_view path) {
  return path.substr(0, path.find('?'));
}

}  // namespace

absl::StatusOr<VaultClientOptions> VaultClientOptionsFromEnv(
    const std::function<const char*(const char*)>& getenv) {
  VaultClientOptions options;
  const char* addr = getenv("VAULT_ADDR");
  if (addr == nullptr || *addr == '\0') {
    return absl::InvalidArgumentError(
        "Missing required environment variable: VAULT_ADDR");
  }
  options.address = addr;
  const char* token = getenv("VAULT_TOKEN");
  if (token == nullptr || *token == '\0') {
    return absl::InvalidArgumentError(
        "Missing required environment variable: VAULT_TOKEN");
  }
  options.token = SecretBytes::FromString(token);
  if (const char* ns = getenv("VAULT_NAMESPACE")) options.vault_namespace = ns;
  if (const char* ca = getenv("VAULT_CACERT")) options.ca_file = ca;
  return options;
}

absl::StatusOr<std::unique_ptr<VaultClient>> VaultClient::Create(
    VaultClientOptions options, const Clock* clock) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("Vault address is empty (VAULT_ADDR)");
  }
  if (!absl::StartsWith(options.address, "http://") &&
      !absl::StartsWith(options.address, "https://")) {
    return absl::InvalidArgumentError(
        "Vault address must start with http:// or https://");
  }
  if (options.approle_role_id.empty() != options.approle_secret_id.empty()) {
    return absl::InvalidArgumentError(
        "AppRole login needs both a role_id and a secret_id");
  }
  if (options.token.empty() && options.approle_role_id.empty()) {
    return absl::InvalidArgumentError(
        "Vault needs a token (VAULT_TOKEN / --vault-token-file) or an AppRole");
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Vault request timeout must be > 0");
  }
  while (absl::EndsWith(options.address, "/")) options.address.pop_back();
  GlobalInitOnce();
  return std::unique_ptr<VaultClient>(
      new VaultClient(std::move(options), clock));
}

VaultClient::VaultClient(VaultClientOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  token_ = options_.token.Clone();
}

VaultClient::~VaultClient() = default;

std::string VaultClient::EscapePath(absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty()) continue;
    std::string escaped;
    for (unsigned char c : segment) {
      if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
          c == '~') {
        escaped.push_back(static_cast<char>(c));
      } else {
        absl::StrAppend(&escaped, "%", absl::Hex(c, absl::kZeroPad2));
      }
    }
    parts.push_back(std::move(escaped));
  }
  return absl::StrJoin(parts, "/");
}

absl::optional<absl::Time> VaultClient::renew_at() const {
  absl::MutexLock lock(&mu_);
  return renew_at_;
}

absl::StatusOr<VaultResponse> VaultClient::Send(
    absl::string_view method, absl::string_view path, const WipingString* body,
    const SecretBytes& token) const {
  CurlHandle handle;
  if (handle.curl == nullptr)
    return absl::InternalError("curl_easy_init failed");
  CURL* curl = handle.curl;
  const std::string url = absl::StrCat(options_.address, "/v1/", path);
  HeaderList headers;
  bool ok = true;
  if (!token.empty())
    ok = ok && headers.Add("X-Vault-Token", token.InsecureView());
  if (!options_.vault_namespace.empty()) {
    ok = ok && headers.Add("X-Vault-Namespace", options_.vault_namespace);
  }
  ok = ok && headers.Add("Content-Type", "application/json");
  // No "Expect: 100-continue" round trip on large bodies.
  ok = ok && headers.Add("Expect", "");
  if (!ok) return absl::ResourceExhaustedError("curl_slist_append failed");

  WipingString answer;
  Sink sink{&answer, options_.max_response_bytes};
  const std::string method_text(method);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // Send the path as built; never let curl fold "/../" segments.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.request_timeout)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteToSink);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body->size()));
  } else if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode rc = curl_easy_perform(curl);
  const std::string where =
      absl::StrCat("Vault ", method, " ", PathForMessage(path));
  if (rc != CURLE_OK) {
    WipeWipingString(&answer);
    if (sink.overflow) {
      return absl::ResourceExhaustedError(
          absl::StrCat(where, ": the answer exceeds ",
                       options_.max_response_bytes, " bytes"));
    }
    const std::string why = curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(
          where, ": no answer within ",
          absl::FormatDuration(options_.request_timeout), " (", why, ")"));
    }
    return absl::UnavailableError(absl::StrCat(where, " failed: ", why));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

  VaultResponse response;
  response.http_status = status;
  if (!answer.empty()) {
    absl::StatusOr<JsonValue> parsed = ParseJson(answer);
    WipeWipingString(&answer);
    if (!parsed.ok()) {
      if (status < 200 || status >= 300) {
        return absl::Status(CodeForHttp(status, ""),
                            absl::StrCat(where, ": HTTP ", status));
      }
      return absl::DataLossError(absl::StrCat(
          where, ": the answer is not JSON (", parsed.status().message(), ")"));
    }
    response.body = *std::move(parsed);
  }
  if (status < 200 || status >= 300) {
    const std::string errors = VaultErrors(&response.body, token);
    return absl::Status(
        CodeForHttp(status, errors),
        absl::StrCat(where, ": HTTP ", status,
                     errors.empty() ? "" : absl::StrCat(" (", errors, ")")));
  }
  return response;
}

absl::Status VaultClient::TakeAuth(const JsonValue& body,
                                   absl::string_view what) {
  const JsonValue* auth = body.Find("auth");
  const JsonValue* token =
      auth == nullptr ? nullptr : auth->Find("client_token");
  if (token == nullptr || !token->is_string() ||
      token->string_value().empty()) {
    return absl::DataLossError(
        absl::StrCat("Vault ", what, ": the answer has no auth.client_token"));
  }
  token_ = SecretBytes::FromString(token->string_value());
  const JsonValue* lease = auth->Find("lease_duration");
  const JsonValue* renewable = auth->Find("renewable");
  token_renewable_ =
      renewable != nullptr && renewable->is_bool() && renewable->bool_value();
  renew_at_.reset();
  if (lease != nullptr && lease->is_number() && lease->is_int() &&
      lease->int_value() > 0) {
    renew_at_ = clock_->Now() + absl::Seconds(lease->int_value()) *
                                    options_.renew_after_fraction;
  }
  return absl::OkStatus();
}

absl::Status VaultClient::Login() {
  JsonWriter w(JsonWriter::Style::kCompact);
  w.BeginObject()
      .Key("role_id")
      .String(options_.approle_role_id.InsecureView())
      .Key("secret_id")
      .String(options_.approle_secret_id.InsecureView())
      .EndObject();
  WipingString body = w.Finish();
  absl::StatusOr<VaultResponse> r =
      Send("POST",
           absl::StrCat("auth/", EscapePath(options_.approle_mount), "/login"),
           &body, SecretBytes());
  WipeWipingString(&body);
  if (!r.ok()) {
    return absl::Status(
        r.status().code(),
        absl::StrCat("AppRole login failed: ", r.status().message()));
  }
  return TakeAuth(r->body, "AppRole login");
}

absl::Status VaultClient::Renew() {
  WipingString body = "{}";
  absl::StatusOr<VaultResponse> r =
      Send("POST", "auth/token/renew-self", &body, token_);
  if (!r.ok()) {
    return absl::Status(
        r.status().code(),
        absl::StrCat("token renewal failed: ", r.status().message()));
  }
  return TakeAuth(r->body, "token renewal");
}

absl::Status VaultClient::EnsureToken() {
  if (token_.empty()) return Login();
  if (!renew_at_.has_value() || clock_->Now() < *renew_at_) {
    return absl::OkStatus();
  }
  absl::Status renewed =
      token_renewable_
          ? Renew()
          : absl::FailedPreconditionError("token is not renewable");
  if (renewed.ok()) return renewed;
  if (has_approle()) return Login();
  // A token given by the operator that cannot be renewed is used until
  // Vault refuses it.
  renew_at_.reset();
  return absl::OkStatus();
}

absl::StatusOr<VaultResponse> VaultClient::Request(absl::string_view method,
                                                   absl::string_view path,
                                                   const WipingString* body) {
  SecretBytes token;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(EnsureToken());
    token = token_.Clone();
  }
  absl::StatusOr<VaultResponse> r = Send(method, path, body, token);
  if (absl::IsPermissionDenied(r.status()) && has_approle()) {
    // The AppRole token may have been revoked or have expired early: one
    // new login, one retry.
    {
      absl::MutexLock lock(&mu_);
      if (token_.ConstantTimeEquals(token)) RETURN_IF_ERROR(Login());
      token = token_.Clone();
    }
    r = Send(method, path, body, token);
  }
  return r;
}

}  // namespace zlayer::secrets
