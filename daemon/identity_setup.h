// Identity and audit start-up for the daemon (docs/identity.md): the grant
// store, the API-key store (with the bootstrap "admin" key), the registry
// and git credential stores, the GrantAuthorizer, the audit log, and who a
// caller is on each transport (SO_PEERCRED on the Unix socket, an API key on
// TCP with its failure budget and coalesced failure audit).
//
//   RETURN_IF_ERROR(OpenStorage(options, state));   // daemon/storage.h
//   RETURN_IF_ERROR(OpenIdentity(options, state));
//   OpenTransportIdentity(options, state);          // after the listener
//
// Call once each, during start-up, in that order.
#ifndef ZLAYER_SECRETS_DAEMON_IDENTITY_SETUP_H_
#define ZLAYER_SECRETS_DAEMON_IDENTITY_SETUP_H_

#include <string>

#include "absl/status/status.h"
#include "daemon/config.h"
#include "daemon/daemon_state.h"

namespace zlayer::secrets {

// --bootstrap-admin-key-file, or {data_dir}/admin.key.
std::string BootstrapAdminKeyPath(const DaemonOptions& options);

// Needs the store open (state->data, state->observed, state->feed,
// state->environments). "--audit-log: ..." when the audit file cannot be
// opened; the stores' errors otherwise.
absl::Status OpenIdentity(const DaemonOptions& options, DaemonState* state);

// state->identifier: Unix peers by SO_PEERCRED, and with --listen, TCP
// callers by API key. Needs state->listener, state->api_keys, state->audit.
void OpenTransportIdentity(const DaemonOptions& options, DaemonState* state);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_IDENTITY_SETUP_H_
