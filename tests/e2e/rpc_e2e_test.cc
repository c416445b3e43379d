// End to end at the RPC level: every Secrets and Admin method through the
// client library against the real zlayer-secretsd, once over the Unix socket
// and once over TLS TCP (bootstrap admin API key). Besides the results, each
// error path checks its gRPC code and that nothing was written.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "core/base/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_daemon.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::Transport;
using ::testing::UnorderedElementsAre;

v1::Target Scope(const std::string& scope) {
  v1::Target t;
  t.set_scope(scope);
  return t;
}

template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& r) {
  return r.status().code();
}

class RpcE2eTest : public testing::TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<SecretsClient>> client =
        SecretsClient::Connect(daemon_->client_options());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  absl::StatusOr<v1::SetSecretResponse> Set(const std::string& scope,
                                            const std::string& name,
                                            const std::string& value) {
    v1::SetSecretRequest req;
    *req.mutable_target() = Scope(scope);
    req.set_name(name);
    req.set_value(value);
    return client_->SetSecret(req);
  }

  // The current value, or the error's code as text.
  std::string Value(const std::string& scope, const std::string& name,
                    uint32_t version = 0) {
    v1::GetSecretRequest req;
    *req.mutable_target() = Scope(scope);
    req.set_name(name);
    req.set_version(version);
    absl::StatusOr<v1::GetSecretResponse> r = client_->GetSecret(req);
    if (!r.ok()) return absl::StatusCodeToString(r.status().code());
    return r->value();
  }

  // Names listed in `scope` (live ones).
  std::vector<std::string> Names(const std::string& scope) {
    v1::ListSecretsRequest req;
    *req.mutable_target() = Scope(scope);
    absl::StatusOr<v1::ListSecretsResponse> r = client_->ListSecrets(req);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> names;
    if (r.ok()) {
      for (const v1::SecretMetadata& m : r->secrets())
        names.push_back(m.name());
    }
    return names;
  }

  std::unique_ptr<SecretsClient> client_;
};

TEST_P(RpcE2eTest, SetGetExistsAndBatch) {
  absl::StatusOr<v1::SetSecretResponse> set = Set("rpc-get", "db", "pw-1");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->created());
  EXPECT_EQ(set->metadata().version(), 1u);
  ASSERT_TRUE(Set("rpc-get", "cfg", R"({"user":"app","port":5432})").ok());
  EXPECT_EQ(Value("rpc-get", "db"), "pw-1");

  v1::GetSecretRequest field;
  *field.mutable_target() = Scope("rpc-get");
  field.set_name("cfg");
  field.set_field("user");
  absl::StatusOr<v1::GetSecretResponse> user = client_->GetSecret(field);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->value(), "app");
  field.set_field("absent");
  EXPECT_EQ(CodeOf(client_->GetSecret(field)), absl::StatusCode::kNotFound);

  v1::SecretExistsRequest exists;
  *exists.mutable_target() = Scope("rpc-get");
  exists.set_name("db");
  absl::StatusOr<v1::SecretExistsResponse> yes = client_->SecretExists(exists);
  ASSERT_TRUE(yes.ok()) << yes.status();
  EXPECT_TRUE(yes->exists());
  exists.set_name("nope");
  absl::StatusOr<v1::SecretExistsResponse> no = client_->SecretExists(exists);
  ASSERT_TRUE(no.ok()) << no.status();
  EXPECT_FALSE(no->exists());

  v1::GetSecretsRequest batch;
  *batch.mutable_target() = Scope("rpc-get");
  batch.add_names("db");
  batch.add_names("cfg");
  batch.add_names("nope");
  absl::StatusOr<v1::GetSecretsResponse> many = client_->GetSecrets(batch);
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_EQ(many->values().at("db"), "pw-1");
  EXPECT_EQ(many->versions().at("cfg"), 1u);
  EXPECT_THAT(many->missing(), ElementsAre("nope"));

  EXPECT_EQ(Value("rpc-get", "missing"), "NOT_FOUND");
}

TEST_P(RpcE2eTest, ListSecretsPagesAndFilters) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Set("rpc-list", absl::StrCat("app_", i), "v").ok());
  }
  ASSERT_TRUE(Set("rpc-list", "other", "v").ok());
  v1::ListSecretsRequest req;
  *req.mutable_target() = Scope("rpc-list");
  req.set_name_prefix("app_");
  req.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    absl::StatusOr<v1::ListSecretsResponse> r = client_->ListSecrets(req);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LE(r->secrets_size(), 2);
    for (const v1::SecretMetadata& m : r->secrets()) {
      seen.push_back(m.name());
      EXPECT_EQ(m.scope(), "rpc-list");
    }
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  EXPECT_THAT(seen, ElementsAre("app_0", "app_1", "app_2", "app_3", "app_4"));
  req.set_page_token("not-a-token");
  EXPECT_EQ(CodeOf(client_->ListSecrets(req)),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RpcE2eTest, CheckAndSetWritesNothingOnMismatch) {
  v1::SetSecretRequest req;
  *req.mutable_target() = Scope("rpc-cas");
  req.set_name("k");
  req.set_value("first");
  req.set_expected_version(0);  // create only
  ASSERT_TRUE(client_->SetSecret(req).ok());
  req.set_value("second");
  EXPECT_EQ(CodeOf(client_->SetSecret(req)), absl::StatusCode::kAlreadyExists);
  req.set_expected_version(7);
  EXPECT_EQ(CodeOf(client_->SetSecret(req)),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Value("rpc-cas", "k"), "first");
  req.set_expected_version(1);
  absl::StatusOr<v1::SetSecretResponse> ok = client_->SetSecret(req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->metadata().version(), 2u);
  EXPECT_EQ(Value("rpc-cas", "k"), "second");
}

TEST_P(RpcE2eTest, BadInputIsRefusedAndNothingIsWritten) {
  // Oversized value (the default limit is 1 MiB).
  absl::StatusOr<v1::SetSecretResponse> big =
      Set("rpc-bad", "big", std::string((1 << 20) + 1, 'x'));
  EXPECT_EQ(CodeOf(big), absl::StatusCode::kInvalidArgument);
  // Names the store cannot hold.
  EXPECT_EQ(CodeOf(Set("rpc-bad", "", "v")),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Set("rpc-bad", "bad\nname", "v")),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Set("rpc-bad", std::string(300, 'n'), "v")),
            absl::StatusCode::kInvalidArgument);
  // No target at all.
  v1::SetSecretRequest untargeted;
  untargeted.set_name("x");
  untargeted.set_value("v");
  EXPECT_EQ(CodeOf(client_->SetSecret(untargeted)),
            absl::StatusCode::kInvalidArgument);
  // A batch over the limit.
  v1::GetSecretsRequest batch;
  *batch.mutable_target() = Scope("rpc-bad");
  for (int i = 0; i < 1001; ++i) batch.add_names(absl::StrCat("n", i));
  EXPECT_EQ(CodeOf(client_->GetSecrets(batch)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Names("rpc-bad"), IsEmpty());
}

TEST_P(RpcE2eTest, DeleteUndeleteDestroy) {
  ASSERT_TRUE(Set("rpc-del", "gone", "v").ok());
  v1::DeleteSecretRequest del;
  *del.mutable_target() = Scope("rpc-del");
  del.set_name("gone");
  ASSERT_TRUE(client_->DeleteSecret(del).ok());
  EXPECT_EQ(Value("rpc-del", "gone"), "NOT_FOUND");
  EXPECT_EQ(CodeOf(client_->DeleteSecret(del)), absl::StatusCode::kNotFound);

  v1::ListSecretsRequest with_deleted;
  *with_deleted.mutable_target() = Scope("rpc-del");
  with_deleted.set_include_deleted(true);
  absl::StatusOr<v1::ListSecretsResponse> listed =
      client_->ListSecrets(with_deleted);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->secrets_size(), 1);
  EXPECT_TRUE(listed->secrets(0).deleted());

  v1::UndeleteSecretRequest undel;
  *undel.mutable_target() = Scope("rpc-del");
  undel.set_name("gone");
  absl::StatusOr<v1::UndeleteSecretResponse> back =
      client_->UndeleteSecret(undel);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->metadata().deleted());
  EXPECT_EQ(Value("rpc-del", "gone"), "v");

  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = Scope("rpc-del");
  destroy.set_name("gone");
  ASSERT_TRUE(client_->DestroySecret(destroy).ok());
  EXPECT_EQ(CodeOf(client_->UndeleteSecret(undel)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(client_->DestroySecret(destroy)),
            absl::StatusCode::kNotFound);
}

TEST_P(RpcE2eTest, RotateVersionsRollback) {
  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = Scope("rpc-rot");
  rotate.set_name("api");
  rotate.set_value("two");
  EXPECT_EQ(CodeOf(client_->RotateSecret(rotate)), absl::StatusCode::kNotFound);
  EXPECT_THAT(Names("rpc-rot"), IsEmpty());

  ASSERT_TRUE(Set("rpc-rot", "api", "one").ok());
  absl::StatusOr<v1::RotateSecretResponse> rotated =
      client_->RotateSecret(rotate);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->previous_version(), 1u);
  EXPECT_EQ(rotated->new_version(), 2u);

  v1::ListVersionsRequest versions;
  *versions.mutable_target() = Scope("rpc-rot");
  versions.set_name("api");
  absl::StatusOr<v1::ListVersionsResponse> listed =
      client_->ListVersions(versions);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->versions_size(), 2);
  EXPECT_EQ(listed->versions(0).version(), 2u);  // newest first

  v1::RollbackSecretRequest rollback;
  *rollback.mutable_target() = Scope("rpc-rot");
  rollback.set_name("api");
  rollback.set_version(1);
  absl::StatusOr<v1::RollbackSecretResponse> back =
      client_->RollbackSecret(rollback);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->metadata().version(), 3u);
  EXPECT_EQ(Value("rpc-rot", "api"), "one");
  EXPECT_EQ(Value("rpc-rot", "api", 2), "two");
  rollback.set_version(99);
  EXPECT_EQ(CodeOf(client_->RollbackSecret(rollback)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Value("rpc-rot", "api"), "one");
}

TEST_P(RpcE2eTest, ResolveEnvIsAllOrNothing) {
  ASSERT_TRUE(Set("rpc-res", "db_password", "pw-res").ok());
  ASSERT_TRUE(Set("rpc-res/web", "token", R"({"key":"k-1"})").ok());
  v1::ResolveEnvRequest req;
  (*req.mutable_env())["DB_PASSWORD"] = "$S:db_password";
  (*req.mutable_env())["TOKEN_KEY"] = "$S:@web/token/key";
  (*req.mutable_env())["MODE"] = "prod";
  req.mutable_context()->set_deployment("rpc-res");
  absl::StatusOr<v1::ResolveEnvResponse> ok = client_->ResolveEnv(req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->env().at("DB_PASSWORD"), "pw-res");
  EXPECT_EQ(ok->env().at("TOKEN_KEY"), "k-1");
  EXPECT_EQ(ok->env().at("MODE"), "prod");
  ASSERT_EQ(ok->receipt_size(), 2);
  EXPECT_EQ(ok->receipt(0).key(), "DB_PASSWORD");
  EXPECT_EQ(ok->receipt(0).scope(), "rpc-res");
  EXPECT_EQ(ok->receipt(1).scope(), "rpc-res/web");
  EXPECT_EQ(ok->receipt(1).field(), "key");

  (*req.mutable_env())["MISSING"] = "$S:nope";
  (*req.mutable_env())["BROKEN"] = "$S:";
  absl::StatusOr<v1::ResolveEnvResponse> bad = client_->ResolveEnv(req);
  EXPECT_EQ(CodeOf(bad), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("MISSING"));
  EXPECT_THAT(bad.status().message(), HasSubstr("BROKEN"));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("pw-res")));
}

TEST_P(RpcE2eTest, CheckEnvReportsWithoutValues) {
  ASSERT_TRUE(Set("rpc-chk", "db_password", "pw-chk").ok());
  v1::CheckEnvRequest req;
  (*req.mutable_env())["DB_PASSWORD"] = "$S:db_password";
  (*req.mutable_env())["MISSING"] = "$S:nope";
  (*req.mutable_env())["PLAIN"] = "x";
  req.mutable_context()->set_deployment("rpc-chk");
  absl::StatusOr<v1::CheckEnvResponse> r = client_->CheckEnv(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ok());
  ASSERT_EQ(r->entries_size(), 3);
  EXPECT_EQ(r->entries(0).key(), "DB_PASSWORD");
  EXPECT_TRUE(r->entries(0).exists());
  EXPECT_TRUE(r->entries(0).readable());
  EXPECT_EQ(r->entries(0).reference(), "$S:db_password");
  EXPECT_EQ(r->entries(1).key(), "MISSING");
  EXPECT_FALSE(r->entries(1).exists());
  EXPECT_FALSE(r->entries(1).error().empty());
  EXPECT_FALSE(r->entries(2).is_reference());
  EXPECT_THAT(r->DebugString(), Not(HasSubstr("pw-chk")));
}

TEST_P(RpcE2eTest, ImportDryRunThenApplyThenExport) {
  v1::ImportSecretsRequest imp;
  *imp.mutable_target() = Scope("rpc-imp");
  imp.set_format(v1::SECRET_FORMAT_DOTENV);
  imp.set_content("A=1\nB=\"two words\"\n");
  imp.set_dry_run(true);
  absl::StatusOr<v1::ImportSecretsResponse> dry = client_->ImportSecrets(imp);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->created(), 2u);
  EXPECT_FALSE(dry->applied());
  EXPECT_THAT(Names("rpc-imp"), IsEmpty());

  imp.set_dry_run(false);
  absl::StatusOr<v1::ImportSecretsResponse> applied =
      client_->ImportSecrets(imp);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(applied->applied());
  EXPECT_THAT(Names("rpc-imp"), ElementsAre("A", "B"));

  // A malformed line: nothing of the file is written.
  imp.set_content("C=3\nthis is not dotenv\n");
  absl::StatusOr<v1::ImportSecretsResponse> broken =
      client_->ImportSecrets(imp);
  if (broken.ok()) {
    EXPECT_FALSE(broken->applied());
    EXPECT_THAT(broken->errors(), ElementsAre(HasSubstr("line 2")));
  } else {
    EXPECT_EQ(CodeOf(broken), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(Names("rpc-imp"), ElementsAre("A", "B"));

  v1::ExportSecretsRequest exp;
  *exp.mutable_target() = Scope("rpc-imp");
  exp.set_format(v1::SECRET_FORMAT_JSON);
  absl::StatusOr<v1::ExportSecretsResponse> json = client_->ExportSecrets(exp);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->count(), 2u);
  EXPECT_EQ(json->content(), "{\n  \"A\": \"1\",\n  \"B\": \"two words\"\n}\n");
}

TEST_P(RpcE2eTest, EnvironmentsCrudAndEnvironmentTargets) {
  v1::CreateEnvironmentRequest create;
  create.set_name("rpc-staging");
  create.set_description("first");
  absl::StatusOr<v1::Environment> env = client_->CreateEnvironment(create);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->scope(), absl::StrCat("env:", env->id()));
  EXPECT_EQ(CodeOf(client_->CreateEnvironment(create)),
            absl::StatusCode::kAlreadyExists);

  v1::GetEnvironmentRequest get;
  get.set_name_or_id("rpc-staging");
  absl::StatusOr<v1::Environment> by_name = client_->GetEnvironment(get);
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->id(), env->id());

  v1::UpdateEnvironmentRequest update;
  update.set_id(env->id());
  update.set_name("rpc-staging");
  update.set_description("second");
  absl::StatusOr<v1::Environment> updated = client_->UpdateEnvironment(update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->description(), "second");

  absl::StatusOr<v1::ListEnvironmentsResponse> all =
      client_->ListEnvironments({});
  ASSERT_TRUE(all.ok());
  bool listed = false;
  for (const v1::Environment& e : all->environments()) {
    listed = listed || e.id() == env->id();
  }
  EXPECT_TRUE(listed);

  // A secret in the environment, resolved through both URL and $S:: forms.
  v1::SetSecretRequest set;
  set.mutable_target()->mutable_environment()->set_name_or_id("rpc-staging");
  set.set_name("API_KEY");
  set.set_value("env-value");
  ASSERT_TRUE(client_->SetSecret(set).ok());
  v1::ResolveEnvRequest resolve;
  (*resolve.mutable_env())["A"] = "$secret://rpc-staging/API_KEY";
  (*resolve.mutable_env())["B"] = "$S::rpc-staging/API_KEY";
  absl::StatusOr<v1::ResolveEnvResponse> resolved =
      client_->ResolveEnv(resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->env().at("A"), "env-value");
  EXPECT_EQ(resolved->env().at("B"), "env-value");

  get.set_name_or_id("no-such-env");
  EXPECT_EQ(CodeOf(client_->GetEnvironment(get)), absl::StatusCode::kNotFound);
  // An environment that still holds secrets is not deleted.
  v1::DeleteEnvironmentRequest del;
  del.set_id(env->id());
  absl::StatusOr<v1::DeleteEnvironmentResponse> refused =
      client_->DeleteEnvironment(del);
  EXPECT_EQ(CodeOf(refused), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  get.set_name_or_id(env->id());
  EXPECT_TRUE(client_->GetEnvironment(get).ok());
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = set.target();
  destroy.set_name("API_KEY");
  ASSERT_TRUE(client_->DestroySecret(destroy).ok());
  absl::StatusOr<v1::DeleteEnvironmentResponse> deleted =
      client_->DeleteEnvironment(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(CodeOf(client_->DeleteEnvironment(del)),
            absl::StatusCode::kNotFound);
}

TEST_P(RpcE2eTest, ApiKeysAndGrants) {
  const std::string id =
      absl::StrCat("rpc-", testing::TransportName(GetParam()));
  v1::CreateApiKeyRequest create;
  create.set_id(id);
  create.add_roles("reader");
  absl::StatusOr<v1::CreateApiKeyResponse> key = client_->CreateApiKey(create);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(key->presentable_key(), ::testing::StartsWith("zs_" + id + "."));
  EXPECT_EQ(CodeOf(client_->CreateApiKey(create)),
            absl::StatusCode::kAlreadyExists);

  v1::SetApiKeyRolesRequest roles;
  roles.set_id(id);
  roles.add_roles("writer");
  absl::StatusOr<v1::ApiKey> changed = client_->SetApiKeyRoles(roles);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_THAT(changed->roles(), ElementsAre("writer"));
  // Rotation: a new secret with the same roles; the old secret stops
  // working at once, even though the daemon had it in its verified cache.
  auto client_with_key = [&](const std::string& presentable) {
    ClientOptions options = daemon_->client_options();
    options.api_key = SecretBytes::FromString(presentable);
    return SecretsClient::Connect(std::move(options));
  };
  absl::StatusOr<std::unique_ptr<SecretsClient>> old_client =
      client_with_key(key->presentable_key());
  ASSERT_TRUE(old_client.ok());
  if (GetParam() == Transport::kTls) {
    absl::StatusOr<v1::WhoAmIResponse> who = (*old_client)->WhoAmI({});
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->subject(), "apikey:" + id);
  }
  v1::RotateApiKeyRequest rotate;
  rotate.set_id(id);
  absl::StatusOr<v1::CreateApiKeyResponse> rotated =
      client_->RotateApiKey(rotate);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->presentable_key(), key->presentable_key());
  EXPECT_THAT(rotated->key().roles(), ElementsAre("writer"));
  if (GetParam() == Transport::kTls) {
    EXPECT_EQ(CodeOf((*old_client)->WhoAmI({})),
              absl::StatusCode::kUnauthenticated);
    absl::StatusOr<std::unique_ptr<SecretsClient>> new_client =
        client_with_key(rotated->presentable_key());
    ASSERT_TRUE(new_client.ok());
    absl::StatusOr<v1::WhoAmIResponse> who = (*new_client)->WhoAmI({});
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->subject(), "apikey:" + id);
  }
  rotate.set_id("no-such-key");
  EXPECT_EQ(CodeOf(client_->RotateApiKey(rotate)), absl::StatusCode::kNotFound);

  absl::StatusOr<v1::ListApiKeysResponse> keys = client_->ListApiKeys({});
  ASSERT_TRUE(keys.ok());
  std::vector<std::string> ids;
  for (const v1::ApiKey& k : keys->keys()) ids.push_back(k.id());
  EXPECT_THAT(ids, ::testing::Contains(id));

  v1::GrantRequest grant;
  grant.set_subject("apikey:" + id);
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SCOPE);
  grant.mutable_resource()->set_id("rpc-grant");
  grant.set_level(v1::ACCESS_LEVEL_READ);
  absl::StatusOr<v1::AccessGrant> granted = client_->Grant(grant);
  ASSERT_TRUE(granted.ok()) << granted.status();
  grant.set_level(v1::ACCESS_LEVEL_UNSPECIFIED);
  EXPECT_EQ(CodeOf(client_->Grant(grant)), absl::StatusCode::kInvalidArgument);
  grant.set_level(v1::ACCESS_LEVEL_WRITE);
  grant.mutable_resource()->set_kind(v1::RESOURCE_KIND_SECRET);
  grant.mutable_resource()->set_name("db");
  ASSERT_TRUE(client_->Grant(grant).ok());

  v1::ListGrantsRequest list;
  list.set_subject("apikey:" + id);
  absl::StatusOr<v1::ListGrantsResponse> grants = client_->ListGrants(list);
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->grants_size(), 2);

  v1::RevokeRequest revoke;
  revoke.set_id(granted->id());
  absl::StatusOr<v1::RevokeResponse> revoked = client_->Revoke(revoke);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->grant().level(), v1::ACCESS_LEVEL_READ);
  EXPECT_EQ(CodeOf(client_->Revoke(revoke)), absl::StatusCode::kNotFound);
  v1::RevokeMatchingRequest matching;
  matching.set_subject("apikey:" + id);
  *matching.mutable_resource() = grant.resource();
  absl::StatusOr<v1::RevokeMatchingResponse> rm =
      client_->RevokeMatching(matching);
  ASSERT_TRUE(rm.ok()) << rm.status();
  EXPECT_EQ(rm->grants_size(), 1);
  grants = client_->ListGrants(list);
  ASSERT_TRUE(grants.ok());
  EXPECT_THAT(grants->grants(), IsEmpty());

  v1::DeleteApiKeyRequest del;
  del.set_id(id);
  ASSERT_TRUE(client_->DeleteApiKey(del).ok());
  EXPECT_EQ(CodeOf(client_->DeleteApiKey(del)), absl::StatusCode::kNotFound);
}

TEST_P(RpcE2eTest, RegistryAndGitCredentials) {
  v1::CreateRegistryCredentialRequest reg;
  reg.set_registry("registry.rpc.example");
  reg.set_username("bot");
  reg.set_password("reg-pw");
  absl::StatusOr<v1::RegistryCredential> created =
      client_->CreateRegistryCredential(reg);
  ASSERT_TRUE(created.ok()) << created.status();
  v1::GetRegistryCredentialRequest get;
  get.set_registry("https://registry.rpc.example/v2/");
  absl::StatusOr<v1::GetRegistryCredentialResponse> got =
      client_->GetRegistryCredential(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->password(), "reg-pw");
  EXPECT_EQ(got->credential().username(), "bot");
  absl::StatusOr<v1::ListRegistryCredentialsResponse> regs =
      client_->ListRegistryCredentials({});
  ASSERT_TRUE(regs.ok());
  EXPECT_THAT(regs->DebugString(), HasSubstr("registry.rpc.example"));
  EXPECT_THAT(regs->DebugString(), Not(HasSubstr("reg-pw")));
  v1::DeleteRegistryCredentialRequest del_reg;
  del_reg.set_id(created->id());
  ASSERT_TRUE(client_->DeleteRegistryCredential(del_reg).ok());
  EXPECT_EQ(CodeOf(client_->GetRegistryCredential(get)),
            absl::StatusCode::kNotFound);

  v1::CreateGitCredentialRequest git;
  git.set_name("rpc-bot");
  git.set_value("pat-rpc");
  git.set_host("git.rpc.example");
  git.set_path_prefix("acme/");
  absl::StatusOr<v1::GitCredential> gc = client_->CreateGitCredential(git);
  ASSERT_TRUE(gc.ok()) << gc.status();
  v1::GetGitCredentialRequest by_url;
  by_url.mutable_url()->set_protocol("https");
  by_url.mutable_url()->set_host("git.rpc.example");
  by_url.mutable_url()->set_path("acme/app.git");
  absl::StatusOr<v1::GetGitCredentialResponse> pat =
      client_->GetGitCredential(by_url);
  ASSERT_TRUE(pat.ok()) << pat.status();
  EXPECT_EQ(pat->value(), "pat-rpc");
  by_url.mutable_url()->set_path("other/app.git");
  EXPECT_EQ(CodeOf(client_->GetGitCredential(by_url)),
            absl::StatusCode::kNotFound);
  absl::StatusOr<v1::ListGitCredentialsResponse> gits =
      client_->ListGitCredentials({});
  ASSERT_TRUE(gits.ok());
  EXPECT_EQ(gits->credentials_size(), 1);
  v1::DeleteGitCredentialRequest del_git;
  del_git.set_id(gc->id());
  ASSERT_TRUE(client_->DeleteGitCredential(del_git).ok());
  EXPECT_EQ(CodeOf(client_->DeleteGitCredential(del_git)),
            absl::StatusCode::kNotFound);
}

TEST_P(RpcE2eTest, WhoAmINamesTheCaller) {
  absl::StatusOr<v1::WhoAmIResponse> who = client_->WhoAmI({});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->transport(), testing::TransportName(GetParam()));
  if (GetParam() == Transport::kTls) {
    EXPECT_EQ(who->subject(), "apikey:admin");
    EXPECT_THAT(who->roles(), ElementsAre("admin"));
  } else {
    EXPECT_EQ(who->subject(), absl::StrCat("uid:", getuid()));
  }
}

// Online master-key rotation: every stored version is re-encrypted under a
// new key id and still reads back; a bad key is refused and changes nothing.
TEST_P(RpcE2eTest, RotateMasterKeyKeepsEveryValue) {
  ASSERT_TRUE(Set("rpc-mk", "a", "value-a").ok());
  ASSERT_TRUE(Set("rpc-mk", "a", "value-a2").ok());
  ASSERT_TRUE(Set("rpc-mk", "b", "value-b").ok());
  v1::RotateMasterKeyRequest bad;
  bad.set_new_key("too short");
  EXPECT_EQ(CodeOf(client_->RotateMasterKey(bad)),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<v1::RotateMasterKeyResponse> rotated =
      client_->RotateMasterKey({}, {absl::Seconds(60)});
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  // Schema 2: the master key wraps data keys only; no value is re-sealed.
  EXPECT_EQ(rotated->versions_reencrypted(), 0u);
  EXPECT_EQ(Value("rpc-mk", "a"), "value-a2");
  EXPECT_EQ(Value("rpc-mk", "a", 1), "value-a");
  EXPECT_EQ(Value("rpc-mk", "b"), "value-b");
  v1::GetSecretRequest get;
  *get.mutable_target() = Scope("rpc-mk");
  get.set_name("b");
  absl::StatusOr<v1::GetSecretResponse> meta = client_->GetSecret(get);
  ASSERT_TRUE(meta.ok());
  // A version's key id is the data-key generation that sealed it, which a
  // master-key rotation leaves as it is (docs/crypto.md, "Key hierarchy").
  EXPECT_EQ(meta->metadata().key_id(), 1u);
  absl::StatusOr<v1::SetSecretResponse> after = Set("rpc-mk", "c", "value-c");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->metadata().key_id(), 1u);
}

ZS_INSTANTIATE_FOR_TRANSPORTS(RpcE2eTest);

}  // namespace
}  // namespace zlayer::secrets
