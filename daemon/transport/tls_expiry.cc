#include "daemon/transport/tls_expiry.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <time.h>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate in ", path));
  }
  tm when{};
  const int ok = ASN1_TIME_to_tm(X509_get0_notAfter(cert), &when);
  X509_free(cert);
  if (ok != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("unreadable notAfter in ", path));
  }
  return absl::FromTimeT(timegm(&when));
}

}  // namespace zlayer::secrets
