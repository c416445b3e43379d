// CallerIdentifiers for the daemon's transports (see
// daemon/transport/caller_identifier.h).
//
//   UnixPeerIdentifier  a call on the Unix socket: peer() is "fd:N" and the
//                       UnixListener recorded SO_PEERCRED for fd N, giving
//                       Principal{kUnix, uid, gid, pid}.
//   ApiKeyIdentifier    a call over TCP: the API key in the metadata
//                       (`authorization: Bearer <key-id>.<secret>` or
//                       `x-zlayer-api-key: <key-id>.<secret>`) checked by an
//                       ApiKeyVerifier. Without a verifier every TCP caller
//                       is UNAUTHENTICATED.
//   TransportIdentifier picks one of the two by the form of peer().
//
//   UnixPeerIdentifier unix_ids(listener.get());
//   ApiKeyIdentifier tcp_ids(verifier, Transport::kTls);
//   TransportIdentifier identifier(&unix_ids, &tcp_ids);
//   ASSIGN_OR_RETURN(Principal who, identifier.Identify(*context));
//
// All identifiers are thread-safe and own nothing.
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTITY_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTITY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "daemon/transport/api_key_verifier.h"
#include "daemon/transport/caller_identifier.h"
#include "daemon/transport/unix_listener.h"
#include "grpcpp/server_context.h"

namespace zlayer::secrets {

// An API key as presented: "<key-id>.<secret>".
struct PresentedApiKey {
  std::string key_id;
  SecretBytes secret;
};

// Parses a key from the value of `authorization` (which must use the Bearer
// scheme) or `x-zlayer-api-key` (`is_authorization` false). Unauthenticated
// for a malformed value; the message never echoes it.
absl::StatusOr<PresentedApiKey> ParseApiKey(absl::string_view value,
                                            bool is_authorization);

// Delegated identity asserted in call metadata (docs/identity.md,
// "Delegated identity"):
//   x-zlayer-act-as-user:   <user id>
//   x-zlayer-act-as-groups: <group id>[,<group id>...]   (optional)
// Ids are 1..128 printable non-space characters without ','; at most
// kMaxActAsGroups groups.
inline constexpr char kActAsUserHeader[] = "x-zlayer-act-as-user";
inline constexpr char kActAsGroupsHeader[] = "x-zlayer-act-as-groups";
inline constexpr size_t kMaxActAsGroups = 64;

struct ActAs {
  std::string user;
  std::vector<std::string> groups;  // sorted, without duplicates
};

// The act-as assertion of a call: nullopt when it carries neither header.
// InvalidArgument for groups without a user, a header given twice, or a
// malformed id (the message does not echo it).
absl::StatusOr<absl::optional<ActAs>> ParseActAs(
    const grpc::ServerContextBase& context);

// Node identity from an mTLS client certificate (docs/identity.md, "Node
// affinity"): a verified peer whose certificate's common name is
// "system:node:<name>" (Kubernetes' kubelet convention) or "node:<name>"
// speaks for node <name>; added to principal->node_names. Nothing without
// a verified client certificate (no --tls-client-ca).
void AddNodeIdentityFromCertificate(const grpc::ServerContextBase& context,
                                    Principal* principal);

class UnixPeerIdentifier final : public CallerIdentifier {
 public:
  // `listener` is not owned and must outlive this identifier.
  explicit UnixPeerIdentifier(const UnixListener* listener)
      : listener_(listener) {}
  // Unauthenticated when peer() is not an fd this listener accepted.
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const override;

 private:
  const UnixListener* listener_;
};

class ApiKeyIdentifier final : public CallerIdentifier {
 public:
  // `verifier` may be null (no API keys configured: every call is
  // Unauthenticated); not owned. `transport` is recorded in the principal.
  ApiKeyIdentifier(const ApiKeyVerifier* verifier, Transport transport)
      : verifier_(verifier), transport_(transport) {}
  // Unauthenticated when no key is presented, it is malformed, no verifier
  // is configured, or the verifier rejects it.
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const override;

 private:
  const ApiKeyVerifier* verifier_;
  Transport transport_;
};

class TransportIdentifier final : public CallerIdentifier {
 public:
  // Either may be null (that transport is not served). Not owned.
  TransportIdentifier(const CallerIdentifier* unix_socket,
                      const CallerIdentifier* tcp)
      : unix_(unix_socket), tcp_(tcp) {}
  // "fd:N" peers go to the Unix identifier, "ipv4:"/"ipv6:" peers to the
  // TCP one; anything else is Unauthenticated.
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase& context) const override;

 private:
  const CallerIdentifier* unix_;
  const CallerIdentifier* tcp_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_CALLER_IDENTITY_H_
