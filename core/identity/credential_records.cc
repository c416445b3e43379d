#include "core/identity/credential_records.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/base/ids.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::Status CredentialRecords::CheckId(absl::string_view id) {
  if (!LooksLikeUuid(id)) {
    return absl::InvalidArgumentError("credential id must be a UUID");
  }
  return absl::OkStatus();
}

absl::Status CredentialRecords::Put(absl::string_view id,
                                    const SecretBytes& value,
                                    absl::string_view record) {
  RETURN_IF_ERROR(CheckId(id));
  WriteOptions create_only;
  create_only.expected_version = 0;
  RETURN_IF_ERROR(
      store_->SetSecret(value_scope_, id, value, create_only).status());
  absl::Status meta =
      store_
          ->SetSecret(meta_scope_, id, SecretBytes::FromString(record),
                      create_only)
          .status();
  if (!meta.ok()) {
    // Best effort: an orphaned value is invisible but should not linger.
    store_->DestroySecret(value_scope_, id).IgnoreError();
  }
  return meta;
}

absl::StatusOr<SecretBytes> CredentialRecords::GetValue(absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<SecretBytes> value = store_->GetSecret(value_scope_, id);
  if (absl::IsNotFound(value.status())) return NotFound(id);
  return value;
}

absl::Status CredentialRecords::Delete(absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::Status meta = store_->DestroySecret(meta_scope_, id);
  if (absl::IsNotFound(meta)) return NotFound(id);
  RETURN_IF_ERROR(meta);
  absl::Status value = store_->DestroySecret(value_scope_, id);
  if (!value.ok() && !absl::IsNotFound(value)) return value;
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> CredentialRecords::ReadRecord(
    absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<SecretBytes> text = store_->GetSecret(meta_scope_, id);
  if (absl::IsNotFound(text.status())) return NotFound(id);
  return text;
}

absl::StatusOr<std::vector<CredentialRecords::RawRecord>>
CredentialRecords::ReadAllRecords() {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> metas,
                   store_->ListSecrets(meta_scope_));
  std::vector<std::string> ids;
  ids.reserve(metas.size());
  for (const SecretMetadata& m : metas) ids.push_back(m.name);
  ASSIGN_OR_RETURN(auto texts, store_->GetSecrets(meta_scope_, ids));
  std::vector<RawRecord> out;
  out.reserve(texts.size());
  for (const std::string& id : ids) {
    auto it = texts.find(id);
    if (it == texts.end()) continue;  // destroyed since the listing
    out.push_back(RawRecord{id, std::move(it->second)});
  }
  // ListSecrets orders by name already; the id order is part of this
  // class's contract, so it does not rest on that.
  std::sort(out.begin(), out.end(),
            [](const RawRecord& a, const RawRecord& b) { return a.id < b.id; });
  return out;
}

absl::Status CredentialRecords::NotFound(absl::string_view id) const {
  return absl::NotFoundError(absl::StrCat(noun_, " ", id, " not found"));
}

absl::Status CredentialRecords::Corrupt(absl::string_view id) const {
  return absl::DataLossError(absl::StrCat("corrupt ", noun_, " '", id, "'"));
}

}  // namespace zlayer::secrets
