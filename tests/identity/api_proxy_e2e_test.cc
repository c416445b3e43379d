// The example API server (client/examples/api_proxy) end to end
// (docs/identity.md, "The proxy pattern, end to end"): a real
// zlayer-secretsd over TLS, the example proxy as a child process holding its
// own API key with an impersonate grant, and this test as both the
// proxy's users (request lines on its stdin) and the end client holding a
// sealed-reveal key pair.
//
// Delegation: a user with a read grant on one environment reads through the
// proxy, another user is denied, the proxy as itself is denied, a proxy key
// without the impersonate right is denied, and the audit log names actor
// and subject. Sealing: the end client opens the box, while the proxy's
// output, log and live memory (read from /proc/PID/mem while it waits for
// its next request) never hold the value; a plain reveal through the same
// process is the control that shows the search finds it. Revoked and
// foreign client keys are refused.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/sealed_reveal.h"
#include "client/secrets_client.h"
#include "core/crypto/sealed_box.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"
#include "tests/testutil/daemon_launch.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::Runfile;
using ::testing::StartsWith;
using testing::TempDir;

// The example proxy as a child: request lines in, answer lines out, its
// log (stderr) in a file.
class ProxyProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ProxyProcess>> Start(
      const std::vector<std::string>& args, const std::string& log_path) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      return absl::InternalError("pipe2 failed");
    }
    const int log =
        open(log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (log < 0) return absl::InternalError("cannot open the proxy log");
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(log, 2);
      char* env[] = {nullptr};
      execve(argv[0], argv.data(), env);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(log);
    return std::unique_ptr<ProxyProcess>(new ProxyProcess(pid, in[1], out[0]));
  }

  ~ProxyProcess() {
    if (in_ >= 0) close(in_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(out_);
  }

  pid_t pid() const { return pid_; }
  // Everything the proxy wrote to stdout so far.
  const std::string& output() const { return output_; }

  // Sends one request line and returns the answer line (without '\n').
  std::string Ask(const std::string& request) {
    const std::string line = request + "\n";
    if (write(in_, line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      return "test: write to the proxy failed";
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (pending_.find('\n') == std::string::npos) {
      pollfd p{out_, POLLIN, 0};
      const int ms =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (ms <= 0 || poll(&p, 1, ms) <= 0) return "test: no answer in time";
      char buf[4096];
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) return "test: the proxy closed its output";
      pending_.append(buf, n);
      output_.append(buf, n);
    }
    const size_t nl = pending_.find('\n');
    std::string answer = pending_.substr(0, nl);
    pending_.erase(0, nl + 1);
    return answer;
  }

  // Closes stdin; the proxy exits at the end of its input. Its exit status.
  int Finish() {
    close(in_);
    in_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    return status;
  }

 private:
  ProxyProcess(pid_t pid, int in, int out) : pid_(pid), in_(in), out_(out) {}
  pid_t pid_;
  int in_;
  int out_;
  std::string pending_;
  std::string output_;
};

// Whether `needle` occurs anywhere in the readable memory of the live
// process `pid` (its mappings from /proc/PID/maps, read through
// /proc/PID/mem: no core dump, no ptrace stop). PermissionDenied when the
// kernel does not let this process read it (Yama ptrace_scope, not root).
// `bytes_read`, when given, receives how much memory was searched.
absl::StatusOr<bool> ProcessMemoryContains(pid_t pid, absl::string_view needle,
                                           uint64_t* bytes_read = nullptr) {
  absl::StatusOr<std::string> maps =
      ReadFile(absl::StrCat("/proc/", pid, "/maps"));
  if (!maps.ok()) return maps.status();
  const int mem =
      open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open /proc/", pid, "/mem: ", strerror(errno)));
  }
  size_t regions_read = 0;
  bool found = false;
  std::string chunk;
  for (absl::string_view line : absl::StrSplit(*maps, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 5 || f[1][0] != 'r') continue;
    if (f.size() >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]")) continue;
    std::vector<absl::string_view> range = absl::StrSplit(f[0], '-');
    uint64_t begin = 0, end = 0;
    if (range.size() != 2 || !absl::SimpleHexAtoi(range[0], &begin) ||
        !absl::SimpleHexAtoi(range[1], &end)) {
      continue;
    }
    // 1 MiB at a time, overlapping by the needle's length less one.
    constexpr uint64_t kChunk = 1 << 20;
    for (uint64_t at = begin; at < end && !found;
         at += kChunk - (needle.size() - 1)) {
      chunk.resize(std::min<uint64_t>(kChunk, end - at));
      const ssize_t n = pread(mem, chunk.data(), chunk.size(), at);
      if (n <= 0) break;  // an unreadable mapping (guard page, device)
      ++regions_read;
      if (bytes_read != nullptr) *bytes_read += n;
      found = absl::string_view(chunk.data(), n).find(needle) !=
              absl::string_view::npos;
      if (static_cast<uint64_t>(n) < chunk.size()) break;
    }
    if (found) break;
  }
  close(mem);
  if (regions_read == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("no memory of process ", pid, " could be read"));
  }
  return found;
}

// Whether the kernel lets this process read its child's memory: always as
// root (CAP_SYS_PTRACE), and for a parent unless Yama's ptrace_scope is 2
// (admin only) or 3 (none); without Yama (no such file), always.
bool MayReadChildMemory() {
  if (geteuid() == 0) return true;
  absl::StatusOr<std::string> scope =
      ReadFile("/proc/sys/kernel/yama/ptrace_scope");
  int level = 0;
  return !scope.ok() ||
         !absl::SimpleAtoi(absl::StripAsciiWhitespace(*scope), &level) ||
         level < 2;
}

class ApiProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A value that exists only in the daemon's store, this test and (when
    // revealed plainly) the proxy: drawn at run time, never in a binary.
    canary_ = absl::StrCat(
        "proxy-canary-",
        absl::BytesToHexString(SecretBytes::Random(12).InsecureView()));
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", data(), "--key-dir", data(), "--bootstrap-admin-key",
         "none", "--socket", dir_.Sub("d.sock"), "--listen", "127.0.0.1:0",
         "--tls-cert", tls_.server_cert, "--tls-key", tls_.server_key,
         "--log-level", "info"},
        dir_.path());
    ASSERT_TRUE(proc.ok()) << proc.status();
    daemon_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        daemon_->WaitForLog("event=ready", absl::Seconds(30));
    ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << daemon_->Stderr();
    port_ = testing::LogFieldInt(*ready, "tcp_port=");
    ASSERT_GT(port_, 0) << *ready;

    // The administrator (this uid on the Unix socket) sets up what the
    // docs' proxy pattern describes: environments prod and staging, each
    // with a secret; cust-alice and cust-carol may read prod, cust-ops may
    // write staging, cust-bob has nothing; the proxy key "api-server" may
    // act as cust-* users and has no grant of its own; "rogue" may read
    // prod itself but act as nobody.
    ClientOptions admin_options;
    admin_options.address = "unix:" + dir_.Sub("d.sock");
    admin_options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> admin =
        SecretsClient::Connect(std::move(admin_options));
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
    const std::string prod = MakeEnvironment("prod", &prod_);
    const std::string staging = MakeEnvironment("staging", &staging_);
    Set(prod_, "db", canary_);
    Set(staging_, "db", "staging-value");
    Grant("user:cust-alice", v1::RESOURCE_KIND_ENVIRONMENT, prod);
    Grant("user:cust-carol", v1::RESOURCE_KIND_ENVIRONMENT, prod);
    Grant("user:cust-ops", v1::RESOURCE_KIND_ENVIRONMENT, staging,
          v1::ACCESS_LEVEL_WRITE);
    WriteKey("api-server");
    Grant("apikey:api-server", v1::RESOURCE_KIND_IMPERSONATE, "user:cust-*");
    WriteKey("rogue");
    Grant("apikey:rogue", v1::RESOURCE_KIND_ENVIRONMENT, prod);
  }

  std::string data() const { return dir_.Sub("data"); }

  // Creates environment `name`; its id (grants name environments by id).
  std::string MakeEnvironment(const std::string& name, std::string* scope) {
    v1::CreateEnvironmentRequest create;
    create.set_name(name);
    absl::StatusOr<v1::Environment> env = admin_->CreateEnvironment(create);
    EXPECT_TRUE(env.ok()) << env.status();
    if (!env.ok()) return "";
    *scope = env->scope();
    return env->id();
  }

  void Set(const std::string& scope, const std::string& name,
           const std::string& value) {
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope(scope);
    set.set_name(name);
    set.set_value(value);
    absl::StatusOr<v1::SetSecretResponse> made = admin_->SetSecret(set);
    ASSERT_TRUE(made.ok()) << made.status();
  }

  void Grant(const std::string& subject, v1::ResourceKind kind,
             const std::string& id,
             v1::AccessLevel level = v1::ACCESS_LEVEL_READ) {
    v1::GrantRequest grant;
    grant.set_subject(subject);
    grant.mutable_resource()->set_kind(kind);
    grant.mutable_resource()->set_id(id);
    grant.set_level(level);
    absl::StatusOr<v1::AccessGrant> made = admin_->Grant(grant);
    ASSERT_TRUE(made.ok()) << subject << ": " << made.status();
  }

  // Creates API key `id` and writes it to `<id>.key` for the proxy.
  void WriteKey(const std::string& id) {
    v1::CreateApiKeyRequest create;
    create.set_id(id);
    absl::StatusOr<v1::CreateApiKeyResponse> made =
        admin_->CreateApiKey(create);
    ASSERT_TRUE(made.ok()) << made.status();
    ASSERT_TRUE(
        testing::WriteFile(dir_.Sub(id + ".key"), made->presentable_key())
            .ok());
  }

  // The example proxy, authenticating with API key `key_id`.
  std::unique_ptr<ProxyProcess> StartProxy(const std::string& key_id) {
    absl::StatusOr<std::unique_ptr<ProxyProcess>> proxy =
        ProxyProcess::Start({Runfile("client/examples/api_proxy"),
                             absl::StrCat("127.0.0.1:", port_), tls_.ca_cert,
                             dir_.Sub(key_id + ".key")},
                            ProxyLog(key_id));
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    return proxy.ok() ? *std::move(proxy) : nullptr;
  }
  std::string ProxyLog(const std::string& key_id) const {
    return dir_.Sub(key_id + ".log");
  }

  std::vector<std::string> AuditLines(std::vector<std::string> parts) {
    absl::StatusOr<std::string> text = ReadFile(data() + "/audit.log");
    EXPECT_TRUE(text.ok()) << text.status();
    std::vector<std::string> out;
    if (!text.ok()) return out;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      bool all = !line.empty();
      for (const std::string& p : parts)
        all = all && absl::StrContains(line, p);
      if (all) out.emplace_back(line);
    }
    return out;
  }

  // Registers a fresh key pair for `user` through the proxy; its id.
  std::string RegisterKey(ProxyProcess& proxy, const std::string& user,
                          const SealKeyPair& pair) {
    const std::string answer = proxy.Ask(absl::StrCat(
        user, " register-key ", absl::Base64Escape(pair.public_key())));
    EXPECT_THAT(answer, StartsWith("ok ")) << answer;
    return answer.size() > 3 ? answer.substr(3) : "";
  }

  TempDir dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  std::unique_ptr<SecretsClient> admin_;
  std::string canary_;
  std::string prod_;     // env:<id> of prod
  std::string staging_;  // env:<id> of staging
};

TEST_F(ApiProxyTest, ForwardsEachUsersCallsAsThatUser) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("api-server");
  ASSERT_NE(proxy, nullptr);
  // cust-alice reads prod, and only prod, and may not write it.
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-alice get ", prod_, " db")),
            absl::StrCat("ok plain ", absl::Base64Escape(canary_), " 1"));
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-alice list ", prod_)), "ok db");
  EXPECT_THAT(proxy->Ask(absl::StrCat("cust-alice get ", staging_, " db")),
              StartsWith("error PERMISSION_DENIED user:cust-alice lacks read"));
  EXPECT_THAT(proxy->Ask(absl::StrCat("cust-alice set ", prod_, " x ",
                                      absl::Base64Escape("v"))),
              StartsWith("error PERMISSION_DENIED user:cust-alice lacks "
                         "write"));
  // cust-bob has no grant; the proxy as itself (no act-as) has none either.
  EXPECT_THAT(proxy->Ask(absl::StrCat("cust-bob get ", prod_, " db")),
              StartsWith("error PERMISSION_DENIED user:cust-bob lacks read"));
  EXPECT_THAT(proxy->Ask(absl::StrCat("- get ", prod_, " db")),
              StartsWith("error PERMISSION_DENIED apikey:api-server lacks "
                         "read"));
  // Outside the impersonate pattern.
  EXPECT_EQ(proxy->Ask(absl::StrCat("root get ", prod_, " db")),
            "error PERMISSION_DENIED apikey:api-server may not act as "
            "user:root");
  // The whole CRUD round as cust-ops, who may write staging.
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-ops set ", staging_, " api ",
                                    absl::Base64Escape("token-1"))),
            "ok 1");
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-ops list ", staging_)), "ok api db");
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-ops get ", staging_, " api")),
            absl::StrCat("ok plain ", absl::Base64Escape("token-1"), " 1"));
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-ops delete ", staging_, " api")),
            "ok");
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-ops list ", staging_)), "ok db");
  EXPECT_THAT(proxy->Ask(absl::StrCat("cust-bob delete ", staging_, " db")),
              StartsWith("error PERMISSION_DENIED"));

  // A proxy whose key may read prod itself but holds no impersonate right.
  std::unique_ptr<ProxyProcess> rogue = StartProxy("rogue");
  ASSERT_NE(rogue, nullptr);
  EXPECT_EQ(rogue->Ask(absl::StrCat("- get ", prod_, " db")),
            absl::StrCat("ok plain ", absl::Base64Escape(canary_), " 1"));
  EXPECT_EQ(rogue->Ask(absl::StrCat("cust-alice get ", prod_, " db")),
            "error PERMISSION_DENIED apikey:rogue may not act as "
            "user:cust-alice");
  EXPECT_EQ(proxy->Finish(), 0);
  EXPECT_EQ(rogue->Finish(), 0);

  // Audit: actor = the proxy, subject = the user, for allowed and refused
  // calls; a call without act-as has no actor.
  std::vector<std::string> alice =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-alice\"",
                  "\"code\":\"OK\""});
  ASSERT_EQ(alice.size(), 1u);
  EXPECT_THAT(alice[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_THAT(alice[0], HasSubstr("\"transport\":\"tls\""));
  EXPECT_THAT(alice[0], HasSubstr(absl::StrCat("\"scope\":\"", prod_, "\"")));
  std::vector<std::string> bob =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"subject\":\"user:cust-bob\""});
  ASSERT_EQ(bob.size(), 1u);
  EXPECT_THAT(bob[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_THAT(bob[0], HasSubstr("\"code\":\"PERMISSION_DENIED\""));
  std::vector<std::string> rogue_lines =
      AuditLines({"\"actor\":\"apikey:rogue\""});
  ASSERT_EQ(rogue_lines.size(), 1u);
  EXPECT_THAT(rogue_lines[0], HasSubstr("\"subject\":\"user:cust-alice\""));
  EXPECT_THAT(rogue_lines[0], HasSubstr("may not act as user:cust-alice"));
  std::vector<std::string> alone = AuditLines(
      {"\"subject\":\"apikey:api-server\"", "\"rpc\":\"GetSecret\""});
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_THAT(alone[0], Not(HasSubstr("\"actor\"")));
  EXPECT_THAT(alone[0], HasSubstr("\"code\":\"PERMISSION_DENIED\""));
  EXPECT_EQ(AuditLines({"\"subject\":\"user:cust-ops\"",
                        "\"actor\":\"apikey:api-server\"", "\"code\":\"OK\""})
                .size(),
            5u);  // set, list, get, delete, list
  // The proxy's log: one line per request, never a value.
  absl::StatusOr<std::string> log = ReadFile(ProxyLog("api-server"));
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr(absl::StrCat("user=cust-alice get ", prod_,
                                           "/db -> OK")));
  EXPECT_THAT(*log, HasSubstr("user=cust-bob get"));
  EXPECT_THAT(*log, Not(HasSubstr(canary_)));
  EXPECT_THAT(*log, Not(HasSubstr("token-1")));
}

TEST_F(ApiProxyTest, SealedValueNeverEntersTheProxyAndTheEndClientOpensIt) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("api-server");
  ASSERT_NE(proxy, nullptr);
  // The end client's key pair lives here only; the proxy registers the
  // public half while acting as the user, so the key is user:cust-alice's.
  absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
  ASSERT_TRUE(pair.ok());
  const std::string key_id = RegisterKey(*proxy, "cust-alice", *pair);
  ASSERT_FALSE(key_id.empty());

  const std::string answer =
      proxy->Ask(absl::StrCat("cust-alice get ", prod_, " db ", key_id));
  ASSERT_THAT(answer, StartsWith("ok sealed ")) << answer;
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(answer.substr(10), &bytes));
  v1::GetSecretResponse forwarded;
  ASSERT_TRUE(forwarded.ParseFromString(bytes));
  EXPECT_TRUE(forwarded.value().empty());
  absl::StatusOr<SecretBytes> opened = OpenSealedValue(forwarded, *pair);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->InsecureView(), canary_);

  // The proxy, alive and waiting for its next request, never held it: not
  // in its output, not in its log, nowhere in its memory.
  EXPECT_THAT(proxy->output(), Not(HasSubstr(canary_)));
  EXPECT_THAT(proxy->output(), Not(HasSubstr(absl::Base64Escape(canary_))));
  absl::StatusOr<std::string> log = ReadFile(ProxyLog("api-server"));
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, Not(HasSubstr(canary_)));
  uint64_t searched = 0;
  absl::StatusOr<bool> in_memory =
      ProcessMemoryContains(proxy->pid(), canary_, &searched);
  if (!in_memory.ok() && absl::IsPermissionDenied(in_memory.status()) &&
      !MayReadChildMemory()) {
    GTEST_SKIP() << "Yama forbids reading the proxy's memory: "
                 << in_memory.status();
  }
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  EXPECT_FALSE(*in_memory) << "the sealed proxy holds the value";
  EXPECT_GT(searched, uint64_t{1} << 20);  // the heap and the mappings
  RecordProperty("proxy_memory_searched_bytes", std::to_string(searched));

  // Control: a plain reveal through the same process puts the value in its
  // memory, and the same search finds it (the proxy even wipes its own
  // copy; gRPC's and TLS's buffers still held it).
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-alice get ", prod_, " db")),
            absl::StrCat("ok plain ", absl::Base64Escape(canary_), " 1"));
  in_memory = ProcessMemoryContains(proxy->pid(), canary_);
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  EXPECT_TRUE(*in_memory) << "the memory search cannot find a plain value";

  std::vector<std::string> sealed = AuditLines(
      {"\"rpc\":\"GetSecret\"", "\"sealed\":true", "\"code\":\"OK\""});
  ASSERT_EQ(sealed.size(), 1u);
  EXPECT_THAT(sealed[0], HasSubstr("\"subject\":\"user:cust-alice\""));
  EXPECT_THAT(sealed[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_THAT(sealed[0], HasSubstr(absl::StrCat("\"client_key\":\"", key_id)));
  EXPECT_EQ(AuditLines({"\"rpc\":\"GetSecret\"", "\"sealed\":false",
                        "\"subject\":\"user:cust-alice\""})
                .size(),
            1u);
}

TEST_F(ApiProxyTest, RevokedAndForeignClientKeysAreRefused) {
  std::unique_ptr<ProxyProcess> proxy = StartProxy("api-server");
  ASSERT_NE(proxy, nullptr);
  absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
  ASSERT_TRUE(pair.ok());
  const std::string alice_key = RegisterKey(*proxy, "cust-alice", *pair);
  ASSERT_FALSE(alice_key.empty());

  // cust-carol may read prod too, but not through alice's key; nor may the
  // proxy itself use it.
  EXPECT_EQ(
      proxy->Ask(absl::StrCat("cust-carol get ", prod_, " db ", alice_key)),
      absl::StrCat("error PERMISSION_DENIED user:cust-carol may not use "
                   "client key ",
                   alice_key));
  EXPECT_THAT(proxy->Ask(absl::StrCat("- get ", prod_, " db ", alice_key)),
              StartsWith("error PERMISSION_DENIED"));
  // Nor may carol revoke it.
  EXPECT_THAT(proxy->Ask(absl::StrCat("cust-carol revoke-key ", alice_key)),
              StartsWith("error PERMISSION_DENIED"));

  ASSERT_THAT(
      proxy->Ask(absl::StrCat("cust-alice get ", prod_, " db ", alice_key)),
      StartsWith("ok sealed "));
  EXPECT_EQ(proxy->Ask(absl::StrCat("cust-alice revoke-key ", alice_key)),
            "ok");
  EXPECT_EQ(
      proxy->Ask(absl::StrCat("cust-alice get ", prod_, " db ", alice_key)),
      absl::StrCat("error FAILED_PRECONDITION client key ", alice_key,
                   " is revoked"));
  EXPECT_EQ(proxy->Finish(), 0);
  EXPECT_THAT(proxy->output(), Not(HasSubstr(canary_)));

  std::vector<std::string> foreign =
      AuditLines({"\"subject\":\"user:cust-carol\"", "may not use client key"});
  ASSERT_EQ(foreign.size(), 1u);
  EXPECT_THAT(foreign[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_EQ(AuditLines({"\"subject\":\"user:cust-alice\"",
                        "\"code\":\"FAILED_PRECONDITION\"", "\"sealed\":true"})
                .size(),
            1u);
}

}  // namespace
}  // namespace zlayer::secrets
