// Client keys for sealed reveals (docs/identity.md, "Sealed reveals"):
// X25519 public keys that callers register so that value-revealing RPCs can
// answer with sealed boxes (core/crypto/sealed_box.h) only the key's holder
// can open, and a proxy in the middle never holds a value.
//
// Each key has a random UUID v4 id (never derived from the key, so an id
// says nothing about the key and two registrations of one key are two ids)
// and belongs to the identity that registered it: its owner is that
// caller's Principal::Subject() ("uid:1000", "apikey:ci", or "user:alice"
// when a proxy registered it while acting as alice). A record is a flat JSON
// object in the internal scope "system:client_keys" (name = id) of any
// SecretStore, like the API keys, so every backend (memory, SQLite, etcd)
// keeps them, encrypted like every secret:
//   {"id","owner","public_key":<64 hex>,"created_at","revoked_at"}
// Revocation keeps the record (revoked_at > 0), so a revoked key is told
// apart from an unknown one.
//
//   ClientKeyStore keys(store, clock);
//   ASSIGN_OR_RETURN(ClientKeyInfo k, keys.Register("user:alice", pk));
//   ASSIGN_OR_RETURN(std::string pk2, keys.PublicKeyFor(k.id, "user:alice"));
//
// Thread-safe (the SecretStore is).
#ifndef ZLAYER_SECRETS_CORE_IDENTITY_CLIENT_KEY_STORE_H_
#define ZLAYER_SECRETS_CORE_IDENTITY_CLIENT_KEY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "core/base/clock.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

inline constexpr absl::string_view kClientKeysScope = "system:client_keys";

// What is stored about a client key (the public key is not secret).
struct ClientKeyInfo {
  std::string id;          // UUID v4
  std::string owner;       // Principal::Subject() of the registering caller
  std::string public_key;  // 32 raw bytes (X25519)
  int64_t created_at = 0;  // Unix seconds
  int64_t revoked_at = 0;  // Unix seconds; 0 = usable
};

class ClientKeyStore {
 public:
  // `store` and `clock` are borrowed and must outlive this object.
  ClientKeyStore(SecretStore* store, const Clock* clock);

  // Registers `public_key` (32 raw bytes) for `owner` under a fresh random
  // id. InvalidArgument for a key ValidateClientPublicKey refuses (wrong
  // length, all-zero or another low-order point) or an empty owner; store
  // errors propagate.
  absl::StatusOr<ClientKeyInfo> Register(absl::string_view owner,
                                         absl::string_view public_key);
  // NotFound "client key <id> not found" (also for an id that is not a
  // UUID); DataLoss for a corrupt record.
  absl::StatusOr<ClientKeyInfo> Get(absl::string_view id);
  // The keys of `owner`, or every key when `owner` is empty; revoked keys
  // included; ordered by id.
  absl::StatusOr<std::vector<ClientKeyInfo>> List(absl::string_view owner);
  // Revokes key `id` on behalf of `requester` (its owner, or any subject
  // when `requester_is_admin`). NotFound as Get; PermissionDenied
  // "<requester> may not revoke client key <id>" for someone else's key;
  // revoking a revoked key is OK (nothing changes).
  absl::Status Revoke(absl::string_view id, absl::string_view requester,
                      bool requester_is_admin);

  // The one rule for using a key to seal a response: the public key of `id`
  // when `subject` (the caller's Principal::Subject(), i.e. the asserted
  // user for a proxy acting as one) owns it. NotFound as Get;
  // PermissionDenied "<subject> may not use client key <id>" for another
  // identity's key (checked before revocation, so nobody learns whether
  // another's key is revoked); FailedPrecondition "client key <id> is
  // revoked" for the owner's revoked key.
  absl::StatusOr<std::string> PublicKeyFor(absl::string_view id,
                                           absl::string_view subject);

 private:
  absl::StatusOr<ClientKeyInfo> Read(absl::string_view id,
                                     uint32_t* version = nullptr);
  absl::Status Write(const ClientKeyInfo& info,
                     absl::optional<uint32_t> expected);

  SecretStore* const store_;
  const Clock* const clock_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_IDENTITY_CLIENT_KEY_STORE_H_
