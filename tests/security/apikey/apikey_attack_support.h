// Helpers for the API-key attack tests and bench (tests/security/apikey): the
// real zlayer-secretsd with a TLS listener on 127.0.0.1:0, its bootstrap admin
// key, and raw Admin.WhoAmI calls that present a chosen key (no client-side
// retries, so every call is exactly one verification attempt).
//
//   ASSIGN_OR_RETURN(auto d, TlsDaemon::Start({}));
//   grpc::Status s = d->WhoAmI(d->admin_key());
#ifndef ZLAYER_SECRETS_TESTS_SECURITY_APIKEY_APIKEY_ATTACK_SUPPORT_H_
#define ZLAYER_SECRETS_TESTS_SECURITY_APIKEY_APIKEY_ATTACK_SUPPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets::apikey_attack {

class TlsDaemon {
 public:
  // Starts the daemon (--listen [::]:0 with a fresh CA and server
  // certificate, plus `extra_args`) and waits for event=ready.
  static absl::StatusOr<std::unique_ptr<TlsDaemon>> Start(
      const std::vector<std::string>& extra_args);

  // A new TLS channel (its own connection) to the daemon at `host`. The
  // daemon listens on [::]:0, so "127.0.0.1" and "[::1]" reach it from two
  // different source addresses (ipv4:127.0.0.1 and ipv6:[::1]).
  std::shared_ptr<grpc::Channel> Channel(
      const std::string& host = "127.0.0.1") const;
  // Admin.WhoAmI presenting `key` (e.g. "zs_admin.<secret>") as
  // `authorization: Bearer`; `subject` receives the answer when OK.
  grpc::Status WhoAmI(const std::shared_ptr<grpc::Channel>& channel,
                      absl::string_view key, std::string* subject = nullptr,
                      absl::Duration timeout = absl::Seconds(30)) const;

  const std::string& admin_key() const { return admin_key_; }
  std::string data_dir() const { return dir_.Sub("data"); }
  std::string audit_path() const { return dir_.Sub("data") + "/audit.log"; }
  std::string socket() const { return dir_.Sub("d.sock"); }
  int tcp_port() const { return tcp_port_; }
  pid_t pid() const { return process_->pid(); }
  testing::DaemonProcess* process() { return process_.get(); }

 private:
  TlsDaemon() = default;

  testing::TempDir dir_;
  testing::TlsMaterial tls_;
  std::string ca_pem_;
  std::unique_ptr<testing::DaemonProcess> process_;
  std::string admin_key_;
  int tcp_port_ = 0;
};

// A well-formed key for `id` with a random secret (43 base64url chars).
std::string RandomKey(absl::string_view id);

// VmRSS / VmHWM of `pid` in KiB (0 if unreadable).
int64_t RssKib(pid_t pid);
int64_t HighWaterKib(pid_t pid);

}  // namespace zlayer::secrets::apikey_attack

#endif  // ZLAYER_SECRETS_TESTS_SECURITY_APIKEY_APIKEY_ATTACK_SUPPORT_H_
