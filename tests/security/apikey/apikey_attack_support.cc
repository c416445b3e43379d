#include "tests/security/apikey/apikey_attack_support.h"

#include <sodium.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace zlayer::secrets::apikey_attack {
namespace {

int64_t StatusField(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field)) {
      absl::string_view rest = absl::StripPrefix(line, field);
      rest = absl::StripAsciiWhitespace(
          absl::StripSuffix(absl::StripAsciiWhitespace(rest), "kB"));
      int64_t kib = 0;
      if (absl::SimpleAtoi(rest, &kib)) return kib;
    }
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsDaemon>> TlsDaemon::Start(
    const std::vector<std::string>& extra_args) {
  auto d = std::unique_ptr<TlsDaemon>(new TlsDaemon());
  absl::StatusOr<testing::TlsMaterial> tls =
      testing::MakeTlsMaterial(d->dir_.path(), "a-");
  if (!tls.ok()) return tls.status();
  d->tls_ = *tls;
  absl::StatusOr<std::string> ca = testing::ReadFile(d->tls_.ca_cert);
  if (!ca.ok()) return ca.status();
  d->ca_pem_ = *ca;
  std::vector<std::string> args = {
      "--data-dir",        d->data_dir(), "--socket",
      d->socket(),         "--log-level", "info",
      "--listen",          "[::]:0",      "--tls-cert",
      d->tls_.server_cert, "--tls-key",   d->tls_.server_key};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> proc =
      testing::DaemonProcess::Start(args, d->dir_.path());
  if (!proc.ok()) return proc.status();
  d->process_ = *std::move(proc);
  absl::StatusOr<std::string> ready =
      d->process_->WaitForLog("event=ready", absl::Seconds(60));
  if (!ready.ok()) {
    return absl::InternalError(
        absl::StrCat(ready.status().ToString(), "\n", d->process_->Stderr()));
  }
  size_t at = ready->find("tcp_port=");
  if (at == std::string::npos) return absl::InternalError("no tcp_port");
  std::string port = ready->substr(at + 9);
  port = port.substr(0, port.find(' '));
  if (!absl::SimpleAtoi(port, &d->tcp_port_)) {
    return absl::InternalError("bad tcp_port");
  }
  absl::StatusOr<std::string> key =
      testing::ReadFile(d->data_dir() + "/admin.key");
  if (!key.ok()) return key.status();
  d->admin_key_ = std::string(absl::StripTrailingAsciiWhitespace(*key));
  return d;
}

std::shared_ptr<grpc::Channel> TlsDaemon::Channel(
    const std::string& host) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem_;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  // A connection of its own: no subchannel sharing between "clients".
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(absl::StrCat(host, ":", tcp_port_),
                                   grpc::SslCredentials(ssl), args);
}

grpc::Status TlsDaemon::WhoAmI(const std::shared_ptr<grpc::Channel>& channel,
                               absl::string_view key, std::string* subject,
                               absl::Duration timeout) const {
  auto stub = v1::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", key));
  v1::WhoAmIRequest req;
  v1::WhoAmIResponse resp;
  grpc::Status s = stub->WhoAmI(&ctx, req, &resp);
  if (s.ok() && subject != nullptr) *subject = resp.subject();
  return s;
}

std::string RandomKey(absl::string_view id) {
  unsigned char random[32];
  randombytes_buf(random, sizeof(random));
  char b64[64];
  sodium_bin2base64(b64, sizeof(b64), random, sizeof(random),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return absl::StrCat("zs_", id, ".", b64);
}

int64_t RssKib(pid_t pid) { return StatusField(pid, "VmRSS:"); }
int64_t HighWaterKib(pid_t pid) { return StatusField(pid, "VmHWM:"); }

}  // namespace zlayer::secrets::apikey_attack
