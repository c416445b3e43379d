#include "daemon/transport/caller_identity.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/identity/node_affinity_view.h"
#include "core/store/node_affinity.h"

namespace zlayer::secrets {
namespace {

constexpr absl::string_view kAuthorizationHeader = "authorization";
constexpr absl::string_view kApiKeyHeader = "x-zlayer-api-key";
constexpr size_t kMaxKeyIdBytes = 128;

absl::string_view ToView(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

// The single value of metadata `key`: nullopt when absent, InvalidArgument
// when sent more than once (which one would count is not for us to guess).
absl::StatusOr<absl::optional<absl::string_view>> SingleValue(
    const grpc::ServerContextBase& context, absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto [begin, end] =
      metadata.equal_range(grpc::string_ref(key.data(), key.size()));
  if (begin == end) return absl::nullopt;
  if (std::next(begin) != end) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata '", key, "' may be sent once"));
  }
  return ToView(begin->second);
}

bool ValidActAsId(absl::string_view id) {
  constexpr size_t kMaxIdBytes = 128;
  return !id.empty() && id.size() <= kMaxIdBytes &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isgraph(c) && c != ','; });
}

}  // namespace

void AddNodeIdentityFromCertificate(const grpc::ServerContextBase& context,
                                    Principal* principal) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return;
  for (const grpc::string_ref& cn :
       auth->FindPropertyValues("x509_common_name")) {
    absl::string_view name = ToView(cn);
    if (!absl::ConsumePrefix(&name, "system:node:")) {
      if (!absl::ConsumePrefix(&name, "node:")) continue;
    }
    if (IsValidNodeName(name) &&
        std::find(principal->node_names.begin(), principal->node_names.end(),
                  name) == principal->node_names.end()) {
      principal->node_names.emplace_back(name);
    }
  }
}

absl::StatusOr<absl::optional<ActAs>> ParseActAs(
    const grpc::ServerContextBase& context) {
  ASSIGN_OR_RETURN(absl::optional<absl::string_view> user,
                   SingleValue(context, kActAsUserHeader));
  ASSIGN_OR_RETURN(absl::optional<absl::string_view> groups,
                   SingleValue(context, kActAsGroupsHeader));
  if (!user.has_value()) {
    if (groups.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata '", kActAsGroupsHeader, "' needs '",
                       kActAsUserHeader, "'"));
    }
    return absl::nullopt;
  }
  if (!ValidActAsId(*user)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed '", kActAsUserHeader,
                     "': 1..128 printable characters, no ','"));
  }
  ActAs act_as;
  act_as.user = std::string(*user);
  if (groups.has_value()) {
    for (absl::string_view group : absl::StrSplit(*groups, ',')) {
      group = absl::StripAsciiWhitespace(group);
      if (!ValidActAsId(group)) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed '", kActAsGroupsHeader,
                         "': comma-separated ids of 1..128 printable "
                         "characters"));
      }
      act_as.groups.emplace_back(group);
    }
    std::sort(act_as.groups.begin(), act_as.groups.end());
    act_as.groups.erase(std::unique(act_as.groups.begin(), act_as.groups.end()),
                        act_as.groups.end());
    if (act_as.groups.size() > kMaxActAsGroups) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", kActAsGroupsHeader, "' names more than ",
                       kMaxActAsGroups, " groups"));
    }
  }
  return act_as;
}

absl::StatusOr<PresentedApiKey> ParseApiKey(absl::string_view value,
                                            bool is_authorization) {
  value = absl::StripAsciiWhitespace(value);
  if (is_authorization) {
    constexpr absl::string_view kBearer = "bearer ";
    if (!absl::StartsWithIgnoreCase(value, kBearer)) {
      return absl::UnauthenticatedError(
          "authorization metadata must use the Bearer scheme");
    }
    value = absl::StripLeadingAsciiWhitespace(value.substr(kBearer.size()));
  }
  size_t dot = value.find('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == value.size()) {
    return absl::UnauthenticatedError(
        "malformed API key: expected <key-id>.<secret>");
  }
  absl::string_view key_id = value.substr(0, dot);
  if (key_id.size() > kMaxKeyIdBytes) {
    return absl::UnauthenticatedError("malformed API key: key id too long");
  }
  for (char c : key_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return absl::UnauthenticatedError(
          "malformed API key: key id must be [A-Za-z0-9_-]");
    }
  }
  return PresentedApiKey{std::string(key_id),
                         SecretBytes::FromString(value.substr(dot + 1))};
}

absl::StatusOr<Principal> UnixPeerIdentifier::Identify(
    const grpc::ServerContextBase& context) const {
  std::string peer = context.peer();
  absl::optional<PeerCredentials> cred = listener_->PeerOf(peer);
  if (!cred.has_value()) {
    return absl::UnauthenticatedError(
        "no peer credentials recorded for this connection");
  }
  Principal principal;
  principal.transport = Transport::kUnix;
  principal.uid = cred->uid;
  principal.gid = cred->gid;
  principal.pid = cred->pid;
  return principal;
}

absl::StatusOr<Principal> ApiKeyIdentifier::Identify(
    const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  absl::StatusOr<PresentedApiKey> key = absl::UnauthenticatedError(absl::StrCat(
      "an API key is required over TCP (metadata '", kAuthorizationHeader,
      ": Bearer <key-id>.<secret>' or '", kApiKeyHeader, "')"));
  auto it = metadata.find(grpc::string_ref(kAuthorizationHeader.data(),
                                           kAuthorizationHeader.size()));
  if (it != metadata.end()) {
    key = ParseApiKey(ToView(it->second), /*is_authorization=*/true);
  } else {
    it = metadata.find(
        grpc::string_ref(kApiKeyHeader.data(), kApiKeyHeader.size()));
    if (it != metadata.end()) {
      key = ParseApiKey(ToView(it->second), /*is_authorization=*/false);
    }
  }
  if (!key.ok()) return key.status();
  if (verifier_ == nullptr) {
    return absl::UnauthenticatedError(
        "API keys are not enabled on this daemon");
  }
  ApiKeyAttempt attempt;
  attempt.source = SourceOfPeer(context.peer());
  const auto deadline = context.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    attempt.deadline = absl::FromChrono(deadline);
  }
  absl::StatusOr<Principal> principal =
      verifier_->VerifyFrom(key->key_id, key->secret, attempt);
  if (!principal.ok()) {
    // Unauthenticated, or ResourceExhausted from the failure budget or a
    // full verification queue: the caller's own doing, passed on as is.
    if (principal.status().code() == absl::StatusCode::kUnauthenticated ||
        principal.status().code() == absl::StatusCode::kResourceExhausted) {
      return principal.status();
    }
    // A failing key store is not the caller's fault, but it still must not
    // let the call through.
    return absl::UnavailableError("API key verification is unavailable");
  }
  principal->transport = transport_;
  if (principal->api_key_id.empty()) principal->api_key_id = key->key_id;
  AddNodeIdentityFromRoles(&*principal);
  AddNodeIdentityFromCertificate(context, &*principal);
  return principal;
}

absl::StatusOr<Principal> TransportIdentifier::Identify(
    const grpc::ServerContextBase& context) const {
  std::string peer = context.peer();
  if (absl::StartsWith(peer, "fd:")) {
    if (unix_ != nullptr) return unix_->Identify(context);
  } else if (absl::StartsWith(peer, "ipv4:") ||
             absl::StartsWith(peer, "ipv6:")) {
    if (tcp_ != nullptr) return tcp_->Identify(context);
  }
  return absl::UnauthenticatedError("caller identity unknown");
}

}  // namespace zlayer::secrets
