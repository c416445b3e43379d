#include "daemon/transport/tls_key_pair.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace zlayer::secrets {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A password callback that refuses: never prompt on the daemon's terminal.
int NoPassword(char*, int, int, void*) { return 0; }

BioPtr MemoryBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The OpenSSL reason of the last error (no key bytes: reasons are fixed
// strings), and the error queue cleared for the next caller.
std::string LastError() {
  unsigned long code = ERR_peek_last_error();
  std::string reason = code == 0 ? "no PEM data"
                       : ERR_reason_error_string(code)
                           ? ERR_reason_error_string(code)
                           : "unknown error";
  ERR_clear_error();
  return reason;
}

// Loads every certificate of a PEM bundle; returns the first. At least one.
absl::Status LoadCertificates(absl::string_view pem, absl::string_view what,
                              X509Ptr* first) {
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  int count = 0;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (cert == nullptr) {
      unsigned long code = ERR_peek_last_error();
      // The end of the bundle reads as "no start line" after >= 1 cert.
      if (count > 0 && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", count + 1, " cannot be loaded (",
                       LastError(), ")"));
    }
    if (count == 0 && first != nullptr) *first = std::move(cert);
    ++count;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTlsKeyPair(absl::string_view cert_chain_pem,
                             absl::string_view key_pem,
                             absl::string_view ca_pem) {
  ERR_clear_error();
  X509Ptr leaf;
  absl::Status status =
      LoadCertificates(cert_chain_pem, "certificate chain", &leaf);
  if (!status.ok()) return status;

  BioPtr key_bio = MemoryBio(key_pem);
  if (key_bio == nullptr)
    return absl::ResourceExhaustedError("BIO_new_mem_buf");
  PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key cannot be loaded (", LastError(), ")"));
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the private key does not match the certificate");
  }
  if (!ca_pem.empty()) {
    status = LoadCertificates(ca_pem, "client CA bundle", nullptr);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
