// Texts generated from the verb and option tables (client/cli/verbs.h):
// the overview (`zlayer-secret --help`, UsageText() in args.h), each verb's
// help, the shell completion scripts and the man page. Pure functions.
//
//   std::cout << VerbHelp(*FindVerb("get"));
//   std::cout << CompletionScript("bash");
#ifndef ZLAYER_SECRETS_CLIENT_CLI_HELP_H_
#define ZLAYER_SECRETS_CLIENT_CLI_HELP_H_

#include <string>

#include "absl/strings/string_view.h"
#include "client/cli/verbs.h"

namespace zlayer::secrets::cli {

// `zlayer-secret VERB --help`: usage line, summary, description, the verb's
// options, a pointer to the global ones, examples.
std::string VerbHelp(const VerbSpec& verb);

// A completion script for "bash", "zsh" or "fish" ("" for anything else).
// bash and zsh define _zlayer_secret; all three complete verbs, each verb's
// options and sub-commands, option choices and file names.
std::string CompletionScript(absl::string_view shell);

// zlayer-secret(1) in roff (man(7) macros).
std::string ManPage();

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_HELP_H_
