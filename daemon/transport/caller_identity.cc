#include "daemon/transport/caller_identity.h"

#include <chrono>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace zlayer::secrets {
namespace {

constexpr absl::string_view kAuthorizationHeader = "authorization";
constexpr absl::string_view kApiKeyHeader = "x-zlayer-api-key";
constexpr size_t kMaxKeyIdBytes = 128;

absl::string_view ToView(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

}  // namespace

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
