// Bad input over real gRPC to the real daemon: each request gets the right
// status code and a clear message, the daemon keeps serving, and nothing is
// written (the store is compared before and after, through the API and in
// the SQLite file once the daemon has stopped).
//
// Requests that the generated client could not even build (invalid UTF-8 in
// `string` fields, garbage bodies) are sent as raw bytes through
// grpc::GenericStub, with hand-encoded protobuf.
#include <signal.h>

#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/secrets_client.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

using absl::StatusCode;

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr char kScope[] = "bad";
constexpr char kKeepValue[] = "keep-this-value";

// Protobuf wire format, by hand.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Bytes(int field, const std::string& bytes) {
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(bytes.size()) +
         bytes;
}
std::string ScopeTargetField(const std::string& scope) {
  return Bytes(1, Bytes(1, scope));  // Target target = 1 { string scope = 1 }
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    options_ = new DaemonChild::Options();
    options_->data_dir = dir_->Sub("data");
    options_->socket = dir_->Sub("d.sock");
    options_->log_path = dir_->Sub("daemon.log");
    auto daemon = DaemonChild::Start(*options_);
    ASSERT_TRUE(daemon.ok());
    daemon_ = daemon->release();
    ASSERT_TRUE(daemon_->WaitReady(kTimeout).ok()) << daemon_->Log();
    client_ = ConnectClient(options_->socket).release();
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        "unix:" + options_->socket, grpc::InsecureChannelCredentials()));
    v1::SetSecretRequest keep;
    *keep.mutable_target() = ScopeTarget(kScope);
    keep.set_name("keep");
    keep.set_value(kKeepValue);
    ASSERT_TRUE(client_->SetSecret(keep).ok());
  }

  static void TearDownTestSuite() {
    delete client_;
    delete channel_;
    // Stop, then look at the file itself: one secret, one version, in the
    // test's scope; the JSON secrets below live in their own scope.
    daemon_->Signal(SIGTERM);
    auto exited = daemon_->WaitExit(kTimeout);
    EXPECT_TRUE(exited.ok());
    if (exited.ok()) {
      EXPECT_EQ(ExitCode(*exited), 0) << daemon_->Log();
    }
    std::string db = options_->data_dir + "/secrets.db";
    auto rows = Query(db,
                      "SELECT scope, name, current_version FROM secrets "
                      "ORDER BY scope, name");
    ASSERT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> found;
    for (const auto& row : *rows) {
      // The daemon's own records (the bootstrap admin key) are not the test's.
      if (absl::StartsWith(row[0], "system:")) continue;
      found.push_back(absl::StrCat(row[0], "/", row[1], "@", row[2]));
    }
    std::vector<std::string> want = {"bad/keep@1", "json/bogus@1",
                                     "json/deep_array@1", "json/deep_object@1",
                                     "json/not_object@1"};
    EXPECT_EQ(found, want);
    auto versions = Query(db,
                          "SELECT count(*) FROM secret_versions "
                          "WHERE scope NOT LIKE 'system:%'");
    ASSERT_TRUE(versions.ok());
    EXPECT_EQ((*versions)[0][0], "5");
    EXPECT_EQ(IntegrityCheck(db), "ok");
    delete daemon_;
    delete options_;
    delete dir_;
  }

  // Every test: the daemon still serves, `keep` is intact and alone.
  void TearDown() override {
    ASSERT_TRUE(daemon_->Running()) << daemon_->Log();
    v1::ListSecretsRequest list;
    *list.mutable_target() = ScopeTarget(kScope);
    list.set_include_deleted(true);
    auto listed = client_->ListSecrets(list);
    ASSERT_TRUE(listed.ok()) << listed.status();
    ASSERT_EQ(listed->secrets_size(), 1);
    EXPECT_EQ(listed->secrets(0).name(), "keep");
    EXPECT_EQ(listed->secrets(0).version(), 1u);
    v1::GetSecretRequest get;
    *get.mutable_target() = ScopeTarget(kScope);
    get.set_name("keep");
    auto got = client_->GetSecret(get);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value(), kKeepValue);
  }

  // Sends `body` as the request of `method` ("/pkg.Service/Method").
  static grpc::Status RawCall(
      const std::string& method, const std::string& body,
      const std::multimap<std::string, std::string>& metadata = {}) {
    grpc::GenericStub stub(*channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    for (const auto& [k, v] : metadata) context.AddMetadata(k, v);
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }

  static absl::Status Set(const std::string& name, const std::string& value,
                          const std::string& scope = kScope) {
    v1::SetSecretRequest req;
    *req.mutable_target() = ScopeTarget(scope);
    req.set_name(name);
    req.set_value(value);
    return client_->SetSecret(req).status();
  }

  static TempDir* dir_;
  static DaemonChild::Options* options_;
  static DaemonChild* daemon_;
  static SecretsClient* client_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

TempDir* BadInputTest::dir_ = nullptr;
DaemonChild::Options* BadInputTest::options_ = nullptr;
DaemonChild* BadInputTest::daemon_ = nullptr;
SecretsClient* BadInputTest::client_ = nullptr;
std::shared_ptr<grpc::Channel>* BadInputTest::channel_ = nullptr;

void ExpectCode(const absl::Status& status, StatusCode code,
                const std::string& message_part, const std::string& what) {
  EXPECT_EQ(status.code(), code) << what << ": " << status;
  EXPECT_TRUE(absl::StrContains(status.message(), message_part))
      << what << ": " << status;
  std::cout << "bad_input: " << what << " -> "
            << absl::StatusCodeToString(status.code()) << " \""
            << status.message() << "\"\n";
}

void ExpectCode(const grpc::Status& status, grpc::StatusCode code,
                const std::string& message_part, const std::string& what) {
  ExpectCode(FromGrpcStatus(status), static_cast<StatusCode>(code),
             message_part, what);
}

TEST_F(BadInputTest, OversizedValuesAndNames) {
  ExpectCode(Set("big", std::string((1 << 20) + 1, 'v')),
             StatusCode::kInvalidArgument, "limit", "value of 1 MiB + 1");
  ExpectCode(Set(std::string(257, 'n'), "v"), StatusCode::kInvalidArgument,
             "name", "name of 257 bytes");
  ExpectCode(Set("v", "x", std::string(513, 's')), StatusCode::kInvalidArgument,
             "scope", "scope of 513 bytes");
  // Over the whole-message limit (8 MiB): gRPC refuses it before any handler.
  grpc::Status huge = RawCall("/zlayer.secrets.v1.Secrets/SetSecret",
                              ScopeTargetField(kScope) + Bytes(2, "huge") +
                                  Bytes(3, std::string(9 << 20, 'v')));
  ExpectCode(huge, grpc::StatusCode::RESOURCE_EXHAUSTED, "", "9 MiB message");
}

TEST_F(BadInputTest, EmptyAndControlCharacterNames) {
  for (const std::string& name :
       {std::string(""), std::string("a\nb"), std::string("a\x01"),
        std::string("tab\there"), std::string("del\x7f"),
        std::string("nul\0x", 5)}) {
    ExpectCode(Set(name, "v"), StatusCode::kInvalidArgument, "name",
               absl::StrCat("name of ", name.size(),
                            " bytes with a control "
                            "character or empty"));
  }
  v1::GetSecretRequest get;
  *get.mutable_target() = ScopeTarget(kScope);
  get.set_name("keep");
  get.set_field("a\nb");
  ExpectCode(client_->GetSecret(get).status(), StatusCode::kInvalidArgument,
             "field", "field with a newline");
  v1::SetSecretRequest no_target;
  no_target.set_name("x");
  no_target.set_value("v");
  ExpectCode(client_->SetSecret(no_target).status(),
             StatusCode::kInvalidArgument, "target", "missing target");
}

TEST_F(BadInputTest, InvalidUtf8WhereTextIsExpected) {
  const std::string bad = "\xff\xfe\xc3";
  // string fields: the name, the scope, an env key and value, a field name.
  struct Case {
    std::string what, method, body;
  };
  std::vector<Case> cases = {
      {"name", "/zlayer.secrets.v1.Secrets/SetSecret",
       ScopeTargetField(kScope) + Bytes(2, bad) + Bytes(3, "v")},
      {"scope", "/zlayer.secrets.v1.Secrets/SetSecret",
       ScopeTargetField(bad) + Bytes(2, "n") + Bytes(3, "v")},
      {"env key", "/zlayer.secrets.v1.Secrets/ResolveEnv",
       Bytes(1, Bytes(1, bad) + Bytes(2, "v"))},
      {"env value", "/zlayer.secrets.v1.Secrets/CheckEnv",
       Bytes(1, Bytes(1, "K") + Bytes(2, "$S:" + bad))},
      {"field", "/zlayer.secrets.v1.Secrets/GetSecret",
       ScopeTargetField(kScope) + Bytes(2, "keep") + Bytes(4, bad)},
      {"environment name", "/zlayer.secrets.v1.Admin/CreateEnvironment",
       Bytes(1, bad)},
  };
  for (const Case& c : cases) {
    grpc::Status s = RawCall(c.method, c.body);
    EXPECT_FALSE(s.ok()) << c.what;
    // Proto3 `string` fields must be UTF-8: the request does not parse, so
    // no handler runs (daemon/rpc/parse_error_interceptor.h gives the status).
    ExpectCode(s, grpc::StatusCode::INVALID_ARGUMENT, "could not be parsed",
               "invalid UTF-8 in " + c.what);
  }
  // bytes fields that hold text are checked by the daemon: a dotenv import
  // with an invalid UTF-8 key is reported, and nothing is written.
  v1::ImportSecretsRequest import;
  *import.mutable_target() = ScopeTarget(kScope);
  import.set_content("GOOD=1\n" + bad + "=2\n");
  auto imported = client_->ImportSecrets(import);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_FALSE(imported->applied());
  EXPECT_GE(imported->errors_size(), 1);
}

TEST_F(BadInputTest, MalformedReferences) {
  for (const char* ref :
       {"$S:", "$S:/x", "$S:a/b/c", "$S:@/x", "$S:@svc", "$S::/x", "$secret://",
        "$secret://env", "$S:name/", "$S:p:/x"}) {
    v1::ResolveEnvRequest resolve;
    resolve.mutable_context()->set_deployment(kScope);
    (*resolve.mutable_env())["BAD"] = std::string(ref);
    (*resolve.mutable_env())["OK"] = "$S:keep";
    auto resolved = client_->ResolveEnv(resolve);
    ASSERT_FALSE(resolved.ok()) << ref << " resolved";
    ExpectCode(resolved.status(), StatusCode::kInvalidArgument, "BAD",
               std::string("ResolveEnv ") + ref);
    v1::CheckEnvRequest check;
    *check.mutable_env() = resolve.env();
    *check.mutable_context() = resolve.context();
    auto checked = client_->CheckEnv(check);
    ASSERT_TRUE(checked.ok()) << checked.status();
    EXPECT_FALSE(checked->ok()) << ref;
    for (const auto& entry : checked->entries()) {
      if (entry.key() == "BAD") {
        EXPECT_FALSE(entry.error().empty()) << ref;
      }
      if (entry.key() == "OK") {
        EXPECT_TRUE(entry.error().empty()) << ref;
      }
    }
  }
}

TEST_F(BadInputTest, HugeEnvMapsAndBatches) {
  v1::ResolveEnvRequest resolve;
  resolve.mutable_context()->set_deployment(kScope);
  for (int i = 0; i < 1001; ++i) {
    (*resolve.mutable_env())[absl::StrCat("K", i)] = "$S:keep";
  }
  ExpectCode(client_->ResolveEnv(resolve).status(),
             StatusCode::kInvalidArgument, "1000",
             "ResolveEnv of 1001 entries");
  v1::CheckEnvRequest check;
  *check.mutable_env() = resolve.env();
  ExpectCode(client_->CheckEnv(check).status(), StatusCode::kInvalidArgument,
             "1000", "CheckEnv of 1001 entries");
  v1::GetSecretsRequest batch;
  *batch.mutable_target() = ScopeTarget(kScope);
  for (int i = 0; i < 1001; ++i) batch.add_names(absl::StrCat("n", i));
  ExpectCode(client_->GetSecrets(batch).status(), StatusCode::kInvalidArgument,
             "1000", "GetSecrets of 1001 names");
  v1::ListSecretsRequest list;
  *list.mutable_target() = ScopeTarget(kScope);
  list.set_page_token("not-hex!");
  ExpectCode(client_->ListSecrets(list).status(), StatusCode::kInvalidArgument,
             "token", "ListSecrets with a bogus page token");
  // Import over its own limit (4 MiB of content).
  v1::ImportSecretsRequest import;
  *import.mutable_target() = ScopeTarget(kScope);
  import.set_content(std::string((4 << 20) + 1, '#'));
  ExpectCode(client_->ImportSecrets(import).status(),
             StatusCode::kInvalidArgument, "limit", "import of 4 MiB + 1");
}

TEST_F(BadInputTest, DeepOrBogusJsonInFieldExtraction) {
  // These writes are intended (their own scope); the reads must fail
  // cleanly without printing the value.
  const std::string deep_array =
      std::string(200000, '[') + std::string(200000, ']');
  std::string deep_object;
  for (int i = 0; i < 50000; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(50000, '}');
  ASSERT_TRUE(Set("deep_array", deep_array, "json").ok());
  ASSERT_TRUE(Set("deep_object", deep_object, "json").ok());
  ASSERT_TRUE(Set("bogus", "{\"a\": \"zzq-private", "json").ok());
  ASSERT_TRUE(Set("not_object", "[1,2,3]", "json").ok());
  struct Case {
    std::string name;
    StatusCode code;
    std::string message_part;
  };
  for (const Case& c : std::vector<Case>{
           {"deep_array", StatusCode::kFailedPrecondition, "deeper"},
           {"deep_object", StatusCode::kFailedPrecondition, "deeper"},
           {"bogus", StatusCode::kFailedPrecondition, "JSON"},
           {"not_object", StatusCode::kNotFound, "not found"}}) {
    v1::GetSecretRequest get;
    *get.mutable_target() = ScopeTarget("json");
    get.set_name(c.name);
    get.set_field("a");
    absl::Status s = client_->GetSecret(get).status();
    ExpectCode(s, c.code, c.message_part, "field of " + c.name);
    EXPECT_FALSE(absl::StrContains(s.message(), "zzq-private"));
    v1::ResolveEnvRequest resolve;
    resolve.mutable_context()->set_deployment("json");
    (*resolve.mutable_env())["X"] = "$S:" + c.name + "/a";
    EXPECT_EQ(client_->ResolveEnv(resolve).status().code(), c.code) << c.name;
  }
}

TEST_F(BadInputTest, MalformedImports) {
  struct Case {
    std::string what;
    v1::SecretFormat format;
    std::string content;
  };
  for (const Case& c : std::vector<Case>{
           {"dotenv without '='", v1::SECRET_FORMAT_DOTENV,
            "GOOD=1\nNOEQUALS\n"},
           {"dotenv empty key", v1::SECRET_FORMAT_DOTENV, "GOOD=1\n=value\n"},
           {"dotenv unterminated quote", v1::SECRET_FORMAT_DOTENV,
            "GOOD=1\nQ=\"open\n"},
           {"dotenv control char in key", v1::SECRET_FORMAT_DOTENV,
            "GOOD=1\nA\x01=2\n"},
           {"JSON not an object", v1::SECRET_FORMAT_JSON, "[\"a\"]"},
           {"JSON truncated", v1::SECRET_FORMAT_JSON, "{\"GOOD\": \"1\", "},
           {"JSON nested value", v1::SECRET_FORMAT_JSON,
            "{\"GOOD\": \"1\", \"N\": {\"x\": 1}}"},
           {"JSON deep", v1::SECRET_FORMAT_JSON,
            std::string(100000, '[') + std::string(100000, ']')},
       }) {
    v1::ImportSecretsRequest import;
    *import.mutable_target() = ScopeTarget(kScope);
    import.set_format(c.format);
    import.set_content(c.content);
    auto imported = client_->ImportSecrets(import);
    ASSERT_TRUE(imported.ok()) << c.what << ": " << imported.status();
    EXPECT_FALSE(imported->applied()) << c.what;
    ASSERT_GE(imported->errors_size(), 1) << c.what;
    EXPECT_EQ(imported->created() + imported->updated(), 0u) << c.what;
    std::cout << "bad_input: import " << c.what << " -> applied=false, \""
              << imported->errors(0) << "\"\n";
  }
}

TEST_F(BadInputTest, MalformedMessagesAndMetadata) {
  const std::vector<std::string> methods = {
      "/zlayer.secrets.v1.Secrets/SetSecret",
      "/zlayer.secrets.v1.Secrets/GetSecret",
      "/zlayer.secrets.v1.Secrets/ResolveEnv",
      "/zlayer.secrets.v1.Secrets/ImportSecrets",
      "/zlayer.secrets.v1.Admin/RotateMasterKey",
      "/zlayer.secrets.v1.Admin/CreateEnvironment"};
  // Garbage: a truncated varint, a bad wire type, a length past the end.
  for (const std::string& body :
       {std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
        std::string("\x0f\x01", 2), std::string("\x0a\x7f\x01", 3)}) {
    for (const std::string& method : methods) {
      ExpectCode(RawCall(method, body), grpc::StatusCode::INVALID_ARGUMENT,
                 "could not be parsed", "garbage body to " + method);
    }
  }
  // An empty body is a valid empty request: rejected by validation.
  ExpectCode(RawCall(methods[0], ""), grpc::StatusCode::INVALID_ARGUMENT,
             "target", "empty SetSecret");
  ExpectCode(RawCall("/zlayer.secrets.v1.Secrets/NoSuchMethod", ""),
             grpc::StatusCode::UNIMPLEMENTED, "", "unknown method");
  // Metadata: a malformed authorization header, an oversized header.
  std::string valid_get = ScopeTargetField(kScope) + Bytes(2, "keep");
  // On the Unix socket the caller is its peer credentials; API-key metadata
  // is not consulted (it is over TCP). Malformed headers must be harmless:
  // never a crash, never another caller.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"authorization", "Basic Zm9vOmJhcg=="},
           {"authorization", "Bearer"},
           {"authorization", "Bearer " + std::string(4000, 'k')},
           {"x-api-key", "no-dot"},
           {"x-junk-bin", std::string("\x00\xff\x01", 3)}}) {
    grpc::Status s = RawCall("/zlayer.secrets.v1.Secrets/GetSecret", valid_get,
                             {{key, value}});
    EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::UNAUTHENTICATED)
        << key << ": " << s.error_code() << " " << s.error_message();
    std::cout << "bad_input: metadata " << key << " (" << value.size()
              << " bytes) -> " << s.error_code() << " \"" << s.error_message()
              << "\"\n";
  }
  grpc::Status oversized =
      RawCall("/zlayer.secrets.v1.Secrets/GetSecret", valid_get,
              {{"x-padding", std::string(64 << 10, 'm')}});
  EXPECT_FALSE(oversized.ok());
  std::cout << "bad_input: 64 KiB metadata header -> " << oversized.error_code()
            << " \"" << oversized.error_message() << "\"\n";
  // gRPC drops that connection; the daemon serves the next one.
  *channel_ = grpc::CreateChannel("unix:" + options_->socket,
                                  grpc::InsecureChannelCredentials());
  ASSERT_TRUE((*channel_)->WaitForConnected(std::chrono::system_clock::now() +
                                            std::chrono::seconds(10)));
  grpc::Status after =
      RawCall("/zlayer.secrets.v1.Secrets/GetSecret", valid_get);
  EXPECT_TRUE(after.ok()) << after.error_code() << " " << after.error_message();
}

}  // namespace
}  // namespace zlayer::secrets::reliability
