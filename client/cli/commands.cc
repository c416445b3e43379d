#include "client/cli/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <thread>  // NOLINT(build/c++11): the watch stream's reader
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/child_supervisor.h"
#include "client/cli/help.h"
#include "client/cli/identity_commands.h"
#include "client/cli/output.h"
#include "client/cli/value_input.h"
#include "client/env_watcher.h"
#include "client/sealed_reveal.h"
#include "core/backup/backup.h"
#include "core/base/secret_bytes.h"
#include "core/crypto/key_manager.h"
#include "core/format/env_file_format.h"
#include "core/format/json.h"

extern char** environ;

namespace zlayer::secrets::cli {
namespace {

// The target of a secret verb, and how messages name it.
struct ResolvedTarget {
  v1::Target target;
  std::string env_id;       // set for environment targets
  bool is_default = false;  // the default deployment scope
  std::string scope;        // "D" or "D/S" for deployment targets
};

absl::StatusOr<ResolvedTarget> ResolveTarget(const GlobalOptions& g,
                                             SecretsClient* client) {
  ResolvedTarget t;
  if (g.env.empty()) {
    v1::DeploymentTarget* d = t.target.mutable_deployment();
    d->set_deployment(g.deployment);
    d->set_service(g.service);
    t.scope = g.service.empty() ? g.deployment
                                : absl::StrCat(g.deployment, "/", g.service);
    t.is_default = g.deployment == "default" && g.service.empty();
    return t;
  }
  v1::EnvironmentTarget* e = t.target.mutable_environment();
  e->set_project(g.project);
  v1::GetEnvironmentRequest req;
  req.set_name_or_id(g.env);
  req.set_project(g.project);
  absl::StatusOr<v1::Environment> env = client->GetEnvironment(req);
  if (env.ok()) {
    e->set_name_or_id(env->id());
    t.env_id = env->id();
    return t;
  }
  // Callers without Admin access still reach environments they may use: the
  // daemon resolves the name itself.
  if (env.status().code() == absl::StatusCode::kPermissionDenied ||
      env.status().code() == absl::StatusCode::kUnimplemented) {
    e->set_name_or_id(g.env);
    t.env_id = g.env;
    return t;
  }
  return env.status();
}

// " in environment <id>" / " in scope 'prod'" / "" (default scope).
std::string Where(const ResolvedTarget& t, absl::string_view env_word) {
  if (!t.env_id.empty()) return absl::StrCat(" ", env_word, " ", t.env_id);
  if (t.is_default) return "";
  return absl::StrCat(" ", env_word == "from environment" ? "from" : "in",
                      " scope '", t.scope, "'");
}

// Puts a SecretBytes value into a proto bytes field.
void SetValueField(const SecretBytes& value, std::string* field) {
  field->assign(value.InsecureView().data(), value.size());
}

// Writes a value to stdout, the one way values leave the CLI.
void WriteValue(std::ostream& out, absl::string_view value) {
  out.write(value.data(), static_cast<std::streamsize>(value.size()));
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // A file the caller named: bad input, not a missing secret.
    return absl::InvalidArgumentError(
        absl::StrCat("Failed to read ", path, ": ", std::strerror(errno)));
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) {
    WipeString(&text);
    return absl::UnavailableError(absl::StrCat("Failed to read ", path));
  }
  return text;
}

// The KEY=VALUE map of a dotenv file (core/format/env_file_format.h rules).
// Parse errors are listed on `err` and fail the call.
absl::StatusOr<std::map<std::string, std::string>> ReadEnvFile(
    const std::string& path, std::ostream& err) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  SecretFileImport parsed = ImportDotenv(*text);
  WipeString(&*text);
  if (!parsed.errors.empty()) {
    for (const std::string& e : parsed.errors) err << "  " << e << "\n";
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", parsed.errors.size(), " error(s) in the env file"));
  }
  std::map<std::string, std::string> env;
  for (ImportedSecret& entry : parsed.entries) {
    env[entry.name] = std::string(entry.value.InsecureView());
  }
  return env;
}

void WipeMap(std::map<std::string, std::string>* env) {
  for (auto& [key, value] : *env) WipeString(&value);
}

v1::ResolveContext ContextFor(const GlobalOptions& g) {
  v1::ResolveContext context;
  context.set_deployment(g.deployment);
  context.set_project(g.project);
  context.set_service(g.service);
  return context;
}

// All live secrets of a target, every page.
absl::StatusOr<std::vector<v1::SecretMetadata>> ListAll(
    SecretsClient* client, const v1::Target& target) {
  std::vector<v1::SecretMetadata> all;
  v1::ListSecretsRequest req;
  *req.mutable_target() = target;
  req.set_page_size(1000);
  do {
    absl::StatusOr<v1::ListSecretsResponse> page = client->ListSecrets(req);
    if (!page.ok()) return page.status();
    for (v1::SecretMetadata& m : *page->mutable_secrets()) {
      all.push_back(std::move(m));
    }
    req.set_page_token(page->next_page_token());
  } while (!req.page_token().empty());
  return all;
}

class Runner {
 public:
  Runner(const Command& cmd, SecretsClient* client, Io io)
      : cmd_(cmd), g_(cmd.global), client_(client), io_(io) {}

  int Run() {
    const std::string& v = cmd_.verb;
    if (IsIdentityVerb(v)) return RunIdentityCommand(cmd_, client_, io_);
    if (v == "whoami") return WhoAmI();
    if (v == "health") return Health();
    if (v == "env") return Env();
    if (v == "check") return Check();
    if (v == "run") return RunChild();
    if (v == "watch") return Watch();
    if (v == "key" && cmd_.positionals[0] == "rekey") return Rekey();
    if (v == "key") return RotateMasterKey();
    if (v == "backup") return Backup();
    absl::StatusOr<ResolvedTarget> target = ResolveTarget(g_, client_);
    if (!target.ok()) return Fail(target.status());
    t_ = *std::move(target);
    if (v == "ls") return List();
    if (v == "create" || v == "set") return Set();
    if (v == "get") return Get();
    if (v == "rm" || v == "unset") return Remove();
    if (v == "rotate") return Rotate();
    if (v == "import") return Import();
    if (v == "export") return Export();
    if (v == "versions") return Versions();
    if (v == "rollback") return Rollback();
    if (v == "undelete") return Undelete();
    if (v == "destroy") return Destroy();
    if (v == "consumers") return Consumers();
    *io_.err << "zlayer-secret: unknown command '" << v << "'\n";
    return kExitUsage;
  }

 private:
  int Fail(const absl::Status& status) {
    if (status.code() == absl::StatusCode::kNotFound && NamesASecret()) {
      return NotFound(status.message());
    }
    return PrintCallFailure(*io_.err, status, g_);
  }
  // The one wording of a missing secret: "Secret 'db' not found[ where]",
  // with the version when the daemon says which one was missing.
  int NotFound(absl::string_view daemon_message = "") {
    std::string what = absl::StrCat("Secret '", Name(), "'");
    if (absl::StartsWith(daemon_message, "version ")) {
      absl::string_view version = daemon_message.substr(8);
      version = version.substr(0, version.find(' '));
      absl::StrAppend(&what, " version ", version);
    }
    return PrintFailure(
        *io_.err, absl::StrCat(what, " not found", Where(t_, "in environment")),
        kExitNotFound);
  }
  bool NamesASecret() const {
    const std::string& v = cmd_.verb;
    return !cmd_.positionals.empty() &&
           (v == "get" || v == "rm" || v == "unset" || v == "rotate" ||
            v == "versions" || v == "rollback" || v == "undelete" ||
            v == "destroy");
  }
  bool Json() const { return g_.output == OutputFormat::kJson; }
  bool Plain() const { return g_.output == OutputFormat::kPlain; }
  const std::string& Name() const { return cmd_.positionals[0]; }
  // {"name": ..., "<verb's past tense>": true}: what rm and destroy print.
  std::string DoneJson(absl::string_view what) const {
    return absl::StrCat("{\"name\": ", JsonQuote(Name()), ", \"", what,
                        "\": true}\n");
  }

  // SERVING -> 0; any other answer -> kExitNotServing; no answer ->
  // kExitUnreachable (through Fail).
  int Health() {
    absl::StatusOr<grpc::health::v1::HealthCheckResponse> resp =
        client_->CheckHealth(grpc::health::v1::HealthCheckRequest());
    if (!resp.ok()) return Fail(resp.status());
    const std::string status =
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
            resp->status());
    *io_.out << (Json() ? absl::StrCat("{\"status\": \"", status, "\"}\n")
                        : absl::StrCat(status, "\n"));
    if (resp->status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return kExitOk;
    }
    return PrintFailure(*io_.err,
                        absl::StrCat("daemon answers but is ", status),
                        kExitNotServing);
  }

  int WhoAmI() {
    absl::StatusOr<v1::WhoAmIResponse> who =
        client_->WhoAmI(v1::WhoAmIRequest());
    if (!who.ok()) return Fail(who.status());
    *io_.out << (Json() ? WhoAmIJson(*who) : WhoAmIText(*who));
    return kExitOk;
  }

  // key rotate: the store's data keys are re-wrapped under a new master
  // key, online (no value is re-encrypted; `key rekey` does that). A given key
  // is read raw (it may be binary) and checked like a key file; none = the
  // daemon generates one and updates its key file.
  int RotateMasterKey() {
    v1::RotateMasterKeyRequest req;
    if (cmd_.value) {
      absl::StatusOr<std::string> raw =
          cmd_.value->kind == ValueSource::Kind::kFile
              ? ReadTextFile(cmd_.value->text)
              : std::string((std::istreambuf_iterator<char>(*io_.in)),
                            std::istreambuf_iterator<char>());
      if (!raw.ok()) return Fail(raw.status());
      SecretBytes contents = SecretBytes::FromString(*raw);
      WipeString(&*raw);
      absl::StatusOr<SecretBytes> key =
          DecodeKeyFileContents(std::move(contents), "the new master key",
                                absl::StatusCode::kInvalidArgument);
      if (!key.ok()) return Fail(key.status());
      SetValueField(*key, req.mutable_new_key());
    }
    // Staging and writing the key file can take longer than a read.
    CallOptions call;
    call.timeout = std::max(g_.timeout, absl::Minutes(10));
    absl::StatusOr<v1::RotateMasterKeyResponse> resp =
        client_->RotateMasterKey(req, call);
    WipeString(req.mutable_new_key());
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      // versions_reencrypted stays in the JSON for scripts; it is always 0.
      *io_.out << "{\"new_key_id\": " << resp->new_key_id()
               << ", \"versions_reencrypted\": " << resp->versions_reencrypted()
               << "}\n";
    } else {
      *io_.out << "Master key rotated: new key id " << resp->new_key_id()
               << " (data keys re-wrapped; no value re-encrypted)\n";
    }
    return kExitOk;
  }

  // backup FILE: the daemon's snapshot, saved only once it is complete and
  // its structure checks out (the MAC needs the key: restore --verify-only).
  int Backup() {
    const absl::Time start = absl::Now();
    // Pieces go to FILE.partial as they arrive; only a complete file whose
    // structure checks out is linked in as FILE (else removed).
    absl::StatusOr<std::unique_ptr<BackupFileWriter>> writer =
        BackupFileWriter::Create(cmd_.positionals[0]);
    if (!writer.ok()) return Fail(writer.status());
    absl::Status received = client_->Backup(
        [&](absl::string_view piece) { return (*writer)->Append(piece); });
    if (!received.ok()) return Fail(received);
    absl::StatusOr<BackupInfo> info = (*writer)->Commit();
    if (!info.ok()) return Fail(info.status());
    if (Json()) {
      *io_.out << "{\"file\": " << JsonQuote(cmd_.positionals[0])
               << ", \"bytes\": " << info->file_bytes
               << ", \"secrets\": " << info->secrets
               << ", \"versions\": " << info->versions
               << ", \"environments\": " << info->environments
               << ", \"store_id\": " << JsonQuote(info->store_id)
               << ", \"master_key_id\": " << info->master_key_id << "}\n";
    } else {
      *io_.out << "Backup written to " << cmd_.positionals[0] << " in "
               << absl::FormatDuration(
                      absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
               << "\n"
               << DescribeBackup(*info);
    }
    return kExitOk;
  }

  // key rekey [--wait]: starts moving every stored version to a new data
  // key; with --wait, polls the daemon's progress until it ends and fails
  // if the rekey did.
  int Rekey() {
    absl::StatusOr<v1::RekeyDataKeysResponse> started =
        client_->RekeyDataKeys(v1::RekeyDataKeysRequest());
    if (!started.ok()) return Fail(started.status());
    v1::RekeyStatus status;
    status.set_running(true);
    status.set_generation(started->generation());
    while (cmd_.wait && status.running()) {
      absl::StatusOr<v1::RekeyStatus> polled =
          client_->GetRekeyStatus(v1::GetRekeyStatusRequest());
      if (!polled.ok()) return Fail(polled.status());
      status = *std::move(polled);
      // The daemon answers at once; pace the polling.
      if (status.running()) absl::SleepFor(absl::Milliseconds(200));
    }
    if (Json()) {
      *io_.out << "{\"generation\": " << status.generation()
               << ", \"running\": " << (status.running() ? "true" : "false");
      if (cmd_.wait) {
        *io_.out << ", \"done\": " << status.done()
                 << ", \"total\": " << status.total();
      }
      *io_.out << "}\n";
    } else if (!cmd_.wait) {
      *io_.out << "Rekey started: values move to data key generation "
               << started->generation() << " in the background\n";
    } else if (status.error().empty()) {
      *io_.out << "Rekey done: " << status.done()
               << " stored version(s) moved to data key generation "
               << status.generation() << "\n";
    }
    if (cmd_.wait && !status.error().empty()) {
      return Fail(absl::InternalError(
          absl::StrCat("the rekey stopped: ", status.error())));
    }
    return kExitOk;
  }

  int List() {
    absl::StatusOr<std::vector<v1::SecretMetadata>> all =
        ListAll(client_, t_.target);
    if (!all.ok()) return Fail(all.status());
    if (Plain()) {
      for (const v1::SecretMetadata& m : *all) *io_.out << m.name() << "\n";
      return kExitOk;
    }
    *io_.out << (Json() ? SecretsJson(*all) : SecretsTable(*all));
    return kExitOk;
  }

  int Set() {
    absl::StatusOr<SecretBytes> value = ReadValue(*cmd_.value, *io_.in);
    if (!value.ok()) return Fail(value.status());
    if (cmd_.value->kind == ValueSource::Kind::kValue) {
      *io_.err << kValueFlagWarning << "\n";
    }
    v1::SetSecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    SetValueField(*value, req.mutable_value());
    if (cmd_.expected_version) req.set_expected_version(*cmd_.expected_version);
    if (cmd_.node_affinity.has_value()) {
      for (const std::string& e : *cmd_.node_affinity) {
        req.mutable_node_affinity()->add_entries(e);
      }
    }
    absl::StatusOr<v1::SetSecretResponse> resp = client_->SetSecret(req);
    WipeString(req.mutable_value());
    if (!resp.ok()) return Fail(resp.status());
    const bool create = cmd_.verb == "create";
    if (Json()) {
      *io_.out << MetadataJson(resp->metadata());
    } else {
      *io_.out << "Secret '" << Name() << "' " << (create ? "stored" : "set")
               << Where(t_, "in environment") << " (version "
               << resp->metadata().version() << ")\n";
    }
    PrintRandomNotice(*value);
    return kExitOk;
  }

  void PrintRandomNotice(const SecretBytes& value) {
    if (cmd_.value->kind != ValueSource::Kind::kRandom) return;
    std::string notice = RandomValueNotice(Name(), value.InsecureView());
    WriteValue(*io_.out, notice);
    WipeString(&notice);
  }

  // --seal-to KEYFILE: the client key (registered and written on first
  // use) whose id goes into `call`; null without --seal-to.
  absl::StatusOr<const ClientKeyFile*> SealKey(CallOptions* call) {
    if (cmd_.seal_to_file.empty()) return nullptr;
    if (!seal_key_.has_value()) {
      absl::StatusOr<ClientKeyFile> key =
          LoadOrCreateClientKeyFile(client_, cmd_.seal_to_file);
      if (!key.ok()) return key.status();
      seal_key_.emplace(*std::move(key));
    }
    call->seal_to = seal_key_->id;
    return &*seal_key_;
  }

  // Replaces `*plain` with the opened `box` (the rest of the verb then
  // prints it as an unsealed answer would) and wipes the box's field.
  static absl::Status OpenInto(const ClientKeyFile& key, std::string* box,
                               std::string* plain) {
    absl::StatusOr<SecretBytes> opened = key.pair.Open(*box);
    if (!opened.ok()) return opened.status();
    plain->assign(opened->InsecureView().data(), opened->size());
    box->clear();
    return absl::OkStatus();
  }

  int Get() {
    if (cmd_.reveal) {
      v1::GetSecretRequest req;
      *req.mutable_target() = t_.target;
      req.set_name(Name());
      req.set_version(cmd_.version);
      req.set_field(cmd_.field);
      CallOptions call;
      absl::StatusOr<const ClientKeyFile*> seal = SealKey(&call);
      if (!seal.ok()) return Fail(seal.status());
      absl::StatusOr<v1::GetSecretResponse> resp =
          client_->GetSecret(req, call);
      if (!resp.ok()) return Fail(resp.status());
      if (*seal != nullptr) {
        absl::Status opened = OpenInto(**seal, resp->mutable_sealed_value(),
                                       resp->mutable_value());
        if (!opened.ok()) return Fail(opened);
      }
      if (Json()) {
        // Stable fields: name, version, and the value as "value" when it
        // is UTF-8 text, else as "value_base64".
        const bool text = IsValidUtf8(resp->value());
        std::string encoded =
            text ? JsonQuote(resp->value())
                 : absl::StrCat("\"", absl::Base64Escape(resp->value()), "\"");
        std::string json = absl::StrCat(
            "{\"name\": ", JsonQuote(Name()),
            ", \"version\": ", resp->version(),
            text ? ", \"value\": " : ", \"value_base64\": ", encoded, "}\n");
        WriteValue(*io_.out, json);
        WipeString(&encoded);
        WipeString(&json);
      } else {
        WriteValue(*io_.out, resp->value());
        if (!cmd_.no_newline && g_.output != OutputFormat::kRaw) {
          *io_.out << "\n";
        }
      }
      WipeString(resp->mutable_value());
      return kExitOk;
    }
    // The exact name sorts first among the names it prefixes.
    v1::ListSecretsRequest req;
    *req.mutable_target() = t_.target;
    req.set_name_prefix(Name());
    req.set_page_size(1);
    absl::StatusOr<v1::ListSecretsResponse> resp = client_->ListSecrets(req);
    if (!resp.ok()) return Fail(resp.status());
    if (resp->secrets().empty() || resp->secrets(0).name() != Name()) {
      return NotFound();
    }
    if (Plain()) {
      *io_.out << resp->secrets(0).version() << "\n";
      return kExitOk;
    }
    *io_.out << (Json() ? MetadataJson(resp->secrets(0))
                        : MetadataText(resp->secrets(0)));
    return kExitOk;
  }

  int Remove() {
    v1::DeleteSecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    absl::StatusOr<v1::DeleteSecretResponse> resp = client_->DeleteSecret(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << DoneJson("deleted");
    } else if (cmd_.verb == "unset") {
      *io_.out << "Unset secret '" << Name() << "'"
               << Where(t_, "in environment") << "\n";
    } else {
      *io_.out << "Removed secret '" << Name() << "'"
               << Where(t_, "from environment") << "\n";
    }
    return kExitOk;
  }

  int Rotate() {
    absl::StatusOr<SecretBytes> value = ReadValue(*cmd_.value, *io_.in);
    if (!value.ok()) return Fail(value.status());
    if (cmd_.value->kind == ValueSource::Kind::kValue) {
      *io_.err << kValueFlagWarning << "\n";
    }
    v1::RotateSecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    SetValueField(*value, req.mutable_value());
    if (cmd_.node_affinity.has_value()) {
      for (const std::string& e : *cmd_.node_affinity) {
        req.mutable_node_affinity()->add_entries(e);
      }
    }
    absl::StatusOr<v1::RotateSecretResponse> resp = client_->RotateSecret(req);
    WipeString(req.mutable_value());
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << absl::StrCat(
          "{\"name\": ", JsonQuote(Name()),
          ", \"previous_version\": ", resp->previous_version(),
          ", \"version\": ", resp->new_version(),
          ", \"consumers_on_previous\": ", resp->consumers_on_previous(),
          "}\n");
      PrintRandomNotice(*value);
      return kExitOk;
    }
    std::string where = t_.env_id.empty()
                            ? Where(t_, "in environment")
                            : absl::StrCat(" in env '", t_.env_id, "'");
    *io_.out << RotatedMessage(Name(), where, resp->previous_version(),
                               resp->new_version());
    *io_.out << StaleConsumersMessage(Name(), resp->previous_version(),
                                      resp->consumers_on_previous());
    PrintRandomNotice(*value);
    return kExitOk;
  }

  int Import() {
    absl::StatusOr<std::string> content = ReadTextFile(cmd_.file);
    if (!content.ok()) return Fail(content.status());
    v1::ImportSecretsRequest req;
    *req.mutable_target() = t_.target;
    req.set_format(cmd_.format == "json" ? v1::SECRET_FORMAT_JSON
                                         : v1::SECRET_FORMAT_DOTENV);
    *req.mutable_content() = std::move(*content);
    req.set_dry_run(cmd_.dry_run);
    absl::StatusOr<v1::ImportSecretsResponse> resp =
        client_->ImportSecrets(req);
    WipeString(req.mutable_content());
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << ImportJson(*resp, cmd_.dry_run);
      for (const std::string& e : resp->errors()) *io_.err << "  " << e << "\n";
      if (!resp->errors().empty()) {
        return PrintFailure(*io_.err, "Import completed with errors");
      }
      return kExitOk;
    }
    if (cmd_.dry_run) {
      for (const v1::ImportChange& c : resp->changes()) {
        absl::string_view action =
            c.action() == v1::IMPORT_ACTION_CREATE   ? "create"
            : c.action() == v1::IMPORT_ACTION_UPDATE ? "update"
                                                     : "unchanged";
        *io_.out << "  " << action << " " << c.name() << " (line " << c.line()
                 << ")\n";
      }
    }
    std::string where =
        t_.env_id.empty()
            ? (t_.is_default ? ""
                             : absl::StrCat(" into scope '", t_.scope, "'"))
            : absl::StrCat(" into environment ", t_.env_id);
    *io_.out << (cmd_.dry_run ? "Dry run, would import" : "Imported") << where
             << ": " << resp->created() << " created, " << resp->updated()
             << " updated, " << resp->unchanged() << " unchanged, "
             << resp->errors_size() << " error(s)\n";
    for (const std::string& e : resp->errors()) *io_.err << "  " << e << "\n";
    if (!resp->errors().empty()) {
      return PrintFailure(*io_.err, "Import completed with errors");
    }
    return kExitOk;
  }

  int Export() {
    v1::ExportSecretsRequest req;
    *req.mutable_target() = t_.target;
    req.set_format(cmd_.format == "json" ? v1::SECRET_FORMAT_JSON
                                         : v1::SECRET_FORMAT_DOTENV);
    CallOptions call;
    absl::StatusOr<const ClientKeyFile*> seal = SealKey(&call);
    if (!seal.ok()) return Fail(seal.status());
    absl::StatusOr<v1::ExportSecretsResponse> resp =
        client_->ExportSecrets(req, call);
    if (!resp.ok()) return Fail(resp.status());
    if (*seal != nullptr) {
      absl::Status opened = OpenInto(**seal, resp->mutable_sealed_content(),
                                     resp->mutable_content());
      if (!opened.ok()) return Fail(opened);
    }
    WriteValue(*io_.out, resp->content());
    WipeString(resp->mutable_content());
    return kExitOk;
  }

  int Versions() {
    v1::ListVersionsRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    absl::StatusOr<v1::ListVersionsResponse> resp = client_->ListVersions(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Plain()) {
      for (const v1::VersionInfo& v : resp->versions()) {
        *io_.out << v.version() << "\n";
      }
      return kExitOk;
    }
    *io_.out << (Json() ? VersionsJson(*resp) : VersionsTable(*resp));
    return kExitOk;
  }

  int Rollback() {
    v1::RollbackSecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    req.set_version(cmd_.version);
    absl::StatusOr<v1::RollbackSecretResponse> resp =
        client_->RollbackSecret(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << MetadataJson(resp->metadata());
    } else {
      *io_.out << "Rolled back '" << Name() << "'"
               << Where(t_, "in environment") << " to version " << cmd_.version
               << " (now version " << resp->metadata().version() << ")\n";
      *io_.out << StaleConsumersMessage(Name(), resp->metadata().version() - 1,
                                        resp->consumers_on_previous());
    }
    return kExitOk;
  }

  int Undelete() {
    v1::UndeleteSecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    absl::StatusOr<v1::UndeleteSecretResponse> resp =
        client_->UndeleteSecret(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << MetadataJson(resp->metadata());
      return kExitOk;
    }
    *io_.out << "Restored secret '" << Name() << "'"
             << Where(t_, "in environment") << " (version "
             << resp->metadata().version() << ")\n";
    return kExitOk;
  }

  int Destroy() {
    v1::DestroySecretRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    absl::StatusOr<v1::DestroySecretResponse> resp =
        client_->DestroySecret(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << DoneJson("destroyed");
      return kExitOk;
    }
    *io_.out << "Destroyed secret '" << Name() << "'"
             << Where(t_, "in environment") << " (every version)\n";
    return kExitOk;
  }

  int Check() {
    absl::StatusOr<std::map<std::string, std::string>> env =
        ReadEnvFile(cmd_.env_file, *io_.err);
    if (!env.ok()) return Fail(env.status());
    v1::CheckEnvRequest req;
    req.mutable_env()->insert(env->begin(), env->end());
    WipeMap(&*env);
    *req.mutable_context() = ContextFor(g_);
    absl::StatusOr<v1::CheckEnvResponse> resp = client_->CheckEnv(req);
    for (auto& [key, value] : *req.mutable_env()) WipeString(&value);
    if (!resp.ok()) return Fail(resp.status());
    *io_.out << (Json() ? CheckJson(*resp) : CheckTable(*resp));
    if (resp->ok()) return kExitOk;
    int bad = 0;
    for (const v1::CheckedEntry& e : resp->entries()) bad += !e.error().empty();
    return PrintFailure(*io_.err,
                        absl::StrCat(bad, " of ", resp->entries_size(),
                                     " entries would not resolve"));
  }

  // Follows the env file's secrets (docs/watch.md) until interrupted. One
  // line per fact, never a value:
  //   receipt KEY SCOPE/NAME VERSION INCARNATION   (hex; "-" if none)
  //   change KIND SCOPE/NAME VERSION PREVIOUS
  //   error KEY CODE MESSAGE
  //   position P [resync]        (ends each message)
  // When the stream ends (the daemon's drain, a restart, a lost
  // connection) it reconnects after a backoff (0.2 s doubling to 5 s) and
  // resumes from the last position; a refusal (bad input, no access,
  // RESOURCE_EXHAUSTED) ends the command with that error.
  int Watch() {
    if (!cmd_.exec_argv.empty()) return WatchExec();
    absl::StatusOr<std::map<std::string, std::string>> env =
        ReadEnvFile(cmd_.env_file, *io_.err);
    if (!env.ok()) return Fail(env.status());
    EnvWatcher watcher(client_, WatchRequest(&*env));
    const absl::Status ended = watcher.Run(
        [this](const v1::WatchEnvResponse& m) {
          for (const v1::ResolvedEntry& r : m.receipt()) {
            *io_.out << "receipt " << r.key() << " " << r.scope() << "/"
                     << r.name() << " " << r.version() << " "
                     << (r.incarnation().empty() ? "-" : r.incarnation())
                     << "\n";
          }
          for (const v1::WatchEvent& e : m.changes()) {
            *io_.out << "change " << ChangeKindName(e.kind()) << " "
                     << e.scope() << "/" << e.name() << " " << e.version()
                     << " " << e.previous_version() << "\n";
          }
          for (const v1::WatchEntryError& e : m.errors()) {
            *io_.out << "error " << e.key() << " "
                     << absl::StatusCodeToString(
                            static_cast<absl::StatusCode>(e.code()))
                     << " " << e.message() << "\n";
          }
          *io_.out << "position " << m.position()
                   << (m.resync() ? " resync" : "") << std::endl;
        },
        [this](const absl::Status& why) {
          *io_.err << "zlayer-secret: " << StreamEndedNote(why) << "\n";
        });
    return Fail(ended);  // Run returns only on a refusal
  }

  // The WatchEnv request for an env file's map (wipes `env`'s values).
  v1::WatchEnvRequest WatchRequest(std::map<std::string, std::string>* env) {
    v1::WatchEnvRequest req;
    req.mutable_env()->insert(env->begin(), env->end());
    WipeMap(env);
    *req.mutable_context() = ContextFor(g_);
    req.set_consumer(cmd_.consumer);
    return req;
  }

  static std::string StreamEndedNote(const absl::Status& why) {
    return absl::StrCat("watch stream ended (",
                        why.ok()
                            ? "daemon stopping"
                            : absl::StrCat(absl::StatusCodeToString(why.code()),
                                           ": ", why.message()),
                        "); reconnecting");
  }

  // `watch -- CMD` (docs/watch.md, "Keeping a process on current secrets").
  // The stream is read on a thread of its own; each message that changes
  // the receipt (or reports an error) schedules one re-resolve --debounce
  // later, so a burst of changes costs one re-resolve and at most one
  // restart. Everything else (signals, the child's exit, restarts) happens
  // on this thread, in the supervisor's Wait loop.
  int WatchExec() {
    absl::StatusOr<std::map<std::string, std::string>> env =
        ReadEnvFile(cmd_.env_file, *io_.err);
    if (!env.ok()) return Fail(env.status());
    absl::StatusOr<std::unique_ptr<ChildSupervisor>> created =
        ChildSupervisor::Create();
    if (!created.ok()) {
      WipeMap(&*env);
      return Fail(created.status());
    }
    ChildSupervisor& child = **created;
    const std::string& program = cmd_.exec_argv[0];
    absl::StatusOr<ChildSetup> setup = ResolveForChild(*env);
    if (!setup.ok()) {
      ReportResolveFailure(*env, setup.status());
      WipeMap(&*env);
      return PrintFailure(*io_.err,
                          absl::StrCat("cannot resolve ", cmd_.env_file, "; '",
                                       program, "' was not started"));
    }
    std::string receipt = setup->receipt;  // what the running child holds
    absl::Status started = StartChild(&child, &*setup);
    if (!started.ok()) {
      WipeMap(&*env);
      PrintFailure(*io_.err, started.message());
      return absl::IsNotFound(started) ? 127 : 126;
    }

    int wake[2];
    if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      WipeMap(&*env);
      child.Stop(cmd_.restart_grace);
      return PrintFailure(*io_.err, "cannot make a pipe");
    }
    // Shared with the stream thread: the latest message's receipt (or
    // "" after a message with errors) and notes to print.
    absl::Mutex mu;
    std::string latest = receipt;
    bool latest_has_errors = false;
    std::vector<std::string> notes;
    std::map<std::string, std::string> request_env = *env;
    EnvWatcherOptions watch_options;
    watch_options.retry_refusals = true;  // the child keeps running anyway
    EnvWatcher watcher(client_, WatchRequest(&request_env), watch_options);
    auto notify = [&wake] {
      // A full pipe already holds a wakeup: the byte may be dropped.
      [[maybe_unused]] ssize_t n = ::write(wake[1], "m", 1);
    };
    std::thread stream([&] {
      watcher
          .Run(
              [&](const v1::WatchEnvResponse& m) {
                {
                  absl::MutexLock lock(&mu);
                  latest = ReceiptKey(m.receipt());
                  latest_has_errors = m.errors_size() > 0;
                }
                notify();
              },
              [&](const absl::Status& why) {
                {
                  absl::MutexLock lock(&mu);
                  notes.push_back(StreamEndedNote(why));
                }
                notify();
              })
          .IgnoreError();  // OK: with retry_refusals only Stop() ends it
    });

    absl::Time due = absl::InfiniteFuture();  // when to re-resolve
    int code = 0;
    for (bool done = false; !done;) {
      switch (child.Wait(wake[0], due)) {
        case ChildSupervisor::Wake::kChildExited:
          code = child.exit_code();
          done = true;
          break;
        case ChildSupervisor::Wake::kTerminate:
          due = absl::InfiniteFuture();  // forwarded; wait for the exit
          break;
        case ChildSupervisor::Wake::kFd: {
          char drain[64];
          while (::read(wake[0], drain, sizeof(drain)) > 0) {
          }
          absl::MutexLock lock(&mu);
          for (const std::string& note : notes) {
            *io_.err << "zlayer-secret: " << note << "\n";
          }
          notes.clear();
          const bool changed = latest_has_errors || latest != receipt;
          if (changed && !child.terminating() &&
              due == absl::InfiniteFuture()) {
            due = absl::Now() + cmd_.debounce;
          }
          break;
        }
        case ChildSupervisor::Wake::kTimeout:
          due = absl::InfiniteFuture();
          if (child.terminating()) break;
          if (!Reresolve(&child, *env, &receipt)) {
            code = child.exit_code();
            done = true;
          }
          break;
      }
    }
    watcher.Stop();
    stream.join();
    ::close(wake[0]);
    ::close(wake[1]);
    WipeMap(&*env);
    WipeMap(&request_env);
    return code;
  }

  // What a child of run / watch gets: its whole environment ("K=V") and
  // the receipt it was resolved at (ReceiptKey).
  struct ChildSetup {
    std::vector<std::string> environment;
    std::string receipt;
    std::map<std::string, std::string> versions;  // key -> "scope/name vN"
    ~ChildSetup() {
      for (std::string& e : environment) WipeString(&e);
    }
  };

  // "KEY SCOPE/NAME VERSION FIELD INCARNATION" lines, sorted by key: what a
  // receipt names (a secret destroyed and created again is another v1).
  static std::string ReceiptKey(
      const google::protobuf::RepeatedPtrField<v1::ResolvedEntry>& receipt) {
    std::map<std::string, std::string> lines;
    for (const v1::ResolvedEntry& r : receipt) {
      lines[r.key()] = absl::StrCat(r.scope(), "/", r.name(), " ", r.version(),
                                    " ", r.field(), " ", r.incarnation());
    }
    std::string out;
    for (const auto& [key, line] : lines)
      absl::StrAppend(&out, key, " ", line, "\n");
    return out;
  }

  // ResolveEnv for `env` (all or nothing; exactly the `pins` versions when
  // given), then the child's environment:
  // this process's environment with the resolved keys on top. Only keys the
  // env file asks for are taken (a server answering more, LD_PRELOAD or
  // PATH, must not shape the child's environment).
  absl::StatusOr<ChildSetup> ResolveForChild(
      const std::map<std::string, std::string>& env,
      const std::vector<v1::ResolvedEntry>& pins = {}) {
    v1::ResolveEnvRequest req;
    req.mutable_env()->insert(env.begin(), env.end());
    *req.mutable_context() = ContextFor(g_);
    req.set_consumer(cmd_.consumer);
    req.mutable_pin()->Assign(pins.begin(), pins.end());
    // --seal-to: the daemon answers sealed boxes, opened here.
    CallOptions call;
    absl::StatusOr<const ClientKeyFile*> sealed_to = SealKey(&call);
    if (!sealed_to.ok()) {
      for (auto& [key, value] : *req.mutable_env()) WipeString(&value);
      return sealed_to.status();
    }
    const ClientKeyFile* seal = *sealed_to;
    absl::StatusOr<v1::ResolveEnvResponse> resp =
        client_->ResolveEnv(req, call);
    for (auto& [key, value] : *req.mutable_env()) WipeString(&value);
    if (!resp.ok()) return resp.status();
    if (seal != nullptr) {
      for (auto& [key, box] : *resp->mutable_sealed_env()) {
        absl::Status opened =
            OpenInto(*seal, &box, &(*resp->mutable_env())[key]);
        if (!opened.ok()) {
          for (auto& [k, v] : *resp->mutable_env()) WipeString(&v);
          return opened;
        }
      }
    }
    std::map<std::string, std::string> resolved;
    for (auto& [key, value] : *resp->mutable_env()) {
      if (env.count(key) != 0) {
        resolved[key] = value;
      } else {
        *io_.err << "zlayer-secret: warning: ignoring '" << key
                 << "', which the server returned but " << cmd_.env_file
                 << " does not ask for\n";
      }
      WipeString(&value);
    }
    std::vector<std::string> inherited;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      inherited.emplace_back(*e);
    }
    ChildSetup setup;
    setup.environment = OverlayEnvironment(inherited, resolved);
    WipeMap(&resolved);
    setup.receipt = ReceiptKey(resp->receipt());
    for (const v1::ResolvedEntry& r : resp->receipt()) {
      setup.versions[r.key()] =
          absl::StrCat(r.scope(), "/", r.name(), " v", r.version());
    }
    return setup;
  }

  absl::Status StartChild(ChildSupervisor* child, ChildSetup* setup) {
    io_.out->flush();
    io_.err->flush();
    absl::Status started = child->Start(cmd_.exec_argv, setup->environment);
    versions_ = setup->versions;
    return started;
  }

  // After a change: resolves again; on success restarts or signals the
  // child and updates `receipt`. A failed resolve leaves the child alone
  // and says why (keys, references, reasons; never a value). Returns false
  // when the command must end (the restart could not start the child, or a
  // termination signal came during the restart): exit with exit_code().
  bool Reresolve(ChildSupervisor* child,
                 const std::map<std::string, std::string>& env,
                 std::string* receipt) {
    const std::string& program = cmd_.exec_argv[0];
    absl::StatusOr<ChildSetup> setup = ResolveForChild(env);
    if (!setup.ok()) {
      ReportResolveFailure(env, setup.status());
      PrintFailure(
          *io_.err,
          absl::StrCat("cannot resolve ", cmd_.env_file, " after a change (",
                       absl::StatusCodeToString(setup.status().code()), "); '",
                       program, "' (pid ", child->pid(),
                       ") keeps running with the values it started with"));
      return true;
    }
    if (setup->receipt == *receipt) return true;  // nothing new for the child
    std::string what;
    for (const auto& [key, now] : setup->versions) {
      auto before = versions_.find(key);
      if (before != versions_.end() && before->second == now) continue;
      absl::StrAppend(&what, what.empty() ? "" : ", ", key, " -> ", now);
    }
    if (cmd_.watch_signal != 0) {
      *io_.err << "zlayer-secret: changed (" << what << "); sending "
               << "SIG" << ::sigabbrev_np(cmd_.watch_signal) << " to '"
               << program << "' (pid " << child->pid() << ")" << std::endl;
      absl::Status sent = child->Signal(cmd_.watch_signal);
      if (!sent.ok()) PrintFailure(*io_.err, sent.message());
      *receipt = setup->receipt;
      versions_ = setup->versions;
      return true;
    }
    *io_.err << "zlayer-secret: changed (" << what << "); restarting '"
             << program << "' (pid " << child->pid() << ")" << std::endl;
    const pid_t old_pid = child->pid();
    if (child->Stop(cmd_.restart_grace) == 128 + SIGKILL) {
      *io_.err << "zlayer-secret: '" << program << "' (pid " << old_pid
               << ") did not exit within --restart-grace; killed it"
               << std::endl;
    }
    if (child->terminating()) return false;
    absl::Status started = StartChild(child, &*setup);
    if (!started.ok()) {
      PrintFailure(*io_.err, started.message());
      return false;
    }
    *receipt = setup->receipt;
    return true;
  }

  static absl::string_view ChangeKindName(v1::ChangeKind kind) {
    switch (kind) {
      case v1::CHANGE_KIND_SET:
        return "set";
      case v1::CHANGE_KIND_ROTATE:
        return "rotate";
      case v1::CHANGE_KIND_ROLLBACK:
        return "rollback";
      case v1::CHANGE_KIND_DELETE:
        return "delete";
      case v1::CHANGE_KIND_UNDELETE:
        return "undelete";
      case v1::CHANGE_KIND_DESTROY:
        return "destroy";
      case v1::CHANGE_KIND_ENVIRONMENT:
        return "environment";
      default:
        return "unknown";
    }
  }

  int Consumers() {
    v1::ListConsumersRequest req;
    *req.mutable_target() = t_.target;
    req.set_name(Name());
    absl::StatusOr<v1::ListConsumersResponse> resp =
        client_->ListConsumers(req);
    if (!resp.ok()) return Fail(resp.status());
    *io_.out << "CONSUMER\tVERSION\tCURRENT\tWATCHING\tLAST_SEEN\n";
    for (const v1::ConsumerUse& c : resp->consumers()) {
      *io_.out << c.consumer() << "\t" << c.version() << "\t"
               << (c.current() ? "yes" : "no") << "\t"
               << (c.watching() ? "yes" : "no") << "\t"
               << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                   absl::FromUnixSeconds(c.last_seen()),
                                   absl::UTCTimeZone())
               << "\n";
    }
    return kExitOk;
  }

  int RunChild() {
    absl::StatusOr<std::map<std::string, std::string>> env =
        ReadEnvFile(cmd_.env_file, *io_.err);
    if (!env.ok()) return Fail(env.status());
    std::vector<v1::ResolvedEntry> pins;
    if (!cmd_.pin_file.empty()) {
      absl::StatusOr<std::string> text = ReadTextFile(cmd_.pin_file);
      absl::StatusOr<std::vector<v1::ResolvedEntry>> parsed =
          text.ok()
              ? ParseReceiptLines(*text)
              : absl::StatusOr<std::vector<v1::ResolvedEntry>>(text.status());
      if (!parsed.ok()) {
        WipeMap(&*env);
        return Fail(absl::Status(
            parsed.status().code(),
            absl::StrCat(cmd_.pin_file, ": ", parsed.status().message())));
      }
      pins = *std::move(parsed);
    }
    absl::StatusOr<ChildSetup> setup = ResolveForChild(*env, pins);
    if (!setup.ok()) {
      ReportResolveFailure(*env, setup.status());
      WipeMap(&*env);
      return PrintFailure(*io_.err,
                          absl::StrCat("cannot resolve ", cmd_.env_file, "; '",
                                       cmd_.exec_argv[0], "' was not started"));
    }
    WipeMap(&*env);
    io_.out->flush();
    io_.err->flush();
    int err = Exec(cmd_.exec_argv, &setup->environment);
    PrintFailure(*io_.err, absl::StrCat("cannot execute '", cmd_.exec_argv[0],
                                        "': ", std::strerror(err)));
    return err == ENOENT ? 127 : 126;
  }

  // Lists every bad entry (key, reference, reason) on stderr: CheckEnv
  // explains each entry; if it finds nothing wrong (a failure it cannot see,
  // such as an integrity error), the ResolveEnv message is all there is.
  void ReportResolveFailure(const std::map<std::string, std::string>& env,
                            const absl::Status& status) {
    v1::CheckEnvRequest check;
    check.mutable_env()->insert(env.begin(), env.end());
    *check.mutable_context() = ContextFor(g_);
    absl::StatusOr<v1::CheckEnvResponse> resp = client_->CheckEnv(check);
    for (auto& [key, value] : *check.mutable_env()) WipeString(&value);
    int listed = 0;
    if (resp.ok()) {
      for (const v1::CheckedEntry& e : resp->entries()) {
        if (e.error().empty()) continue;
        *io_.err << "  " << e.key() << " ("
                 << (e.reference().empty() ? "unparsable reference"
                                           : e.reference())
                 << "): " << e.error() << "\n";
        ++listed;
      }
    }
    if (listed == 0) {
      for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
        if (!line.empty()) *io_.err << "  " << line << "\n";
      }
    }
  }

  // execve with a PATH search (in the child's PATH) when the command has no
  // '/'. Returns errno when nothing could be executed.
  static int Exec(const std::vector<std::string>& argv,
                  std::vector<std::string>* env) {
    std::vector<char*> c_argv;
    for (const std::string& a : argv)
      c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    std::vector<char*> c_env;
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    for (std::string& e : *env) {
      c_env.push_back(e.data());
      if (absl::StartsWith(e, "PATH=")) path = e.substr(5);
    }
    c_env.push_back(nullptr);
    if (absl::StrContains(argv[0], '/')) {
      ::execve(argv[0].c_str(), c_argv.data(), c_env.data());
      return errno;
    }
    int result = ENOENT;
    for (absl::string_view dir : absl::StrSplit(path, ':')) {
      std::string candidate =
          absl::StrCat(dir.empty() ? "." : dir, "/", argv[0]);
      ::execve(candidate.c_str(), c_argv.data(), c_env.data());
      // Keep looking past missing files; remember a permission problem.
      if (errno == EACCES) result = EACCES;
      if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) return errno;
    }
    return result;
  }

  int Env() {
    const std::string& sub = cmd_.positionals[0];
    if (sub == "ls" || sub == "list") {
      v1::ListEnvironmentsRequest req;
      req.set_project(g_.project);
      absl::StatusOr<v1::ListEnvironmentsResponse> resp =
          client_->ListEnvironments(req);
      if (!resp.ok()) return Fail(resp.status());
      if (Plain()) {
        for (const v1::Environment& e : resp->environments()) {
          *io_.out << e.name() << "\n";
        }
        return kExitOk;
      }
      *io_.out << (Json() ? EnvironmentsJson(*resp) : EnvironmentsTable(*resp));
      return kExitOk;
    }
    if (sub == "create") {
      v1::CreateEnvironmentRequest req;
      req.set_name(cmd_.positionals[1]);
      req.set_project(g_.project);
      req.set_description(cmd_.description);
      absl::StatusOr<v1::Environment> env = client_->CreateEnvironment(req);
      if (!env.ok()) return Fail(env.status());
      if (Json()) {
        *io_.out << EnvironmentJson(*env);
      } else {
        *io_.out << "Created environment '" << env->name() << "' (id "
                 << env->id() << ")\n";
      }
      return kExitOk;
    }
    // rm: find the id first (a name is only unique within its project).
    v1::GetEnvironmentRequest get;
    get.set_name_or_id(cmd_.positionals[1]);
    get.set_project(g_.project);
    absl::StatusOr<v1::Environment> env = client_->GetEnvironment(get);
    if (!env.ok()) return Fail(env.status());
    v1::DeleteEnvironmentRequest req;
    req.set_id(env->id());
    absl::StatusOr<v1::DeleteEnvironmentResponse> resp =
        client_->DeleteEnvironment(req);
    if (!resp.ok()) return Fail(resp.status());
    if (Json()) {
      *io_.out << absl::StrCat("{\"id\": ", JsonQuote(env->id()),
                               ", \"name\": ", JsonQuote(env->name()),
                               ", \"removed\": true}\n");
      return kExitOk;
    }
    *io_.out << "Removed environment '" << env->name() << "' (id " << env->id()
             << ")\n";
    return kExitOk;
  }

  const Command& cmd_;
  const GlobalOptions& g_;
  SecretsClient* client_;
  Io io_;
  ResolvedTarget t_;
  // watch -- CMD: key -> "scope/name vN" of what the running child holds.
  std::map<std::string, std::string> versions_;
  absl::optional<ClientKeyFile> seal_key_;  // --seal-to, once loaded
};

}  // namespace

int PrintFailure(std::ostream& err, absl::string_view message, int exit_code) {
  std::string line =
      absl::StrReplaceAll(message, {{"\r\n", "; "}, {"\n", "; "}});
  err << "zlayer-secret: " << line << "\n";
  return exit_code;
}

int PrintCallFailure(std::ostream& err, const absl::Status& status,
                     const GlobalOptions& global) {
  std::string address = !global.address.empty()  ? global.address
                        : !global.socket.empty() ? global.socket
                                                 : DefaultSocketPath();
  return PrintFailure(err, FailureMessage(status, address),
                      ExitCodeFor(status.code()));
}

std::vector<std::string> OverlayEnvironment(
    const std::vector<std::string>& inherited,
    const std::map<std::string, std::string>& overlay) {
  std::vector<std::string> out;
  std::set<std::string> placed;
  for (const std::string& entry : inherited) {
    size_t eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    auto it = overlay.find(key);
    if (it == overlay.end()) {
      out.push_back(entry);
    } else if (placed.insert(key).second) {
      out.push_back(absl::StrCat(key, "=", it->second));
    }
  }
  for (const auto& [key, value] : overlay) {
    if (placed.count(key) == 0) out.push_back(absl::StrCat(key, "=", value));
  }
  return out;
}

absl::StatusOr<ClientOptions> ClientOptionsFor(const GlobalOptions& g) {
  ClientOptions options;
  options.address = !g.address.empty() ? g.address : g.socket;
  if (!g.socket.empty()) {
    // --socket is always a path, even one without '/'; a comma-separated
    // list names several daemons to fail over between.
    std::vector<std::string> sockets;
    for (absl::string_view path : absl::StrSplit(g.socket, ',')) {
      path = absl::StripAsciiWhitespace(path);
      sockets.push_back(absl::StartsWith(path, "unix:") || path.empty()
                            ? std::string(path)
                            : absl::StrCat("unix:", path));
    }
    options.address = absl::StrJoin(sockets, ",");
  }
  options.tls_ca_file = g.tls_ca_file;
  options.tls_cert_file = g.tls_cert_file;
  options.tls_key_file = g.tls_key_file;
  options.tls_server_name = g.tls_server_name;
  options.default_deadline = g.timeout;
  options.wait_for_ready = g.wait_for_ready;
  options.act_as_user = g.act_as_user;
  options.act_as_groups = g.act_as_groups;
  if (!g.api_key_file.empty()) {
    absl::StatusOr<SecretBytes> key = ReadSecretFile(g.api_key_file);
    if (!key.ok()) return key.status();
    options.api_key = *std::move(key);
  }
  return options;
}

int RunCommandWith(const Command& cmd, SecretsClient* client, Io io) {
  return Runner(cmd, client, io).Run();
}

int RunCommand(const Command& cmd, Io io) {
  if (cmd.verb == "help") {
    const VerbSpec* verb =
        cmd.positionals.empty() ? nullptr : FindVerb(cmd.positionals[0]);
    *io.out << (verb == nullptr ? UsageText() : VerbHelp(*verb));
    return kExitOk;
  }
  if (cmd.verb == "completion") {
    *io.out << CompletionScript(cmd.positionals[0]);
    return kExitOk;
  }
  if (cmd.verb == "man") {
    *io.out << ManPage();
    return kExitOk;
  }
  if (cmd.verb == "version") {
    *io.out << "zlayer-secret " << kCliVersion << "\n";
    return kExitOk;
  }
  absl::StatusOr<ClientOptions> options = ClientOptionsFor(cmd.global);
  if (!options.ok()) {
    // A file the options name (API key, TLS) is missing or unreadable.
    return PrintFailure(*io.err, options.status().message(), kExitUsage);
  }
  if (options->address.empty() && !options->wait_for_ready) {
    // A newcomer's first call: say where we looked and how to point us.
    const std::string path = DefaultSocketPath();
    struct stat st;
    if (!absl::StrContains(path, ',') && ::lstat(path.c_str(), &st) != 0 &&
        errno == ENOENT) {
      return PrintFailure(
          *io.err,
          absl::StrCat("no daemon socket at ", path,
                       " (start the daemon, or pass --socket PATH or set ",
                       kSocketEnvVar,
                       "; the current directory is never searched)"),
          kExitUnreachable);
    }
  }
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(*std::move(options));
  if (!client.ok()) {
    return PrintCallFailure(*io.err, client.status(), cmd.global);
  }
  return RunCommandWith(cmd, client->get(), io);
}

}  // namespace zlayer::secrets::cli
