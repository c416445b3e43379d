#include "client/sealed_reveal.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

absl::Status NotSealed() {
  return absl::FailedPreconditionError("the answer is not sealed");
}

template <typename Map>
absl::StatusOr<std::map<std::string, SecretBytes>> OpenMap(
    const Map& boxes, const SealKeyPair& pair) {
  std::map<std::string, SecretBytes> out;
  for (const auto& [key, box] : boxes) {
    ASSIGN_OR_RETURN(out[key], pair.Open(box));
  }
  return out;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int e = errno;
  const std::string message =
      absl::StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(message);
  if (e == EEXIST) return absl::AlreadyExistsError(message);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<SecretBytes> OpenSealedValue(const v1::GetSecretResponse& resp,
                                            const SealKeyPair& pair) {
  if (!resp.value().empty() || resp.sealed_value().empty()) return NotSealed();
  return pair.Open(resp.sealed_value());
}

absl::StatusOr<std::map<std::string, SecretBytes>> OpenSealedValues(
    const v1::GetSecretsResponse& resp, const SealKeyPair& pair) {
  if (!resp.values().empty()) return NotSealed();
  return OpenMap(resp.sealed_values(), pair);
}

absl::StatusOr<std::map<std::string, SecretBytes>> OpenSealedEnv(
    const v1::ResolveEnvResponse& resp, const SealKeyPair& pair) {
  if (!resp.env().empty()) return NotSealed();
  return OpenMap(resp.sealed_env(), pair);
}

absl::StatusOr<SecretBytes> OpenSealedContent(
    const v1::ExportSecretsResponse& resp, const SealKeyPair& pair) {
  if (!resp.content().empty() || resp.sealed_content().empty()) {
    return NotSealed();
  }
  return pair.Open(resp.sealed_content());
}

absl::Status WriteClientKeyFile(const std::string& path, absl::string_view id,
                                const SealKeyPair& pair) {
  // "<id>\n<64 hex>\n", built in secret memory.
  const size_t hex_len = 2 * kClientSecretKeyBytes;
  SecretBytes text(id.size() + 1 + hex_len + 1);
  char* out = reinterpret_cast<char*>(text.MutableData());
  std::memcpy(out, id.data(), id.size());
  out[id.size()] = '\n';
  SecretBytes hex(hex_len + 1);
  sodium_bin2hex(reinterpret_cast<char*>(hex.MutableData()), hex_len + 1,
                 reinterpret_cast<const unsigned char*>(
                     pair.secret_key().InsecureView().data()),
                 kClientSecretKeyBytes);
  std::memcpy(out + id.size() + 1, hex.InsecureView().data(), hex_len);
  out[text.size() - 1] = '\n';

  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", path);
  absl::string_view rest = text.InsecureView();
  while (!rest.empty()) {
    const ssize_t n = write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = Errno("cannot write", path);
      close(fd);
      unlink(path.c_str());
      return s;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0) {
    absl::Status s = Errno("cannot sync", path);
    close(fd);
    return s;
  }
  if (close(fd) != 0) return Errno("cannot close", path);
  return absl::OkStatus();
}

absl::StatusOr<ClientKeyFile> CreateClientKeyFile(SecretsClient* client,
                                                  const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("client key file ", path, " already exists"));
  }
  ASSIGN_OR_RETURN(SealKeyPair pair, SealKeyPair::Generate());
  v1::RegisterClientKeyRequest reg;
  reg.set_public_key(pair.public_key());
  ASSIGN_OR_RETURN(v1::ClientKey key, client->RegisterClientKey(reg));
  RETURN_IF_ERROR(WriteClientKeyFile(path, key.id(), pair));
  return ClientKeyFile{key.id(), std::move(pair)};
}

absl::StatusOr<ClientKeyFile> LoadOrCreateClientKeyFile(
    SecretsClient* client, const std::string& path) {
  absl::StatusOr<ClientKeyFile> existing = ReadClientKeyFile(path);
  if (!absl::IsNotFound(existing.status())) return existing;
  return CreateClientKeyFile(client, path);
}

absl::StatusOr<ClientKeyFile> ReadClientKeyFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status s = Errno("cannot stat", path);
    close(fd);
    return s;
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "client key file ", path, " is readable by others; chmod 600 it"));
  }
  // An id (at most 64) + newline + 64 hex + newline fits in 256 bytes.
  SecretBytes buffer(256);
  size_t size = 0;
  while (size < buffer.size()) {
    const ssize_t n =
        read(fd, buffer.MutableData() + size, buffer.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno("cannot read", path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  const absl::Status malformed = absl::InvalidArgumentError(
      absl::StrCat("client key file ", path, " is malformed"));
  const absl::string_view text = buffer.InsecureView().substr(0, size);
  const size_t nl = text.find('\n');
  if (nl == absl::string_view::npos || nl == 0) return malformed;
  absl::string_view hex = text.substr(nl + 1);
  if (!hex.empty() && hex.back() == '\n') hex.remove_suffix(1);
  if (hex.size() != 2 * kClientSecretKeyBytes) return malformed;
  SecretBytes secret(kClientSecretKeyBytes);
  size_t decoded = 0;
  if (sodium_hex2bin(secret.MutableData(), secret.size(), hex.data(),
                     hex.size(), nullptr, &decoded, nullptr) != 0 ||
      decoded != kClientSecretKeyBytes) {
    return malformed;
  }
  ASSIGN_OR_RETURN(SealKeyPair pair, SealKeyPair::FromSecretKey(secret));
  return ClientKeyFile{std::string(text.substr(0, nl)), std::move(pair)};
}

}  // namespace zlayer::secrets
