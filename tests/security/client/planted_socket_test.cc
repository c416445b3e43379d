// Issue 18, item 1: a planted socket. An attacker serves the Secrets API on
// a socket of their own and gets a client to dial it: through a
// `.data/zlayer-secretsd.sock` symlink carried by a repository, a socket
// owned by another uid, or a socket in a directory everyone can write. The
// fake server here answers every value with its own and ResolveEnv with an
// extra LD_PRELOAD, and records every RPC it receives; the real CLI and
// credential helpers must not reach it, and `run` must not pass on keys it
// did not ask for.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/secrets_client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_interceptor.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using testing::Runfile;
using testing::RunProcess;
using testing::TempDir;
using testing::WriteFile;

constexpr char kPlantedValue[] = "attacker-chosen-value";
constexpr char kInjectedPreload[] = "/nonexistent/zs-evil-preload.so";

// Every RPC the fake server sees, by method name.
class CallLog {
 public:
  void Add(const std::string& method) {
    absl::MutexLock lock(&mu_);
    methods_.push_back(method);
  }
  std::vector<std::string> methods() const {
    absl::MutexLock lock(&mu_);
    return methods_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> methods_ ABSL_GUARDED_BY(mu_);
};

class RecordingInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }
};

class RecordingFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RecordingFactory(CallLog* log) : log_(log) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    log_->Add(info->method());
    return new RecordingInterceptor();
  }

 private:
  CallLog* log_;
};

// The attacker's Secrets service: its own value for every read, every
// requested key plus LD_PRELOAD for ResolveEnv. Writes are accepted (and
// their values would be the attacker's to keep).
class AttackerSecrets final : public v1::Secrets::Service {
 public:
  grpc::Status GetSecret(grpc::ServerContext*, const v1::GetSecretRequest*,
                         v1::GetSecretResponse* response) override {
    response->set_value(kPlantedValue);
    response->set_version(1);
    return grpc::Status::OK;
  }
  grpc::Status SetSecret(grpc::ServerContext*, const v1::SetSecretRequest*,
                         v1::SetSecretResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status ResolveEnv(grpc::ServerContext*,
                          const v1::ResolveEnvRequest* request,
                          v1::ResolveEnvResponse* response) override {
    for (const auto& [key, value] : request->env()) {
      (*response->mutable_env())[key] = absl::StrCat("resolved-", key);
    }
    (*response->mutable_env())["LD_PRELOAD"] = kInjectedPreload;
    (*response->mutable_env())["ZS_INJECTED"] = "by-the-server";
    return grpc::Status::OK;
  }
};

class AttackerAdmin final : public v1::Admin::Service {
 public:
  grpc::Status GetGitCredential(
      grpc::ServerContext*, const v1::GetGitCredentialRequest*,
      v1::GetGitCredentialResponse* response) override {
    response->mutable_credential()->set_username("attacker");
    response->set_value(kPlantedValue);
    return grpc::Status::OK;
  }
};

// A fake zlayer-secretsd listening on `socket_path` (created by gRPC, owned
// by the test's uid).
class FakeDaemon {
 public:
  explicit FakeDaemon(const std::string& socket_path) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path,
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&secrets_);
    builder.RegisterService(&admin_);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        factories;
    factories.push_back(std::make_unique<RecordingFactory>(&log_));
    builder.experimental().SetInterceptorCreators(std::move(factories));
    server_ = builder.BuildAndStart();
  }
  ~FakeDaemon() {
    if (server_ != nullptr) server_->Shutdown();
  }
  bool started() const { return server_ != nullptr; }
  std::vector<std::string> calls() const { return log_.methods(); }

 private:
  CallLog log_;
  AttackerSecrets secrets_;
  AttackerAdmin admin_;
  std::unique_ptr<grpc::Server> server_;
};

// A uid no account uses, for a socket owned by "someone else".
uid_t UnusedUid() {
  for (uid_t uid = 47000; uid < 48000; ++uid) {
    if (::getpwuid(uid) == nullptr) return uid;
  }
  return 47999;
}

std::vector<std::string> BaseEnv(const std::string& home) {
  return {"PATH=/usr/bin:/bin", "HOME=" + home};
}

// The real binary `name` (client/...) run in `cwd`.
ProcessResult RunIn(const std::string& cwd, const std::string& name,
                    std::vector<std::string> args, const std::string& input,
                    std::vector<std::string> env) {
  std::vector<std::string> argv = {"/usr/bin/env", "-C", cwd,
                                   Runfile("client/" + name)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, input, env);
}

class PlantedSocketTest : public ::testing::Test {
 protected:
  // The attacker's socket in a directory of the test's (trusted) user.
  void SetUp() override {
    ASSERT_EQ(::mkdir(dir_.Sub("evil").c_str(), 0755), 0);
    socket_ = dir_.Sub("evil/s.sock");
    fake_ = std::make_unique<FakeDaemon>(socket_);
    ASSERT_TRUE(fake_->started());
    ASSERT_EQ(::mkdir(dir_.Sub("repo").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(dir_.Sub("repo/app.env"), "DB=$S:db\n").ok());
  }

  ProcessResult Cli(std::vector<std::string> args,
                    const std::string& input = "",
                    std::vector<std::string> extra_env = {}) {
    std::vector<std::string> env = BaseEnv(dir_.path());
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return RunIn(dir_.Sub("repo"), "zlayer-secret", std::move(args), input,
                 env);
  }

  TempDir dir_;
  std::string socket_;
  std::unique_ptr<FakeDaemon> fake_;
};

TEST_F(PlantedSocketTest, DataSocketInTheWorkingDirectoryIsNeverDialled) {
  // The repository carries .data/zlayer-secretsd.sock -> the attacker.
  ASSERT_EQ(::mkdir(dir_.Sub("repo/.data").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(socket_.c_str(),
                      dir_.Sub("repo/.data/zlayer-secretsd.sock").c_str()),
            0);
  const std::vector<std::string> quick = {"--timeout", "1s"};

  std::vector<std::string> get = {"get", "db", "--reveal"};
  get.insert(get.end(), quick.begin(), quick.end());
  ProcessResult got = Cli(get);
  EXPECT_NE(got.exit_code, 0) << got.out << got.err;
  EXPECT_THAT(got.out + got.err, Not(HasSubstr(kPlantedValue)));

  std::vector<std::string> create = {"create", "db", "--from-stdin"};
  create.insert(create.end(), quick.begin(), quick.end());
  ProcessResult created = Cli(create, "typed-into-create\n");
  EXPECT_NE(created.exit_code, 0) << created.out << created.err;

  std::vector<std::string> run = {"run", "--env-file", "app.env"};
  run.insert(run.end(), quick.begin(), quick.end());
  run.insert(run.end(), {"--", "/usr/bin/env"});
  ProcessResult ran = Cli(run);
  EXPECT_NE(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_THAT(ran.out, Not(HasSubstr("LD_PRELOAD")));

  std::vector<std::string> env = BaseEnv(dir_.path());
  ProcessResult git = RunIn(dir_.Sub("repo"), "git-credential-zlayer",
                            {"--timeout", "1", "get"},
                            "protocol=https\nhost=github.com\n\n", env);
  EXPECT_THAT(git.out, Not(HasSubstr(kPlantedValue)));
  ProcessResult git_store = RunIn(
      dir_.Sub("repo"), "git-credential-zlayer", {"--timeout", "1", "store"},
      "protocol=https\nhost=github.com\nusername=u\npassword=pw\n\n", env);
  ProcessResult docker = RunIn(dir_.Sub("repo"), "docker-credential-zlayer",
                               {"--timeout", "1", "get"}, "ghcr.io\n", env);
  EXPECT_THAT(docker.out, Not(HasSubstr(kPlantedValue)));

  EXPECT_THAT(fake_->calls(), ::testing::IsEmpty())
      << "a client dialled the socket planted in its working directory";
}

TEST_F(PlantedSocketTest, SocketOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to give the socket to another uid; skipped";
  }
  const uid_t other = UnusedUid();
  ASSERT_EQ(::lchown(socket_.c_str(), other, other), 0);

  // --socket, and the environment variable.
  ProcessResult flag = Cli({"--socket", socket_, "get", "db", "--reveal"});
  // 4: permission denied (client/cli/exit_codes.h).
  EXPECT_EQ(flag.exit_code, 4) << flag.out << flag.err;
  EXPECT_THAT(flag.err, HasSubstr("refusing socket '" + socket_ + "'"));
  EXPECT_THAT(flag.err, HasSubstr(absl::StrCat("owned by uid ", other)));
  EXPECT_THAT(flag.out, Not(HasSubstr(kPlantedValue)));
  ProcessResult var = Cli({"create", "db", "--from-stdin"}, "typed\n",
                          {"ZLAYER_SECRETS_SOCKET=" + socket_});
  // 4: permission denied (client/cli/exit_codes.h).
  EXPECT_EQ(var.exit_code, 4) << var.out << var.err;
  EXPECT_THAT(var.err, HasSubstr("refusing socket"));
  ProcessResult git = RunIn(
      dir_.Sub("repo"), "git-credential-zlayer", {"--socket", socket_, "get"},
      "protocol=https\nhost=github.com\n\n", BaseEnv(dir_.path()));
  EXPECT_EQ(git.exit_code, 1);
  EXPECT_THAT(git.err, HasSubstr("refusing socket"));
  EXPECT_THAT(git.out, Not(HasSubstr(kPlantedValue)));

  // The library refuses it too, before any channel exists.
  ClientOptions options;
  options.address = "unix:" + socket_;
  EXPECT_EQ(SecretsClient::Connect(std::move(options)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(fake_->calls(), ::testing::IsEmpty());

  // Naming that uid as the daemon's user is what makes it trusted.
  ProcessResult trusted =
      Cli({"--socket", socket_, "get", "db", "--reveal"}, "",
          {absl::StrCat("ZLAYER_SECRETS_DAEMON_USER=", other)});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_THAT(fake_->calls(),
              ::testing::ElementsAre("/zlayer.secrets.v1.Secrets/GetSecret"));
}

TEST_F(PlantedSocketTest, SocketInADirectoryEveryoneCanWriteIsRefused) {
  ASSERT_EQ(::mkdir(dir_.Sub("open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir_.Sub("open").c_str(), 0777), 0);  // past the umask
  const std::string open_socket = dir_.Sub("open/s.sock");
  FakeDaemon in_open(open_socket);
  ASSERT_TRUE(in_open.started());

  ProcessResult direct =
      Cli({"--socket", open_socket, "get", "db", "--reveal"});
  // 4: permission denied (client/cli/exit_codes.h).
  EXPECT_EQ(direct.exit_code, 4) << direct.out << direct.err;
  EXPECT_THAT(direct.err, HasSubstr("directory '" + dir_.Sub("open") +
                                    "' (mode 0777) is writable by every user"));
  // A symlink in a trusted directory does not launder it: the real path is
  // what is checked.
  const std::string link = dir_.Sub("repo/link.sock");
  ASSERT_EQ(::symlink(open_socket.c_str(), link.c_str()), 0);
  ProcessResult via_link = Cli({"--socket", link, "get", "db", "--reveal"});
  // 4: permission denied (client/cli/exit_codes.h).
  EXPECT_EQ(via_link.exit_code, 4) << via_link.out << via_link.err;
  EXPECT_THAT(via_link.err, HasSubstr("(-> " + open_socket + ")"));
  EXPECT_THAT(via_link.err, HasSubstr("writable by every user"));
  EXPECT_THAT(in_open.calls(), ::testing::IsEmpty());

  // Not yet there: nobody else may be able to create it later either.
  ProcessResult missing =
      Cli({"--socket", dir_.Sub("open/later.sock"), "get", "db", "--reveal"});
  EXPECT_EQ(missing.exit_code, 4);  // permission denied
  EXPECT_THAT(missing.err, HasSubstr("writable by every user"));

  // The sticky bit (as on /tmp) keeps others from replacing our socket.
  ASSERT_EQ(::chmod(dir_.Sub("open").c_str(), 01777), 0);
  ProcessResult sticky =
      Cli({"--socket", open_socket, "get", "db", "--reveal"});
  EXPECT_EQ(sticky.exit_code, 0) << sticky.err;
  EXPECT_EQ(in_open.calls().size(), 1u);
}

TEST_F(PlantedSocketTest, RunPassesOnlyTheRequestedKeysToTheChild) {
  // A server the client trusts but which answers with more than it was
  // asked: the child gets DB and nothing else from it.
  ProcessResult ran = Cli({"--socket", socket_, "run", "--env-file", "app.env",
                           "--", "/usr/bin/env"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("\nDB=resolved-DB\n"));
  EXPECT_THAT(ran.out, Not(HasSubstr("LD_PRELOAD")));
  EXPECT_THAT(ran.out, Not(HasSubstr("ZS_INJECTED")));
  EXPECT_THAT(ran.err, HasSubstr("ignoring 'LD_PRELOAD'"));
  EXPECT_THAT(fake_->calls(),
              ::testing::ElementsAre("/zlayer.secrets.v1.Secrets/ResolveEnv"));
}

}  // namespace
}  // namespace zlayer::secrets
