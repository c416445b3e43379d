// zlayer-secret: the command-line client of zlayer-secretsd.
// Parsing lives in args.h, the verbs in commands.h; main() only joins them.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/commands.h"

int main(int argc, char** argv) {
  using namespace zlayer::secrets::cli;  // NOLINT: main only
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<Command> cmd = ParseCommandLine(args);
  if (!cmd.ok()) {
    std::cerr << "zlayer-secret: " << cmd.status().message() << "\n";
    return kExitUsage;
  }
  int code = RunCommand(*cmd, Io{&std::cin, &std::cout, &std::cerr});
  std::cout.flush();
  return code;
}
