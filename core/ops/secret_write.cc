#include "core/ops/secret_write.h"

#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::StatusOr<WriteOutcome> WriteSecret(SecretStore* store,
                                         absl::string_view scope,
                                         absl::string_view name,
                                         const SecretBytes& value,
                                         WriteOptions options) {
  WriteOutcome out;
  if (options.expected_version.has_value()) {
    ASSIGN_OR_RETURN(out.metadata,
                     store->SetSecret(scope, name, value, options));
    out.created = *options.expected_version == 0;
    return out;
  }
  // SecretStore has no "was it there?" output, so `created` comes from a
  // read followed by a check-and-set write against exactly that version.
  for (int attempt = 0; attempt < kCreateProbeAttempts; ++attempt) {
    absl::StatusOr<SecretMetadata> current = store->GetMetadata(scope, name);
    bool live = false;
    if (current.ok()) {
      live = !current->deleted;
    } else if (!absl::IsNotFound(current.status())) {
      return current.status();
    }
    options.expected_version = live ? current->version : 0;
    absl::StatusOr<SecretMetadata> written =
        store->SetSecret(scope, name, value, options);
    if (written.ok()) {
      out.metadata = *std::move(written);
      out.created = !live;
      return out;
    }
    if (!absl::IsAlreadyExists(written.status()) &&
        !absl::IsFailedPrecondition(written.status())) {
      return written.status();
    }
  }
  // Sustained contention on this one secret: the write is what the caller
  // asked for, so do it unconditionally.
  options.expected_version.reset();
  ASSIGN_OR_RETURN(out.metadata, store->SetSecret(scope, name, value, options));
  out.created = out.metadata.version == 1;
  return out;
}

absl::StatusOr<RotationResult> RotateSecretWith(SecretStore* store,
                                                absl::string_view scope,
                                                absl::string_view name,
                                                const SecretBytes& value,
                                                WriteOptions options) {
  if (!options.node_affinity.has_value()) {
    return store->RotateSecret(scope, name, value);
  }
  for (int attempt = 0; attempt < kCreateProbeAttempts; ++attempt) {
    ASSIGN_OR_RETURN(SecretMetadata current, store->GetMetadata(scope, name));
    options.expected_version = current.version;
    absl::StatusOr<SecretMetadata> written =
        store->SetSecret(scope, name, value, options);
    if (written.ok()) {
      return RotationResult{current.version, written->version};
    }
    if (!absl::IsFailedPrecondition(written.status())) return written.status();
  }
  return absl::AbortedError(
      "the secret kept changing under this rotation; retry");
}

}  // namespace zlayer::secrets
