// No leaks of secret values. Unique canary values go through EVERY RPC of
// Secrets and Admin and EVERY verb of the zlayer-secret CLI (success and
// error paths); then the daemon's log (at trace level), every command's
// stderr, every response that is not meant to reveal a value (metadata,
// listings, CheckEnv, import reports, error messages) and the SQLite
// files of the data directory (database, WAL, shm, journals, anything else but
// the key) are searched for every canary. A
// canary may appear only where a value is explicitly revealed (GetSecret(s),
// ResolveEnv's env, ExportSecrets, `get --reveal`, `export`, run's child);
// those outputs are checked to contain them, which proves the search works.
//
// CoreDumpsAreOffAndTheDaemonIsNotDumpable: RLIMIT_CORE is 0/0 and the
// process is non-dumpable, seen from outside through /proc.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = dir_.Sub("data");
    options_.socket = dir_.Sub("d.sock");
    options_.log_path = dir_.Sub("daemon.log");
    options_.extra_args = {"--log-level", "trace"};
    auto daemon = DaemonChild::Start(options_);
    ASSERT_TRUE(daemon.ok());
    daemon_ = *std::move(daemon);
    ASSERT_TRUE(daemon_->WaitReady(kTimeout).ok()) << daemon_->Log();
    client_ = ConnectClient(options_.socket);
    ASSERT_NE(client_, nullptr);
  }

  // A fresh canary value.
  std::string Canary() {
    std::string c = absl::StrCat("CANARY", absl::Uniform<uint64_t>(gen_), "x",
                                 canaries_.size(), "Z");
    canaries_.push_back(c);
    return c;
  }
  // Output that must hold no canary.
  void Clean(const std::string& label, const std::string& text) {
    haystack_.emplace_back(label, text);
  }
  void CleanStatus(const std::string& label, const absl::Status& status) {
    Clean(label, std::string(status.message()));
  }
  template <typename Message>
  void CleanMessage(const std::string& label,
                    const absl::StatusOr<Message>& resp) {
    if (resp.ok()) {
      Clean(label, resp->SerializeAsString());
    } else {
      CleanStatus(label, resp.status());
    }
  }
  // Output allowed (and expected) to reveal `canary`.
  void Revealed(const std::string& label, const std::string& text,
                const std::string& canary) {
    EXPECT_TRUE(absl::StrContains(text, canary))
        << label << " should reveal the value: " << text;
    ++reveals_;
  }

  ProcessResult Cli(std::vector<std::string> args,
                    const std::string& input = "") {
    std::vector<std::string> argv = {Runfile("client/zlayer-secret"),
                                     "--socket", options_.socket};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(
        argv, input, {{"PATH", "/usr/bin:/bin"}, {"HOME", dir_.path()}});
    std::string label = absl::StrJoin(args, " ");
    Clean("stderr of zlayer-secret " + label, r.err);
    ++cli_runs_;
    return r;
  }

  // Every canary vs. every clean output, file and log. Returns the hits.
  int CountHits(std::vector<std::string>* where) {
    int hits = 0;
    for (const auto& [label, text] : haystack_) {
      for (const std::string& c : canaries_) {
        if (absl::StrContains(text, c)) {
          ++hits;
          where->push_back(label + " holds " + c);
        }
      }
    }
    return hits;
  }

  TempDir dir_;
  DaemonChild::Options options_;
  std::unique_ptr<DaemonChild> daemon_;
  std::unique_ptr<SecretsClient> client_;
  absl::BitGen gen_;
  std::vector<std::string> canaries_;
  std::vector<std::pair<std::string, std::string>> haystack_;
  int reveals_ = 0;
  int cli_runs_ = 0;
};

TEST_F(CanaryTest, CanariesAppearOnlyWhereAValueIsRevealed) {
  const v1::Target target = ScopeTarget("canary");
  auto set = [&](const std::string& name, const std::string& value) {
    v1::SetSecretRequest req;
    *req.mutable_target() = target;
    req.set_name(name);
    req.set_value(value);
    auto resp = client_->SetSecret(req);
    CleanMessage("SetSecret " + name, resp);
    return resp;
  };

  // --- Secrets service, every RPC.
  const std::string db_password = Canary();
  ASSERT_TRUE(set("db_password", db_password).ok());
  const std::string json_value =
      absl::StrCat("{\"user\":\"u\",\"password\":\"", Canary(), "\"}");
  const std::string json_password = canaries_.back();
  ASSERT_TRUE(set("db_json", json_value).ok());

  v1::GetSecretRequest get;
  *get.mutable_target() = target;
  get.set_name("db_password");
  auto got = client_->GetSecret(get);
  ASSERT_TRUE(got.ok());
  Revealed("GetSecret", got->value(), db_password);
  Clean("GetSecret metadata", got->metadata().SerializeAsString());
  get.set_name("db_json");
  get.set_field("password");
  got = client_->GetSecret(get);
  ASSERT_TRUE(got.ok());
  Revealed("GetSecret field", got->value(), json_password);
  get.set_field("missing");
  CleanMessage("GetSecret missing field", client_->GetSecret(get));
  get.set_field("");
  get.set_name("nope");
  CleanMessage("GetSecret missing", client_->GetSecret(get));

  v1::GetSecretsRequest many;
  *many.mutable_target() = target;
  many.add_names("db_password");
  many.add_names("nope");
  auto gots = client_->GetSecrets(many);
  ASSERT_TRUE(gots.ok());
  Revealed("GetSecrets", gots->values().at("db_password"), db_password);
  v1::GetSecretsResponse without_values = *gots;
  without_values.clear_values();
  Clean("GetSecrets versions/missing", without_values.SerializeAsString());

  v1::ListSecretsRequest list;
  *list.mutable_target() = target;
  list.set_include_deleted(true);
  CleanMessage("ListSecrets", client_->ListSecrets(list));
  v1::SecretExistsRequest exists;
  *exists.mutable_target() = target;
  exists.set_name("db_password");
  CleanMessage("SecretExists", client_->SecretExists(exists));

  v1::RotateSecretRequest rotate;
  *rotate.mutable_target() = target;
  rotate.set_name("db_password");
  const std::string rotated = Canary();
  rotate.set_value(rotated);
  CleanMessage("RotateSecret", client_->RotateSecret(rotate));
  rotate.set_name("nope");
  rotate.set_value(Canary());
  CleanMessage("RotateSecret missing", client_->RotateSecret(rotate));

  v1::ListVersionsRequest versions;
  *versions.mutable_target() = target;
  versions.set_name("db_password");
  CleanMessage("ListVersions", client_->ListVersions(versions));
  v1::RollbackSecretRequest rollback;
  *rollback.mutable_target() = target;
  rollback.set_name("db_password");
  rollback.set_version(1);
  CleanMessage("RollbackSecret", client_->RollbackSecret(rollback));

  // Check-and-set failures and over-limit values: errors never echo.
  v1::SetSecretRequest cas;
  *cas.mutable_target() = target;
  cas.set_name("db_password");
  cas.set_value(Canary());
  cas.set_expected_version(1);
  CleanMessage("SetSecret CAS mismatch", client_->SetSecret(cas));
  cas.set_expected_version(0);
  CleanMessage("SetSecret create-only on existing", client_->SetSecret(cas));
  cas.clear_expected_version();
  cas.set_value(Canary() + std::string(1 << 20, 'p'));
  CleanMessage("SetSecret too big", client_->SetSecret(cas));
  cas.set_value(Canary());
  cas.set_name("bad\nname");
  CleanMessage("SetSecret bad name", client_->SetSecret(cas));

  v1::ResolveEnvRequest resolve;
  resolve.mutable_context()->set_deployment("canary");
  (*resolve.mutable_env())["DB"] = "$S:db_password";
  (*resolve.mutable_env())["PW"] = "$S:db_json/password";
  const std::string literal = Canary();
  (*resolve.mutable_env())["LITERAL"] = literal;
  auto resolved = client_->ResolveEnv(resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  Revealed("ResolveEnv", resolved->env().at("PW"), json_password);
  v1::ResolveEnvResponse receipt = *resolved;
  receipt.clear_env();
  Clean("ResolveEnv receipt", receipt.SerializeAsString());
  (*resolve.mutable_env())["MISSING"] = "$S:nope";
  CleanMessage("ResolveEnv failing", client_->ResolveEnv(resolve));

  v1::CheckEnvRequest check;
  *check.mutable_env() = resolve.env();
  *check.mutable_context() = resolve.context();
  (*check.mutable_env())["BROKEN"] = "$S:x/y/z";
  CleanMessage("CheckEnv", client_->CheckEnv(check));

  v1::ImportSecretsRequest import;
  *import.mutable_target() = target;
  const std::string imported_a = Canary();
  const std::string imported_b = Canary();
  import.set_content(absl::StrCat("IMPORTED_A=", imported_a, "\nIMPORTED_B=\"",
                                  imported_b, "\"\n"));
  import.set_dry_run(true);
  CleanMessage("ImportSecrets dry run", client_->ImportSecrets(import));
  import.set_dry_run(false);
  CleanMessage("ImportSecrets", client_->ImportSecrets(import));
  import.set_content(absl::StrCat("GOOD=", Canary(), "\nBAD LINE ", Canary(),
                                  "\nQ=\"", Canary(), "\n"));
  CleanMessage("ImportSecrets with errors", client_->ImportSecrets(import));
  import.set_format(v1::SECRET_FORMAT_JSON);
  import.set_content(absl::StrCat("{\"J\": {\"n\": \"", Canary(), "\"}}"));
  CleanMessage("ImportSecrets JSON errors", client_->ImportSecrets(import));

  v1::ExportSecretsRequest export_req;
  *export_req.mutable_target() = target;
  auto exported = client_->ExportSecrets(export_req);
  ASSERT_TRUE(exported.ok());
  Revealed("ExportSecrets", exported->content(), imported_b);
  Clean("ExportSecrets count", std::to_string(exported->count()));

  v1::DeleteSecretRequest del;
  *del.mutable_target() = target;
  del.set_name("IMPORTED_A");
  CleanMessage("DeleteSecret", client_->DeleteSecret(del));
  v1::UndeleteSecretRequest undel;
  *undel.mutable_target() = target;
  undel.set_name("IMPORTED_A");
  CleanMessage("UndeleteSecret", client_->UndeleteSecret(undel));
  v1::DestroySecretRequest destroy;
  *destroy.mutable_target() = target;
  destroy.set_name("IMPORTED_A");
  CleanMessage("DestroySecret", client_->DestroySecret(destroy));

  // --- Admin service, every RPC.
  v1::CreateEnvironmentRequest create_env;
  create_env.set_name("staging");
  auto env = client_->CreateEnvironment(create_env);
  ASSERT_TRUE(env.ok()) << env.status();
  Clean("CreateEnvironment", env->SerializeAsString());
  v1::GetEnvironmentRequest get_env;
  get_env.set_name_or_id("staging");
  CleanMessage("GetEnvironment", client_->GetEnvironment(get_env));
  CleanMessage("ListEnvironments",
               client_->ListEnvironments(v1::ListEnvironmentsRequest()));
  v1::UpdateEnvironmentRequest update_env;
  update_env.set_id(env->id());
  update_env.set_description("updated");
  CleanMessage("UpdateEnvironment", client_->UpdateEnvironment(update_env));
  v1::SetSecretRequest env_secret;
  env_secret.mutable_target()->mutable_environment()->set_name_or_id("staging");
  env_secret.set_name("env_token");
  const std::string env_token = Canary();
  env_secret.set_value(env_token);
  CleanMessage("SetSecret in environment", client_->SetSecret(env_secret));
  v1::DeleteEnvironmentRequest delete_env;
  delete_env.set_id(env->id());
  CleanMessage("DeleteEnvironment (not empty)",
               client_->DeleteEnvironment(delete_env));
  CleanMessage("RotateMasterKey",
               client_->RotateMasterKey(v1::RotateMasterKeyRequest()));
  v1::RotateMasterKeyRequest short_key;
  short_key.set_new_key(Canary());  // not 32 bytes: refused
  CleanMessage("RotateMasterKey bad key", client_->RotateMasterKey(short_key));
  CleanMessage("WhoAmI", client_->WhoAmI(v1::WhoAmIRequest()));

  // --- The CLI, every verb.
  const std::string cli_a = Canary();
  ProcessResult r = Cli(
      {"--deployment", "cli", "create", "token", "--from-stdin"}, cli_a + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("create stdout", r.out);
  const std::string file_value = Canary();
  ASSERT_TRUE(WriteFileBytes(dir_.Sub("value.txt"), file_value + "\n").ok());
  r = Cli({"--deployment", "cli", "set", "from_file", "--from-file",
           dir_.Sub("value.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("set --from-file stdout", r.out);
  const std::string argv_value = Canary();
  r = Cli({"--deployment", "cli", "set", "from_argv", "--value", argv_value});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("set --value stdout", r.out);
  r = Cli({"--deployment", "cli", "set", "token", "--from-stdin",
           "--if-version", "7"},
          Canary() + "\n");
  EXPECT_EQ(r.exit_code, 5);  // conflict (client/cli/exit_codes.h)
  Clean("set CAS mismatch stdout", r.out);
  r = Cli({"--deployment", "cli", "create", "random", "--random"});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // prints a random value once: allowed
  r = Cli({"--deployment", "cli", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("ls stdout", r.out);
  r = Cli({"--deployment", "cli", "--output", "json", "ls"});
  Clean("ls json stdout", r.out);
  r = Cli({"--deployment", "cli", "get", "token"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("get (no reveal) stdout", r.out);
  r = Cli({"--deployment", "cli", "--output", "json", "get", "token"});
  Clean("get json (no reveal) stdout", r.out);
  r = Cli({"--deployment", "cli", "get", "token", "--reveal"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Revealed("get --reveal", r.out, cli_a);
  const std::string cli_b = Canary();
  r = Cli({"--deployment", "cli", "rotate", "token", "--from-stdin"},
          cli_b + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("rotate stdout", r.out);
  r = Cli({"--deployment", "cli", "versions", "token"});
  Clean("versions stdout", r.out);
  r = Cli({"--deployment", "cli", "rollback", "token", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("rollback stdout", r.out);
  r = Cli({"--deployment", "cli", "rm", "from_argv"});
  Clean("rm stdout", r.out);
  r = Cli({"--deployment", "cli", "undelete", "from_argv"});
  Clean("undelete stdout", r.out);
  r = Cli({"--deployment", "cli", "unset", "from_argv"});
  Clean("unset stdout", r.out);
  r = Cli({"--deployment", "cli", "destroy", "from_argv", "--yes"});
  Clean("destroy stdout", r.out);
  const std::string import_value = Canary();
  ASSERT_TRUE(WriteFileBytes(dir_.Sub("in.env"),
                             absl::StrCat("IMP=", import_value, "\nBROKEN ",
                                          Canary(), "\n"))
                  .ok());
  r = Cli({"--deployment", "cli", "import", "--file", dir_.Sub("in.env")});
  EXPECT_EQ(r.exit_code, 1) << "a file with a bad line is refused";
  Clean("import (bad line) stdout", r.out);
  ASSERT_TRUE(WriteFileBytes(dir_.Sub("in.env"),
                             absl::StrCat("IMP=", import_value, "\n"))
                  .ok());
  r = Cli({"--deployment", "cli", "import", "--file", dir_.Sub("in.env"),
           "--dry-run"});
  Clean("import --dry-run stdout", r.out);
  r = Cli({"--deployment", "cli", "import", "--file", dir_.Sub("in.env")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("import stdout", r.out);
  r = Cli({"--deployment", "cli", "export"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Revealed("export", r.out, import_value);
  r = Cli({"--deployment", "cli", "export", "--format", "json"});
  Revealed("export json", r.out, import_value);
  ASSERT_TRUE(
      WriteFileBytes(dir_.Sub("run.env"), "TOKEN=$S:token\nPLAIN=plain\n")
          .ok());
  r = Cli({"--deployment", "cli", "check", "--env-file", dir_.Sub("run.env")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("check stdout", r.out);
  ASSERT_TRUE(
      WriteFileBytes(dir_.Sub("bad.env"), "TOKEN=$S:token\nGONE=$S:missing\n")
          .ok());
  r = Cli({"--deployment", "cli", "check", "--env-file", dir_.Sub("bad.env")});
  EXPECT_EQ(r.exit_code, 1);
  Clean("check (failing) stdout", r.out);
  r = Cli({"--deployment", "cli", "run", "--env-file", dir_.Sub("run.env"),
           "--", "/bin/sh", "-c", "printf '%s' \"$TOKEN\""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Revealed("run's child", r.out, cli_a);  // rolled back to version 1's value
  r = Cli({"--deployment", "cli", "run", "--env-file", dir_.Sub("bad.env"),
           "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 1);
  Clean("run (failing) stdout", r.out);
  r = Cli({"env", "create", "qa", "--description", "qa env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("env create stdout", r.out);
  r = Cli({"env", "ls"});
  Clean("env ls stdout", r.out);
  const std::string env_cli = Canary();
  r = Cli({"--env", "qa", "set", "k", "--from-stdin"}, env_cli + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli({"--env", "qa", "get", "k"});
  Clean("get in env stdout", r.out);
  r = Cli({"--env", "qa", "destroy", "k", "--yes"});
  r = Cli({"env", "rm", "qa"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("env rm stdout", r.out);
  r = Cli({"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Clean("whoami stdout", r.out);
  r = Cli({"help"});
  Clean("help stdout", r.out);
  for (const char* reserved : {"grant", "revoke", "permissions"}) {
    r = Cli({reserved});
    EXPECT_EQ(r.exit_code, 2) << reserved;
    Clean(absl::StrCat(reserved, " stdout"), r.out);
  }

  // --- The files, while the daemon runs (the WAL holds the recent commits)
  // and after it stopped; and the daemon's own log.
  auto add_files = [&](const std::string& when) {
    DIR* d = ::opendir(options_.data_dir.c_str());
    ASSERT_NE(d, nullptr);
    int files = 0;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      // Every file of the data directory (database, WAL, shm, journals,
      // audit or other logs) except the master key and the socket.
      if (name == "." || name == ".." || absl::EndsWith(name, ".key") ||
          absl::EndsWith(name, ".sock")) {
        continue;
      }
      auto bytes = ReadFileBytes(options_.data_dir + "/" + name);
      if (bytes.ok()) {
        Clean(absl::StrCat(when, " ", name), *bytes);
        ++files;
      }
    }
    ::closedir(d);
    EXPECT_GE(files, 1);
  };
  add_files("running");
  client_.reset();
  daemon_->Signal(SIGTERM);
  auto exited = daemon_->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0);
  add_files("stopped");
  std::string log = daemon_->Log();
  EXPECT_TRUE(absl::StrContains(log, "level=debug") ||
              absl::StrContains(log, "level=trace"))
      << "the log should be at its most verbose";
  Clean("daemon log", log);

  std::vector<std::string> where;
  int hits = CountHits(&where);
  for (const std::string& w : where) ADD_FAILURE() << w;
  EXPECT_EQ(hits, 0);
  std::cout << "canary_test: " << canaries_.size() << " canaries, "
            << haystack_.size() << " plaintext-free outputs/files searched ("
            << cli_runs_ << " CLI runs, daemon log " << log.size()
            << " bytes), " << reveals_
            << " explicit reveals seen, canary hits = " << hits << "\n";
}

TEST(CoreDumpTest, CoreDumpsAreOffAndTheDaemonIsNotDumpable) {
  TempDir dir;
  DaemonChild::Options options;
  // Root owns the test: run the daemon as another uid, so that the owner of
  // its /proc files shows whether it is dumpable (the kernel hands a
  // non-dumpable process's /proc entries to root).
  std::string run = dir.Sub("run");
  ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
  // As root, run the daemon as nobody: a non-dumpable process's /proc
  // entries then belong to root instead of its own uid. Where chown is not
  // allowed (e.g. a sandbox user namespace) it runs as the test's uid, and
  // a non-dumpable process's entries belong to the namespace's overflow uid.
  bool as_nobody = false;
  if (::geteuid() == 0 && ::chmod(dir.path().c_str(), 0755) == 0 &&
      ::chown(run.c_str(), 65534, 65534) == 0) {
    as_nobody = true;
    // The runfiles tree may not be reachable for nobody: a copy it can run.
    options.binary = dir.Sub("zlayer-secretsd");
    auto binary = ReadFileBytes(Runfile("daemon/zlayer-secretsd"));
    ASSERT_TRUE(binary.ok());
    ASSERT_TRUE(WriteFileBytes(options.binary, *binary, 0755).ok());
    options.run_as_uid = 65534;
    options.run_as_gid = 65534;
  }
  options.data_dir = run + "/data";
  options.socket = run + "/d.sock";
  options.log_path = dir.Sub("daemon.log");
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();
  pid_t pid = (*daemon)->pid();

  auto limits = ReadFileBytes(absl::StrCat("/proc/", pid, "/limits"));
  ASSERT_TRUE(limits.ok());
  bool found = false;
  for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
    if (!absl::StartsWith(line, "Max core file size")) continue;
    found = true;
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_GE(f.size(), 6u);
    EXPECT_EQ(f[4], "0") << line;
    EXPECT_EQ(f[5], "0") << line;
  }
  EXPECT_TRUE(found);
  struct stat st;
  ASSERT_EQ(::stat(absl::StrCat("/proc/", pid, "/status").c_str(), &st), 0);
  auto status = ReadFileBytes(absl::StrCat("/proc/", pid, "/status"));
  ASSERT_TRUE(status.ok());
  const uid_t daemon_uid = as_nobody ? 65534 : ::geteuid();
  EXPECT_TRUE(absl::StrContains(*status, absl::StrCat("\nUid:\t", daemon_uid)))
      << *status;
  // A dumpable process's /proc entries belong to its own uid.
  EXPECT_NE(st.st_uid, daemon_uid)
      << "the daemon's /proc entries belong to its own uid: it is dumpable";
  std::cout << "canary_test: core limit 0/0, daemon uid " << daemon_uid
            << ", /proc/" << pid << "/status owned by uid " << st.st_uid
            << " (non-dumpable)\n";
  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
}

}  // namespace
}  // namespace zlayer::secrets::reliability
