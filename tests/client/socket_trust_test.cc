// VerifyUnixSocket on real files: what is checked and what is returned.
// The attacks themselves (a fake server behind each kind of planted socket)
// are in tests/security/client/planted_socket_test.cc.
#include "client/socket_trust.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace zlayer::secrets {
namespace {

class SocketTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/zs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    owners_ = TrustedSocketOwners("");
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  // A bound (not listening) Unix socket at `path`.
  void MakeSocket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }

  std::string dir_;
  SocketOwners owners_;
};

TEST_F(SocketTrustTest, ReturnsTheRealPathBehindASymlink) {
  MakeSocket(dir_ + "/s.sock");
  ASSERT_EQ(::symlink((dir_ + "/s.sock").c_str(), (dir_ + "/l.sock").c_str()),
            0);
  absl::StatusOr<std::string> real =
      VerifyUnixSocket(dir_ + "/l.sock", owners_);
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(*real, dir_ + "/s.sock");
}

TEST_F(SocketTrustTest, AMissingSocketInATrustedDirectoryIsDialledLater) {
  absl::StatusOr<std::string> real =
      VerifyUnixSocket(dir_ + "/later/s.sock", owners_);
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(*real, dir_ + "/later/s.sock");
}

TEST_F(SocketTrustTest, ARegularFileIsNotASocket) {
  ASSERT_EQ(::close(::creat((dir_ + "/f").c_str(), 0600)), 0);
  EXPECT_EQ(VerifyUnixSocket(dir_ + "/f", owners_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SocketTrustTest, AnUntrustedOwnerIsNamedInTheError) {
  MakeSocket(dir_ + "/s.sock");
  SocketOwners nobody_trusted;  // not even root or us
  nobody_trusted.daemon_user = "zlayer-secrets";
  absl::Status status =
      VerifyUnixSocket(dir_ + "/s.sock", nobody_trusted).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(status.message(), "refusing socket")) << status;
}

TEST_F(SocketTrustTest, TheDaemonUserMayBeANumericUid) {
  SocketOwners owners = TrustedSocketOwners("4242");
  EXPECT_NE(std::find(owners.uids.begin(), owners.uids.end(), 4242u),
            owners.uids.end());
  EXPECT_NE(std::find(owners.uids.begin(), owners.uids.end(), ::geteuid()),
            owners.uids.end());
  EXPECT_NE(std::find(owners.uids.begin(), owners.uids.end(), 0u),
            owners.uids.end());
}

}  // namespace
}  // namespace zlayer::secrets
