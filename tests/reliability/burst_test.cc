// Bursts against the real daemon binary with default flags (issue 15): calls
// beyond the workers wait in the daemon's queue instead of being refused.
// Asserted on errors and on the values returned, never on time.
//
// ThousandConcurrentResolveEnvCallsAllSucceed: 1,000 ResolveEnv calls in
// flight at once (50 connections x 20 streams), each resolving 20 JSON-field
// references: every call OK and every value right. gRPC's sync server (the
// daemon before the callback API, 64 threads) refused most of them with
// RESOURCE_EXHAUSTED "Server Threadpool Exhausted".
//
// TwoHundredConcurrentGetSecretCallsAllSucceed: 200 GetSecret calls at once
// (10 connections x 20 streams): every call OK.
//
// Each test prints the calls' p50/p99 latency (issue to completion, as seen
// by one completion-queue thread) and the daemon's peak RSS (VmHWM); they
// are reported, not asserted. ZS_BURST_DAEMON=/path/to/zlayer-secretsd runs
// the burst against another build (e.g. an older one, to see it refuse).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/secrets.grpc.pb.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

constexpr char kDeployment[] = "burst";
constexpr int kSecrets = 20;
// Generous: the calls queue behind each other on a busy CI machine, and a
// deadline is not what this test is about.
constexpr auto kCallDeadline = std::chrono::seconds(300);

std::string FieldValue(int i) { return absl::StrCat("value-", i, "-xyz"); }

std::string SecretJson(int i) {
  return absl::StrCat(R"({"user":"u)", i, R"(","password":")", FieldValue(i),
                      R"(","port":)", 5000 + i, "}");
}

// Peak resident set (VmHWM) of `pid`, KiB; 0 if unreadable.
int64_t PeakRssKib(pid_t pid) {
  absl::StatusOr<std::string> status =
      ReadFileBytes(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmHWM:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(line, &kib)) return kib;
  }
  return 0;
}

class BurstTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DaemonChild::Options options;
    options.data_dir = dir_.Sub("data");
    options.socket = dir_.Sub("d.sock");
    options.log_path = dir_.Sub("daemon.log");
    if (const char* binary = std::getenv("ZS_BURST_DAEMON")) {
      options.binary = binary;
    }
    absl::StatusOr<std::unique_ptr<DaemonChild>> daemon =
        DaemonChild::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    ASSERT_TRUE(daemon_->WaitReady(absl::Seconds(60)).ok()) << daemon_->Log();

    std::shared_ptr<grpc::Channel> channel = Connect();
    auto stub = v1::Secrets::NewStub(channel);
    for (int i = 0; i < kSecrets; ++i) {
      v1::SetSecretRequest set;
      set.mutable_target()->set_scope(kDeployment);
      set.set_name(absl::StrCat("cfg", i));
      set.set_value(SecretJson(i));
      v1::SetSecretResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      grpc::Status s = stub->SetSecret(&context, set, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  // A channel with a connection of its own (a local subchannel pool), ready.
  std::shared_ptr<grpc::Channel> Connect() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        "unix:" + dir_.Sub("d.sock"), grpc::InsecureChannelCredentials(), args);
    EXPECT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::seconds(60)));
    return channel;
  }

  // What a burst left: errors by "CODE message", latencies (ms) in order.
  struct Outcome {
    std::map<std::string, int> errors;
    int error_count = 0;
    int wrong_values = 0;
    std::vector<double> latencies_ms;
  };

  // Issues `calls_per_channel` calls on each of `channels` connections all
  // at once (async stubs on one completion queue), then collects them.
  // `start(stub, context, cq, index)` issues call `index` and returns its
  // reader; `check(index)` verifies its response.
  template <typename Response, typename Start, typename Check>
  Outcome Burst(int channels, int calls_per_channel, Start start, Check check) {
    std::vector<std::unique_ptr<v1::Secrets::Stub>> stubs;
    for (int c = 0; c < channels; ++c) {
      stubs.push_back(v1::Secrets::NewStub(Connect()));
    }
    const int total = channels * calls_per_channel;
    struct Call {
      grpc::ClientContext context;
      Response response;
      grpc::Status status;
      absl::Time started;
      std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
    };
    std::vector<std::unique_ptr<Call>> calls(total);
    grpc::CompletionQueue cq;
    for (int i = 0; i < total; ++i) {
      calls[i] = std::make_unique<Call>();
      Call& call = *calls[i];
      call.context.set_deadline(std::chrono::system_clock::now() +
                                kCallDeadline);
      call.started = absl::Now();
      call.reader = start(stubs[i % channels].get(), &call.context, &cq, i);
      call.reader->Finish(&call.response, &call.status,
                          reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    }
    Outcome outcome;
    for (int done = 0; done < total; ++done) {
      void* tag = nullptr;
      bool ok = false;
      if (!cq.Next(&tag, &ok)) break;
      const int i = static_cast<int>(reinterpret_cast<intptr_t>(tag));
      Call& call = *calls[i];
      outcome.latencies_ms.push_back(
          absl::ToDoubleMilliseconds(absl::Now() - call.started));
      if (!call.status.ok()) {
        ++outcome.error_count;
        ++outcome.errors[absl::StrCat(call.status.error_code(), " ",
                                      call.status.error_message())];
      } else if (!check(call.response, i)) {
        ++outcome.wrong_values;
      }
    }
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
    std::sort(outcome.latencies_ms.begin(), outcome.latencies_ms.end());
    return outcome;
  }

  void Report(const std::string& what, const Outcome& outcome) {
    const std::vector<double>& l = outcome.latencies_ms;
    auto at = [&l](double q) {
      return l.empty() ? 0.0 : l[std::min(l.size() - 1, size_t(q * l.size()))];
    };
    std::cout << what << ": " << l.size() << " calls, " << outcome.error_count
              << " errors, p50 " << at(0.50) << " ms, p99 " << at(0.99)
              << " ms, daemon peak RSS " << PeakRssKib(daemon_->pid()) / 1024.0
              << " MiB\n";
    for (const auto& [error, count] : outcome.errors) {
      std::cout << "  " << count << " x " << error << "\n";
    }
  }

  TempDir dir_;
  std::unique_ptr<DaemonChild> daemon_;
};

TEST_F(BurstTest, ThousandConcurrentResolveEnvCallsAllSucceed) {
  v1::ResolveEnvRequest request;
  request.mutable_context()->set_deployment(kDeployment);
  for (int i = 0; i < kSecrets; ++i) {
    (*request.mutable_env())[absl::StrCat("PW", i)] =
        absl::StrCat("$S:cfg", i, "/password");
  }
  Outcome outcome = Burst<v1::ResolveEnvResponse>(
      50, 20,
      [&request](v1::Secrets::Stub* stub, grpc::ClientContext* context,
                 grpc::CompletionQueue* cq,
                 int) { return stub->AsyncResolveEnv(context, request, cq); },
      [](const v1::ResolveEnvResponse& response, int) {
        if (response.env_size() != kSecrets) return false;
        for (int i = 0; i < kSecrets; ++i) {
          auto it = response.env().find(absl::StrCat("PW", i));
          if (it == response.env().end() || it->second != FieldValue(i)) {
            return false;
          }
        }
        return true;
      });
  Report("1000 concurrent ResolveEnv(20 JSON fields)", outcome);
  EXPECT_EQ(outcome.latencies_ms.size(), 1000u);
  EXPECT_EQ(outcome.error_count, 0);
  EXPECT_EQ(outcome.wrong_values, 0);
  EXPECT_TRUE(daemon_->Running());
}

TEST_F(BurstTest, TwoHundredConcurrentGetSecretCallsAllSucceed) {
  Outcome outcome = Burst<v1::GetSecretResponse>(
      10, 20,
      [](v1::Secrets::Stub* stub, grpc::ClientContext* context,
         grpc::CompletionQueue* cq, int i) {
        v1::GetSecretRequest get;
        get.mutable_target()->set_scope(kDeployment);
        get.set_name(absl::StrCat("cfg", i % kSecrets));
        return stub->AsyncGetSecret(context, get, cq);
      },
      [](const v1::GetSecretResponse& response, int i) {
        return response.value() == SecretJson(i % kSecrets);
      });
  Report("200 concurrent GetSecret", outcome);
  EXPECT_EQ(outcome.latencies_ms.size(), 200u);
  EXPECT_EQ(outcome.error_count, 0);
  EXPECT_EQ(outcome.wrong_values, 0);
}

}  // namespace
}  // namespace zlayer::secrets::reliability
