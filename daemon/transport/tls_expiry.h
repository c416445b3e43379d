// When a PEM certificate stops being valid, for the TLS expiry metric.
//
//   absl::StatusOr<absl::Time> not_after = CertificateNotAfter(path);
//
// Thread-safe (reads the file on each call).
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_EXPIRY_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_EXPIRY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zlayer::secrets {

// notAfter of the first certificate in the PEM file at `path` (the leaf of
// a chain). NotFound when the file cannot be read; InvalidArgument when it
// holds no parsable certificate.
absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& path);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_TLS_EXPIRY_H_
