// zlayer-secret's verbs and options as data: one table per verb, read by
// the parser (args.cc), the help texts, the shell completions and the man
// page (help.h). Adding an option is one row in its verb's table.
//
//   const VerbSpec* get = FindVerb("get");
//   for (const OptionSpec& o : get->options) ...  // --reveal, --version, ...
//
// An option name means the same thing (same value kind) in every verb that
// has it; the parser relies on it to read `--opt VALUE` before it knows the
// verb (tests/client/args_test.cc checks it).
#ifndef ZLAYER_SECRETS_CLIENT_CLI_VERBS_H_
#define ZLAYER_SECRETS_CLIENT_CLI_VERBS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "client/cli/args.h"

namespace zlayer::secrets::cli {

// What the parser gathers while applying options; the checks after the
// option loop turn it into the Command.
struct ParseState {
  Command* cmd = nullptr;
  ValueFlags value_flags;
  bool create_only = false;
  absl::optional<uint32_t> if_version;
};

// How an option's value is read (and completed by the shell scripts).
enum class ValueKind {
  kFlag,      // no value
  kText,      // any text
  kNumber,    // a whole number
  kDuration,  // 5s, 500ms, 10
  kPath,      // a file (completed as a file name)
  kChoice,    // one of OptionSpec::choices
};

// Applies the option's value ("" for flags) to the state. Errors are usage
// errors (InvalidArgument).
using OptionSetter = absl::Status (*)(absl::string_view value,
                                      ParseState* state);

struct OptionSpec {
  absl::string_view name;  // without the leading "--"
  char short_name;         // 'o' for -o, or 0
  ValueKind kind;
  absl::string_view value_name;  // shown in help: "PATH", "N"; "" for flags
  absl::string_view choices;     // kChoice: space-separated, e.g. "env json"
  absl::string_view env_var;     // the variable supplying a default, or ""
  absl::string_view help;        // one sentence, no trailing period
  OptionSetter set;
};

struct VerbSpec {
  absl::string_view name;         // canonical: "ls"
  absl::string_view aliases;      // space-separated: "list"
  absl::string_view group;        // heading in `--help`: "Secrets", ...
  absl::string_view synopsis;     // after the verb: "NAME [--reveal ...]"
  absl::string_view summary;      // one line
  absl::string_view description;  // a paragraph, or ""
  absl::string_view subcommands;  // for completion: "ls create rm", or ""
  absl::Span<const OptionSpec> options;  // the verb's own options
  absl::string_view examples;            // lines, each a command line
};

// Options every verb accepts (--socket, --output, --help, ...).
absl::Span<const OptionSpec> GlobalOptionSpecs();

// Every verb, in `--help` order.
absl::Span<const VerbSpec> VerbSpecs();

// The verb `name` names (canonical or alias), or nullptr.
const VerbSpec* FindVerb(absl::string_view name);

// The option `name` (long, without "--") of `verb`'s table or the global
// one, or nullptr. `verb` may be nullptr (global options only).
const OptionSpec* FindOption(const VerbSpec* verb, absl::string_view name);

// The closest option name `verb` accepts to a mistyped `name` (edit
// distance), or "" when none is close.
std::string ClosestOption(const VerbSpec* verb, absl::string_view name);

}  // namespace zlayer::secrets::cli

#endif  // ZLAYER_SECRETS_CLIENT_CLI_VERBS_H_
