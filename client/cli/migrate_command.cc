#include "client/cli/migrate_command.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/cli/exit_codes.h"
#include "core/base/clock.h"
#include "core/crypto/key_manager.h"
#include "core/migrate/migration.h"

namespace zlayer::secrets::cli {
namespace {

constexpr char kUsage[] =
    "usage: zlayer-secret migrate --from-upstream PATH --data-dir DIR "
    "[--key-dir DIR] [--deployment D] [--target-key-file F] [--key-file F] "
    "[--upstream-deployment D] [--env-names F] [--permissions F] [--dry-run] "
    "[--skip-unmapped]";

int Fail(std::ostream& err, absl::string_view message, int code) {
  err << "zlayer-secret: " << absl::StrReplaceAll(message, {{"\n", "; "}})
      << "\n";
  return code;
}

}  // namespace

bool IsMigrateVerb(const std::vector<std::string>& args) {
  return !args.empty() && args[0] == "migrate";
}

int RunMigrateCommand(const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err) {
  MigrationOptions options;
  options.upstream_key.env = RealEnvironment();
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--dry-run") {
      options.dry_run = true;
      continue;
    }
    if (flag == "--skip-unmapped") {
      options.skip_unmapped = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      out << kUsage << "\n";
      return kExitOk;
    }
    if (i + 1 >= args.size()) {
      return Fail(err, absl::StrCat(flag, " needs a value; ", kUsage),
                  kExitUsage);
    }
    const std::string& value = args[++i];
    if (flag == "--from-upstream") {
      options.upstream_path = value;
    } else if (flag == "--data-dir") {
      options.data_dir = value;
    } else if (flag == "--key-dir") {
      options.target_key.key_dir = value;
    } else if (flag == "--deployment") {
      options.target_key.deployment = value;
    } else if (flag == "--target-key-file") {
      options.target_key.key_file = value;
    } else if (flag == "--key-file") {
      options.upstream_key.key_file = value;
    } else if (flag == "--upstream-deployment") {
      options.upstream_key.deployment = value;
    } else if (flag == "--env-names") {
      options.env_names_file = value;
    } else if (flag == "--permissions") {
      options.permissions_file = value;
    } else {
      return Fail(err, absl::StrCat("unknown option ", flag, "; ", kUsage),
                  kExitUsage);
    }
  }
  if (options.upstream_path.empty() || options.data_dir.empty()) {
    return Fail(err, kUsage, kExitUsage);
  }
  // Like zlayer-secretsd: the key directory defaults to the data directory
  // only when none is given (the daemon's --key-dir default).
  if (options.target_key.key_dir.empty()) {
    options.target_key.key_dir = options.data_dir;
  }
  options.target_key.fallback_key_dir = options.data_dir;
  RealClock clock;
  absl::StatusOr<MigrationReport> report = Migrate(options, &clock);
  if (!report.ok()) {
    return Fail(err, report.status().message(),
                ExitCodeFor(report.status().code()));
  }
  out << FormatMigrationReport(*report);
  return kExitOk;
}

}  // namespace zlayer::secrets::cli
