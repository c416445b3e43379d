#include "core/migrate/upstream_crypto.h"

#include <argon2.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

constexpr size_t kUpstreamKeyBytes = 32;
constexpr size_t kMaxKeyFileBytes = 4096;

// The whole file in secure memory. FailedPrecondition naming the path.
absl::StatusOr<SecretBytes> ReadKeyFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key file ", path, " not found"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read key file ", path, ": ", std::strerror(err)));
  }
  SecretBytes buffer(kMaxKeyFileBytes + 1);
  size_t size = 0;
  while (size < buffer.size()) {
    ssize_t n = read(fd, buffer.MutableData() + size, buffer.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read key file ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  if (size > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, " is too large"));
  }
  return SecretBytes::FromString(buffer.InsecureView().substr(0, size));
}

}  // namespace

absl::StatusOr<SecretBytes> OpenXChaCha20Poly1305(
    const SecretBytes& key, absl::string_view nonce,
    absl::string_view ciphertext_and_tag, absl::string_view associated_data) {
  if (sodium_init() < 0) return absl::InternalError("libsodium init failed");
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES ||
      nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) {
    return absl::InvalidArgumentError("bad key or nonce size");
  }
  if (ciphertext_and_tag.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return absl::DataLossError("value too short");
  }
  SecretBytes plain(ciphertext_and_tag.size() -
                    crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.MutableData(), &plain_len, nullptr,
          reinterpret_cast<const unsigned char*>(ciphertext_and_tag.data()),
          ciphertext_and_tag.size(),
          reinterpret_cast<const unsigned char*>(associated_data.data()),
          associated_data.size(),
          reinterpret_cast<const unsigned char*>(nonce.data()),
          key.data()) != 0) {
    return absl::DataLossError(
        "value fails authentication (wrong key or damaged)");
  }
  return plain;
}

absl::StatusOr<SecretBytes> OpenUpstreamBlob(const SecretBytes& key,
                                             absl::string_view blob) {
  if (blob.size() < kUpstreamNonceBytes + kUpstreamTagBytes) {
    return absl::DataLossError("value too short");
  }
  return OpenXChaCha20Poly1305(key, blob.substr(0, kUpstreamNonceBytes),
                               blob.substr(kUpstreamNonceBytes), "");
}

std::string SealUpstreamBlob(const SecretBytes& key,
                             const SecretBytes& plaintext) {
  if (sodium_init() < 0 || key.size() != kUpstreamKeyBytes) std::abort();
  std::string out(kUpstreamNonceBytes + plaintext.size() + kUpstreamTagBytes,
                  '\0');
  unsigned char* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kUpstreamNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kUpstreamNonceBytes, &written, plaintext.data(), plaintext.size(),
      nullptr, 0, nullptr, nonce, key.data());
  return out;
}

absl::StatusOr<SecretBytes> Argon2id(const Argon2idInput& input) {
  if (input.salt.size() < ARGON2_MIN_SALT_LENGTH) {
    return absl::InvalidArgumentError("Argon2id: salt is too short");
  }
  SecretBytes out(input.output_bytes);
  argon2_context ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  ctx.out = out.MutableData();
  ctx.outlen = static_cast<uint32_t>(input.output_bytes);
  // libargon2 takes non-const pointers but only reads these (the
  // ARGON2_DEFAULT_FLAGS below never ask it to clear them).
  ctx.pwd =
      reinterpret_cast<uint8_t*>(const_cast<char*>(input.password.data()));
  ctx.pwdlen = static_cast<uint32_t>(input.password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(input.salt.data()));
  ctx.saltlen = static_cast<uint32_t>(input.salt.size());
  ctx.secret =
      reinterpret_cast<uint8_t*>(const_cast<char*>(input.secret.data()));
  ctx.secretlen = static_cast<uint32_t>(input.secret.size());
  ctx.ad = reinterpret_cast<uint8_t*>(
      const_cast<char*>(input.associated_data.data()));
  ctx.adlen = static_cast<uint32_t>(input.associated_data.size());
  ctx.t_cost = input.passes;
  ctx.m_cost = input.memory_kib;
  ctx.lanes = input.lanes;
  ctx.threads = input.lanes;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  const int rc = argon2_ctx(&ctx, Argon2_id);
  if (rc != ARGON2_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("Argon2id: ", argon2_error_message(rc)));
  }
  return out;
}

absl::StatusOr<SecretBytes> DeriveUpstreamKey(const SecretBytes& password,
                                              absl::string_view deployment) {
  if (deployment.size() < ARGON2_MIN_SALT_LENGTH) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upstream derives the password key with the deployment name as salt, "
        "and '",
        deployment,
        "' is shorter than 8 bytes (salt is too short; upstream cannot have "
        "used it either): pass --key-file or ZLAYER_SECRETS_KEY"));
  }
  Argon2idInput input;
  input.password = password.InsecureView();
  input.salt = deployment;
  input.passes = 2;
  input.memory_kib = 19456;
  input.lanes = 1;
  input.output_bytes = kUpstreamKeyBytes;
  return Argon2id(input);
}

absl::StatusOr<UpstreamKey> ResolveUpstreamKey(
    const UpstreamKeyOptions& options) {
  UpstreamKey out;
  if (!options.key_file.empty()) {
    ASSIGN_OR_RETURN(SecretBytes contents, ReadKeyFile(options.key_file));
    ASSIGN_OR_RETURN(
        out.key, DecodeKeyFileContents(std::move(contents), options.key_file,
                                       absl::StatusCode::kInvalidArgument));
    out.source = absl::StrCat("key file ", options.key_file);
    return out;
  }
  if (options.env) {
    absl::optional<std::string> hex = options.env(kEnvSecretsKey);
    if (hex.has_value()) {
      SecretBytes held = SecretBytes::FromString(*hex);
      WipeString(&*hex);
      absl::string_view trimmed =
          absl::StripAsciiWhitespace(held.InsecureView());
      if (trimmed.size() != 2 * kUpstreamKeyBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(kEnvSecretsKey, " must be 64 hex characters"));
      }
      ASSIGN_OR_RETURN(
          out.key, DecodeKeyFileContents(SecretBytes::FromString(trimmed),
                                         kEnvSecretsKey,
                                         absl::StatusCode::kInvalidArgument));
      out.source = absl::StrCat("env ", kEnvSecretsKey);
      return out;
    }
    absl::optional<std::string> password = options.env(kEnvSecretsPassword);
    if (password.has_value()) {
      SecretBytes held = SecretBytes::FromString(*password);
      WipeString(&*password);
      ASSIGN_OR_RETURN(out.key, DeriveUpstreamKey(held, options.deployment));
      out.source = absl::StrCat("env ", kEnvSecretsPassword);
      return out;
    }
  }
  if (!options.key_dir.empty()) {
    const std::string path =
        absl::StrCat(options.key_dir, "/secrets_", options.deployment, ".key");
    absl::StatusOr<SecretBytes> contents = ReadKeyFile(path);
    if (contents.ok()) {
      if (contents->size() != kUpstreamKeyBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "upstream key file ", path, " must hold exactly 32 raw bytes"));
      }
      out.key = *std::move(contents);
      out.source = absl::StrCat("key file ", path);
      return out;
    }
    if (!absl::IsNotFound(contents.status())) return contents.status();
  }
  return absl::NotFoundError(absl::StrCat(
      "no upstream key: pass --key-file, or set ", kEnvSecretsKey, " or ",
      kEnvSecretsPassword, " (with --upstream-deployment)"));
}

}  // namespace zlayer::secrets
