// The daemon's TLS files and their reload (SIGHUP).
//
// gRPC 1.51 offers no way to swap the credentials of a listening port, but
// its FileWatcherCertificateProvider re-reads its files every
// kTlsRefreshSeconds and hands new ones to later handshakes (checking that
// key and certificate belong together). The operator's files are not watched
// directly: edits would then take effect half-way through. Instead the
// daemon stages a validated copy in {data_dir}/tls/gen-N/ (0700 directory,
// 0600 files) and the provider watches {data_dir}/tls/current/*.pem, where
// `current` is a symlink switched atomically with rename(). So new files are
// taken exactly when SIGHUP asks (within a second), a bad file is refused
// with the old ones still served, and the previous generation is kept until
// the next switch so that a read racing the switch never hits a missing file.
// The staged copies are removed when the daemon stops.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<TlsFiles> tls,
//                    TlsFiles::Create(data_dir, cert, key, client_ca));
//   // serve tls->cert_path(), tls->key_path(), tls->ca_path() ...
//   RETURN_IF_ERROR(tls->Stage());  // on SIGHUP
//
// Not thread-safe: the daemon stages from its signal thread only.
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_FILES_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::secrets {

class TlsFiles {
 public:
  // Stages the files named by --tls-cert, --tls-key and --tls-client-ca
  // (`client_ca` empty = no client certificates asked) under
  // {data_dir}/tls. FailedPrecondition for an unreadable file,
  // InvalidArgument for one that holds no PEM (or a key that does not belong
  // to the certificate), Internal for file-system errors.
  static absl::StatusOr<std::unique_ptr<TlsFiles>> Create(
      const std::string& data_dir, std::string cert, std::string key,
      std::string client_ca);

  // Removes the staged copies.
  ~TlsFiles();

  // Validates and stages the operator's files, then switches `current`.
  // Errors as for Create; the files served before stay served.
  absl::Status Stage();

  std::string cert_path() const { return dir_ + "/current/cert.pem"; }
  std::string key_path() const { return dir_ + "/current/key.pem"; }
  std::string ca_path() const {
    return ca_src_.empty() ? std::string() : dir_ + "/current/ca.pem";
  }
  bool mutual() const { return !ca_src_.empty(); }

 private:
  TlsFiles(std::string dir, std::string cert, std::string key,
           std::string client_ca)
      : dir_(std::move(dir)),
        cert_src_(std::move(cert)),
        key_src_(std::move(key)),
        ca_src_(std::move(client_ca)) {}

  absl::Status Validate(absl::string_view cert, absl::string_view key,
                        absl::string_view ca) const;
  absl::Status Switch(absl::string_view cert, absl::string_view key,
                      absl::string_view ca);

  const std::string dir_;
  const std::string cert_src_;
  const std::string key_src_;
  const std::string ca_src_;
  uint64_t generation_ = 0;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_FILES_H_
