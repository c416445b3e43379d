#include "daemon/log_setup.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/format/json.h"
#include "grpc/support/log.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

int SyslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;
    case spdlog::level::info:
      return 6;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::err:
      return 3;
    default:
      return 2;
  }
}

// Splits "a=1 b=\"x y\" c=z" into fields; false if the message is anything
// else (then it is logged whole). Quoted values end at an unescaped quote;
// EscapeLogText's escapes inside them are undone.
bool SplitFields(absl::string_view message,
                 std::vector<std::pair<std::string, std::string>>* fields) {
  absl::flat_hash_set<std::string> seen = {"ts", "level"};
  size_t i = 0;
  while (i < message.size()) {
    size_t eq = message.find('=', i);
    if (eq == absl::string_view::npos || eq == i) return false;
    std::string key(message.substr(i, eq - i));
    for (char c : key) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
        return false;
      }
    }
    if (!seen.insert(key).second) return false;
    i = eq + 1;
    std::string value;
    if (i < message.size() && message[i] == '"') {
      ++i;
      bool closed = false;
      while (i < message.size()) {
        char c = message[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < message.size()) {
          c = message[i++];
          if (c == 'n') c = '\n';
          if (c == 'r') c = '\r';
          if (c == 't') c = '\t';
          int byte = 0;
          if (c == 'x' && i + 2 <= message.size() &&
              absl::SimpleHexAtoi(message.substr(i, 2), &byte)) {
            c = static_cast<char>(byte);
            i += 2;
          }
        }
        value.push_back(c);
      }
      if (!closed) return false;
      if (i < message.size() && message[i] != ' ') return false;
    } else {
      size_t end = message.find(' ', i);
      if (end == absl::string_view::npos) end = message.size();
      value = std::string(message.substr(i, end - i));
      if (value.find('"') != std::string::npos) return false;
      i = end;
    }
    fields->emplace_back(std::move(key), std::move(value));
    while (i < message.size() && message[i] == ' ') ++i;
  }
  return !fields->empty();
}

// Escapes control characters only (the text format's message).
std::string EscapeControl(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class DaemonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit DaemonSink(LogSetupOptions options) : options_(options) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line = FormatLogLine(
        options_, msg.level, absl::FromChrono(msg.time),
        absl::string_view(msg.payload.data(), msg.payload.size()));
    // One write() per line: lines of concurrent writers never interleave.
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = write(options_.fd, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // nowhere left to report it
      done += static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  const LogSetupOptions options_;
};

void GrpcLog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::err;
  const char* severity = "error";
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) {
    level = spdlog::level::debug;
    severity = "debug";
  } else if (args->severity == GPR_LOG_SEVERITY_INFO) {
    level = spdlog::level::info;
    severity = "info";
  }
  absl::string_view file = args->file != nullptr ? args->file : "";
  size_t slash = file.rfind('/');
  if (slash != absl::string_view::npos) file = file.substr(slash + 1);
  spdlog::log(level, "event=grpc_log severity={} source={}:{} msg=\"{}\"",
              severity, EscapeLogText(file), args->line,
              EscapeLogText(args->message != nullptr ? args->message : ""));
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--log-format: expected text or json, got '", name, "'"));
}

bool StderrIsJournal() {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(value, ':');
  uint64_t dev = 0, ino = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &dev) ||
      !absl::SimpleAtoi(parts[1], &ino)) {
    return false;
  }
  // The variable is inherited: it describes our stderr only if the device
  // and inode still match (stderr may have been redirected since).
  struct stat st;
  if (fstat(2, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev &&
         static_cast<uint64_t>(st.st_ino) == ino;
}

std::string EscapeLogText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return EscapeControl(out);
}

std::string FormatLogLine(const LogSetupOptions& options,
                          spdlog::level::level_enum level, absl::Time time,
                          absl::string_view message) {
  std::string line;
  if (options.journal) absl::StrAppend(&line, "<", SyslogPriority(level), ">");
  const std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  const spdlog::string_view_t level_name = spdlog::level::to_string_view(level);
  const absl::string_view level_text(level_name.data(), level_name.size());
  if (options.format == LogFormat::kText) {
    absl::StrAppend(&line, ts, " level=", level_text, " ",
                    EscapeControl(message), "\n");
    return line;
  }
  JsonWriter json(JsonWriter::Style::kCompact);
  json.BeginObject().Key("ts").String(ts).Key("level").String(level_text);
  std::vector<std::pair<std::string, std::string>> fields;
  if (SplitFields(message, &fields)) {
    for (const auto& [key, value] : fields) json.Key(key).String(value);
  } else {
    json.Key("msg").String(message);
  }
  const WipingString object = json.EndObject().Finish();
  absl::StrAppend(&line, absl::string_view(object), "\n");
  return line;
}

void InstallDaemonLogger(const LogSetupOptions& options) {
  auto logger = std::make_shared<spdlog::logger>(
      "zlayer-secretsd", std::make_shared<DaemonSink>(options));
  const spdlog::level::level_enum level = spdlog::default_logger()->level();
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
  gpr_set_log_function(GrpcLog);
}

}  // namespace zlayer::secrets
