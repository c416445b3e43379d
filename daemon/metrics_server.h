// MetricsServer: serves Metrics::Render() as plain HTTP/1.x on its own
// listener, for Prometheus to scrape (--metrics-listen).
//
//   --metrics-listen 127.0.0.1:9464    loopback TCP only (the text holds no
//                                      secret, but names the daemon's
//                                      activity; keep it local and let a
//                                      local agent or a proxy expose it)
//   --metrics-listen unix:/run/zlayer-secrets/metrics.sock
//                                      a Unix socket (0660), for the
//                                      network-less systemd unit
//
// Answers GET (and HEAD) /metrics with 200 and
// "text/plain; version=0.0.4; charset=utf-8", anything else with 404 or
// 405, and closes every connection after one response. One connection at a
// time, each bounded by a 2 s deadline and an 8 KiB request limit, so a
// slow or hostile client delays a scrape by at most that and never grows
// memory.
//
//   ASSIGN_OR_RETURN(auto server,
//                    MetricsServer::Start("127.0.0.1:0", &metrics));
//   int port = server->port();
//   server->Stop();  // or destroy it
//
// Thread-safe: Stop() from any thread; the serving thread is its own.
#ifndef ZLAYER_SECRETS_DAEMON_METRICS_SERVER_H_
#define ZLAYER_SECRETS_DAEMON_METRICS_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "daemon/metrics.h"

namespace zlayer::secrets {

class MetricsServer {
 public:
  // Binds `listen` (see above) and starts serving `metrics` (not owned;
  // must outlive the server). InvalidArgument for a malformed or
  // non-loopback address; Unavailable when the address cannot be bound;
  // Internal for other system call failures.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view listen, const Metrics* metrics);

  // Stops serving, closes the listener, removes a Unix socket file.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Idempotent.
  void Stop();

  // The bound TCP port (useful with port 0); 0 for a Unix socket.
  int port() const { return port_; }

 private:
  MetricsServer(const Metrics* metrics, int listen_fd, int wake_fd, int port,
                std::string unix_path);
  void Serve();
  void HandleConnection(int fd);

  const Metrics* const metrics_;
  int listen_fd_;
  int wake_fd_;
  const int port_;
  const std::string unix_path_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_METRICS_SERVER_H_
