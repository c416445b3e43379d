// The storage both credential stores share
// (core/identity/registry_credential_store.h,
// core/identity/git_credential_store.h). A credential is a UUID v4 id with two
// secrets under that id in internal scopes of a SecretStore:
//   <meta scope>/<id>   a metadata record (flat JSON text, never the value)
//   <value scope>/<id>  the secret value (password, token, key)
// The value is written before the record and destroyed after it, so a
// credential whose record can be read has its value. This class keeps the two
// in step, checks ids and words the errors; the stores build and decode their
// records and do their own matching.
//
//   CredentialRecords records(store, kGitCredentialsMetaScope,
//                             kGitCredentialsScope, "git credential");
//   const std::string id = NewUuidV4();
//   RETURN_IF_ERROR(records.Put(id, token, json));
//   ASSIGN_OR_RETURN(GitCredential c, records.GetRecord(id, &Decode));
//
// Errors name the credential with the noun given at construction:
//   InvalidArgument "credential id must be a UUID"
//   NotFound        "<noun> <id> not found"
//   DataLoss        "corrupt <noun> '<id>'" (the decoder rejected the record)
// SecretStore errors other than NotFound are returned as they are.
//
// Thread-safe (the SecretStore is).
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_CREDENTIAL_RECORDS_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_CREDENTIAL_RECORDS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/secret_bytes.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

class CredentialRecords {
 public:
  // Turns the record stored under `id` into a T; nullopt when the record is
  // malformed or belongs to another id (reported as DataLoss).
  template <typename T>
  using Decoder = absl::optional<T> (*)(absl::string_view id,
                                        absl::string_view record);

  // `store` is borrowed and must outlive this object. `noun` names one
  // credential in error messages ("git credential").
  CredentialRecords(SecretStore* store, absl::string_view meta_scope,
                    absl::string_view value_scope, absl::string_view noun)
      : store_(store),
        meta_scope_(meta_scope),
        value_scope_(value_scope),
        noun_(noun) {}

  // InvalidArgument unless `id` looks like a UUID.
  static absl::Status CheckId(absl::string_view id);

  // Stores a new credential: `value`, then `record`, both create-only (a live
  // secret under `id` in either scope fails the call with AlreadyExists). If
  // the record cannot be written, the value is destroyed (best effort) and
  // the record's error returned. InvalidArgument for a non-UUID id.
  absl::Status Put(absl::string_view id, const SecretBytes& value,
                   absl::string_view record);

  // The decoded record. InvalidArgument, NotFound or DataLoss as above.
  template <typename T>
  absl::StatusOr<T> GetRecord(absl::string_view id, Decoder<T> decode);

  // The secret value. InvalidArgument or NotFound as above.
  absl::StatusOr<SecretBytes> GetValue(absl::string_view id);

  // Every record, decoded, ordered by id; records destroyed between the
  // listing and the read are skipped. DataLoss for the first record (by id)
  // that `decode` rejects.
  template <typename T>
  absl::StatusOr<std::vector<T>> ListRecords(Decoder<T> decode);

  // Destroys the record, then the value (every version of both); a value
  // already gone is not an error. NotFound if the record is absent;
  // InvalidArgument for a non-UUID id.
  absl::Status Delete(absl::string_view id);

 private:
  struct RawRecord {
    std::string id;
    SecretBytes text;
  };

  absl::StatusOr<SecretBytes> ReadRecord(absl::string_view id);
  // Ordered by id.
  absl::StatusOr<std::vector<RawRecord>> ReadAllRecords();
  absl::Status NotFound(absl::string_view id) const;
  absl::Status Corrupt(absl::string_view id) const;

  SecretStore* const store_;
  const std::string meta_scope_;
  const std::string value_scope_;
  const std::string noun_;
};

template <typename T>
absl::StatusOr<T> CredentialRecords::GetRecord(absl::string_view id,
                                               Decoder<T> decode) {
  absl::StatusOr<SecretBytes> text = ReadRecord(id);
  if (!text.ok()) return text.status();
  absl::optional<T> decoded = decode(id, text->InsecureView());
  if (!decoded.has_value()) return Corrupt(id);
  return *std::move(decoded);
}

template <typename T>
absl::StatusOr<std::vector<T>> CredentialRecords::ListRecords(
    Decoder<T> decode) {
  absl::StatusOr<std::vector<RawRecord>> raw = ReadAllRecords();
  if (!raw.ok()) return raw.status();
  std::vector<T> out;
  out.reserve(raw->size());
  for (const RawRecord& r : *raw) {
    absl::optional<T> decoded = decode(r.id, r.text.InsecureView());
    if (!decoded.has_value()) return Corrupt(r.id);
    out.push_back(*std::move(decoded));
  }
  return out;
}

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_CREDENTIAL_RECORDS_H_
