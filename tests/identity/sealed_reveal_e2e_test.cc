// Sealed reveals end to end (docs/identity.md, "Sealed reveals"): a real
// zlayer-secretsd over TLS, a proxy process (tests/identity/sealed_proxy)
// holding an API key with an impersonate grant that forwards a user's
// GetSecret sealed to that user's client key, and the end client (this
// test) holding the key pair and opening the box. Also: revoked keys,
// another identity's key, the audit records, malformed public keys.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/sealed_reveal.h"
#include "client/secrets_client.h"
#include "core/crypto/sealed_box.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/test_support.h"

namespace zlayer::secrets {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::Runfile;
using testing::RunProgram;
using testing::TempDir;

constexpr char kCanary[] = "sealed-canary-51c9e2";

class SealedRevealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", data(), "--key-dir", data(), "--bootstrap-admin-key",
         "keep", "--socket", dir_.Sub("d.sock"), "--listen", "127.0.0.1:0",
         "--tls-cert", tls_.server_cert, "--tls-key", tls_.server_key,
         "--log-level", "info"},
        dir_.path());
    ASSERT_TRUE(proc.ok()) << proc.status();
    daemon_ = *std::move(proc);
    absl::StatusOr<std::string> ready =
        daemon_->WaitForLog("event=ready", absl::Seconds(30));
    ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << daemon_->Stderr();
    const size_t at = ready->find("tcp_port=");
    ASSERT_NE(at, std::string::npos);
    std::string port = ready->substr(at + 9);
    ASSERT_TRUE(absl::SimpleAtoi(port.substr(0, port.find(' ')), &port_));

    // The local administrator: a secret both end users may read (so only
    // key ownership tells them apart), the proxy key "api-server" with the
    // right to act as cust-* users and no read of its own.
    ClientOptions admin_options;
    admin_options.address = "unix:" + dir_.Sub("d.sock");
    admin_ = Connect(std::move(admin_options), "");
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("shop");
    set.set_name("db");
    set.set_value(kCanary);
    ASSERT_TRUE(admin_->SetSecret(set).ok());
    Grant("user:cust-alice", v1::RESOURCE_KIND_SCOPE, "shop",
          v1::ACCESS_LEVEL_EXECUTE);
    Grant("user:cust-bob", v1::RESOURCE_KIND_SCOPE, "shop");
    v1::CreateApiKeyRequest create;
    create.set_id("api-server");
    absl::StatusOr<v1::CreateApiKeyResponse> made =
        admin_->CreateApiKey(create);
    ASSERT_TRUE(made.ok()) << made.status();
    proxy_key_ = made->presentable_key();
    ASSERT_TRUE(testing::WriteFile(dir_.Sub("proxy.key"), proxy_key_).ok());
    Grant("apikey:api-server", v1::RESOURCE_KIND_IMPERSONATE, "user:cust-*");

    // The end user's key pair lives only here (the end client); the proxy
    // registers its public half while acting as the user.
    absl::StatusOr<SealKeyPair> pair = SealKeyPair::Generate();
    ASSERT_TRUE(pair.ok());
    alice_pair_ = std::make_unique<SealKeyPair>(*std::move(pair));
    alice_ = ProxyAs("cust-alice");
    v1::RegisterClientKeyRequest reg;
    reg.set_public_key(alice_pair_->public_key());
    absl::StatusOr<v1::ClientKey> key = alice_->RegisterClientKey(reg);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->owner(), "user:cust-alice");
    alice_key_ = key->id();
  }

  std::string data() const { return dir_.Sub("data"); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  std::unique_ptr<SecretsClient> Connect(ClientOptions options,
                                         const std::string& user) {
    options.act_as_user = user;
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // The proxy's key over TLS, acting as `user` ("" = as itself).
  std::unique_ptr<SecretsClient> ProxyAs(const std::string& user) {
    ClientOptions options;
    options.address = address();
    options.tls_ca_file = tls_.ca_cert;
    options.tls_server_name = "localhost";
    options.api_key = SecretBytes::FromString(proxy_key_);
    return Connect(std::move(options), user);
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

  struct ProxyRun {
    int code = -1;
    std::string output;  // the proxy's stdout and stderr
    std::string bytes;   // the serialized response it forwarded
  };
  ProxyRun RunProxy(const std::string& user, const std::string& seal_to) {
    ProxyRun run;
    const std::string out = dir_.Sub(absl::StrCat("fwd-", ++runs_));
    absl::StatusOr<int> code = RunProgram(
        {Runfile("tests/identity/sealed_proxy"), address(), tls_.ca_cert,
         dir_.Sub("proxy.key"), user, seal_to, "shop", "db", out},
        &run.output);
    EXPECT_TRUE(code.ok()) << code.status();
    run.code = code.ok() ? *code : -1;
    absl::StatusOr<std::string> bytes = ReadFile(out);
    if (bytes.ok()) run.bytes = *bytes;
    return run;
  }

  static v1::GetSecretRequest GetDb() {
    v1::GetSecretRequest get;
    get.mutable_target()->set_scope("shop");
    get.set_name("db");
    return get;
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

  TempDir dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  int runs_ = 0;
  std::unique_ptr<SecretsClient> admin_;
  std::string proxy_key_;
  std::unique_ptr<SealKeyPair> alice_pair_;
  std::unique_ptr<SecretsClient> alice_;
  std::string alice_key_;
};

TEST_F(SealedRevealTest, ProxyForwardsASealedValueItCannotReadAndUserOpens) {
  // Control: the same proxy forwarding a plain answer leaks the value into
  // its logs and its bytes, so the checks below have teeth.
  ProxyRun plain = RunProxy("cust-alice", "");
  ASSERT_EQ(plain.code, 0) << plain.output;
  EXPECT_THAT(plain.output, HasSubstr(kCanary));
  EXPECT_THAT(plain.bytes, HasSubstr(kCanary));

  ProxyRun sealed = RunProxy("cust-alice", alice_key_);
  ASSERT_EQ(sealed.code, 0) << sealed.output;
  ASSERT_FALSE(sealed.bytes.empty());
  EXPECT_THAT(sealed.bytes, Not(HasSubstr(kCanary)));
  EXPECT_THAT(sealed.output, Not(HasSubstr(kCanary)));
  EXPECT_THAT(sealed.output, Not(HasSubstr(absl::BytesToHexString(kCanary))));
  EXPECT_THAT(daemon_->Stderr(), Not(HasSubstr(kCanary)));

  // The end client parses what the proxy forwarded and opens it.
  v1::GetSecretResponse forwarded;
  ASSERT_TRUE(forwarded.ParseFromString(sealed.bytes));
  EXPECT_TRUE(forwarded.value().empty());
  EXPECT_EQ(forwarded.sealed_value().size(),
            sizeof(kCanary) - 1 + kSealOverheadBytes);
  EXPECT_EQ(forwarded.version(), 1u);
  absl::StatusOr<SecretBytes> opened = OpenSealedValue(forwarded, *alice_pair_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->InsecureView(), kCanary);
  // Another key pair cannot open it.
  absl::StatusOr<SealKeyPair> other = SealKeyPair::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(OpenSealedValue(forwarded, *other).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealedRevealTest, EveryValueRevealingRpcSeals) {
  CallOptions call;
  call.seal_to = alice_key_;
  v1::GetSecretsRequest batch;
  batch.mutable_target()->set_scope("shop");
  batch.add_names("db");
  absl::StatusOr<v1::GetSecretsResponse> many = alice_->GetSecrets(batch, call);
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_TRUE(many->values().empty());
  EXPECT_THAT(many->SerializeAsString(), Not(HasSubstr(kCanary)));
  auto values = OpenSealedValues(*many, *alice_pair_);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->at("db").InsecureView(), kCanary);

  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["DB"] = "$S:db";
  (*resolve.mutable_env())["PLAIN"] = "literal";
  resolve.mutable_context()->set_deployment("shop");
  absl::StatusOr<v1::ResolveEnvResponse> env =
      alice_->ResolveEnv(resolve, call);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(env->env().empty());
  EXPECT_EQ(env->sealed_env_size(), 2);
  EXPECT_THAT(env->SerializeAsString(), Not(HasSubstr(kCanary)));
  auto opened_env = OpenSealedEnv(*env, *alice_pair_);
  ASSERT_TRUE(opened_env.ok()) << opened_env.status();
  EXPECT_EQ(opened_env->at("DB").InsecureView(), kCanary);
  EXPECT_EQ(opened_env->at("PLAIN").InsecureView(), "literal");

  v1::ExportSecretsRequest exp;
  exp.mutable_target()->set_scope("shop");
  absl::StatusOr<v1::ExportSecretsResponse> file =
      alice_->ExportSecrets(exp, call);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->content().empty());
  EXPECT_THAT(file->SerializeAsString(), Not(HasSubstr(kCanary)));
  auto content = OpenSealedContent(*file, *alice_pair_);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_THAT(std::string(content->InsecureView()), HasSubstr(kCanary));

  for (const char* rpc : {"GetSecrets", "ResolveEnv", "ExportSecrets"}) {
    EXPECT_EQ(
        AuditLines({absl::StrCat("\"rpc\":\"", rpc, "\""), "\"sealed\":true",
                    absl::StrCat("\"client_key\":\"", alice_key_, "\"")})
            .size(),
        1u)
        << rpc;
  }
}

TEST_F(SealedRevealTest, RevokedKeyIsRefused) {
  CallOptions call;
  call.seal_to = alice_key_;
  ASSERT_TRUE(alice_->GetSecret(GetDb(), call).ok());
  v1::RevokeClientKeyRequest revoke;
  revoke.set_id(alice_key_);
  absl::StatusOr<v1::ClientKey> revoked = alice_->RevokeClientKey(revoke);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_GT(revoked->revoked_at(), 0);

  absl::StatusOr<v1::GetSecretResponse> got = alice_->GetSecret(GetDb(), call);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(got.status().message(), HasSubstr("is revoked"));
  ProxyRun run = RunProxy("cust-alice", alice_key_);
  EXPECT_EQ(run.code,
            3 + static_cast<int>(absl::StatusCode::kFailedPrecondition))
      << run.output;
  EXPECT_THAT(run.output, Not(HasSubstr(kCanary)));
  // Listed as revoked.
  absl::StatusOr<v1::ListClientKeysResponse> listed =
      alice_->ListClientKeys({});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->keys_size(), 1);
  EXPECT_GT(listed->keys(0).revoked_at(), 0);
  EXPECT_EQ(AuditLines({"\"rpc\":\"GetSecret\"", "\"sealed\":true",
                        "\"code\":\"FAILED_PRECONDITION\""})
                .size(),
            2u);
}

TEST_F(SealedRevealTest, AnotherIdentityCannotUseTheKeyAndIsAudited) {
  // cust-bob may read the secret, but not through alice's key.
  ProxyRun bob = RunProxy("cust-bob", alice_key_);
  EXPECT_EQ(bob.code, 3 + static_cast<int>(absl::StatusCode::kPermissionDenied))
      << bob.output;
  EXPECT_THAT(bob.output,
              HasSubstr(absl::StrCat("user:cust-bob may not use client key ",
                                     alice_key_)));
  EXPECT_THAT(bob.output, Not(HasSubstr(kCanary)));
  // Nor the proxy as itself, nor the administrator.
  CallOptions call;
  call.seal_to = alice_key_;
  std::unique_ptr<SecretsClient> proxy = ProxyAs("");
  EXPECT_EQ(proxy->GetSecret(GetDb(), call).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(admin_->GetSecret(GetDb(), call).status().code(),
            absl::StatusCode::kPermissionDenied);

  std::vector<std::string> lines = AuditLines(
      {"\"subject\":\"user:cust-bob\"", "\"code\":\"PERMISSION_DENIED\"",
       "\"sealed\":true", absl::StrCat("\"client_key\":\"", alice_key_, "\"")});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_THAT(lines[0], HasSubstr("may not use client key"));
}

TEST_F(SealedRevealTest, AuditSaysSealedOrPlainAndNeverTheValue) {
  ProxyRun sealed = RunProxy("cust-alice", alice_key_);
  ASSERT_EQ(sealed.code, 0) << sealed.output;
  ASSERT_TRUE(alice_->GetSecret(GetDb()).ok());

  std::vector<std::string> sealed_lines =
      AuditLines({"\"rpc\":\"GetSecret\"", "\"code\":\"OK\"", "\"sealed\":true",
                  absl::StrCat("\"client_key\":\"", alice_key_, "\"")});
  ASSERT_EQ(sealed_lines.size(), 1u);
  EXPECT_THAT(sealed_lines[0], HasSubstr("\"subject\":\"user:cust-alice\""));
  EXPECT_THAT(sealed_lines[0], HasSubstr("\"actor\":\"apikey:api-server\""));
  EXPECT_EQ(AuditLines({"\"rpc\":\"GetSecret\"", "\"code\":\"OK\"",
                        "\"sealed\":false"})
                .size(),
            1u);
  // Calls that reveal nothing say neither.
  EXPECT_TRUE(
      AuditLines({"\"rpc\":\"RegisterClientKey\"", "\"sealed\""}).empty());
  absl::StatusOr<std::string> all = ReadFile(data() + "/audit.log");
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, Not(HasSubstr(kCanary)));
}

TEST_F(SealedRevealTest, MalformedPublicKeysAreInvalidArgument) {
  std::string one(32, '\0');
  one[0] = 1;  // a low-order point
  for (const std::string& bad :
       {std::string(), std::string(31, 'k'), std::string(33, 'k'),
        std::string(32, '\0'), one}) {
    v1::RegisterClientKeyRequest reg;
    reg.set_public_key(bad);
    EXPECT_EQ(alice_->RegisterClientKey(reg).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad.size();
  }
  absl::StatusOr<v1::ListClientKeysResponse> listed =
      alice_->ListClientKeys({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->keys_size(), 1);  // only the good one from SetUp
}

TEST_F(SealedRevealTest, CliCreatesKeysAndOpensSealedValuesLocally) {
  const std::string cli = Runfile("client/zlayer-secret");
  const std::string sock = dir_.Sub("d.sock");
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {cli, "--socket", sock};
    all.insert(all.end(), args.begin(), args.end());
    std::string output;
    absl::StatusOr<int> code = RunProgram(all, &output);
    EXPECT_TRUE(code.ok()) << code.status();
    return std::make_pair(code.ok() ? *code : -1, output);
  };
  const std::string key_file = dir_.Sub("mine.key");
  auto created = run({"client-key", "create", key_file});
  ASSERT_EQ(created.first, 0) << created.second;
  EXPECT_THAT(created.second, HasSubstr("Created client key "));
  struct stat st;
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<ClientKeyFile> key = ReadClientKeyFile(key_file);
  ASSERT_TRUE(key.ok()) << key.status();
  // A second create never overwrites the file.
  EXPECT_NE(run({"client-key", "create", key_file}).first, 0);

  auto got = run(
      {"get", "db", "--deployment", "shop", "--reveal", "--seal-to", key_file});
  ASSERT_EQ(got.first, 0) << got.second;
  EXPECT_EQ(got.second, absl::StrCat(kCanary, "\n"));
  auto exported =
      run({"export", "--deployment", "shop", "--seal-to", key_file});
  ASSERT_EQ(exported.first, 0) << exported.second;
  EXPECT_THAT(exported.second, HasSubstr(kCanary));
  ASSERT_TRUE(testing::WriteFile(dir_.Sub("app.env"), "DB=$S:db\n").ok());
  auto ran =
      run({"run", "--deployment", "shop", "--env-file", dir_.Sub("app.env"),
           "--seal-to", key_file, "--", "/usr/bin/printenv", "DB"});
  ASSERT_EQ(ran.first, 0) << ran.second;
  EXPECT_EQ(ran.second, absl::StrCat(kCanary, "\n"));
  // --seal-to with a file that does not exist yet registers a new key.
  const std::string fresh = dir_.Sub("fresh.key");
  ASSERT_EQ(
      run({"get", "db", "--deployment", "shop", "--reveal", "--seal-to", fresh})
          .first,
      0);
  absl::StatusOr<ClientKeyFile> fresh_key = ReadClientKeyFile(fresh);
  ASSERT_TRUE(fresh_key.ok()) << fresh_key.status();

  auto listed = run({"client-key", "ls", "-o", "plain"});
  ASSERT_EQ(listed.first, 0) << listed.second;
  EXPECT_THAT(listed.second, HasSubstr(key->id));
  EXPECT_THAT(listed.second, HasSubstr(fresh_key->id));
  EXPECT_THAT(listed.second, Not(HasSubstr(alice_key_)));  // not the admin's
  ASSERT_EQ(run({"client-key", "revoke", key->id}).first, 0);
  auto refused = run(
      {"get", "db", "--deployment", "shop", "--reveal", "--seal-to", key_file});
  EXPECT_NE(refused.first, 0);
  EXPECT_THAT(refused.second, HasSubstr("revoked"));
  EXPECT_THAT(refused.second, Not(HasSubstr(kCanary)));
  for (const char* rpc : {"GetSecret", "ExportSecrets", "ResolveEnv"}) {
    EXPECT_FALSE(
        AuditLines({absl::StrCat("\"rpc\":\"", rpc, "\""), "\"code\":\"OK\"",
                    absl::StrCat("\"client_key\":\"", key->id, "\"")})
            .empty())
        << rpc;
  }
}

}  // namespace
}  // namespace zlayer::secrets
