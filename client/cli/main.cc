// zlayer-secret: the command-line client of zlayer-secretsd.
// Parsing lives in args.h, the verbs in commands.h; main() only joins them.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/commands.h"
#include "client/cli/ops_commands.h"

int main(int argc, char** argv) {
  using namespace zlayer::secrets::cli;  // NOLINT: main only
  std::vector<std::string> args(argv + 1, argv + argc);
  // Offline verbs work on files, not through the daemon.
  if (IsOfflineVerb(args)) {
    return RunOfflineCommand(args, std::cout, std::cerr);
  }
  ScriptEnvironment env;
  // string_views, not char arrays: the option tables are constexpr, and
  // under ASan a named array's address is not a constant expression.
  for (absl::string_view name :
       {kAddrEnvVar, kCaCertEnvVar, kApiKeyFileEnvVar, kFormatEnvVar}) {
    const std::string key(name);
    const char* value = std::getenv(key.c_str());
    if (value != nullptr && *value != '\0') env[key] = value;
  }
  absl::StatusOr<Command> cmd = ParseCommandLine(args, env);
  if (!cmd.ok()) {
    std::cerr << "zlayer-secret: " << cmd.status().message() << "\n";
    return kExitUsage;
  }
  int code = RunCommand(*cmd, Io{&std::cin, &std::cout, &std::cerr});
  std::cout.flush();
  return code;
}
