#include "daemon/transport/tls_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/secret_bytes.h"
#include "core/base/status_macros.h"
#include "daemon/transport/tls_key_pair.h"

namespace zlayer::secrets {
namespace {

absl::Status ErrnoStatus(absl::string_view what, absl::string_view path,
                         int err) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

// Removes `dir` and the files and directories directly below it (TLS state
// is at most two levels deep).
void RemoveTree(const std::string& dir, int depth = 2) {
  DIR* d = opendir(dir.c_str());
  if (d != nullptr) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = absl::StrCat(dir, "/", name);
      struct stat st;
      if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && depth > 1) {
        RemoveTree(path, depth - 1);
      } else {
        unlink(path.c_str());
      }
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteNewFile(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create", path, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoStatus("write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return ErrnoStatus("close", path, errno);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsFiles>> TlsFiles::Create(
    const std::string& data_dir, std::string cert, std::string key,
    std::string client_ca) {
  std::string dir = absl::StrCat(data_dir, "/tls");
  RemoveTree(dir);  // left over by a daemon that did not stop cleanly
  if (mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("mkdir", dir, errno);
  auto files = std::unique_ptr<TlsFiles>(
      new TlsFiles(dir, std::move(cert), std::move(key), std::move(client_ca)));
  RETURN_IF_ERROR(files->Stage());
  return files;
}

TlsFiles::~TlsFiles() { RemoveTree(dir_); }

absl::Status TlsFiles::Stage() {
  ASSIGN_OR_RETURN(std::string cert, ReadWholeFile(cert_src_, "--tls-cert"));
  ASSIGN_OR_RETURN(std::string key, ReadWholeFile(key_src_, "--tls-key"));
  std::string ca;
  if (!ca_src_.empty()) {
    ASSIGN_OR_RETURN(ca, ReadWholeFile(ca_src_, "--tls-client-ca"));
  }
  absl::Status status = Validate(cert, key, ca);
  // The pair itself: the key belongs to the certificate and the chain
  // loads. gRPC would accept a mismatched pair here and then fail every
  // handshake; refusing it keeps the old pair serving.
  if (status.ok()) status = CheckTlsKeyPair(cert, key, ca);
  if (status.ok()) status = Switch(cert, key, ca);
  WipeString(&key);
  return status;
}

absl::Status TlsFiles::Validate(absl::string_view cert, absl::string_view key,
                                absl::string_view ca) const {
  if (!absl::StrContains(cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-cert ", cert_src_, ": no PEM certificate in the file"));
  }
  if (!absl::StrContains(key, "-----BEGIN ") ||
      !absl::StrContains(key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key ", key_src_, ": no PEM private key in the file"));
  }
  if (!ca_src_.empty() &&
      !absl::StrContains(ca, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-client-ca ", ca_src_, ": no PEM certificate in the file"));
  }
  return absl::OkStatus();
}

absl::Status TlsFiles::Switch(absl::string_view cert, absl::string_view key,
                              absl::string_view ca) {
  std::string gen_name = absl::StrCat("gen-", ++generation_);
  std::string gen = absl::StrCat(dir_, "/", gen_name);
  if (mkdir(gen.c_str(), 0700) != 0) return ErrnoStatus("mkdir", gen, errno);
  absl::Status status = WriteNewFile(gen + "/cert.pem", cert);
  if (status.ok()) status = WriteNewFile(gen + "/key.pem", key);
  if (status.ok() && !ca_src_.empty()) {
    status = WriteNewFile(gen + "/ca.pem", ca);
  }
  std::string link_tmp = dir_ + "/current.tmp";
  unlink(link_tmp.c_str());
  if (status.ok() && symlink(gen_name.c_str(), link_tmp.c_str()) != 0) {
    status = ErrnoStatus("symlink", link_tmp, errno);
  }
  std::string link = dir_ + "/current";
  if (status.ok() && rename(link_tmp.c_str(), link.c_str()) != 0) {
    status = ErrnoStatus("rename", link, errno);
  }
  if (!status.ok()) {
    RemoveTree(gen, 1);
    return status;
  }
  if (generation_ > 2) {
    RemoveTree(absl::StrCat(dir_, "/gen-", generation_ - 2), 1);
  }
  return absl::OkStatus();
}

}  // namespace zlayer::secrets
