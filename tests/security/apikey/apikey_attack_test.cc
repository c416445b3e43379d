// Issue 18 item 5, performed against the real daemon over TLS: a flood of
// wrong API keys for `admin` (the failure budget refuses it cheaply, memory
// stays bounded, a valid key from another address keeps working, the audit
// log gets coalesced records instead of one line per attempt), and a source
// over its budget refused even with the right key while another address is
// served.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/security/apikey/apikey_attack_support.h"

namespace zlayer::secrets::apikey_attack {
namespace {

constexpr int kClients = 16;
constexpr int kTriesPerClient = 25;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// "N failed API key attempts" in a coalesced record.
int64_t CountIn(const std::string& line) {
  const size_t at = line.find(" failed API key attempts");
  if (at == std::string::npos) return 0;
  size_t start = line.rfind('"', at) + 1;
  int64_t n = 0;
  return absl::SimpleAtoi(line.substr(start, at - start), &n) ? n : 0;
}

TEST(ApiKeyAttackTest, WrongKeyFloodIsRefusedCheaplyAndCoalesced) {
  auto started = TlsDaemon::Start({});
  ASSERT_TRUE(started.ok()) << started.status();
  TlsDaemon& d = **started;
  auto admin_channel = d.Channel("[::1]");
  std::string subject;
  ASSERT_TRUE(d.WhoAmI(admin_channel, d.admin_key(), &subject).ok());
  ASSERT_EQ(subject, "apikey:admin");

  std::atomic<int> unauthenticated{0}, exhausted{0}, other{0};
  std::atomic<bool> flooding{true};
  std::vector<std::thread> attackers;
  for (int c = 0; c < kClients; ++c) {
    attackers.emplace_back([&] {
      auto channel = d.Channel("127.0.0.1");
      for (int i = 0; i < kTriesPerClient; ++i) {
        grpc::Status s = d.WhoAmI(channel, RandomKey("admin"));
        if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
          ++unauthenticated;
        } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++exhausted;
          EXPECT_TRUE(absl::StrContains(s.error_message(),
                                        "too many failed API key attempts"))
              << s.error_message();
        } else {
          ++other;
        }
      }
    });
  }
  // The administrator, from another address, while the flood runs.
  int admin_ok = 0, admin_calls = 0;
  std::thread admin([&] {
    do {
      std::string who;
      grpc::Status s = d.WhoAmI(admin_channel, d.admin_key(), &who);
      ++admin_calls;
      if (s.ok() && who == "apikey:admin") ++admin_ok;
    } while (flooding.load());
  });
  for (auto& t : attackers) t.join();
  flooding = false;
  admin.join();

  const int total = kClients * kTriesPerClient;
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(unauthenticated + exhausted, total);
  // 10 free failures, then one try per (doubling) backoff period.
  EXPECT_LE(unauthenticated.load(), 15);
  EXPECT_GE(exhausted.load(), total - 15);
  EXPECT_EQ(admin_ok, admin_calls);
  EXPECT_GE(admin_ok, 1);
  // After the flood, too (a clean address is never locked out).
  ASSERT_TRUE(d.WhoAmI(d.Channel("[::1]"), d.admin_key(), &subject).ok());
  EXPECT_EQ(subject, "apikey:admin");
  // No 64 MiB Argon2id per attempt any more.
  const int64_t hwm = HighWaterKib(d.pid());
  EXPECT_GT(hwm, 0);
  EXPECT_LT(hwm, 200 * 1024) << "VmHWM " << hwm << " KiB";

  // Shutdown flushes the pending coalesced records.
  d.process()->Signal(SIGTERM);
  ASSERT_TRUE(d.process()->WaitForExit(absl::Seconds(60)).ok());
  int64_t counted = 0;
  int coalesced = 0, per_call_failures = 0;
  for (const std::string& line : Lines(d.audit_path())) {
    if (absl::StrContains(line, "\"rpc\":\"ApiKeyAuth\"")) {
      ++coalesced;
      EXPECT_TRUE(absl::StrContains(line, "\"name\":\"admin\"")) << line;
      EXPECT_TRUE(absl::StrContains(line, "from ipv4:127.0.0.1")) << line;
      counted += CountIn(line);
    } else if (absl::StrContains(line, "\"rpc\":\"WhoAmI\"") &&
               !absl::StrContains(line, "\"code\":\"OK\"")) {
      ++per_call_failures;
    }
  }
  EXPECT_EQ(counted, total);
  EXPECT_GE(coalesced, 1);
  EXPECT_LE(coalesced, 5);  // one per 10 s interval
  EXPECT_EQ(per_call_failures, 0);
}

TEST(ApiKeyAttackTest, ASourceOverItsBudgetIsRefusedEvenWithTheRightKey) {
  auto started = TlsDaemon::Start({});
  ASSERT_TRUE(started.ok()) << started.status();
  TlsDaemon& d = **started;
  auto attacker = d.Channel("127.0.0.1");
  // Unknown ids and wrong secrets for a real id count alike and answer
  // alike (no oracle for which ids exist). Past the 10 free failures each
  // one blocks the address for 1, 2, 4, 8 s; refused tries do not count, so
  // this keeps trying until 14 were checked (~7 s), then the block is 8 s.
  int checked = 0, refused_tries = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  for (int i = 0; checked < 14 && absl::Now() < give_up; ++i) {
    grpc::Status s =
        d.WhoAmI(attacker, RandomKey(i % 2 == 0 ? "nobody" : "admin"));
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      EXPECT_EQ(s.error_message(), "invalid API key");
      ++checked;
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << s.error_message();
      ++refused_tries;
    }
  }
  ASSERT_EQ(checked, 14);
  EXPECT_GT(refused_tries, 0);
  grpc::Status refused = d.WhoAmI(attacker, d.admin_key());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(),
                                "too many failed API key attempts from this "
                                "address"))
      << refused.error_message();
  // The same key from another address works.
  std::string subject;
  grpc::Status elsewhere =
      d.WhoAmI(d.Channel("[::1]"), d.admin_key(), &subject);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.error_message();
  EXPECT_EQ(subject, "apikey:admin");
}

}  // namespace
}  // namespace zlayer::secrets::apikey_attack
