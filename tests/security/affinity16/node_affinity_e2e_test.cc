// Issue 16, node affinity, end to end and as attacks (docs/identity.md,
// "Node affinity"): a real zlayer-secretsd with TLS and API keys; agents
// whose keys speak for nodes n1 and n2 (roles node:n1 / node:n2, as
// `zlayer-secret apikey create --node n1` makes them); a secret pinned to
// n1. The agent of n1 resolves it; the agent of n2 gets NOT_FOUND on every
// read path, with the very answer a missing secret gets; the audit log names
// the reason for both; a writer without a node cannot unpin it; malformed
// affinities are refused; a database row edited offline to drop the
// affinity is DATA_LOSS, never the value.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/secrets_client.h"
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

constexpr char kCanary[] = "node-affinity-canary-5d21";
constexpr char kPlain[] = "unpinned-value";

// A call's outcome as the client sees it.
struct Answer {
  absl::StatusCode code;
  std::string message;
};
template <typename T>
Answer AnswerOf(const absl::StatusOr<T>& r) {
  return {r.status().code(), std::string(r.status().message())};
}

class NodeAffinityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    Start();
    // As the local administrator (root or the daemon's own user, on the
    // Unix socket): agents for n1, n2 and a zone=a node, all allowed to
    // resolve and read scope "shop"; a writer with no node.
    v1::SetSecretRequest set = SetRequest("db", kCanary);
    set.mutable_node_affinity()->add_entries("n1");
    absl::StatusOr<v1::SetSecretResponse> pinned = admin_->SetSecret(set);
    ASSERT_TRUE(pinned.ok()) << pinned.status();
    EXPECT_THAT(pinned->metadata().node_affinity(),
                ::testing::ElementsAre("node:n1"));
    ASSERT_TRUE(admin_->SetSecret(SetRequest("plain", kPlain)).ok());
    n1_key_ = CreateKey("agent-n1", {"node:n1"});
    n2_key_ = CreateKey("agent-n2", {"node:n2"});
    zone_key_ = CreateKey("agent-zone", {"node:n3", "node-label:zone=a"});
    writer_key_ = CreateKey("writer", {});
    for (const char* subject :
         {"apikey:agent-n1", "apikey:agent-n2", "apikey:agent-zone"}) {
      Grant(subject, v1::ACCESS_LEVEL_EXECUTE);
    }
    Grant("apikey:writer", v1::ACCESS_LEVEL_WRITE);
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", data(), "--key-dir", data(), "--bootstrap-admin-key",
         "none", "--socket", socket(), "--listen", "127.0.0.1:0", "--tls-cert",
         tls_.server_cert, "--tls-key", tls_.server_key, "--log-level", "info"},
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
    ClientOptions options;
    options.address = "unix:" + socket();
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(c.ok()) << c.status();
    admin_ = *std::move(c);
  }

  void Stop() {
    admin_.reset();
    daemon_->Signal(SIGTERM);
    absl::StatusOr<int> code = daemon_->WaitForExit(absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    daemon_.reset();
  }

  std::string data() const { return dir_.Sub("data"); }
  std::string socket() const { return dir_.Sub("d.sock"); }

  static v1::SetSecretRequest SetRequest(const std::string& name,
                                         const std::string& value) {
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("shop");
    set.set_name(name);
    set.set_value(value);
    return set;
  }

  std::string CreateKey(const std::string& id,
                        const std::vector<std::string>& roles) {
    v1::CreateApiKeyRequest create;
    create.set_id(id);
    for (const std::string& r : roles) create.add_roles(r);
    absl::StatusOr<v1::CreateApiKeyResponse> made =
        admin_->CreateApiKey(create);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->presentable_key() : "";
  }

  void Grant(const std::string& subject, v1::AccessLevel level) {
    v1::GrantRequest grant;
    grant.set_subject(subject);
    grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
    grant.mutable_resource()->set_id("shop");
    grant.set_level(level);
    absl::StatusOr<v1::AccessGrant> made = admin_->Grant(grant);
    ASSERT_TRUE(made.ok()) << subject << ": " << made.status();
  }

  std::unique_ptr<SecretsClient> Agent(const std::string& key) {
    ClientOptions options;
    options.address = absl::StrCat("127.0.0.1:", port_);
    options.tls_ca_file = tls_.ca_cert;
    options.tls_server_name = "localhost";
    options.api_key = SecretBytes::FromString(key);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  static absl::StatusOr<v1::ResolveEnvResponse> Resolve(
      SecretsClient* c, const std::string& ref) {
    v1::ResolveEnvRequest req;
    (*req.mutable_env())["DB"] = ref;
    req.mutable_context()->set_deployment("shop");
    return c->ResolveEnv(req);
  }

  static absl::StatusOr<v1::GetSecretResponse> Get(SecretsClient* c,
                                                   const std::string& name,
                                                   uint32_t version = 0) {
    v1::GetSecretRequest get;
    get.mutable_target()->set_scope("shop");
    get.set_name(name);
    get.set_version(version);
    return c->GetSecret(get);
  }

  // Every read path's answer for `name`, as `c` sees it, in a form that
  // can be compared between a pinned and a missing secret.
  std::vector<std::string> EveryReadPath(SecretsClient* c,
                                         const std::string& name) {
    std::vector<std::string> out;
    auto add = [&](const std::string& what, const Answer& a,
                   const std::string& extra = "") {
      out.push_back(absl::StrCat(what, " ", absl::StatusCodeToString(a.code),
                                 " ", a.message, " ", extra));
    };
    add("GetSecret", AnswerOf(Get(c, name)));
    add("GetSecret v1", AnswerOf(Get(c, name, 1)));
    {
      v1::GetSecretsRequest req;
      req.mutable_target()->set_scope("shop");
      req.add_names(name);
      req.add_names("plain");
      auto r = c->GetSecrets(req);
      std::string extra;
      if (r.ok()) {
        extra = absl::StrCat("values=", r->values_size(),
                             " missing=", absl::StrJoin(r->missing(), ","));
        EXPECT_EQ(r->values().count(name), 0u);
      }
      add("GetSecrets", AnswerOf(r), extra);
    }
    {
      auto r = Resolve(c, absl::StrCat("$S:", name));
      add("ResolveEnv", AnswerOf(r));
    }
    {
      v1::CheckEnvRequest req;
      (*req.mutable_env())["DB"] = absl::StrCat("$S:", name);
      req.mutable_context()->set_deployment("shop");
      auto r = c->CheckEnv(req);
      std::string extra;
      if (r.ok() && r->entries_size() == 1) {
        const v1::CheckedEntry& e = r->entries(0);
        extra = absl::StrCat("exists=", e.exists(), " readable=", e.readable(),
                             " version=", e.version(), " error=", e.error(),
                             " ok=", r->ok());
      }
      add("CheckEnv", AnswerOf(r), extra);
    }
    {
      v1::ExportSecretsRequest req;
      req.mutable_target()->set_scope("shop");
      auto r = c->ExportSecrets(req);
      std::string extra;
      if (r.ok()) {
        EXPECT_THAT(r->content(), Not(HasSubstr(kCanary)));
        extra = absl::StrCat("count=", r->count(), " content=", r->content());
      }
      add("ExportSecrets", AnswerOf(r), extra);
    }
    {
      v1::ListSecretsRequest req;
      req.mutable_target()->set_scope("shop");
      auto r = c->ListSecrets(req);
      std::string extra;
      if (r.ok()) {
        for (const auto& m : r->secrets())
          absl::StrAppend(&extra, m.name(), ",");
      }
      add("ListSecrets", AnswerOf(r), extra);
    }
    {
      v1::SecretExistsRequest req;
      req.mutable_target()->set_scope("shop");
      req.set_name(name);
      auto r = c->SecretExists(req);
      add("SecretExists", AnswerOf(r),
          r.ok() ? absl::StrCat("exists=", r->exists()) : "");
    }
    {
      v1::ListVersionsRequest req;
      req.mutable_target()->set_scope("shop");
      req.set_name(name);
      add("ListVersions", AnswerOf(c->ListVersions(req)));
    }
    {
      v1::ListConsumersRequest req;
      req.mutable_target()->set_scope("shop");
      req.set_name(name);
      auto r = c->ListConsumers(req);
      add("ListConsumers", AnswerOf(r),
          r.ok() ? absl::StrCat("consumers=", r->consumers_size()) : "");
    }
    return out;
  }

  // Audit lines (JSON, one per call) holding every one of `parts`.
  std::vector<std::string> AuditLines(const std::vector<std::string>& parts) {
    absl::StatusOr<std::string> text = ReadFile(data() + "/audit.log");
    EXPECT_TRUE(text.ok()) << text.status();
    std::vector<std::string> out;
    if (!text.ok()) return out;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      bool all = !line.empty();
      for (const std::string& p : parts) {
        all = all && absl::StrContains(line, p);
      }
      if (all) out.emplace_back(line);
    }
    return out;
  }

  TempDir dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  std::unique_ptr<SecretsClient> admin_;
  std::string n1_key_, n2_key_, zone_key_, writer_key_;
};

// The acceptance: an agent key for node n1 resolves a secret pinned
// to n1; n2 gets NOT_FOUND; both cases audited.
TEST_F(NodeAffinityTest, AgentOfThePinnedNodeResolvesOtherNodeGetsNotFound) {
  std::unique_ptr<SecretsClient> n1 = Agent(n1_key_);
  absl::StatusOr<v1::ResolveEnvResponse> ok = Resolve(n1.get(), "$S:db");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->env().at("DB"), kCanary);

  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  absl::StatusOr<v1::ResolveEnvResponse> refused = Resolve(n2.get(), "$S:db");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound)
      << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr("node")));

  std::vector<std::string> allowed =
      AuditLines({"\"subject\":\"apikey:agent-n1\"", "\"rpc\":\"ResolveEnv\"",
                  "\"code\":\"OK\"", "\"targets\":[\"shop/db\"]"});
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_THAT(allowed[0], Not(HasSubstr("node_affinity_hidden")));
  std::vector<std::string> denied = AuditLines(
      {"\"subject\":\"apikey:agent-n2\"", "\"rpc\":\"ResolveEnv\"",
       "\"code\":\"NOT_FOUND\"", "\"node_affinity_hidden\":[\"shop/db\"]"});
  EXPECT_EQ(denied.size(), 1u);
  for (const std::string& line : AuditLines({"ResolveEnv"})) {
    EXPECT_THAT(line, Not(HasSubstr(kCanary)));
  }
}

TEST_F(NodeAffinityTest, EveryReadPathOfAnotherNodeSeesNothing) {
  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  std::vector<std::string> answers = EveryReadPath(n2.get(), "db");
  const std::vector<std::string> expected = {
      "GetSecret NOT_FOUND secret not found ",
      "GetSecret v1 NOT_FOUND secret not found ",
      "GetSecrets OK  values=1 missing=db",
  };
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(answers[i], expected[i]);
  EXPECT_THAT(answers[3], HasSubstr("ResolveEnv NOT_FOUND"));
  EXPECT_THAT(answers[4], HasSubstr("exists=0"));
  EXPECT_THAT(answers[5], HasSubstr("count=1"));
  EXPECT_THAT(answers[6], HasSubstr("ListSecrets OK  plain,"));
  EXPECT_THAT(answers[6], Not(HasSubstr("db")));
  EXPECT_EQ(answers[7], "SecretExists OK  exists=0");
  EXPECT_EQ(answers[8], "ListVersions NOT_FOUND secret not found ");
  // Each refusal is audited with its reason.
  for (const char* rpc :
       {"GetSecret", "GetSecrets", "ResolveEnv", "CheckEnv", "ExportSecrets",
        "ListSecrets", "SecretExists", "ListVersions"}) {
    EXPECT_FALSE(AuditLines({"\"subject\":\"apikey:agent-n2\"",
                             absl::StrCat("\"rpc\":\"", rpc, "\""),
                             "\"node_affinity_hidden\":[\"shop/db\"]"})
                     .empty())
        << rpc;
  }

  // The agent of n1 sees it everywhere, without the affinity itself
  // (administrators only).
  std::unique_ptr<SecretsClient> n1 = Agent(n1_key_);
  absl::StatusOr<v1::GetSecretResponse> got = Get(n1.get(), "db");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), kCanary);
  EXPECT_EQ(got->metadata().node_affinity_size(), 0);
  v1::ListSecretsRequest list;
  list.mutable_target()->set_scope("shop");
  absl::StatusOr<v1::ListSecretsResponse> listed = n1->ListSecrets(list);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->secrets_size(), 2);
  for (const auto& m : listed->secrets()) EXPECT_EQ(m.node_affinity_size(), 0);
}

TEST_F(NodeAffinityTest, AnotherNodeGetsExactlyTheAnswersOfAMissingSecret) {
  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  const std::vector<std::string> pinned = EveryReadPath(n2.get(), "db");
  v1::DestroySecretRequest destroy;
  destroy.mutable_target()->set_scope("shop");
  destroy.set_name("db");
  ASSERT_TRUE(admin_->DestroySecret(destroy).ok());
  const std::vector<std::string> missing = EveryReadPath(n2.get(), "db");
  EXPECT_EQ(pinned, missing);
}

TEST_F(NodeAffinityTest, LabelsMatchAndAdministratorsSeeTheAffinityButNoValue) {
  v1::SetSecretRequest set = SetRequest("zoned", "zone-value");
  set.mutable_node_affinity()->add_entries("label:zone=a");
  set.mutable_node_affinity()->add_entries("node:n9");
  ASSERT_TRUE(admin_->SetSecret(set).ok());
  std::unique_ptr<SecretsClient> zone = Agent(zone_key_);
  absl::StatusOr<v1::GetSecretResponse> got = Get(zone.get(), "zoned");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), "zone-value");
  EXPECT_EQ(Get(zone.get(), "db").status().code(), absl::StatusCode::kNotFound);

  // The administrator (root on the socket, no node) lists both pinned
  // secrets with their affinities, but gets no pinned value.
  v1::ListSecretsRequest list;
  list.mutable_target()->set_scope("shop");
  absl::StatusOr<v1::ListSecretsResponse> listed = admin_->ListSecrets(list);
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> rows;
  for (const auto& m : listed->secrets()) {
    rows.push_back(
        absl::StrCat(m.name(), "=", absl::StrJoin(m.node_affinity(), ",")));
  }
  EXPECT_THAT(rows, ::testing::ElementsAre(
                        "db=node:n1", "plain=", "zoned=label:zone=a,node:n9"));
  EXPECT_EQ(Get(admin_.get(), "db").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(NodeAffinityTest, WriterWithoutANodeCannotUnpinOrRepin) {
  std::unique_ptr<SecretsClient> writer = Agent(writer_key_);
  v1::SetSecretRequest clear = SetRequest("db", "attacker");
  clear.mutable_node_affinity();  // present and empty = remove
  EXPECT_EQ(writer->SetSecret(clear).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::SetSecretRequest move = SetRequest("db", "attacker");
  move.mutable_node_affinity()->add_entries("node:n2");
  EXPECT_EQ(writer->SetSecret(move).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::RotateSecretRequest rotate;
  rotate.mutable_target()->set_scope("shop");
  rotate.set_name("db");
  rotate.set_value("attacker");
  rotate.mutable_node_affinity();
  // A rotation that names an affinity first reads the secret's version as
  // the caller sees it: hidden, so NOT_FOUND (refused either way).
  EXPECT_EQ(writer->RotateSecret(rotate).status().code(),
            absl::StatusCode::kNotFound);
  // Soft-deleted, the pin still holds against a revival that drops it.
  v1::DeleteSecretRequest del;
  del.mutable_target()->set_scope("shop");
  del.set_name("db");
  ASSERT_TRUE(admin_->DeleteSecret(del).ok());
  EXPECT_EQ(writer->SetSecret(clear).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::UndeleteSecretRequest undel;
  undel.mutable_target()->set_scope("shop");
  undel.set_name("db");
  ASSERT_TRUE(admin_->UndeleteSecret(undel).ok());

  // Nothing changed: version 1, still pinned; the old value never left.
  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  EXPECT_EQ(Get(n2.get(), "db", 1).status().code(),
            absl::StatusCode::kNotFound);
  std::unique_ptr<SecretsClient> n1 = Agent(n1_key_);
  absl::StatusOr<v1::GetSecretResponse> got = Get(n1.get(), "db");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value(), kCanary);
  EXPECT_EQ(got->version(), 1u);

  // An overwrite that does not name an affinity keeps it; pinning a secret
  // that has none only narrows it and is allowed.
  ASSERT_TRUE(writer->SetSecret(SetRequest("db", "next")).ok());
  EXPECT_EQ(Get(n2.get(), "db").status().code(), absl::StatusCode::kNotFound);
  v1::SetSecretRequest pin = SetRequest("plain", "pinned-now");
  pin.mutable_node_affinity()->add_entries("n1");
  absl::StatusOr<v1::SetSecretResponse> pinned = writer->SetSecret(pin);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->metadata().node_affinity_size(), 0);  // not an admin
  EXPECT_EQ(Get(n2.get(), "plain").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(n1.get(), "plain")->value(), "pinned-now");
  // The administrator may change it.
  v1::SetSecretRequest to_n2 = SetRequest("db", "for-n2");
  to_n2.mutable_node_affinity()->add_entries("n2");
  ASSERT_TRUE(admin_->SetSecret(to_n2).ok());
  EXPECT_EQ(Get(n2.get(), "db")->value(), "for-n2");
  EXPECT_EQ(Get(n2.get(), "db", 1).status().code(),
            absl::StatusCode::kOk);  // the affinity covers every version
}

TEST_F(NodeAffinityTest, MalformedAffinitiesAreRefusedAndNothingIsWritten) {
  struct Case {
    std::vector<std::string> entries;
    std::string message_part;
  };
  std::vector<Case> cases = {
      {{"node:"}, "node affinity entry 1"},
      {{"n1", "label:zone"}, "node affinity entry 2 'label:zone'"},
      {{"host:n1"}, "an entry is node:<name>"},
      {{"node:a b"}, "node affinity entry 1: a node name"},
      {{std::string(64, 'x')}, "node affinity entry 1"},
      {{"node:sec\x01ret"}, "node affinity entry 1: "},
  };
  std::vector<std::string> many;
  for (int i = 0; i < 33; ++i) many.push_back(absl::StrCat("n", i));
  cases.push_back({many, "at most 32"});
  for (const Case& c : cases) {
    v1::SetSecretRequest set = SetRequest("bad", "v");
    for (const std::string& e : c.entries) {
      set.mutable_node_affinity()->add_entries(e);
    }
    absl::StatusOr<v1::SetSecretResponse> r = admin_->SetSecret(set);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message_part));
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("sec\x01")));
  }
  v1::RotateSecretRequest rotate;
  rotate.mutable_target()->set_scope("shop");
  rotate.set_name("db");
  rotate.set_value("v");
  rotate.mutable_node_affinity()->add_entries("label:=a");
  EXPECT_EQ(admin_->RotateSecret(rotate).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::SecretExistsRequest exists;
  exists.mutable_target()->set_scope("shop");
  exists.set_name("bad");
  EXPECT_FALSE(admin_->SecretExists(exists)->exists());
  std::unique_ptr<SecretsClient> n1 = Agent(n1_key_);
  EXPECT_EQ(Get(n1.get(), "db")->version(), 1u);
  // Node roles follow the same rules.
  v1::CreateApiKeyRequest key;
  key.set_id("bad-node");
  key.add_roles("node:a/b");
  EXPECT_EQ(admin_->CreateApiKey(key).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(NodeAffinityTest, RowEditedOfflineToDropTheAffinityIsDataLoss) {
  Stop();
  {
    // The attacker's edit, straight into the file (no store code involved).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data() + "/secrets.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db,
                           "UPDATE secrets SET node_affinity = '' "
                           "WHERE scope = 'shop' AND name = 'db'",
                           nullptr, nullptr, &error),
              SQLITE_OK)
        << (error != nullptr ? error : "");
    sqlite3_free(error);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  Start();
  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  absl::StatusOr<v1::GetSecretResponse> got = Get(n2.get(), "db");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  absl::StatusOr<v1::ResolveEnvResponse> resolved = Resolve(n2.get(), "$S:db");
  EXPECT_FALSE(resolved.ok());
  EXPECT_NE(resolved.status().code(), absl::StatusCode::kOk);
  EXPECT_THAT(resolved.status().ToString(), Not(HasSubstr(kCanary)));
  EXPECT_EQ(Get(admin_.get(), "db").status().code(),
            absl::StatusCode::kDataLoss);
  // Unpinned secrets are untouched.
  EXPECT_EQ(Get(n2.get(), "plain")->value(), kPlain);
}

TEST_F(NodeAffinityTest, CliSetsAndShowsTheAffinityToAdministrators) {
  const std::string cli = Runfile("client/zlayer-secret");
  std::string out;
  absl::StatusOr<int> code = RunProgram(
      {cli, "--socket", socket(), "--deployment", "shop", "set", "cli-pinned",
       "--value", "v1", "--node-affinity", "n1,label:zone=a"},
      &out);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << out;
  code = RunProgram(
      {cli, "--socket", socket(), "--deployment", "shop", "get", "cli-pinned"},
      &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  EXPECT_THAT(out, HasSubstr("Node affinity: label:zone=a,node:n1"));
  code = RunProgram({cli, "--socket", socket(), "--deployment", "shop", "ls"},
                    &out);
  ASSERT_TRUE(code.ok());
  EXPECT_THAT(out, HasSubstr("NODE_AFFINITY"));
  EXPECT_THAT(out, HasSubstr("label:zone=a,node:n1"));
  code =
      RunProgram({cli, "--socket", socket(), "--deployment", "shop", "rotate",
                  "cli-pinned", "--value", "v2", "--node-affinity", "n2"},
                 &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  std::unique_ptr<SecretsClient> n2 = Agent(n2_key_);
  EXPECT_EQ(Get(n2.get(), "cli-pinned")->value(), "v2");
  code = RunProgram({cli, "--socket", socket(), "--deployment", "shop", "set",
                     "cli-bad", "--value", "v", "--node-affinity", "label:x"},
                    &out);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(out, HasSubstr("node affinity entry 1"));
}

// mTLS: a verified client certificate named system:node:<name> (or
// node:<name>) speaks for that node; the key it calls with has no node.
class NodeCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TlsMaterial> tls =
        testing::MakeTlsMaterial(dir_.path(), "t-");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *tls;
    MakeClientCert("system:node:n1", "kubelet-n1");
    MakeClientCert("node:n2", "n2");
    absl::StatusOr<std::unique_ptr<DaemonProcess>> proc = DaemonProcess::Start(
        {"--data-dir", dir_.Sub("data"), "--key-dir", dir_.Sub("data"),
         "--bootstrap-admin-key", "none", "--socket", dir_.Sub("d.sock"),
         "--listen", "127.0.0.1:0", "--tls-cert", tls_.server_cert, "--tls-key",
         tls_.server_key, "--tls-client-ca", tls_.ca_cert},
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
    ClientOptions options;
    options.address = "unix:" + dir_.Sub("d.sock");
    absl::StatusOr<std::unique_ptr<SecretsClient>> admin =
        SecretsClient::Connect(std::move(options));
    ASSERT_TRUE(admin.ok()) << admin.status();
    v1::SetSecretRequest set;
    set.mutable_target()->set_scope("shop");
    set.set_name("db");
    set.set_value(kCanary);
    set.mutable_node_affinity()->add_entries("n1");
    ASSERT_TRUE((*admin)->SetSecret(set).ok());
    v1::CreateApiKeyRequest create;
    create.set_id("agent");
    absl::StatusOr<v1::CreateApiKeyResponse> key =
        (*admin)->CreateApiKey(create);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = key->presentable_key();
    v1::GrantRequest grant;
    grant.set_subject("apikey:agent");
    grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
    grant.mutable_resource()->set_id("shop");
    grant.set_level(v1::ACCESS_LEVEL_EXECUTE);
    ASSERT_TRUE((*admin)->Grant(grant).ok());
  }

  // A client certificate with common name `cn`, signed by the test CA, as
  // <file>.pem / <file>.key.
  void MakeClientCert(const std::string& cn, const std::string& file) {
    const std::string p = dir_.Sub(file);
    for (const std::vector<std::string>& step :
         std::vector<std::vector<std::string>>{
             {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + cn,
              "-keyout", p + ".key", "-out", p + ".csr"},
             {"/usr/bin/openssl", "x509", "-req", "-in", p + ".csr", "-CA",
              tls_.ca_cert, "-CAkey", tls_.ca_key, "-CAcreateserial", "-days",
              "2", "-out", p + ".pem"}}) {
      std::string out;
      absl::StatusOr<int> rc = RunProgram(step, &out);
      ASSERT_TRUE(rc.ok()) << rc.status();
      ASSERT_EQ(*rc, 0) << out;
    }
  }

  absl::StatusOr<v1::GetSecretResponse> GetAs(const std::string& cert,
                                              const std::string& key) {
    ClientOptions options;
    options.address = absl::StrCat("127.0.0.1:", port_);
    options.tls_ca_file = tls_.ca_cert;
    options.tls_server_name = "localhost";
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    options.api_key = SecretBytes::FromString(key_);
    options.retry.max_attempts = 1;
    absl::StatusOr<std::unique_ptr<SecretsClient>> c =
        SecretsClient::Connect(std::move(options));
    if (!c.ok()) return c.status();
    v1::GetSecretRequest get;
    get.mutable_target()->set_scope("shop");
    get.set_name("db");
    return (*c)->GetSecret(get);
  }

  TempDir dir_;
  testing::TlsMaterial tls_;
  std::unique_ptr<DaemonProcess> daemon_;
  int port_ = 0;
  std::string key_;
};

TEST_F(NodeCertificateTest, CertificateNamedForTheNodeReadsOthersDoNot) {
  absl::StatusOr<v1::GetSecretResponse> kubelet =
      GetAs(dir_.Sub("kubelet-n1.pem"), dir_.Sub("kubelet-n1.key"));
  ASSERT_TRUE(kubelet.ok()) << kubelet.status();
  EXPECT_EQ(kubelet->value(), kCanary);
  EXPECT_EQ(GetAs(dir_.Sub("n2.pem"), dir_.Sub("n2.key")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(GetAs(tls_.client_cert, tls_.client_key).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets
