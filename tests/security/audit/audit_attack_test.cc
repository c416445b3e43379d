// Issue 18 items 8, 9 and 10 performed against the real zlayer-secretsd:
// name leaks through hashed audit records, grant edges (prefix grants on the
// credential scopes, environment grants on foreign raw scopes, the
// credential-id existence oracle), and audit accuracy (the status the client
// saw, refusals before any handler, coalescing, fail-closed API keys).
//
// The denied-caller parts run a small client (audit_peer) as a second local
// user through setpriv, as tests/identity does; they need root to create
// that user and skip with a message otherwise.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/local_user.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::Runfile;
using testing::RunProgram;
using testing::TempDir;

constexpr char kPeerUser[] = "zs-test-peer";
const absl::Duration kStartTimeout = absl::Seconds(30);

using Peer = testing::LocalUser;

// One RPC's outcome as audit_peer printed it.
struct PeerResult {
  int code = -1;
  std::string message;
  std::string extra;
};

// The daemon on a fresh directory another local user can reach (directory
// 0755, socket 0666: access control is under test, not the file mode).
class Daemon {
 public:
  static std::unique_ptr<Daemon> Start(std::vector<std::string> extra = {}) {
    auto d = std::unique_ptr<Daemon>(new Daemon());
    EXPECT_EQ(chmod(d->dir_.path().c_str(), 0755), 0);
    std::vector<std::string> args = {"--data-dir",  d->dir_.Sub("data"),
                                     "--socket",    d->socket(),
                                     "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc =
        DaemonProcess::Start(args, d->dir_.path());
    EXPECT_TRUE(proc.ok()) << proc.status();
    if (!proc.ok()) return nullptr;
    d->proc_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        d->proc_->WaitForLog("event=ready", kStartTimeout);
    EXPECT_TRUE(ready.ok()) << ready.status() << "\n" << d->proc_->Stderr();
    if (!ready.ok()) return nullptr;
    EXPECT_EQ(chmod(d->dir_.Sub("s").c_str(), 0755), 0);
    EXPECT_EQ(chmod(d->socket().c_str(), 0666), 0);
    // The runfiles tree under /root is not traversable by the peer.
    std::string out;
    EXPECT_EQ(
        *RunProgram({"/bin/cp", Runfile("tests/security/audit/audit_peer"),
                     d->peer_binary()},
                    &out),
        0)
        << out;
    EXPECT_EQ(chmod(d->peer_binary().c_str(), 0755), 0);
    d->channel_ = testing::UnixChannel(d->socket());
    d->secrets_ = v1::Secrets::NewStub(d->channel_);
    d->admin_ = v1::Admin::NewStub(d->channel_);
    return d;
  }

  std::string socket() const { return dir_.Sub("s/d.sock"); }
  std::string audit_log() const { return dir_.Sub("data/audit.log"); }
  std::string peer_binary() const { return dir_.Sub("audit_peer"); }
  DaemonProcess* process() { return proc_.get(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::Secrets::Stub* secrets() { return secrets_.get(); }
  v1::Admin::Stub* admin() { return admin_.get(); }

  std::string Audit() const {
    absl::StatusOr<std::string> all = ReadFile(audit_log());
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : "";
  }
  // The audit lines whose text holds every one of `parts`.
  std::vector<std::string> AuditLines(
      const std::vector<std::string>& parts) const {
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(Audit(), '\n')) {
      bool all = !line.empty();
      for (const std::string& p : parts) all &= absl::StrContains(line, p);
      if (all) out.emplace_back(line);
    }
    return out;
  }

  // audit_peer as `peer` (real and effective ids, no supplementary groups).
  PeerResult AsPeer(const Peer& peer, std::vector<std::string> args) const {
    std::vector<std::string> all = {"/usr/bin/setpriv",
                                    absl::StrCat("--reuid=", peer.uid),
                                    absl::StrCat("--regid=", peer.gid),
                                    "--clear-groups",
                                    "--",
                                    peer_binary(),
                                    socket()};
    all.insert(all.end(), args.begin(), args.end());
    std::string output;
    absl::StatusOr<int> exit = RunProgram(all, &output);
    EXPECT_TRUE(exit.ok() && *exit == 0) << output;
    PeerResult r;
    std::vector<std::string> lines = absl::StrSplit(output, '\n');
    if (!lines.empty()) {
      std::vector<std::string> first = absl::StrSplit(lines[0], '\t');
      if (first.size() == 2 && absl::SimpleAtoi(first[0], &r.code)) {
        r.message = first[1];
      }
    }
    if (lines.size() > 1) r.extra = lines[1];
    return r;
  }

 private:
  Daemon() = default;
  TempDir dir_;
  std::unique_ptr<DaemonProcess> proc_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Secrets::Stub> secrets_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return c;
}

grpc::Status SetSecret(Daemon* d, const std::string& scope,
                       const std::string& name, const std::string& value) {
  v1::SetSecretRequest req;
  req.mutable_target()->set_scope(scope);
  req.set_name(name);
  req.set_value(value);
  v1::SetSecretResponse resp;
  return d->secrets()->SetSecret(Ctx().get(), req, &resp);
}

v1::Environment CreateEnvironment(Daemon* d, const std::string& name,
                                  const std::string& project) {
  v1::CreateEnvironmentRequest req;
  req.set_name(name);
  req.set_project(project);
  v1::Environment env;
  grpc::Status s = d->admin()->CreateEnvironment(Ctx().get(), req, &env);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return env;
}

void Grant(Daemon* d, const std::string& subject, v1::ResourceKind kind,
           const std::string& id, const std::string& name,
           v1::AccessLevel level) {
  v1::GrantRequest req;
  req.set_subject(subject);
  req.mutable_resource()->set_kind(kind);
  req.mutable_resource()->set_id(id);
  req.mutable_resource()->set_name(name);
  req.set_level(level);
  v1::AccessGrant grant;
  grpc::Status s = d->admin()->Grant(Ctx().get(), req, &grant);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

grpc::Status RawCall(Daemon* d, const std::string& method,
                     const std::string& body) {
  grpc::GenericStub stub(d->channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

class PeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Peer> peer = testing::EnsureLocalUser(kPeerUser);
    if (!peer.ok()) GTEST_SKIP() << peer.status().message();
    peer_ = *peer;
    subject_ = absl::StrCat("uid:", peer_.uid);
  }
  Peer peer_;
  std::string subject_;
};

// ---------------------------------------------------------------------------
// Item 8: with --audit-hash-names no scope or name reaches the audit file,
// also not through batch calls' messages ("secret 'X' not found",
// "lacks execute on p/Y").

TEST_F(PeerTest, HashedAuditHoldsNoScopeOrNameOfBatchCalls) {
  std::unique_ptr<Daemon> d = Daemon::Start({"--audit-hash-names"});
  ASSERT_NE(d, nullptr);
  // Canaries: every scope and name below must stay out of the audit file.
  const v1::Environment granted =
      CreateEnvironment(d.get(), "zqgrantedenv", "");
  const v1::Environment denied = CreateEnvironment(d.get(), "zqdeniedenv", "");
  ASSERT_TRUE(SetSecret(d.get(), granted.scope(), "zqokname", "v1").ok());
  ASSERT_TRUE(SetSecret(d.get(), denied.scope(), "zqdeniedname", "v2").ok());
  ASSERT_TRUE(SetSecret(d.get(), "zqrawscope", "zqrawname", "v3").ok());
  Grant(d.get(), subject_, v1::RESOURCE_KIND_ENVIRONMENT, granted.id(), "",
        v1::ACCESS_LEVEL_EXECUTE);
  Grant(d.get(), subject_, v1::RESOURCE_KIND_SECRET, "zqrawscope", "zqrawname",
        v1::ACCESS_LEVEL_READ);

  // ResolveEnv: one missing, one denied entry.
  PeerResult r = d->AsPeer(peer_, {"resolve", "A=$S::zqgrantedenv/zqokname",
                                   "B=$S::zqgrantedenv/zqmissingname",
                                   "C=$S::zqdeniedenv/zqdeniedname"});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.message, HasSubstr("zqmissingname"));  // the caller sees it
  EXPECT_THAT(r.message, HasSubstr("lacks execute"));
  // GetSecrets: a denied name, then a missing one.
  r = d->AsPeer(peer_,
                {"get-secrets", "zqrawscope", "zqrawname", "zqdeniedname2"});
  EXPECT_EQ(r.code, 7) << r.message;
  r = d->AsPeer(peer_, {"get-secrets", "zqrawscope", "zqrawname"});
  EXPECT_EQ(r.code, 0) << r.message;
  // CheckEnv with missing and denied entries.
  r = d->AsPeer(
      peer_, {"check", "A=$S::zqgrantedenv/zqmissingname",
              "C=$S::zqdeniedenv/zqdeniedname", "D=$S::zqnoenv/zqnoenvname"});
  EXPECT_EQ(r.code, 0) << r.message;
  EXPECT_EQ(r.extra, "ok=0");
  // The administrator's own batch with a missing name.
  v1::ResolveEnvRequest req;
  (*req.mutable_env())["X"] = "$S:zqadminmissing";
  req.mutable_context()->set_deployment("zqrawscope");
  v1::ResolveEnvResponse resp;
  EXPECT_FALSE(d->secrets()->ResolveEnv(Ctx().get(), req, &resp).ok());

  const std::string audit = d->Audit();
  ASSERT_THAT(audit, HasSubstr("\"rpc\":\"ResolveEnv\""));
  ASSERT_THAT(audit, HasSubstr("\"rpc\":\"CheckEnv\""));
  ASSERT_THAT(audit, HasSubstr("\"rpc\":\"GetSecrets\""));
  for (const char* canary :
       {"zqgrantedenv", "zqdeniedenv", "zqokname", "zqdeniedname",
        "zqmissingname", "zqrawscope", "zqrawname", "zqnoenv", "zqnoenvname",
        "zqadminmissing"}) {
    EXPECT_THAT(audit, Not(HasSubstr(canary))) << canary;
  }
  // The records are still there, with hashes in place of names.
  EXPECT_FALSE(d->AuditLines({"\"rpc\":\"GetSecrets\"", "\"code\":\"OK\"",
                              "\"targets\":[\"h:"})
                   .empty())
      << audit;
  EXPECT_FALSE(d->AuditLines({"\"rpc\":\"ResolveEnv\"", subject_}).empty());
}

// ---------------------------------------------------------------------------
// Item 9: grant edges.

TEST_F(PeerTest, PrefixGrantsDoNotReachCredentialsAndIdsAreNoOracle) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  v1::CreateRegistryCredentialRequest reg;
  reg.set_registry("zqregistry.example");
  reg.set_username("u");
  reg.set_password("zq-registry-password");
  v1::RegistryCredential reg_made;
  ASSERT_TRUE(
      d->admin()->CreateRegistryCredential(Ctx().get(), reg, &reg_made).ok());
  v1::CreateGitCredentialRequest git;
  git.set_name("tok");
  git.set_value("zq-git-token");
  git.set_host("zqgit.example");
  v1::GitCredential git_made;
  ASSERT_TRUE(
      d->admin()->CreateGitCredential(Ctx().get(), git, &git_made).ok());

  // Broad grants: a prefix that matches "credentials:...", and everything.
  Grant(d.get(), subject_, v1::RESOURCE_KIND_SCOPE, "c*", "",
        v1::ACCESS_LEVEL_WRITE);
  Grant(d.get(), subject_, v1::RESOURCE_KIND_SCOPE, "*", "",
        v1::ACCESS_LEVEL_WRITE);
  Grant(d.get(), subject_, v1::RESOURCE_KIND_SECRET, "", "",
        v1::ACCESS_LEVEL_WRITE);
  EXPECT_EQ(d->AsPeer(peer_, {"registry-by-host", "zqregistry.example"}).code,
            7);
  EXPECT_EQ(d->AsPeer(peer_, {"git-by-host", "zqgit.example"}).code, 7);

  // By id: a real id the caller may not read and an unknown id answer alike.
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  for (const auto& [command, real_id] :
       std::vector<std::pair<std::string, std::string>>{
           {"registry-by-id", reg_made.id()}, {"git-by-id", git_made.id()}}) {
    SCOPED_TRACE(command);
    PeerResult real = d->AsPeer(peer_, {command, real_id});
    PeerResult missing = d->AsPeer(peer_, {command, unknown});
    EXPECT_EQ(real.code, 7) << real.message;
    EXPECT_EQ(missing.code, real.code) << missing.message;
    EXPECT_EQ(absl::StrReplaceAll(real.message, {{real_id, "<id>"}}),
              absl::StrReplaceAll(missing.message, {{unknown, "<id>"}}));
    EXPECT_THAT(real.message, Not(HasSubstr(".example")));
  }

  // A grant naming the credential resource exactly does work.
  Grant(d.get(), subject_, v1::RESOURCE_KIND_SECRET, "credentials:registry",
        "zqregistry.example", v1::ACCESS_LEVEL_READ);
  PeerResult ok = d->AsPeer(peer_, {"registry-by-id", reg_made.id()});
  EXPECT_EQ(ok.code, 0) << ok.message;
  EXPECT_EQ(ok.extra, "id=" + reg_made.id()) << ok.message << "\n"
                                             << d->Audit();
  // ... while an unknown id still reads as a denial to this caller, who may
  // read one registry's credential but not every one.
  EXPECT_EQ(d->AsPeer(peer_, {"registry-by-id", unknown}).code, 7);
  // An administrator learns NOT_FOUND.
  v1::GetRegistryCredentialRequest by_id;
  by_id.set_id(unknown);
  v1::GetRegistryCredentialResponse got;
  EXPECT_EQ(
      d->admin()->GetRegistryCredential(Ctx().get(), by_id, &got).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(PeerTest, EnvironmentGrantDoesNotCoverForeignRawScopes) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  const v1::Environment env = CreateEnvironment(d.get(), "prodenv", "p1");
  ASSERT_EQ(env.scope(), "project:p1:env:" + env.id());
  const std::string foreign = "project:evil:env:" + env.id();
  const std::string bare = "env:" + env.id();
  ASSERT_TRUE(SetSecret(d.get(), env.scope(), "own", "v").ok());
  ASSERT_TRUE(SetSecret(d.get(), foreign, "planted", "v").ok());
  ASSERT_TRUE(SetSecret(d.get(), bare, "planted", "v").ok());
  Grant(d.get(), subject_, v1::RESOURCE_KIND_ENVIRONMENT, env.id(), "",
        v1::ACCESS_LEVEL_WRITE);

  PeerResult own = d->AsPeer(peer_, {"get", env.scope(), "own"});
  EXPECT_EQ(own.code, 0) << own.message;
  for (const std::string& scope : {foreign, bare}) {
    PeerResult r = d->AsPeer(peer_, {"get", scope, "planted"});
    EXPECT_EQ(r.code, 7) << scope << ": " << r.message;
    EXPECT_THAT(r.message, HasSubstr("lacks read on " + scope));
  }
}

// ---------------------------------------------------------------------------
// Item 10: audit accuracy.

// A response over the send limit: gRPC refused it, the record said OK.
// (ResolveEnv and GetSecrets refuse such answers themselves before building
// them, --max-response-bytes; an export is bounded only by gRPC's limit.)
TEST(AuditAccuracyTest, RefusedResponseIsRecordedWithTheClientsStatus) {
  std::unique_ptr<Daemon> d = Daemon::Start(
      {"--max-message-bytes", "65536", "--max-response-bytes", "60000"});
  ASSERT_NE(d, nullptr);
  const std::string value(30000, 'x');
  for (const char* name : {"big1", "big2", "big3"}) {
    ASSERT_TRUE(SetSecret(d.get(), "bigscope", name, value).ok());
  }
  v1::ExportSecretsRequest export_req;
  export_req.mutable_target()->set_scope("bigscope");
  v1::ExportSecretsResponse exported;
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "zq-big-export");
  grpc::Status s = d->secrets()->ExportSecrets(&context, export_req, &exported);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_TRUE(exported.content().empty());
  std::vector<std::string> lines = d->AuditLines({"zq-big-export"});
  ASSERT_EQ(lines.size(), 1u) << d->Audit();
  EXPECT_THAT(lines[0], HasSubstr("\"code\":\"RESOURCE_EXHAUSTED\""));
  EXPECT_THAT(lines[0], Not(HasSubstr("\"code\":\"OK\"")));
  // A response that fits is still served and recorded OK.
  v1::GetSecretsRequest req;
  req.mutable_target()->set_scope("bigscope");
  req.add_names("big1");
  v1::GetSecretsResponse resp;
  grpc::ClientContext small;
  small.AddMetadata("x-request-id", "zq-small-get-secrets");
  ASSERT_TRUE(d->secrets()->GetSecrets(&small, req, &resp).ok());
  EXPECT_EQ(resp.values().at("big1"), value);
  lines = d->AuditLines({"zq-small-get-secrets", "\"code\":\"OK\""});
  EXPECT_EQ(lines.size(), 1u) << d->Audit();
}

// Requests refused before any handler ran left no record at all.
TEST(AuditAccuracyTest, RefusalsBeforeTheHandlerAreRecordedAndCoalesced) {
  std::unique_ptr<Daemon> d = Daemon::Start(
      {"--max-message-bytes", "65536", "--max-response-bytes", "60000"});
  ASSERT_NE(d, nullptr);
  // Not a protobuf message.
  const std::string garbage("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
  grpc::Status s =
      RawCall(d.get(), "/zlayer.secrets.v1.Secrets/GetSecret", garbage);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      d->AuditLines({"\"rpc\":\"GetSecret\"", "\"code\":\"INVALID_ARGUMENT\""})
          .size(),
      1u)
      << d->Audit();
  // An unknown method.
  s = RawCall(d.get(), "/zlayer.secrets.v1.Secrets/NoSuchMethod", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(
      d->AuditLines({"\"rpc\":\"NoSuchMethod\"", "\"code\":\"UNIMPLEMENTED\""})
          .size(),
      1u)
      << d->Audit();
  // Every refusal names its source: here root on the Unix socket.
  EXPECT_EQ(d->AuditLines({"\"rpc\":\"NoSuchMethod\"", "\"subject\":\"uid:0\""})
                .size(),
            1u)
      << d->Audit();

  // A flood: recorded one by one up to the burst, then only counted (the
  // count is written as one summary record once the interval ends).
  constexpr int kFlood = 200;
  for (int i = 0; i < kFlood; ++i) {
    ASSERT_EQ(RawCall(d.get(), "/zlayer.secrets.v1.Admin/CreateApiKey", garbage)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  const size_t recorded = d->AuditLines({"\"rpc\":\"CreateApiKey\"",
                                         "\"code\":\"INVALID_ARGUMENT\""})
                              .size();
  EXPECT_GE(recorded, 20u);
  EXPECT_LT(recorded, 100u) << "refusals were not coalesced";
}

// CreateApiKey and RotateApiKey return a key's secret: with the audit log
// unwritable they must fail closed like the value-returning RPCs.
TEST(AuditAccuracyTest, ApiKeySecretsAreNotServedWhileTheAuditLogIsDown) {
  std::unique_ptr<Daemon> d = Daemon::Start();
  ASSERT_NE(d, nullptr);
  v1::CreateApiKeyRequest create;
  create.set_id("zqkey");
  v1::CreateApiKeyResponse made;
  ASSERT_TRUE(d->admin()->CreateApiKey(Ctx().get(), create, &made).ok());

  // As root, file modes do not stop writes: put a directory at the path and
  // make the daemon reopen it (SIGHUP, as for log rotation).
  const std::string log = d->audit_log();
  ASSERT_EQ(rename(log.c_str(), (log + ".old").c_str()), 0);
  ASSERT_EQ(mkdir(log.c_str(), 0700), 0);
  d->process()->Signal(SIGHUP);
  ASSERT_TRUE(d->process()
                  ->WaitForLog("event=audit_log_unwritable", kStartTimeout)
                  .ok());
  v1::RotateApiKeyRequest rotate;
  rotate.set_id("zqkey");
  v1::CreateApiKeyResponse rotated;
  grpc::Status s = d->admin()->RotateApiKey(Ctx().get(), rotate, &rotated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(rotated.presentable_key().empty());
  create.set_id("zqkey2");
  v1::CreateApiKeyResponse made2;
  s = d->admin()->CreateApiKey(Ctx().get(), create, &made2);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(made2.presentable_key().empty());
  EXPECT_THAT(s.error_message(), HasSubstr("audit log unavailable"));
}

}  // namespace
}  // namespace zlayer::secrets
