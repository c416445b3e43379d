// The daemon's log as an operator reads it: journald priorities when
// JOURNAL_STREAM names its stderr, --log-format=json (every line one JSON
// object), gRPC's own lines in the same format, and no client input that can
// break a line or leak a value (a canary value and a forged-record name).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/format/json.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/daemon/test_support.h"
#include "tests/systemd/systemd_child.h"

namespace zlayer::secrets {
namespace {

using ::zlayer::secrets::testing::ChildOptions;
using ::zlayer::secrets::testing::SystemdChild;
using ::zlayer::secrets::testing::TempDir;
using ::zlayer::secrets::testing::UnixChannel;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kCanaryValue[] = "CANARY-log-value-7f3a9c";
// A name that tries to start a forged record on a new line.
constexpr char kForgedName[] =
    "x\n2026-01-01T00:00:00.000Z level=error event=forged";

ChildOptions Options(const TempDir& dir, std::vector<std::string> extra = {}) {
  ChildOptions options;
  options.args = {"--data-dir",      dir.Sub("data"), "--socket",
                  dir.Sub("d.sock"), "--log-level",   "debug"};
  options.args.insert(options.args.end(), extra.begin(), extra.end());
  options.home = dir.path();
  return options;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// Two calls whose inputs must never break the log: the canary value is
// stored under a good name, and the forged name is refused.
void MakeHostileCalls(const std::string& socket) {
  auto stub = v1::Secrets::NewStub(UnixChannel(socket));
  struct Call {
    const char* scope;
    const char* name;
  };
  for (const Call& call : {Call{"test", "log-canary"},
                           Call{"test", kForgedName}, Call{kForgedName, "n"}}) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    v1::SetSecretRequest request;
    request.mutable_target()->set_scope(call.scope);
    request.set_name(call.name);
    request.set_value(kCanaryValue);
    v1::SetSecretResponse response;
    (void)stub->SetSecret(&context, request, &response);
  }
}

// SIGTERM and the whole stderr.
std::string StopAndCollect(SystemdChild* child) {
  child->Signal(SIGTERM);
  auto status = child->WaitForExit(kWait);
  EXPECT_TRUE(status.ok()) << status.status();
  return child->Stderr();
}

void ExpectNoInjection(const std::string& log) {
  EXPECT_FALSE(absl::StrContains(log, kCanaryValue)) << log;
  for (const std::string& line : Lines(log)) {
    EXPECT_FALSE(absl::StartsWith(line, "2026-01-01T00:00:00.000Z")) << line;
    EXPECT_FALSE(absl::StrContains(line, "level=error event=forged") &&
                 !absl::StrContains(line, "\\n"))
        << line;
  }
}

TEST(LogFormatTest, JournalStreamGetsSyslogPriorities) {
  TempDir dir;
  // A data directory others can read: a warning at start-up.
  ASSERT_EQ(mkdir(dir.Sub("data").c_str(), 0755), 0);
  ChildOptions options = Options(dir);
  options.journal_stream = true;
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForLog("event=ready", kWait).ok())
      << (*child)->Stderr();
  MakeHostileCalls(dir.Sub("d.sock"));
  const std::string log = StopAndCollect(child->get());
  bool saw_info = false, saw_warning = false, saw_debug = false;
  for (const std::string& line : Lines(log)) {
    ASSERT_TRUE(line.size() > 3 && line[0] == '<' && line[2] == '>') << line;
    if (absl::StrContains(line, "event=ready")) {
      EXPECT_TRUE(absl::StartsWith(line, "<6>")) << line;
      saw_info = true;
    }
    if (absl::StrContains(line, "event=data_dir_permissions")) {
      EXPECT_TRUE(absl::StartsWith(line, "<4>")) << line;
      saw_warning = true;
    }
    if (absl::StartsWith(line, "<7>")) saw_debug = true;
  }
  EXPECT_TRUE(saw_info && saw_warning && saw_debug) << log;
  ExpectNoInjection(log);
}

TEST(LogFormatTest, AJournalStreamOfAnotherFileIsNotOurs) {
  TempDir dir;
  ChildOptions options = Options(dir);
  // Inherited from a parent whose stderr was the journal: not ours.
  options.env.push_back("JOURNAL_STREAM=1:2");
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForLog("event=ready", kWait).ok());
  for (const std::string& line : Lines(StopAndCollect(child->get()))) {
    EXPECT_FALSE(absl::StartsWith(line, "<")) << line;
  }
}

TEST(LogFormatTest, JsonFormatIsOneObjectPerLineWithGrpcLinesToo) {
  TempDir dir;
  ChildOptions options = Options(dir, {"--log-format", "json"});
  // gRPC's own logging, normally silent: its lines must come out as ours.
  options.env.push_back("GRPC_VERBOSITY=debug");
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForLog("\"event\":\"ready\"", kWait).ok())
      << (*child)->Stderr();
  MakeHostileCalls(dir.Sub("d.sock"));
  const std::string log = StopAndCollect(child->get());
  int grpc_lines = 0;
  bool saw_ready = false;
  for (const std::string& line : Lines(log)) {
    absl::StatusOr<JsonValue> doc = ParseJson(line);
    ASSERT_TRUE(doc.ok()) << line;
    ASSERT_TRUE(doc->is_object()) << line;
    const JsonValue* ts = doc->Find("ts");
    const JsonValue* level = doc->Find("level");
    ASSERT_TRUE(ts != nullptr && ts->is_string()) << line;
    ASSERT_TRUE(level != nullptr && level->is_string()) << line;
    const JsonValue* event = doc->Find("event");
    if (event != nullptr && event->is_string()) {
      if (event->string_value() == "grpc_log") ++grpc_lines;
      if (event->string_value() == "ready") {
        saw_ready = true;
        const JsonValue* pid = doc->Find("pid");
        ASSERT_NE(pid, nullptr) << line;
        EXPECT_EQ(pid->string_value(), absl::StrCat((*child)->pid()));
      }
    }
  }
  EXPECT_TRUE(saw_ready) << log;
  EXPECT_GT(grpc_lines, 0) << log;
  ExpectNoInjection(log);
}

TEST(LogFormatTest, TextFormatEscapesControlCharactersAndRoutesGrpc) {
  TempDir dir;
  ChildOptions options = Options(dir);
  options.env.push_back("GRPC_VERBOSITY=debug");
  auto child = SystemdChild::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForLog("event=ready", kWait).ok());
  MakeHostileCalls(dir.Sub("d.sock"));
  const std::string log = StopAndCollect(child->get());
  int grpc_lines = 0;
  for (const std::string& line : Lines(log)) {
    // Every line, gRPC's included, is "TIMESTAMP level=LEVEL ...".
    std::vector<std::string> head =
        absl::StrSplit(line, absl::MaxSplits(' ', 2));
    ASSERT_GE(head.size(), 2u) << line;
    EXPECT_EQ(head[0].size(), 24u) << line;
    EXPECT_TRUE(absl::EndsWith(head[0], "Z")) << line;
    EXPECT_TRUE(absl::StartsWith(head[1], "level=")) << line;
    if (absl::StrContains(line, "event=grpc_log")) ++grpc_lines;
  }
  EXPECT_GT(grpc_lines, 0) << log;
  // The refused name is not echoed (the service logs no invalid name;
  // daemon/log_setup escapes any control character that gets through:
  // log_setup_test).
  EXPECT_TRUE(absl::StrContains(log, "rpc=SetSecret subject=uid:")) << log;
  ExpectNoInjection(log);
}

}  // namespace
}  // namespace zlayer::secrets
