#include "daemon/bootstrap_admin.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "core/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

// Removes `path` and makes the removal durable (directory fsync).
void RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno != ENOENT) {
      spdlog::error(
          "event=bootstrap_admin_key_not_removed path={} error=\"{}\"", path,
          std::strerror(errno));
    }
    return;
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  spdlog::info(
      "event=bootstrap_admin_key_removed path={} detail=\"first successful "
      "use; the key stays valid (apikey rotate admin to replace it)\"",
      path);
}

}  // namespace

absl::StatusOr<bool> PrepareBootstrapAdminKey(ApiKeyStore* keys,
                                              BootstrapAdminKey mode,
                                              const std::string& path,
                                              bool serves_tcp) {
  switch (mode) {
    case BootstrapAdminKey::kNone:
      return false;
    case BootstrapAdminKey::kKeep:
      return keys->EnsureBootstrapAdmin(path);
    case BootstrapAdminKey::kOnce: {
      if (!serves_tcp) return false;
      absl::StatusOr<ApiKeyInfo> existing = keys->Get(kBootstrapAdminId);
      if (existing.ok()) return false;
      if (!absl::IsNotFound(existing.status())) return existing.status();
      // No record: EnsureBootstrapAdmin creates it and writes the file.
      return keys->EnsureBootstrapAdmin(path);
    }
  }
  return false;
}

absl::StatusOr<Principal> BootstrapKeyFileRemover::Verify(
    absl::string_view key_id, const SecretBytes& secret) const {
  return AfterVerify(inner_->Verify(key_id, secret));
}

absl::StatusOr<Principal> BootstrapKeyFileRemover::VerifyFrom(
    absl::string_view key_id, const SecretBytes& secret,
    const ApiKeyAttempt& attempt) const {
  return AfterVerify(inner_->VerifyFrom(key_id, secret, attempt));
}

absl::StatusOr<Principal> BootstrapKeyFileRemover::AfterVerify(
    absl::StatusOr<Principal> principal) const {
  if (principal.ok() && principal->api_key_id == kBootstrapAdminId &&
      !removed_.load(std::memory_order_relaxed) && !removed_.exchange(true)) {
    RemoveFile(path_);
  }
  return principal;
}

}  // namespace zlayer::secrets
