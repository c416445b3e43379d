#include "daemon/transport/unix_listener.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "daemon/transport/caller_identity.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::IdentifyRequest;
using ::zlayer::secrets::testing::IdentifyResponse;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::TestingService;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// A gRPC server without listening ports, fed by a UnixListener, with the
// test service answering through a UnixPeerIdentifier.
class ListenerServer {
 public:
  explicit ListenerServer(const std::string& path,
                          UnixListenerOptions options = UnixListenerOptions()) {
    options.path = path;
    auto listener = UnixListener::Create(options);
    EXPECT_TRUE(listener.ok()) << listener.status();
    if (!listener.ok()) return;
    listener_ = *std::move(listener);
    identifier_ = std::make_unique<UnixPeerIdentifier>(listener_.get());
    service_ = std::make_unique<TestingService>(identifier_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_TRUE(listener_->Start(server_.get()).ok());
  }
  ~ListenerServer() {
    if (listener_ != nullptr) listener_->Stop();
    if (server_ != nullptr) server_->Shutdown();
  }
  UnixListener* listener() { return listener_.get(); }

 private:
  std::unique_ptr<UnixListener> listener_;
  std::unique_ptr<UnixPeerIdentifier> identifier_;
  std::unique_ptr<TestingService> service_;
  std::unique_ptr<grpc::Server> server_;
};

IdentifyResponse Identify(const std::string& socket_path) {
  auto stub = zlayer::secrets::testing::DaemonTesting::NewStub(
      UnixChannel(socket_path));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  IdentifyResponse response;
  grpc::Status status = stub->Identify(&context, IdentifyRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

TEST(UnixListenerTest, HandlerSeesUidGidPidOfTheCallingProcess) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  ListenerServer server(path);
  IdentifyResponse who = Identify(path);
  // gRPC 1.51's peer format for fd channels; the mechanism depends on it.
  EXPECT_TRUE(absl::StartsWith(who.peer(), "fd:")) << who.peer();
  ASSERT_TRUE(who.identified()) << who.error();
  EXPECT_EQ(who.uid(), static_cast<int64_t>(getuid()));
  EXPECT_EQ(who.gid(), static_cast<int64_t>(getgid()));
  EXPECT_EQ(who.pid(), static_cast<int64_t>(getpid()));
  EXPECT_EQ(who.subject(), "uid:" + std::to_string(getuid()));
}

// Connects from a forked child that exits at once, so the next connection
// may get the same fd number in the server with a different owner.
pid_t ConnectFromChild(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  pid_t child = fork();
  if (child == 0) {
    // Only async-signal-safe calls after fork() in a threaded process.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      _exit(1);
    }
    _exit(0);
  }
  return child;
}

TEST(UnixListenerTest, ReusedFdNumbersMapToTheirNewConnection) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  ListenerServer server(path);
  std::set<std::string> peers;
  constexpr int kConnections = 300;
  for (int i = 0; i < kConnections; ++i) {
    if (i % 3 == 0) {
      pid_t child = ConnectFromChild(path);
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    IdentifyResponse who = Identify(path);  // a new channel each time
    ASSERT_TRUE(who.identified()) << "connection " << i << ": " << who.error();
    ASSERT_EQ(who.pid(), static_cast<int64_t>(getpid()))
        << "connection " << i << " on " << who.peer()
        << " saw another connection's credentials";
    peers.insert(who.peer());
  }
  // The numbers really were reused.
  EXPECT_LT(peers.size(), static_cast<size_t>(kConnections / 4));
  EXPECT_GE(server.listener()->accepted_connections(),
            static_cast<uint64_t>(kConnections + kConnections / 3));
}

TEST(UnixListenerTest, SocketIs0660AndCreatedParentIs0750) {
  TempDir dir;
  std::string path = dir.Sub("run/d.sock");
  ListenerServer server(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_EQ(stat(dir.Sub("run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST(UnixListenerTest, StaleSocketFileIsReplaced) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  {
    // Bound but never listening, then closed: what a crashed daemon leaves.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  ListenerServer server(path);
  ASSERT_NE(server.listener(), nullptr);
  EXPECT_TRUE(Identify(path).identified());
}

TEST(UnixListenerTest, LiveSocketIsRefused) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  ListenerServer first(path);
  UnixListenerOptions options;
  options.path = path;
  auto second = UnixListener::Create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  // The first one still answers.
  EXPECT_TRUE(Identify(path).identified());
}

TEST(UnixListenerTest, NonSocketFileIsNotReplaced) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  ASSERT_TRUE(zlayer::secrets::testing::WriteFile(path, "data").ok());
  UnixListenerOptions options;
  options.path = path;
  auto listener = UnixListener::Create(options);
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(zlayer::secrets::testing::ReadFile(path).ok());
}

TEST(UnixListenerTest, TooLongPathIsInvalidArgument) {
  UnixListenerOptions options;
  options.path = "/tmp/" + std::string(200, 'x');
  auto listener = UnixListener::Create(options);
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UnixListenerTest, StopRemovesTheSocketFile) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  UnixListenerOptions options;
  options.path = path;
  auto listener = UnixListener::Create(options);
  ASSERT_TRUE(listener.ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  (*listener)->Stop();
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(UnixListenerTest, PeerOfUnknownOrForeignPeerIsEmpty) {
  TempDir dir;
  UnixListenerOptions options;
  options.path = dir.Sub("d.sock");
  auto listener = UnixListener::Create(options);
  ASSERT_TRUE(listener.ok());
  EXPECT_FALSE((*listener)->PeerOf("fd:3").has_value());
  EXPECT_FALSE((*listener)->PeerOf("ipv4:127.0.0.1:5000").has_value());
  EXPECT_FALSE((*listener)->PeerOf("fd:x").has_value());
}

}  // namespace
}  // namespace zlayer::secrets

namespace zlayer::secrets {
namespace {

// A raw connection, and whether the listener kept it: kept ones receive the
// server's HTTP/2 SETTINGS, refused ones are closed at once (EOF).
struct RawConnection {
  int fd = -1;
  bool kept = false;
};

RawConnection Connect(const std::string& path) {
  RawConnection c;
  c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  EXPECT_EQ(connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  pollfd p{c.fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 10000), 1) << "neither data nor EOF within 10 s";
  char buf[256];
  c.kept = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
  return c;
}

void CloseAll(std::vector<RawConnection>* connections) {
  for (RawConnection& c : *connections) close(c.fd);
  connections->clear();
}

TEST(UnixListenerCapTest, PerUidCapClosesTheConnectionBeyondIt) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  UnixListenerOptions options;
  options.max_connections_per_uid = 3;
  ListenerServer server(path, options);
  std::vector<RawConnection> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect(path));
    EXPECT_TRUE(held.back().kept) << "connection " << i;
  }
  RawConnection extra = Connect(path);
  EXPECT_FALSE(extra.kept);
  close(extra.fd);
  EXPECT_EQ(server.listener()->refused_connections(), 1u);
  CloseAll(&held);
}

TEST(UnixListenerCapTest, ReserveIsKeptForAdministrators) {
  TempDir dir;
  std::string path = dir.Sub("d.sock");
  bool caller_is_admin = false;
  UnixListenerOptions options;
  options.max_connections = 4;
  options.admin_reserve = 2;
  options.is_admin = [&caller_is_admin](uid_t) { return caller_is_admin; };
  ListenerServer server(path, options);
  std::vector<RawConnection> held;
  held.push_back(Connect(path));
  held.push_back(Connect(path));
  EXPECT_TRUE(held[0].kept && held[1].kept);
  RawConnection third = Connect(path);
  EXPECT_FALSE(third.kept) << "a non-administrator got into the reserve";
  close(third.fd);
  caller_is_admin = true;
  held.push_back(Connect(path));
  held.push_back(Connect(path));
  EXPECT_TRUE(held[2].kept && held[3].kept) << "the reserve was not kept";
  RawConnection fifth = Connect(path);
  EXPECT_FALSE(fifth.kept) << "beyond --max-connections";
  close(fifth.fd);
  CloseAll(&held);
}

}  // namespace
}  // namespace zlayer::secrets
