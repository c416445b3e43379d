// The daemon-wide metric families beside the per-call ones
// (daemon/metrics.h): build info, serving, Unix connections, API-key
// verifications and cache hits, the master key id, TLS certificate expiry,
// the call queue, store latency (daemon/metered_secret_store.h), SQLite's
// group-commit sizes and sealed-row cache;
// and the --metrics-listen endpoint that serves them. Nothing here names a
// secret.
//
//   RETURN_IF_ERROR(StartMetrics(options, tls, &serving, &audit_healthy,
//                                state));
//
// Call once, after the listener and the stores are open. The functions read
// `state` on every scrape: the drain stops state->metrics_server before it
// closes the store.
#ifndef ZLAYER_SECRETS_DAEMON_METRICS_WIRING_H_
#define ZLAYER_SECRETS_DAEMON_METRICS_WIRING_H_

#include <atomic>

#include "absl/status/status.h"
#include "daemon/config.h"
#include "daemon/daemon_state.h"
#include "daemon/transport/tls_files.h"

namespace zlayer::secrets {

// No-op without --metrics-listen. The MetricsServer's error when the
// endpoint cannot be bound.
absl::Status StartMetrics(const DaemonOptions& options, const TlsFiles* tls,
                          const std::atomic<bool>* serving,
                          const std::atomic<bool>* audit_healthy,
                          DaemonState* state);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_METRICS_WIRING_H_
