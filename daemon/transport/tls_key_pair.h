// Checks a TLS certificate chain and private key before the daemon serves
// them: every PEM certificate of the chain loads, the private key loads, and
// the key belongs to the first (leaf) certificate (OpenSSL's
// X509_check_private_key). The daemon runs it at start and on every SIGHUP
// reload, so a mismatched or broken pair is refused while the old pair keeps
// serving (daemon/server.cc, TlsFiles).
//
//   RETURN_IF_ERROR(CheckTlsKeyPair(cert_pem, key_pem, ca_pem));
//
// Thread-safe (no shared state).
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_KEY_PAIR_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_KEY_PAIR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets {

// InvalidArgument, saying which part failed ("certificate chain", "private
// key", "client CA bundle", or "the private key does not match the
// certificate"), never with key bytes. `ca_pem` may be empty (no mTLS).
// An encrypted (password-protected) key is refused: the daemon cannot ask.
absl::Status CheckTlsKeyPair(absl::string_view cert_chain_pem,
                             absl::string_view key_pem,
                             absl::string_view ca_pem);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_KEY_PAIR_H_
