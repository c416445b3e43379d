// Cluster mode over TLS to etcd: a real 3-member etcd (Debian's /usr/bin/etcd)
// whose client ports serve TLS and demand a client certificate signed by the
// test's CA (--client-cert-auth), and real zlayer-secretsd processes started
// with --etcd-cacert/--etcd-cert/--etcd-key. Certificates come from the
// openssl CLI (tests/daemon/test_support).
//
//   - two daemons with the right certificate share secrets through etcd;
//   - a daemon without a client certificate, one whose certificate another
//     CA signed, one that does not trust etcd's CA, and one speaking
//     plaintext to a TLS port are each refused at start with an error that
//     names etcd, and none of them writes anything.
//
// Skipped, with the reason, only when /usr/bin/etcd is not installed.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"
#include "tests/testutil/etcd_cluster.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::EtcdCluster;
using ::zlayer::secrets::testing::MakeTlsMaterial;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::TlsMaterial;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr char kPrefix[] = "/zs-tls-test";

void WriteKeyFile(const std::string& path) {
  const std::string key(32, 'T');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, key.data(), key.size()),
            static_cast<ssize_t>(key.size()));
  ::close(fd);
}

class ClusterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdCluster::Available()) GTEST_SKIP() << EtcdCluster::kMissing;
    auto tls = MakeTlsMaterial(dir_.path(), "etcd");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    // A second, unrelated CA with its own client certificate.
    auto other = MakeTlsMaterial(dir_.path(), "other");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = *other;
    EtcdCluster::Tls etcd_tls;
    etcd_tls.ca_cert = tls_.ca_cert;
    etcd_tls.server_cert = tls_.server_cert;
    etcd_tls.server_key = tls_.server_key;
    etcd_tls.client_cert = tls_.client_cert;
    etcd_tls.client_key = tls_.client_key;
    auto etcd = EtcdCluster::StartTls(3, etcd_tls);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    WriteKeyFile(dir_.Sub("master.key"));
  }

  // The daemon's arguments with `etcd_tls_flags` appended.
  std::vector<std::string> Args(const std::string& name,
                                const std::vector<std::string>& tls_flags) {
    ::mkdir(dir_.Sub(name).c_str(), 0700);
    std::vector<std::string> args = {
        "--data-dir",       dir_.Sub(name),
        "--key-file",       dir_.Sub("master.key"),
        "--socket",         dir_.Sub(name + ".sock"),
        "--store",          "etcd",
        "--etcd-endpoints", etcd_->JoinedEndpoints(),
        "--etcd-prefix",    kPrefix};
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    return args;
  }

  std::vector<std::string> GoodTls() const {
    return {"--etcd-cacert",  tls_.ca_cert, "--etcd-cert",
            tls_.client_cert, "--etcd-key", tls_.client_key};
  }

  // Starts a daemon that must refuse to start; returns its stderr.
  std::string ExpectRefused(const std::string& name,
                            const std::vector<std::string>& tls_flags) {
    auto daemon = DaemonProcess::Start(Args(name, tls_flags), dir_.path());
    EXPECT_TRUE(daemon.ok()) << daemon.status();
    if (!daemon.ok()) return "";
    auto status = (*daemon)->WaitForExit(kWait);
    EXPECT_TRUE(status.ok()) << "the daemon did not exit: it started";
    if (status.ok()) {
      EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    }
    const std::string err = (*daemon)->Stderr();
    EXPECT_TRUE(absl::StrContains(err, "etcd")) << err;
    // What an operator reads (the last line: the reason it did not start).
    std::string last(absl::StripTrailingAsciiWhitespace(err));
    last = last.substr(
        last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    std::cout << name << ": " << last << "\n";
    return err;
  }

  // How many keys the store holds under its prefix in etcd, read directly
  // with the good client certificate.
  int64_t KeysUnderPrefix() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(tls_.ca_cert);
    ssl.pem_cert_chain = ReadFile(tls_.client_cert);
    ssl.pem_private_key = ReadFile(tls_.client_key);
    auto kv = etcdserverpb::KV::NewStub(grpc::CreateChannel(
        etcd_->ClientEndpoints()[0], grpc::SslCredentials(ssl)));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    etcdserverpb::RangeRequest request;
    request.set_key(kPrefix);
    std::string end = kPrefix;
    end.back() = static_cast<char>(end.back() + 1);
    request.set_range_end(end);
    request.set_count_only(true);
    etcdserverpb::RangeResponse response;
    grpc::Status s = kv->Range(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.count();
  }

  static std::string ReadFile(const std::string& path) {
    std::string out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    ::close(fd);
    return out;
  }

  std::unique_ptr<v1::Secrets::Stub> Client(const std::string& name) {
    return v1::Secrets::NewStub(UnixChannel(dir_.Sub(name + ".sock")));
  }

  TempDir dir_;
  TlsMaterial tls_, other_;
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(ClusterTlsTest, DaemonsWithTheClientCertificateShareSecrets) {
  auto a = testing::StartReadyDaemon(dir_, Args("a", GoodTls()), kWait);
  ASSERT_NE(a, nullptr);
  auto b = testing::StartReadyDaemon(dir_, Args("b", GoodTls()), kWait);
  ASSERT_NE(b, nullptr);
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope("prod");
    request.set_name("db");
    request.set_value("over-tls");
    v1::SetSecretResponse response;
    grpc::Status s = Client("a")->SetSecret(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  v1::GetSecretRequest request;
  request.mutable_target()->set_scope("prod");
  request.set_name("db");
  v1::GetSecretResponse response;
  grpc::Status s = Client("b")->GetSecret(&context, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.value(), "over-tls");
}

TEST_F(ClusterTlsTest,
       DaemonsWithoutAnAcceptedIdentityAreRefusedAndWriteNothing) {
  // Nothing exists under the prefix before any daemon started.
  ASSERT_EQ(KeysUnderPrefix(), 0);
  // Trusts etcd's CA but presents no client certificate.
  const std::string err =
      ExpectRefused("nocert", {"--etcd-cacert", tls_.ca_cert});
  EXPECT_TRUE(absl::StrContains(err, "no TLS connection was made")) << err;
  // A client certificate signed by a CA etcd does not trust.
  ExpectRefused("othercert",
                {"--etcd-cacert", tls_.ca_cert, "--etcd-cert",
                 other_.client_cert, "--etcd-key", other_.client_key});
  // Does not trust etcd's server certificate (another CA as its roots).
  ExpectRefused("othertrust",
                {"--etcd-cacert", other_.ca_cert, "--etcd-cert",
                 tls_.client_cert, "--etcd-key", tls_.client_key});
  // Plaintext to a TLS port.
  const std::string plain = ExpectRefused("plain", {});
  EXPECT_TRUE(absl::StrContains(plain, "do they expect TLS?")) << plain;
  EXPECT_EQ(KeysUnderPrefix(), 0) << "a refused daemon wrote to etcd";
}

}  // namespace
}  // namespace zlayer::secrets
