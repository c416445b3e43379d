// Sealed reveals on the client side (docs/identity.md, "Sealed reveals"):
// opening the sealed boxes of GetSecret, GetSecrets, ResolveEnv and
// ExportSecrets answers with the caller's client key pair
// (core/crypto/sealed_box.h: the secret key in guarded sodium memory), and
// the key file the CLI keeps that pair in.
//
//   ASSIGN_OR_RETURN(ClientKeyFile key, ReadClientKeyFile(path));
//   CallOptions call;
//   call.seal_to = key.id;
//   ASSIGN_OR_RETURN(v1::GetSecretResponse resp, client->GetSecret(req, call));
//   ASSIGN_OR_RETURN(SecretBytes value, OpenSealedValue(resp, key.pair));
//
// A proxy that passes sealed answers on never calls these: it forwards the
// response bytes, which hold no plaintext.
//
// Key file: mode 0600, two lines: the client key id, then the 32-byte
// X25519 secret key as 64 hex characters. Thread-safe (no shared state).
#ifndef ZLAYER_SECRETS_CLIENT_SEALED_REVEAL_H_
#define ZLAYER_SECRETS_CLIENT_SEALED_REVEAL_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/sealed_box.h"
#include "proto/secrets.pb.h"

namespace zlayer::secrets {

// Each opens every box of the answer. DataLoss when a box does not open
// with `pair` (sealed to another key, altered); FailedPrecondition "the
// answer is not sealed" when the answer carries a plain value instead.
absl::StatusOr<SecretBytes> OpenSealedValue(const v1::GetSecretResponse& resp,
                                            const SealKeyPair& pair);
absl::StatusOr<std::map<std::string, SecretBytes>> OpenSealedValues(
    const v1::GetSecretsResponse& resp, const SealKeyPair& pair);
absl::StatusOr<std::map<std::string, SecretBytes>> OpenSealedEnv(
    const v1::ResolveEnvResponse& resp, const SealKeyPair& pair);
absl::StatusOr<SecretBytes> OpenSealedContent(
    const v1::ExportSecretsResponse& resp, const SealKeyPair& pair);

// A client key as kept on disk: its id and its pair.
struct ClientKeyFile {
  std::string id;
  SealKeyPair pair;
};

// Writes `id` and `pair`'s secret key to a new file `path` (O_EXCL, mode
// 0600, fsync). AlreadyExists when `path` exists; errno-derived errors.
absl::Status WriteClientKeyFile(const std::string& path, absl::string_view id,
                                const SealKeyPair& pair);
// Generates a key pair, registers its public key (Admin.RegisterClientKey,
// as whoever `client` calls as) and writes the key file. AlreadyExists when
// `path` exists (nothing is registered then); the call's errors.
absl::StatusOr<ClientKeyFile> CreateClientKeyFile(SecretsClient* client,
                                                  const std::string& path);
// The key file at `path`, or, when there is none yet, CreateClientKeyFile
// (the CLI's --seal-to KEYFILE: register once, then reuse).
absl::StatusOr<ClientKeyFile> LoadOrCreateClientKeyFile(
    SecretsClient* client, const std::string& path);

// Reads a file WriteClientKeyFile wrote. NotFound when absent;
// FailedPrecondition when group or others may read it; InvalidArgument when
// malformed (the message never quotes the file).
absl::StatusOr<ClientKeyFile> ReadClientKeyFile(const std::string& path);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CLIENT_SEALED_REVEAL_H_
