#include "core/identity/client_key_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/ids.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "core/crypto/sealed_box.h"
#include "core/identity/identity_records.h"

namespace zlayer::secrets {
namespace {

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("client key ", id, " not found"));
}

}  // namespace

ClientKeyStore::ClientKeyStore(SecretStore* store, const Clock* clock)
    : store_(store), clock_(clock) {}

absl::Status ClientKeyStore::Write(const ClientKeyInfo& info,
                                   absl::optional<uint32_t> expected) {
  std::string json =
      RecordWriter()
          .Str("id", info.id)
          .Str("owner", info.owner)
          .Str("public_key", absl::BytesToHexString(info.public_key))
          .Int("created_at", info.created_at)
          .Int("revoked_at", info.revoked_at)
          .Finish();
  WriteOptions write;
  write.expected_version = expected;
  return store_
      ->SetSecret(kClientKeysScope, info.id, SecretBytes::FromString(json),
                  write)
      .status();
}

absl::StatusOr<ClientKeyInfo> ClientKeyStore::Register(
    absl::string_view owner, absl::string_view public_key) {
  if (owner.empty() || owner == "-") {
    return absl::InvalidArgumentError("a client key needs an owner");
  }
  RETURN_IF_ERROR(ValidateClientPublicKey(public_key));
  ClientKeyInfo info;
  info.id = NewUuidV4();
  info.owner = std::string(owner);
  info.public_key = std::string(public_key);
  info.created_at = clock_->NowUnixSeconds();
  // Create only: a (vanishingly unlikely) id collision is an error, never an
  // overwrite of someone else's key.
  RETURN_IF_ERROR(Write(info, 0u));
  return info;
}

absl::StatusOr<ClientKeyInfo> ClientKeyStore::Read(absl::string_view id,
                                                   uint32_t* version) {
  if (!LooksLikeUuid(id)) return NotFound(id);
  absl::StatusOr<VersionedValue> raw =
      store_->GetVersioned(kClientKeysScope, id);
  if (absl::IsNotFound(raw.status())) return NotFound(id);
  if (!raw.ok()) return raw.status();
  if (version != nullptr) *version = raw->version;
  const absl::Status corrupt =
      absl::DataLossError(absl::StrCat("corrupt client key record '", id, "'"));
  absl::StatusOr<FlatRecord> r = FlatRecord::Parse(raw->value.InsecureView());
  if (!r.ok()) return corrupt;
  absl::StatusOr<std::string> rid = r->String("id");
  absl::StatusOr<std::string> owner = r->String("owner");
  absl::StatusOr<std::string> hex = r->String("public_key");
  absl::StatusOr<int64_t> created = r->Int("created_at");
  absl::StatusOr<int64_t> revoked = r->Int("revoked_at");
  if (!rid.ok() || *rid != id || !owner.ok() || !hex.ok() || !created.ok() ||
      !revoked.ok()) {
    return corrupt;
  }
  absl::StatusOr<std::string> pk = HexDecode(*hex);
  if (!pk.ok() || pk->size() != kClientPublicKeyBytes) return corrupt;
  ClientKeyInfo info;
  info.id = *std::move(rid);
  info.owner = *std::move(owner);
  info.public_key = *std::move(pk);
  info.created_at = *created;
  info.revoked_at = *revoked;
  return info;
}

absl::StatusOr<ClientKeyInfo> ClientKeyStore::Get(absl::string_view id) {
  return Read(id);
}

absl::StatusOr<std::vector<ClientKeyInfo>> ClientKeyStore::List(
    absl::string_view owner) {
  ASSIGN_OR_RETURN(std::vector<SecretMetadata> metas,
                   store_->ListSecrets(kClientKeysScope));
  std::vector<ClientKeyInfo> out;
  for (const SecretMetadata& m : metas) {
    absl::StatusOr<ClientKeyInfo> info = Read(m.name);
    if (absl::IsNotFound(info.status())) continue;  // gone meanwhile
    if (!info.ok()) return info.status();
    if (!owner.empty() && info->owner != owner) continue;
    out.push_back(*std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const ClientKeyInfo& a, const ClientKeyInfo& b) {
              return a.id < b.id;
            });
  return out;
}

absl::Status ClientKeyStore::Revoke(absl::string_view id,
                                    absl::string_view requester,
                                    bool requester_is_admin) {
  uint32_t version = 0;
  ASSIGN_OR_RETURN(ClientKeyInfo info, Read(id, &version));
  if (!requester_is_admin && info.owner != requester) {
    return absl::PermissionDeniedError(
        absl::StrCat(requester, " may not revoke client key ", id));
  }
  if (info.revoked_at > 0) return absl::OkStatus();
  info.revoked_at = std::max<int64_t>(clock_->NowUnixSeconds(), 1);
  return Write(info, version);
}

absl::StatusOr<std::string> ClientKeyStore::PublicKeyFor(
    absl::string_view id, absl::string_view subject) {
  ASSIGN_OR_RETURN(ClientKeyInfo info, Read(id));
  if (info.owner != subject) {
    return absl::PermissionDeniedError(
        absl::StrCat(subject, " may not use client key ", id));
  }
  if (info.revoked_at > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("client key ", id, " is revoked"));
  }
  return std::move(info.public_key);
}

}  // namespace zlayer::secrets
