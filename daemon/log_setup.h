// The daemon's log: one line per record on stderr, as `key=value` text or
// as JSON objects, with journald priorities when stderr is the journal, and
// gRPC's own log lines routed through the same logger.
//
//   text:  2026-12-03T08:26:34.123Z level=info event=ready socket=/run/...
//   json:  {"ts":"2026-12-03T08:26:34.123Z","level":"info","event":"ready",...}
//   under systemd (JOURNAL_STREAM names our stderr) each line starts with
//   "<N>", the syslog priority journald reads: 7 debug/trace, 6 info,
//   4 warning, 3 error, 2 critical (sd-daemon(3)'s SD_* prefixes).
//
// Every record is exactly one line: control characters in the message
// (a newline inside a secret name a client sent, say) come out as \n, \r,
// \t or \xNN in text, and as JSON escapes in JSON, so no client can forge a
// log record. In JSON a message made of key=value fields (the daemon's own
// `event=...` lines) becomes one JSON member per field; any other message
// goes in "msg" whole.
//
//   LogSetupOptions options;
//   options.format = LogFormat::kJson;
//   options.journal = StderrIsJournal();
//   InstallDaemonLogger(options);
//
// Thread-safe once installed (spdlog's sink mutex); install before threads.
#ifndef ZLAYER_SECRETS_DAEMON_LOG_SETUP_H_
#define ZLAYER_SECRETS_DAEMON_LOG_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "spdlog/common.h"

namespace zlayer::secrets {

enum class LogFormat { kText, kJson };

// "text" or "json"; InvalidArgument otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

struct LogSetupOptions {
  LogFormat format = LogFormat::kText;
  // Prefix lines with "<N>" priorities (see above).
  bool journal = false;
  // Where lines go (not owned; must stay open).
  int fd = 2;
};

// True when $JOURNAL_STREAM ("DEV:INODE") names the file behind fd 2, which
// is how systemd tells a service that its stderr is the journal.
bool StderrIsJournal();

// One record as a line, with the trailing newline (exposed for tests).
std::string FormatLogLine(const LogSetupOptions& options,
                          spdlog::level::level_enum level, absl::Time time,
                          absl::string_view message);

// `text` with control characters escaped (\n, \r, \t, \xNN), backslashes
// and double quotes backslash-escaped: safe inside key="..." fields.
std::string EscapeLogText(absl::string_view text);

// Makes the spdlog default logger write FormatLogLine() lines to
// options.fd, and routes gRPC's gpr_log output to it (as
// event=grpc_log severity=... source=FILE:LINE msg="...").
void InstallDaemonLogger(const LogSetupOptions& options);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_LOG_SETUP_H_
