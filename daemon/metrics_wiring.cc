#include "daemon/metrics_wiring.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "daemon/metered_secret_store.h"
#include "daemon/rpc/call_queue.h"
#include "daemon/transport/server_connections.h"
#include "daemon/transport/tls_expiry.h"

namespace zlayer::secrets {
namespace {

// Group commit and the sealed-row cache of the SQLite backend.
void AddSqliteFamilies(const SqliteSecretStore* store, Metrics* m) {
  m->AddCollector([store](std::string* out) {
    const SqliteSecretStore::WriteStats stats = store->write_stats();
    Histogram::Snapshot sizes;
    for (size_t i = 0; i < stats.commits_by_size.size(); ++i) {
      sizes.bounds.push_back(
          static_cast<double>(SqliteSecretStore::kGroupSizeBounds[i]));
      sizes.count += stats.commits_by_size[i];
      sizes.buckets.push_back(sizes.count);
    }
    sizes.sum = static_cast<double>(stats.writes);
    AppendHeader(out, "zlayer_secrets_sqlite_commit_group_size", "histogram",
                 "Writes carried by each SQLite write transaction (group "
                 "commit: writers that wait together share one commit).");
    AppendHistogram(out, "zlayer_secrets_sqlite_commit_group_size", "", sizes);
  });
  m->AddFunction("zlayer_secrets_sqlite_sealed_cache_hits_total",
                 MetricType::kCounter,
                 "Reads answered from the sealed-row cache.", [store] {
                   return static_cast<double>(store->sealed_cache_stats().hits);
                 });
  m->AddFunction(
      "zlayer_secrets_sqlite_sealed_cache_misses_total", MetricType::kCounter,
      "Reads that missed the sealed-row cache and read SQLite.", [store] {
        return static_cast<double>(store->sealed_cache_stats().misses);
      });
  m->AddFunction(
      "zlayer_secrets_sqlite_sealed_cache_entries", MetricType::kGauge,
      "Rows in the sealed-row cache (ciphertext, never a value).", [store] {
        return static_cast<double>(store->sealed_cache_stats().entries);
      });
  m->AddFunction(
      "zlayer_secrets_sqlite_sealed_cache_bytes", MetricType::kGauge,
      "Bytes the sealed-row cache holds (its own accounting).", [store] {
        return static_cast<double>(store->sealed_cache_stats().bytes);
      });
}

}  // namespace

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
  if (!options.listen.empty()) {
    m.AddFunction("zlayer_secrets_tcp_connections", MetricType::kGauge,
                  "TCP connections (--listen) open now, from gRPC's channelz "
                  "registry.",
                  []() -> absl::optional<double> {
                    absl::StatusOr<ServerConnections> open =
                        CountServerConnections();
                    if (!open.ok()) return absl::nullopt;
                    return static_cast<double>(open->tcp);
                  });
  }
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
                  // Cluster mode: the id the store's key check value names
                  // in etcd (one Range per scrape).
                  absl::StatusOr<uint32_t> id =
                      state->store != nullptr
                          ? state->store->ActiveKeyId()
                          : state->etcd_store->MasterKeyId();
                  if (!id.ok()) return absl::nullopt;
                  return static_cast<double>(*id);
                });
  CallQueue* queue = state->queue.get();
  m.AddFunction("zlayer_secrets_calls_queued", MetricType::kGauge,
                "Calls waiting for a worker right now.",
                [queue] { return static_cast<double>(queue->queued()); });
  m.AddFunction("zlayer_secrets_calls_queued_peak", MetricType::kGauge,
                "The most calls ever waiting for a worker at once since "
                "start.",
                [queue] { return static_cast<double>(queue->peak_queued()); });
  m.AddFunction("zlayer_secrets_calls_rejected_total", MetricType::kCounter,
                "Calls refused with RESOURCE_EXHAUSTED because the call "
                "queue was full (--max-queued-calls or its byte bound).",
                [queue] { return static_cast<double>(queue->rejected()); });
  if (state->metered != nullptr) {
    MeteredSecretStore* metered = state->metered.get();
    m.AddCollector([metered](std::string* out) { metered->Collect(out); });
  }
  if (state->metered_environments != nullptr) {
    MeteredEnvironmentRegistry* registry = state->metered_environments;
    m.AddCollector([registry](std::string* out) { registry->Collect(out); });
  }
  if (state->store != nullptr) {
    AddSqliteFamilies(state->store.get(), &m);
  }
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
