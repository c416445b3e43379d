// The real zlayer-secretsd binary as a child process: flags, health over the
// Unix socket and TLS TCP, mTLS, SIGHUP reload, SIGTERM drain, core dumps.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"

namespace zlayer::secrets {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::zlayer::secrets::testing::CheckHealth;
using ::zlayer::secrets::testing::DaemonProcess;
using ::zlayer::secrets::testing::MakeTlsMaterial;
using ::zlayer::secrets::testing::ReadFile;
using ::zlayer::secrets::testing::RunProgram;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::TlsMaterial;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);

std::vector<std::string> BaseArgs(const TempDir& dir) {
  return {"--data-dir",    dir.Sub("data"), "--key-dir",
          dir.Sub("data"), "--socket",      dir.Sub("d.sock")};
}

std::unique_ptr<DaemonProcess> StartReady(const TempDir& dir,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = BaseArgs(dir);
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::StartReadyDaemon(dir, args, kWait);
}

// The tcp_port=N field of the ready line.
int TcpPort(DaemonProcess* process) {
  auto line = process->WaitForLog("event=ready", kWait);
  return line.ok() ? testing::LogFieldInt(*line, "tcp_port=") : 0;
}

int ExitCode(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& ca_pem,
                                          const std::string& cert_pem = "",
                                          const std::string& key_pem = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  ssl.pem_cert_chain = cert_pem;
  ssl.pem_private_key = key_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // The certificate names localhost; connecting to the literal address
  // avoids a DNS lookup (c-ares leaks a little under LeakSanitizer).
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::SslCredentials(ssl), args);
}

std::string Slurp(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : "";
}

TEST(DaemonProcessTest, HealthIsServingOnTheUnixSocket) {
  TempDir dir;
  auto daemon = StartReady(dir);
  ASSERT_NE(daemon, nullptr);
  auto status = CheckHealth(UnixChannel(dir.Sub("d.sock")), "", kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, HealthCheckResponse::SERVING);
  // The key source is logged; the key never is.
  auto key_line = daemon->WaitForLog("event=master_key", kWait);
  ASSERT_TRUE(key_line.ok());
  EXPECT_TRUE(absl::StrContains(*key_line, "source=\"generated\""))
      << *key_line;
}

TEST(DaemonProcessTest, CoreDumpsAreDisabled) {
  TempDir dir;
  auto daemon = StartReady(dir);
  ASSERT_NE(daemon, nullptr);
  std::string limits = Slurp(absl::StrCat("/proc/", daemon->pid(), "/limits"));
  bool found = false;
  for (absl::string_view line : absl::StrSplit(limits, '\n')) {
    if (!absl::StartsWith(line, "Max core file size")) continue;
    found = true;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_GE(fields.size(), 6u) << line;
    EXPECT_EQ(fields[4], "0") << line;  // soft
    EXPECT_EQ(fields[5], "0") << line;  // hard
  }
  EXPECT_TRUE(found) << limits;
  // PR_SET_DUMPABLE 0: /proc/<pid>/status reports it indirectly through
  // ownership; the limit is the portable check.
}

TEST(DaemonProcessTest, SecondDaemonOnALiveSocketIsRefused) {
  TempDir dir;
  auto first = StartReady(dir);
  ASSERT_NE(first, nullptr);
  std::vector<std::string> args = BaseArgs(dir);
  args[1] = dir.Sub("data2");
  auto second = DaemonProcess::Start(args, dir.path());
  ASSERT_TRUE(second.ok());
  auto status = (*second)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(ExitCode(*status), 1);
  EXPECT_TRUE(
      absl::StrContains((*second)->Stderr(), "another server is listening on"))
      << (*second)->Stderr();
  // The first daemon is unaffected.
  auto health = CheckHealth(UnixChannel(dir.Sub("d.sock")), "", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
}

TEST(DaemonProcessTest, SigtermDrainsAndExitsZero) {
  TempDir dir;
  auto daemon = StartReady(dir);
  ASSERT_NE(daemon, nullptr);
  absl::Time signalled;
  {
    // A Watch call in flight across the signal sees the drain.
    auto stub =
        grpc::health::v1::Health::NewStub(UnixChannel(dir.Sub("d.sock")));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    auto reader = stub->Watch(&context, HealthCheckRequest());
    HealthCheckResponse response;
    ASSERT_TRUE(reader->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

    signalled = absl::Now();
    daemon->Signal(SIGTERM);
    // NOT_SERVING, then the end of the stream with OK: the daemon ends the
    // stream itself after the write, nothing cancels it.
    ASSERT_TRUE(reader->Read(&response)) << daemon->Stderr();
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
    EXPECT_FALSE(reader->Read(&response));
    grpc::Status end = reader->Finish();
    EXPECT_TRUE(end.ok()) << end.error_code() << " " << end.error_message();
  }
  // Leaving the block let the connection go (reader, context and channel
  // all hold it). The drain ends each connection with a graceful GOAWAY that
  // waits for the client to answer a ping; gRPC's sync client reads an idle
  // connection only at its 5 s backup poll, so a connection kept open here
  // would hold the drain that long (a client that keeps reading, as buf curl
  // does in tests/e2e, answers at once).

  auto exit_status = daemon->WaitForExit(kWait);
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_EQ(ExitCode(*exit_status), 0) << daemon->Stderr();
  // The open Watch stream did not hold the drain for the whole 10 s
  // --drain-timeout.
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(5)) << daemon->Stderr();
  EXPECT_TRUE(absl::StrContains(daemon->Stderr(), "event=drained"));
  EXPECT_FALSE(absl::StrContains(daemon->Stderr(), "drain_deadline_reached"))
      << daemon->Stderr();
  EXPECT_TRUE(ReadFile(dir.Sub("d.sock")).status().code() ==
              absl::StatusCode::kNotFound);
}

TEST(DaemonProcessTest, AWrongMasterKeyIsRefusedAtStart) {
  TempDir dir;
  {
    auto daemon = StartReady(dir);
    ASSERT_NE(daemon, nullptr);
    ASSERT_TRUE(daemon->WaitForLog("event=store_opened", kWait).ok());
    daemon->Signal(SIGTERM);
    auto exit_status = daemon->WaitForExit(kWait);
    ASSERT_TRUE(exit_status.ok());
    ASSERT_EQ(ExitCode(*exit_status), 0) << daemon->Stderr();
  }
  ASSERT_TRUE(testing::WriteFile(dir.Sub("data/secrets_zlayer.key"),
                                 std::string(32, 'k'), 0600)
                  .ok());
  auto second = DaemonProcess::Start(BaseArgs(dir), dir.path());
  ASSERT_TRUE(second.ok());
  auto exit_status = (*second)->WaitForExit(kWait);
  ASSERT_TRUE(exit_status.ok());
  EXPECT_EQ(ExitCode(*exit_status), 1);
  EXPECT_TRUE(absl::StrContains((*second)->Stderr(),
                                "master key does not match this store"))
      << (*second)->Stderr();
  // The socket of the refused daemon is gone again.
  EXPECT_FALSE(ReadFile(dir.Sub("d.sock")).ok());
}

TEST(DaemonProcessTest, SigintAlsoDrains) {
  TempDir dir;
  auto daemon = StartReady(dir);
  ASSERT_NE(daemon, nullptr);
  daemon->Signal(SIGINT);
  auto exit_status = daemon->WaitForExit(kWait);
  ASSERT_TRUE(exit_status.ok());
  EXPECT_EQ(ExitCode(*exit_status), 0) << daemon->Stderr();
}

TEST(DaemonProcessTest, TlsHandshakeWithAGeneratedCertificate) {
  TempDir dir;
  auto tls = MakeTlsMaterial(dir.path(), "a-");
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto daemon =
      StartReady(dir, {"--listen", "127.0.0.1:0", "--tls-cert",
                       tls->server_cert, "--tls-key", tls->server_key});
  ASSERT_NE(daemon, nullptr);
  int port = TcpPort(daemon.get());
  ASSERT_NE(port, 0);
  auto status = CheckHealth(TlsChannel(port, Slurp(tls->ca_cert)), "", kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, HealthCheckResponse::SERVING);

  // A plaintext client gets nothing from the TLS port.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto plain =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                grpc::InsecureChannelCredentials(), args);
  EXPECT_FALSE(CheckHealth(plain, "", absl::Seconds(2)).ok());
}

TEST(DaemonProcessTest, MutualTlsRejectsAClientWithoutACertificate) {
  TempDir dir;
  auto tls = MakeTlsMaterial(dir.path(), "m-");
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto daemon = StartReady(
      dir, {"--listen", "127.0.0.1:0", "--tls-cert", tls->server_cert,
            "--tls-key", tls->server_key, "--tls-client-ca", tls->ca_cert});
  ASSERT_NE(daemon, nullptr);
  int port = TcpPort(daemon.get());
  ASSERT_NE(port, 0);
  std::string ca = Slurp(tls->ca_cert);
  auto without = CheckHealth(TlsChannel(port, ca), "", absl::Seconds(3));
  EXPECT_FALSE(without.ok());
  auto with = CheckHealth(
      TlsChannel(port, ca, Slurp(tls->client_cert), Slurp(tls->client_key)), "",
      kWait);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(*with, HealthCheckResponse::SERVING);
}

TEST(DaemonProcessTest, SighupReloadsTheTlsFiles) {
  TempDir dir;
  auto old_tls = MakeTlsMaterial(dir.path(), "old-");
  auto new_tls = MakeTlsMaterial(dir.path(), "new-");
  ASSERT_TRUE(old_tls.ok() && new_tls.ok());
  // The daemon reads these paths; the test swaps their contents.
  std::string cert = dir.Sub("server.pem");
  std::string key = dir.Sub("server.key");
  ASSERT_TRUE(testing::WriteFile(cert, Slurp(old_tls->server_cert)).ok());
  ASSERT_TRUE(testing::WriteFile(key, Slurp(old_tls->server_key)).ok());
  auto daemon = StartReady(
      dir, {"--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key});
  ASSERT_NE(daemon, nullptr);
  int port = TcpPort(daemon.get());
  std::string old_ca = Slurp(old_tls->ca_cert);
  std::string new_ca = Slurp(new_tls->ca_cert);
  ASSERT_TRUE(CheckHealth(TlsChannel(port, old_ca), "", kWait).ok());

  // Edited in place, but not yet signalled: still the old certificate.
  ASSERT_TRUE(testing::WriteFile(cert, Slurp(new_tls->server_cert)).ok());
  ASSERT_TRUE(testing::WriteFile(key, Slurp(new_tls->server_key)).ok());
  EXPECT_TRUE(CheckHealth(TlsChannel(port, old_ca), "", kWait).ok());

  daemon->Signal(SIGHUP);
  ASSERT_TRUE(daemon->WaitForLog("event=tls_reloaded", kWait).ok())
      << daemon->Stderr();
  // gRPC's file watcher picks the staged files up within its refresh
  // interval (1 s); retry new handshakes until the deadline.
  absl::Time deadline = absl::Now() + kWait;
  bool switched = false;
  while (!switched && absl::Now() < deadline) {
    switched =
        CheckHealth(TlsChannel(port, new_ca), "", absl::Milliseconds(500)).ok();
  }
  EXPECT_TRUE(switched) << daemon->Stderr();
  EXPECT_FALSE(
      CheckHealth(TlsChannel(port, old_ca), "", absl::Seconds(2)).ok());

  // A broken file is refused and the daemon keeps serving the last good one.
  ASSERT_TRUE(testing::WriteFile(cert, "not a certificate").ok());
  daemon->Signal(SIGHUP);
  ASSERT_TRUE(daemon->WaitForLog("event=tls_reload_failed", kWait).ok());
  EXPECT_TRUE(CheckHealth(TlsChannel(port, new_ca), "", kWait).ok());
}

TEST(DaemonProcessTest, PlaintextTcpIsRefusedOnANonLoopbackAddress) {
  TempDir dir;
  std::vector<std::string> args = BaseArgs(dir);
  args.insert(args.end(), {"--listen", "0.0.0.0:0", "--insecure-loopback"});
  auto daemon = DaemonProcess::Start(args, dir.path());
  ASSERT_TRUE(daemon.ok());
  auto status = (*daemon)->WaitForExit(kWait);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(ExitCode(*status), 2);
  EXPECT_TRUE(
      absl::StrContains((*daemon)->Stderr(),
                        "plaintext TCP is refused on a non-loopback address"))
      << (*daemon)->Stderr();
  // Nothing was created.
  EXPECT_FALSE(ReadFile(dir.Sub("d.sock")).ok());
}

TEST(DaemonProcessTest, InsecureLoopbackServesPlaintextTcp) {
  TempDir dir;
  auto daemon =
      StartReady(dir, {"--listen", "127.0.0.1:0", "--insecure-loopback"});
  ASSERT_NE(daemon, nullptr);
  int port = TcpPort(daemon.get());
  ASSERT_NE(port, 0);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                grpc::InsecureChannelCredentials(), args);
  auto status = CheckHealth(channel, "", kWait);
  ASSERT_TRUE(status.ok()) << status.status();
}

TEST(DaemonProcessTest, ConfigFileAndFlagsReachTheDaemon) {
  TempDir dir;
  std::string config = dir.Sub("zs.conf");
  ASSERT_TRUE(testing::WriteFile(config,
                                 "deployment = fromfile\n"
                                 "log-level = debug\n")
                  .ok());
  auto daemon = StartReady(dir, {"--config", config, "--deployment=fromflag"});
  ASSERT_NE(daemon, nullptr);
  auto line = daemon->WaitForLog("event=master_key", kWait);
  ASSERT_TRUE(line.ok());
  EXPECT_TRUE(absl::StrContains(*line, "deployment=fromflag")) << *line;
  EXPECT_TRUE(ReadFile(dir.Sub("data/secrets_fromflag.key")).ok());
}

TEST(DaemonProcessTest, BadFlagsHelpAndVersion) {
  std::string out;
  auto rc = RunProgram({testing::DaemonBinaryPath(), "--frobnicate"}, &out);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2);
  EXPECT_EQ(out, "zlayer-secretsd: unknown flag --frobnicate (see --help)\n");

  out.clear();
  rc = RunProgram({testing::DaemonBinaryPath(), "--help"}, &out);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0);
  EXPECT_TRUE(absl::StrContains(out, "--tls-client-ca"));

  out.clear();
  rc = RunProgram({testing::DaemonBinaryPath(), "--version"}, &out);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0);
  EXPECT_TRUE(absl::StartsWith(out, "zlayer-secretsd "));
}

}  // namespace
}  // namespace zlayer::secrets
