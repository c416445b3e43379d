#include "client/cli/ops_commands.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/cli/exit_codes.h"
#include "client/cli/help.h"
#include "client/cli/migrate_command.h"
#include "client/cli/verbs.h"
#include "core/audit/audit_log.h"
#include "core/backup/backup.h"
#include "core/backup/cluster_backup.h"
#include "core/base/clock.h"
#include "core/crypto/key_manager.h"

namespace zlayer::secrets::cli {
namespace {

int Fail(std::ostream& err, absl::string_view message, int code) {
  err << "zlayer-secret: " << absl::StrReplaceAll(message, {{"\n", "; "}})
      << "\n";
  return code;
}

int Usage(std::ostream& err, absl::string_view verb,
          absl::string_view problem) {
  return Fail(err,
              absl::StrCat(problem, " (see 'zlayer-secret ", verb, " --help')"),
              kExitUsage);
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

// restore FILE (--data-dir DIR | --etcd-endpoints A,B --etcd-prefix P |
//               --verify-only) [--key-dir DIR] [--key-file F]
//         [--deployment D] [--etcd-cacert F --etcd-cert F --etcd-key F]
int Restore(const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  RestoreOptions options;
  ClusterRestoreOptions cluster;
  bool to_etcd = false;
  KeyManagerOptions key;
  key.env = RealEnvironment();
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--verify-only") {
      options.verify_only = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      if (!options.backup_path.empty()) {
        return Usage(err, "restore",
                     absl::StrCat("unexpected argument '", a, "'"));
      }
      options.backup_path = a;
      continue;
    }
    if (i + 1 >= args.size()) {
      return Usage(err, "restore", absl::StrCat(a, " needs a value"));
    }
    const std::string& value = args[++i];
    if (a == "--data-dir") {
      options.data_dir = value;
    } else if (a == "--key-dir") {
      key.key_dir = value;
    } else if (a == "--key-file") {
      key.key_file = value;
    } else if (a == "--deployment") {
      key.deployment = value;
    } else if (a == "--etcd-endpoints") {
      cluster.target.client.endpoints =
          absl::StrSplit(value, ',', absl::SkipEmpty());
      to_etcd = true;
    } else if (a == "--etcd-prefix") {
      cluster.target.prefix = value;
    } else if (a == "--etcd-cacert") {
      cluster.target.client.ca_cert_file = value;
    } else if (a == "--etcd-cert") {
      cluster.target.client.cert_file = value;
    } else if (a == "--etcd-key") {
      cluster.target.client.key_file = value;
    } else {
      return Usage(err, "restore", absl::StrCat("unknown option ", a));
    }
  }
  if (to_etcd && !options.data_dir.empty()) {
    return Usage(err, "restore",
                 "--data-dir and --etcd-endpoints exclude each other");
  }
  if (options.backup_path.empty()) {
    return Usage(err, "restore", "'restore' needs FILE");
  }
  if (options.data_dir.empty() && !options.verify_only && !to_etcd) {
    return Usage(err, "restore",
                 "'restore' needs --data-dir, --etcd-endpoints or "
                 "--verify-only");
  }
  // The file's own header says which store it is of (nothing is trusted
  // before the MAC is checked; this only picks the check).
  bool is_cluster = false;
  {
    absl::StatusOr<std::unique_ptr<BackupFileReader>> reader =
        BackupFileReader::Open(options.backup_path);
    absl::StatusOr<BackupInfo> header =
        reader.ok() ? (*reader)->ReadHeader()
                    : absl::StatusOr<BackupInfo>(reader.status());
    if (!header.ok()) {
      return Fail(err, header.status().message(),
                  ExitCodeFor(header.status().code()));
    }
    is_cluster = header->format_version == kClusterBackupFormatVersion;
  }
  if (is_cluster && !options.verify_only && !to_etcd) {
    return Usage(err, "restore",
                 "a cluster backup restores into etcd (--etcd-endpoints, "
                 "--etcd-prefix); a data directory cannot take it");
  }
  if (!is_cluster && to_etcd) {
    return Usage(err, "restore",
                 "a SQLite backup restores into a data directory "
                 "(--data-dir), not into etcd");
  }
  if (key.key_dir.empty()) key.key_dir = options.data_dir;
  key.fallback_key_dir = options.data_dir;
  absl::StatusOr<std::unique_ptr<KeyManager>> keys =
      KeyManager::Create(std::move(key));
  if (!keys.ok()) {
    return Fail(err, keys.status().message(),
                ExitCodeFor(keys.status().code()));
  }
  // Never a new key: a restore needs the key the backup was made under.
  absl::StatusOr<MasterKey> master = (*keys)->GetExistingKey();
  if (!master.ok()) {
    return Fail(err, master.status().message(),
                ExitCodeFor(master.status().code()));
  }
  RealClock clock;
  cluster.backup_path = options.backup_path;
  cluster.verify_only = options.verify_only;
  absl::StatusOr<BackupInfo> info =
      is_cluster ? RestoreClusterBackup(cluster, std::move(master->key))
                 : RestoreBackup(options, std::move(master->key), &clock);
  if (!info.ok()) {
    return Fail(err, info.status().message(),
                ExitCodeFor(info.status().code()));
  }
  const std::string target =
      is_cluster ? absl::StrCat("etcd prefix ", cluster.target.prefix)
                 : absl::StrCat(options.data_dir, "/secrets.db");
  out << (options.verify_only
              ? absl::StrCat("Backup ", options.backup_path, " verified\n")
              : absl::StrCat("Restored ", options.backup_path, " into ", target,
                             "\n"))
      << DescribeBackup(*info);
  return kExitOk;
}

// audit verify FILE... [--head F]
int AuditVerify(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  if (args.size() < 2 || args[1] != "verify") {
    return Usage(err, "audit", "'audit' needs the sub-command 'verify'");
  }
  std::vector<std::string> files;
  std::string head;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--head") {
      if (i + 1 >= args.size()) return Usage(err, "audit", "--head needs FILE");
      head = args[++i];
    } else if (args[i].rfind("--", 0) == 0) {
      return Usage(err, "audit", absl::StrCat("unknown option ", args[i]));
    } else {
      files.push_back(args[i]);
    }
  }
  if (files.empty()) return Usage(err, "audit", "'audit verify' needs FILE...");
  if (head.empty()) head = AuditHeadPath(files.back());
  absl::StatusOr<AuditVerifyReport> report = VerifyAuditChain(files, head);
  if (!report.ok()) {
    return Fail(err,
                absl::StrCat("audit chain broken: ", report.status().message()),
                absl::IsDataLoss(report.status())
                    ? kExitFailure
                    : ExitCodeFor(report.status().code()));
  }
  out << "Audit chain intact: " << report->records << " record(s)";
  if (report->records > 0) {
    out << ", seq " << report->first_seq << ".." << report->last.seq;
  }
  out << (report->head_checked ? ", matches its head file" : ", no head file")
      << "\n";
  for (const std::string& note : report->notes) out << "note: " << note << "\n";
  return kExitOk;
}

}  // namespace

bool IsOfflineVerb(const std::vector<std::string>& args) {
  return !args.empty() &&
         (args[0] == "migrate" || args[0] == "restore" || args[0] == "audit");
}

int RunOfflineCommand(const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err) {
  if (WantsHelp(args)) {
    out << VerbHelp(*FindVerb(args[0]));
    return kExitOk;
  }
  if (args[0] == "migrate") return RunMigrateCommand(args, out, err);
  if (args[0] == "restore") return Restore(args, out, err);
  return AuditVerify(args, out, err);
}

}  // namespace zlayer::secrets::cli
