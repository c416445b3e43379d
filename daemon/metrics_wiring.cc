#include "daemon/metrics_wiring.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "daemon/transport/tls_expiry.h"

namespace zlayer::secrets {

absl::Status StartMetrics(const DaemonOptions& options, const TlsFiles* tls,
                          const std::atomic<bool>* serving,
                          const std::atomic<bool>* audit_healthy,
                          DaemonState* state) {
  if (options.metrics_listen.empty()) return absl::OkStatus();
  Metrics& m = state->metrics;
  m.AddFunction("zlayer_secrets_build_info", MetricType::kGauge,
                absl::StrCat("Always 1; version ", kDaemonVersion, "."),
                [] { return 1.0; });
  m.AddFunction("zlayer_secrets_serving", MetricType::kGauge,
                "1 while health is SERVING for calls, 0 before start-up "
                "ends, while the audit log fails, and during the drain.",
                [serving, audit_healthy] {
                  return serving->load() && audit_healthy->load() ? 1.0 : 0.0;
                });
  UnixListener* listener = state->listener.get();
  m.AddFunction("zlayer_secrets_unix_connections_total", MetricType::kCounter,
                "Connections accepted on the Unix socket.", [listener] {
                  return static_cast<double>(listener->accepted_connections());
                });
  ApiKeyStore* keys = state->api_keys.get();
  m.AddFunction(
      "zlayer_secrets_api_key_verifications_total", MetricType::kCounter,
      "API keys checked against their Argon2id hash (cache misses).", [keys] {
        return static_cast<double>(keys->stats().argon2_verifications);
      });
  m.AddFunction("zlayer_secrets_api_key_cache_hits_total", MetricType::kCounter,
                "API keys accepted from the verification cache.", [keys] {
                  return static_cast<double>(keys->stats().cache_hits);
                });
  m.AddFunction("zlayer_secrets_master_key_id", MetricType::kGauge,
                "Id (generation) of the master key new values are sealed "
                "with; it grows by one per rotation.",
                // Drain() stops the metrics server before it closes the
                // store, so the store is there for every scrape.
                [state]() -> absl::optional<double> {
                  // Not reported in cluster mode (no rotation there yet).
                  if (state->store == nullptr) return absl::nullopt;
                  absl::StatusOr<uint32_t> id = state->store->ActiveKeyId();
                  if (!id.ok()) return absl::nullopt;
                  return static_cast<double>(*id);
                });
  if (tls != nullptr) {
    const std::string cert = tls->cert_path();
    m.AddFunction(
        "zlayer_secrets_tls_certificate_expiry_seconds", MetricType::kGauge,
        "Seconds until the served TLS certificate expires (negative once "
        "expired).",
        [cert]() -> absl::optional<double> {
          absl::StatusOr<absl::Time> not_after = CertificateNotAfter(cert);
          if (!not_after.ok()) return absl::nullopt;
          return absl::ToDoubleSeconds(*not_after - absl::Now());
        });
  }
  ASSIGN_OR_RETURN(state->metrics_server,
                   MetricsServer::Start(options.metrics_listen, &m));
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
