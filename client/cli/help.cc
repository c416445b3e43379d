#include "client/cli/help.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/cli/args.h"
#include "client/cli/exit_codes.h"

namespace zlayer::secrets::cli {
namespace {

constexpr size_t kWidth = 79;
constexpr size_t kHelpColumn = 28;

// `text` wrapped at kWidth, every line after the first starting at
// `indent` spaces (the first continues where the caller left off, at
// column `start`).
std::string Wrap(absl::string_view text, size_t start, size_t indent) {
  std::string out;
  size_t column = start;
  bool first = true;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!first && column + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
    } else if (!first) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
    first = false;
  }
  return out;
}

// "-o, --output FORMAT" / "--reveal".
std::string OptionLabel(const OptionSpec& o) {
  std::string label =
      o.short_name != 0
          ? absl::StrCat("-", std::string(1, o.short_name), ", --", o.name)
          : absl::StrCat("--", o.name);
  if (!o.value_name.empty()) absl::StrAppend(&label, " ", o.value_name);
  return label;
}

std::string OptionHelp(const OptionSpec& o) {
  std::string help(o.help);
  if (o.kind == ValueKind::kChoice) {
    absl::StrAppend(&help, " [", absl::StrReplaceAll(o.choices, {{" ", "|"}}),
                    "]");
  }
  if (!o.env_var.empty())
    absl::StrAppend(&help, " (default: $", o.env_var, ")");
  return help;
}

std::string OptionLines(absl::Span<const OptionSpec> options) {
  std::string out;
  for (const OptionSpec& o : options) {
    std::string label = absl::StrCat("  ", OptionLabel(o));
    if (label.size() + 1 > kHelpColumn) {
      absl::StrAppend(&out, label, "\n", std::string(kHelpColumn, ' '));
    } else {
      absl::StrAppend(&out, label,
                      std::string(kHelpColumn - label.size(), ' '));
    }
    absl::StrAppend(&out, Wrap(OptionHelp(o), kHelpColumn, kHelpColumn), "\n");
  }
  return out;
}

std::string VerbLabel(const VerbSpec& v) {
  std::string label(v.name);
  for (absl::string_view alias :
       absl::StrSplit(v.aliases, ' ', absl::SkipEmpty())) {
    absl::StrAppend(&label, " | ", alias);
  }
  return label;
}

std::vector<std::string> Words(absl::string_view text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

// Every long option name of a table, "--x --y".
std::string LongNames(absl::Span<const OptionSpec> options) {
  std::vector<std::string> names;
  for (const OptionSpec& o : options) {
    names.push_back(absl::StrCat("--", o.name));
    if (o.short_name != 0) {
      names.push_back(absl::StrCat("-", std::string(1, o.short_name)));
    }
  }
  return absl::StrJoin(names, " ");
}

// All option rows of every table (global first), for completion of values.
std::vector<const OptionSpec*> AllOptionRows() {
  std::vector<const OptionSpec*> rows;
  auto add = [&rows](const OptionSpec& o) {
    for (const OptionSpec* r : rows) {
      if (r->name == o.name) return;
    }
    rows.push_back(&o);
  };
  for (const OptionSpec& o : GlobalOptionSpecs()) add(o);
  for (const VerbSpec& v : VerbSpecs()) {
    for (const OptionSpec& o : v.options) add(o);
  }
  return rows;
}

// "--a|--b|-o": the option words of `rows` matching `pred`, for a shell
// case pattern; "" when none.
template <typename Pred>
std::string CasePattern(const std::vector<const OptionSpec*>& rows, Pred pred) {
  std::vector<std::string> words;
  for (const OptionSpec* o : rows) {
    if (!pred(*o)) continue;
    words.push_back(absl::StrCat("--", o->name));
    if (o->short_name != 0) {
      words.push_back(absl::StrCat("-", std::string(1, o->short_name)));
    }
  }
  return absl::StrJoin(words, "|");
}

// Single-quoted for bash, zsh and fish alike (fish accepts \' inside, the
// POSIX shells need '\'' which fish also reads correctly).
std::string ShellQuote(absl::string_view text, bool fish) {
  if (fish) {
    return absl::StrCat(
        "'", absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
  }
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

std::string BashScript() {
  const std::vector<const OptionSpec*> rows = AllOptionRows();
  std::string verbs;
  for (const VerbSpec& v : VerbSpecs()) {
    absl::StrAppend(&verbs, verbs.empty() ? "" : " ", v.name);
    if (!v.aliases.empty()) absl::StrAppend(&verbs, " ", v.aliases);
  }
  const std::string globals =
      absl::StrCat(LongNames(GlobalOptionSpecs()), " --version");
  std::string out = absl::StrCat(
      "# bash completion for zlayer-secret (generated: zlayer-secret "
      "completion bash)\n"
      "# Load with: source <(zlayer-secret completion bash)\n"
      "_zlayer_secret() {\n"
      "  local cur prev verb verb_at i opts subs\n"
      "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
      "  prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  verb=\"\"\n"
      "  verb_at=0\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case \"${COMP_WORDS[i]}\" in\n"
      "      ",
      CasePattern(
          rows, [](const OptionSpec& o) { return o.kind != ValueKind::kFlag; }),
      ") ((i++)) ;;\n"
      "      -*) ;;\n"
      "      *) verb=\"${COMP_WORDS[i]}\"; verb_at=$i; break ;;\n"
      "    esac\n"
      "  done\n"
      "  case \"$prev\" in\n");
  for (const OptionSpec* o : rows) {
    if (o->kind != ValueKind::kChoice) continue;
    absl::StrAppend(&out, "    ",
                    CasePattern({o}, [](const OptionSpec&) { return true; }),
                    ") COMPREPLY=($(compgen -W ", ShellQuote(o->choices, false),
                    " -- \"$cur\")); return ;;\n");
  }
  absl::StrAppend(
      &out, "    ",
      CasePattern(
          rows, [](const OptionSpec& o) { return o.kind == ValueKind::kPath; }),
      ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
  absl::StrAppend(&out, "    ",
                  CasePattern(rows,
                              [](const OptionSpec& o) {
                                return o.kind == ValueKind::kText ||
                                       o.kind == ValueKind::kNumber ||
                                       o.kind == ValueKind::kDuration;
                              }),
                  ") COMPREPLY=(); return ;;\n"
                  "  esac\n"
                  "  if [[ -z \"$verb\" ]]; then\n"
                  "    if [[ \"$cur\" == -* ]]; then\n"
                  "      COMPREPLY=($(compgen -W ",
                  ShellQuote(globals, false),
                  " -- \"$cur\"))\n"
                  "    else\n"
                  "      COMPREPLY=($(compgen -W ",
                  ShellQuote(verbs, false),
                  " -- \"$cur\"))\n"
                  "    fi\n"
                  "    return\n"
                  "  fi\n"
                  "  case \"$verb\" in\n");
  for (const VerbSpec& v : VerbSpecs()) {
    std::string pattern(v.name);
    for (absl::string_view alias : Words(v.aliases)) {
      absl::StrAppend(&pattern, "|", alias);
    }
    absl::StrAppend(&out, "    ", pattern,
                    ") opts=", ShellQuote(LongNames(v.options), false),
                    "; subs=", ShellQuote(v.subcommands, false), " ;;\n");
  }
  absl::StrAppend(
      &out,
      "    *) opts=''; subs='' ;;\n"
      "  esac\n"
      "  if [[ \"$cur\" == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$opts ",
      LongNames(GlobalOptionSpecs()),
      "\" -- \"$cur\"))\n"
      "  elif [[ -n \"$subs\" && $((verb_at + 1)) -eq $COMP_CWORD ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
      "  elif [[ \"$verb\" == help && $((verb_at + 1)) -eq $COMP_CWORD ]]; "
      "then\n"
      "    COMPREPLY=($(compgen -W ",
      ShellQuote(verbs, false),
      " -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "complete -F _zlayer_secret zlayer-secret\n");
  return out;
}

std::string ZshScript() {
  const std::vector<const OptionSpec*> rows = AllOptionRows();
  std::string out =
      "#compdef zlayer-secret\n"
      "# zsh completion for zlayer-secret (generated: zlayer-secret "
      "completion zsh)\n"
      "# Load with: source <(zlayer-secret completion zsh), or save it as\n"
      "# _zlayer_secret in a directory of $fpath.\n"
      "_zlayer_secret() {\n"
      "  local verb='' i\n"
      "  local -a verbs opts subs\n"
      "  verbs=(\n";
  for (const VerbSpec& v : VerbSpecs()) {
    absl::StrAppend(
        &out, "    ",
        ShellQuote(absl::StrCat(v.name, ":",
                                absl::StrReplaceAll(v.summary, {{":", "\\:"}})),
                   false),
        "\n");
    for (absl::string_view alias : Words(v.aliases)) {
      absl::StrAppend(
          &out, "    ",
          ShellQuote(absl::StrCat(alias, ":same as ", v.name), false), "\n");
    }
  }
  absl::StrAppend(
      &out,
      "  )\n"
      "  for ((i = 2; i < CURRENT; i++)); do\n"
      "    case ${words[i]} in\n"
      "      (",
      CasePattern(
          rows, [](const OptionSpec& o) { return o.kind != ValueKind::kFlag; }),
      ") ((i++)) ;;\n"
      "      (-*) ;;\n"
      "      (*) verb=${words[i]}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  case ${words[CURRENT-1]} in\n");
  for (const OptionSpec* o : rows) {
    if (o->kind != ValueKind::kChoice) continue;
    absl::StrAppend(&out, "    (",
                    CasePattern({o}, [](const OptionSpec&) { return true; }),
                    ") compadd -- ", o->choices, "; return ;;\n");
  }
  absl::StrAppend(
      &out, "    (",
      CasePattern(
          rows, [](const OptionSpec& o) { return o.kind == ValueKind::kPath; }),
      ") _files; return ;;\n", "    (",
      CasePattern(rows,
                  [](const OptionSpec& o) {
                    return o.kind == ValueKind::kText ||
                           o.kind == ValueKind::kNumber ||
                           o.kind == ValueKind::kDuration;
                  }),
      ") return ;;\n"
      "  esac\n"
      "  if [[ -z $verb ]]; then\n"
      "    if [[ $PREFIX == -* ]]; then\n"
      "      compadd -- ",
      LongNames(GlobalOptionSpecs()),
      " --version\n"
      "    else\n"
      "      _describe 'command' verbs\n"
      "    fi\n"
      "    return\n"
      "  fi\n"
      "  case $verb in\n");
  for (const VerbSpec& v : VerbSpecs()) {
    std::string pattern(v.name);
    for (absl::string_view alias : Words(v.aliases)) {
      absl::StrAppend(&pattern, "|", alias);
    }
    absl::StrAppend(&out, "    (", pattern, ") opts=(", LongNames(v.options),
                    "); subs=(", v.subcommands, ") ;;\n");
  }
  absl::StrAppend(&out,
                  "  esac\n"
                  "  if [[ $PREFIX == -* ]]; then\n"
                  "    compadd -- $opts ",
                  LongNames(GlobalOptionSpecs()),
                  "\n"
                  "  elif (( ${#subs} )); then\n"
                  "    compadd -- $subs\n"
                  "  fi\n"
                  "}\n"
                  "if [[ $funcstack[1] == _zlayer_secret ]]; then\n"
                  "  _zlayer_secret \"$@\"\n"
                  "else\n"
                  "  compdef _zlayer_secret zlayer-secret\n"
                  "fi\n");
  return out;
}

std::string FishOption(const OptionSpec& o, absl::string_view condition) {
  std::string line = "complete -c zlayer-secret";
  if (!condition.empty()) {
    absl::StrAppend(&line, " -n ", ShellQuote(condition, true));
  }
  absl::StrAppend(&line, " -l ", o.name);
  if (o.short_name != 0) {
    absl::StrAppend(&line, " -s ", std::string(1, o.short_name));
  }
  switch (o.kind) {
    case ValueKind::kFlag:
      break;
    case ValueKind::kPath:
      absl::StrAppend(&line, " -r -F");
      break;
    case ValueKind::kChoice:
      absl::StrAppend(&line, " -x -a ", ShellQuote(o.choices, true));
      break;
    default:
      absl::StrAppend(&line, " -x");
  }
  absl::StrAppend(&line, " -d ", ShellQuote(o.help, true), "\n");
  return line;
}

std::string FishScript() {
  std::string out =
      "# fish completion for zlayer-secret (generated: zlayer-secret "
      "completion fish)\n"
      "# Save as ~/.config/fish/completions/zlayer-secret.fish\n"
      "complete -c zlayer-secret -f\n"
      "complete -c zlayer-secret -n __fish_use_subcommand -l version -d "
      "'print the version and exit'\n";
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    absl::StrAppend(&out, FishOption(o, ""));
  }
  for (const VerbSpec& v : VerbSpecs()) {
    absl::StrAppend(&out,
                    "complete -c zlayer-secret -n __fish_use_subcommand -a ",
                    v.name, " -d ", ShellQuote(v.summary, true), "\n");
    std::string names(v.name);
    for (absl::string_view alias : Words(v.aliases)) {
      absl::StrAppend(&out,
                      "complete -c zlayer-secret -n __fish_use_subcommand -a ",
                      alias, " -d ", ShellQuote(v.summary, true), "\n");
      absl::StrAppend(&names, " ", alias);
    }
    const std::string seen =
        absl::StrCat("__fish_seen_subcommand_from ", names);
    for (const OptionSpec& o : v.options) {
      absl::StrAppend(&out, FishOption(o, seen));
    }
    if (!v.subcommands.empty()) {
      absl::StrAppend(&out, "complete -c zlayer-secret -n ",
                      ShellQuote(seen, true), " -a ",
                      ShellQuote(v.subcommands, true), "\n");
    }
  }
  return out;
}

// Roff text: backslashes and dashes escaped, no line starting a request.
std::string Roff(absl::string_view text) {
  std::string out = absl::StrReplaceAll(text, {{"\\", "\\e"}, {"-", "\\-"}});
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  for (std::string& line : lines) {
    if (absl::StartsWith(line, ".") || absl::StartsWith(line, "'")) {
      line = absl::StrCat("\\&", line);
    }
  }
  return absl::StrJoin(lines, "\n");
}

std::string RoffOptions(absl::Span<const OptionSpec> options) {
  std::string out;
  for (const OptionSpec& o : options) {
    absl::StrAppend(&out, ".TP\n");
    if (o.short_name != 0) {
      absl::StrAppend(&out, "\\fB\\-", std::string(1, o.short_name), "\\fR, ");
    }
    absl::StrAppend(&out, "\\fB\\-\\-", Roff(o.name), "\\fR");
    if (!o.value_name.empty()) {
      absl::StrAppend(&out, " \\fI", Roff(o.value_name), "\\fR");
    }
    absl::StrAppend(&out, "\n", Roff(OptionHelp(o)), "\n");
  }
  return out;
}

}  // namespace

std::string UsageText() {
  std::string out =
      "Usage: zlayer-secret [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
      "       zlayer-secret COMMAND --help   (that command's options and "
      "examples)\n"
      "       zlayer-secret --version\n";
  absl::string_view group;
  for (const VerbSpec& v : VerbSpecs()) {
    if (v.group != group) {
      group = v.group;
      absl::StrAppend(&out, "\n", group, ":\n");
      if (group == "Secrets") {
        absl::StrAppend(&out,
                        "  (target: --env NAME|ID [--project P], else "
                        "--deployment D [--service S])\n");
      }
    }
    // "  get NAME    summary": the synopsis when it is short, else the
    // verb's --help has it.
    std::string label = absl::StrCat("  ", VerbLabel(v));
    if (!v.synopsis.empty() && label.size() + 1 + v.synopsis.size() < 30) {
      absl::StrAppend(&label, " ", v.synopsis);
    }
    if (label.size() + 1 > 30) {
      absl::StrAppend(&out, label, "\n", std::string(30, ' '));
    } else {
      absl::StrAppend(&out, label, std::string(30 - label.size(), ' '));
    }
    absl::StrAppend(&out, Wrap(v.summary, 30, 30), "\n");
  }
  absl::StrAppend(&out, "\nGlobal options (every command):\n",
                  OptionLines(GlobalOptionSpecs()),
                  "  --version               (before any command) print the "
                  "version and exit\n"
                  "  A flag always wins over its environment variable.\n\n",
                  ExitCodesHelp());
  return out;
}

std::string VerbHelp(const VerbSpec& v) {
  // One usage line per form: "a | b" in the synopsis are two forms.
  std::string out;
  std::vector<absl::string_view> forms = absl::StrSplit(v.synopsis, " | ");
  for (size_t i = 0; i < forms.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "Usage: " : "       ", "zlayer-secret ",
                    v.name, forms[i].empty() ? "" : " ", forms[i],
                    " [OPTIONS]\n");
  }
  if (!v.aliases.empty()) {
    absl::StrAppend(&out, "Also: ", absl::StrJoin(Words(v.aliases), ", "),
                    "\n");
  }
  absl::StrAppend(&out, "\n", Wrap(v.summary, 0, 0), "\n");
  if (!v.description.empty()) {
    absl::StrAppend(&out, "\n", Wrap(v.description, 0, 0), "\n");
  }
  if (!v.options.empty()) {
    absl::StrAppend(&out, "\nOptions:\n", OptionLines(v.options));
  }
  std::vector<std::string> globals;
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    globals.push_back(absl::StrCat("--", o.name));
  }
  absl::StrAppend(&out, "\nGlobal options (see 'zlayer-secret --help'):\n  ",
                  Wrap(absl::StrJoin(globals, " "), 2, 2), "\n");
  if (!v.examples.empty()) {
    absl::StrAppend(&out, "\nExamples:\n");
    for (absl::string_view line : absl::StrSplit(v.examples, '\n')) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  return out;
}

std::string CompletionScript(absl::string_view shell) {
  if (shell == "bash") return BashScript();
  if (shell == "zsh") return ZshScript();
  if (shell == "fish") return FishScript();
  return "";
}

std::string ManPage() {
  std::string out = absl::StrCat(
      ".\\\" Generated by 'zlayer-secret man' from the CLI's option tables.\n"
      ".TH ZLAYER\\-SECRET 1 \"\" \"zlayer\\-secret ",
      kCliVersion,
      "\" \"User Commands\"\n"
      ".SH NAME\n"
      "zlayer\\-secret \\- command\\-line client of the zlayer\\-secretsd "
      "secrets daemon\n"
      ".SH SYNOPSIS\n"
      ".B zlayer\\-secret\n"
      "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR] "
      "[\\fIOPTIONS\\fR]\n"
      ".br\n"
      ".B zlayer\\-secret\n"
      "\\fICOMMAND\\fR \\fB\\-\\-help\\fR\n"
      ".br\n"
      ".B zlayer\\-secret \\-\\-version\n"
      ".SH DESCRIPTION\n"
      "zlayer\\-secret talks to zlayer\\-secretsd over its Unix socket "
      "(the caller is identified by its uid) or over TCP with TLS and an API "
      "key. Secret values reach standard output only through "
      "\\fBget \\-\\-reveal\\fR, \\fBexport\\fR, \\fB\\-\\-random\\fR and "
      "\\fBapikey create\\fR.\n"
      ".SH COMMANDS\n");
  for (const VerbSpec& v : VerbSpecs()) {
    absl::StrAppend(&out, ".SS \"", Roff(v.name), v.synopsis.empty() ? "" : " ",
                    Roff(v.synopsis), "\"\n", Roff(v.summary), ".\n");
    if (!v.aliases.empty()) {
      absl::StrAppend(&out, "Also spelled: ", Roff(v.aliases), ".\n");
    }
    if (!v.description.empty()) {
      absl::StrAppend(&out, ".PP\n", Roff(v.description), "\n");
    }
    absl::StrAppend(&out, RoffOptions(v.options));
    if (!v.examples.empty()) {
      absl::StrAppend(&out, ".PP\nExamples:\n.RS\n.nf\n", Roff(v.examples),
                      "\n.fi\n.RE\n");
    }
  }
  absl::StrAppend(&out, ".SH GLOBAL OPTIONS\n",
                  RoffOptions(GlobalOptionSpecs()),
                  ".TP\n\\fB\\-\\-version\\fR\n(before any command) print the "
                  "version and exit.\n"
                  ".SH ENVIRONMENT\n"
                  "A flag always wins over its variable.\n");
  for (const OptionSpec& o : GlobalOptionSpecs()) {
    if (o.env_var.empty()) continue;
    absl::StrAppend(&out, ".TP\n.B ", Roff(o.env_var),
                    "\nDefault of \\fB\\-\\-", Roff(o.name), "\\fR.\n");
  }
  absl::StrAppend(&out, ".SH EXIT STATUS\n");
  // The exit codes come from ExitCodesHelp(): "  N  text" lines, with
  // continuation lines indented further.
  for (absl::string_view line : absl::StrSplit(ExitCodesHelp(), '\n')) {
    absl::string_view body = absl::StripLeadingAsciiWhitespace(line);
    int code = 0;
    if (line.size() > 3 && absl::StartsWith(line, "  ") &&
        absl::SimpleAtoi(body.substr(0, 1), &code) && body.size() > 1 &&
        body[1] == ' ') {
      absl::StrAppend(&out, ".TP\n.B ", code, "\n",
                      Roff(absl::StripLeadingAsciiWhitespace(body.substr(1))),
                      "\n");
    } else if (!body.empty() && absl::StartsWith(line, " ")) {
      absl::StrAppend(&out, Roff(body), "\n");
    }
  }
  absl::StrAppend(&out,
                  ".SH FILES\n"
                  ".TP\n"
                  ".I /run/zlayer\\-secrets/zlayer\\-secretsd.sock\n"
                  "The daemon's socket as root or when /run/zlayer\\-secrets "
                  "exists, else ~/.zlayer/secrets/zlayer\\-secretsd.sock.\n"
                  ".SH SEE ALSO\n"
                  ".BR zlayer\\-secretsd (8),\n"
                  ".BR docker\\-credential\\-zlayer (1)\n");
  return out;
}

}  // namespace zlayer::secrets::cli
