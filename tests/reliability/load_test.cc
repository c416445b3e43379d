// Load, soak, full disk, read-only files and shutdown under load, against
// the real daemon binary.
//
// MixedLoadHasNoErrorsAndFlatMemory: 8 clients (own channels) run mixed
// reads, writes, batch reads, listings and resolves for ZS_SOAK_SECONDS
// (default 60, as the issue asks of CI); no call may fail, every read must return a value written for
// that name, and the daemon's VmRSS (sampled every 250 ms) must not keep
// growing: the peak of the last quarter may exceed the peak of the second
// quarter by at most max(32 MiB, 50%).
//
// FileSizeLimitFailsWritesCleanlyAndRecovers: a "disk full" through
// RLIMIT_FSIZE on the running daemon (prlimit(2); SIGXFSZ is not ignored by
// the test: the daemon must cope by itself). Writes fail with UNAVAILABLE,
// reads keep working, and once the limit is lifted writes succeed again.
//
// ImmutableDatabaseFailsWritesCleanlyAndRecovers: the database and WAL made
// immutable (chattr +i, which stops even root and already-open descriptors)
// while the daemon runs: writes UNAVAILABLE, reads work, and after chattr -i
// writes succeed again. Skipped where the file system or the process cannot
// set the flag.
//
// SigtermDuringLoadLosesNothing: SIGTERM while 8 clients write: every call
// either succeeded or failed UNAVAILABLE (or CANCELLED, which gRPC answers
// for a call caught between arrival and its handler when Shutdown() begins),
// the daemon exits 0, and after a restart every acknowledged write is there
// and every refused one is absent or complete.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/secrets_client.h"
#include "gtest/gtest.h"
#include "tests/reliability/reliability_support.h"

namespace zlayer::secrets::reliability {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr int kClients = 8;
constexpr int kSecrets = 64;
constexpr char kScope[] = "load";

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  int value = 0;
  if (text != nullptr && absl::SimpleAtoi(text, &value) && value > 0) {
    return value;
  }
  return fallback;
}

DaemonChild::Options OptionsFor(const TempDir& dir) {
  DaemonChild::Options options;
  options.data_dir = dir.Sub("data");
  options.socket = dir.Sub("d.sock");
  options.log_path = dir.Sub("daemon.log");
  return options;
}

std::string SecretName(int i) { return absl::StrCat("s", i); }

absl::Status Set(SecretsClient* client, const std::string& name,
                 const std::string& value) {
  v1::SetSecretRequest req;
  *req.mutable_target() = ScopeTarget(kScope);
  req.set_name(name);
  req.set_value(value);
  return client->SetSecret(req).status();
}

absl::StatusOr<std::string> Get(SecretsClient* client,
                                const std::string& name) {
  v1::GetSecretRequest req;
  *req.mutable_target() = ScopeTarget(kScope);
  req.set_name(name);
  absl::StatusOr<v1::GetSecretResponse> resp = client->GetSecret(req);
  if (!resp.ok()) return resp.status();
  return resp->value();
}

struct Counts {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> wrong_values{0};
};

void Expect(const absl::Status& status, const char* what, Counts* counts,
            absl::Mutex* mu, std::string* first_error) {
  ++counts->calls;
  if (status.ok()) return;
  ++counts->errors;
  absl::MutexLock lock(mu);
  if (first_error->empty())
    *first_error = absl::StrCat(what, ": ", status.ToString());
}

TEST(LoadTest, MixedLoadHasNoErrorsAndFlatMemory) {
  const int seconds = EnvInt("ZS_SOAK_SECONDS", 60);
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();
  {
    std::unique_ptr<SecretsClient> setup = ConnectClient(options.socket);
    for (int i = 0; i < kSecrets; ++i) {
      ASSERT_TRUE(Set(setup.get(), SecretName(i), SecretName(i) + ":0").ok());
    }
  }
  Counts counts;
  absl::Mutex mu;
  std::string first_error;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
      absl::BitGen gen;
      uint64_t seq = 0;
      while (!stop.load()) {
        int pick = absl::Uniform(gen, 0, 100);
        std::string name = SecretName(absl::Uniform(gen, 0, kSecrets));
        if (pick < 55) {
          absl::StatusOr<std::string> v = Get(client.get(), name);
          Expect(v.status(), "GetSecret", &counts, &mu, &first_error);
          if (v.ok() && !absl::StartsWith(*v, name + ":"))
            ++counts.wrong_values;
        } else if (pick < 70) {
          ++seq;
          Expect(Set(client.get(), name,
                     absl::StrCat(name, ":", c, "-", seq,
                                  std::string(seq % 512, 'v'))),
                 "SetSecret", &counts, &mu, &first_error);
        } else if (pick < 85) {
          v1::ResolveEnvRequest req;
          req.mutable_context()->set_deployment(kScope);
          (*req.mutable_env())["A"] = "$S:" + name;
          (*req.mutable_env())["B"] =
              "$S:" + SecretName(absl::Uniform(gen, 0, kSecrets));
          (*req.mutable_env())["PLAIN"] = "x";
          auto resp = client->ResolveEnv(req);
          Expect(resp.status(), "ResolveEnv", &counts, &mu, &first_error);
          if (resp.ok() && !absl::StartsWith(resp->env().at("A"), name + ":")) {
            ++counts.wrong_values;
          }
        } else if (pick < 95) {
          v1::GetSecretsRequest req;
          *req.mutable_target() = ScopeTarget(kScope);
          for (int k = 0; k < 8; ++k) {
            req.add_names(SecretName(absl::Uniform(gen, 0, kSecrets)));
          }
          Expect(client->GetSecrets(req).status(), "GetSecrets", &counts, &mu,
                 &first_error);
        } else {
          v1::ListSecretsRequest req;
          *req.mutable_target() = ScopeTarget(kScope);
          Expect(client->ListSecrets(req).status(), "ListSecrets", &counts, &mu,
                 &first_error);
        }
      }
    });
  }
  std::vector<int64_t> rss;
  absl::Time start = absl::Now();
  absl::Time end = start + absl::Seconds(seconds);
  while (absl::Now() < end) {
    rss.push_back(VmRssKib((*daemon)->pid()));
    ::poll(nullptr, 0, 250);
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  ASSERT_TRUE((*daemon)->Running());

  ASSERT_GE(rss.size(), 8u);
  auto peak = [&](size_t from, size_t to) {
    return *std::max_element(rss.begin() + from, rss.begin() + to);
  };
  size_t q = rss.size() / 4;
  int64_t second_quarter = peak(q, 2 * q);
  int64_t last_quarter = peak(3 * q, rss.size());
  int64_t bound =
      second_quarter + std::max<int64_t>(32 * 1024, second_quarter / 2);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizer builds keep freed memory in quarantine (ASan: up to 256 MiB)
  // or shadow state: their RSS grows by design, so only print it.
  (void)bound;
#else
  EXPECT_LE(last_quarter, bound) << "daemon memory kept growing";
#endif
  EXPECT_EQ(counts.errors.load(), 0u) << first_error;
  EXPECT_EQ(counts.wrong_values.load(), 0u);
  std::cout << "load_test: " << kClients << " clients, " << elapsed << " s, "
            << counts.calls.load() << " calls ("
            << static_cast<int>(counts.calls.load() / elapsed) << "/s), "
            << counts.errors.load() << " errors, " << counts.wrong_values.load()
            << " wrong values; VmRSS KiB start " << rss.front()
            << ", 2nd-quarter peak " << second_quarter << ", last-quarter peak "
            << last_quarter << ", end " << rss.back() << "\n";

  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
  EXPECT_EQ(IntegrityCheck(options.data_dir + "/secrets.db"), "ok");
}

// Writes big values until one fails; returns that status (OK if none did).
absl::Status FillUntilFailure(SecretsClient* client, int max_writes,
                              int* written) {
  std::string big(256 << 10, 'f');
  for (int i = 0; i < max_writes; ++i) {
    big[0] = static_cast<char>('a' + i % 26);
    absl::Status s = Set(client, absl::StrCat("fill", i), big);
    if (!s.ok()) return s;
    ++*written;
  }
  return absl::OkStatus();
}

// Reads, a failed write's absence, recovery and a clean restart: shared by
// the two "storage refuses writes" tests.
void ExpectReadsWorkWhileWritesFail(SecretsClient* client,
                                    const std::string& failed_name) {
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<std::string> v = Get(client, SecretName(i));
    ASSERT_TRUE(v.ok()) << "read while writes fail: " << v.status();
    EXPECT_EQ(*v, SecretName(i) + ":0");
  }
  absl::StatusOr<std::string> failed = Get(client, failed_name);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound)
      << "the failed write is visible";
  v1::ResolveEnvRequest req;
  req.mutable_context()->set_deployment(kScope);
  (*req.mutable_env())["A"] = "$S:s1";
  EXPECT_TRUE(client->ResolveEnv(req).ok());
}

TEST(LoadTest, FileSizeLimitFailsWritesCleanlyAndRecovers) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(Set(client.get(), SecretName(i), SecretName(i) + ":0").ok());
  }
  // "The disk is full" a little above what the files hold now.
  ASSERT_TRUE((*daemon)->SetFileSizeLimit(1 << 20).ok());
  int written = 0;
  absl::Status full = FillUntilFailure(client.get(), 64, &written);
  ASSERT_FALSE(full.ok()) << "no write failed under a 1 MiB file size limit";
  ASSERT_TRUE((*daemon)->Running())
      << "the daemon died at the file size limit: " << (*daemon)->Log();
  EXPECT_EQ(full.code(), absl::StatusCode::kUnavailable) << full;
  std::cout << "load_test: RLIMIT_FSIZE 1 MiB: " << written
            << " big writes, then " << full << "\n";
  ExpectReadsWorkWhileWritesFail(client.get(), absl::StrCat("fill", written));
  // Further writes keep failing the same way, and do not wedge the daemon.
  EXPECT_EQ(Set(client.get(), "fill_again", std::string(256 << 10, 'g')).code(),
            absl::StatusCode::kUnavailable);

  // Space returns.
  ASSERT_TRUE((*daemon)->SetFileSizeLimit(RLIM_INFINITY).ok());
  ASSERT_TRUE(Set(client.get(), "after", "recovered").ok());
  absl::StatusOr<std::string> after = Get(client.get(), "after");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, "recovered");
  client.reset();
  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
  EXPECT_EQ(IntegrityCheck(options.data_dir + "/secrets.db"), "ok");
}

TEST(LoadTest, ImmutableDatabaseFailsWritesCleanlyAndRecovers) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(Set(client.get(), SecretName(i), SecretName(i) + ":0").ok());
  }
  const std::string db = options.data_dir + "/secrets.db";
  absl::Status flagged = SetImmutable(db, true);
  if (!flagged.ok()) {
    GTEST_SKIP() << "cannot set the immutable flag here: " << flagged;
  }
  ASSERT_TRUE(SetImmutable(db + "-wal", true).ok());
  absl::Status refused = Set(client.get(), "blocked", "value");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  std::cout << "load_test: immutable database: write -> " << refused << "\n";
  ExpectReadsWorkWhileWritesFail(client.get(), "blocked");
  ASSERT_TRUE((*daemon)->Running());
  ASSERT_TRUE(SetImmutable(db + "-wal", false).ok());
  ASSERT_TRUE(SetImmutable(db, false).ok());
  absl::Status again = Set(client.get(), "after", "recovered");
  ASSERT_TRUE(again.ok()) << again;
  client.reset();
  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitExit(kTimeout);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

TEST(LoadTest, SigtermDuringLoadLosesNothing) {
  TempDir dir;
  DaemonChild::Options options = OptionsFor(dir);
  auto daemon = DaemonChild::Start(options);
  ASSERT_TRUE(daemon.ok());
  ASSERT_TRUE((*daemon)->WaitReady(kTimeout).ok()) << (*daemon)->Log();

  absl::Mutex mu;
  std::map<std::string, std::string> acked;  // name -> value (one write each)
  std::map<std::string, std::string> unavailable;
  std::map<std::string, std::string> cancelled;
  std::vector<std::string> other_errors;
  std::atomic<int> started{0};
  std::vector<std::thread> writers;
  for (int c = 0; c < kClients; ++c) {
    writers.emplace_back([&, c] {
      std::unique_ptr<SecretsClient> client =
          ConnectClient(options.socket, absl::Seconds(10),
                        /*wait_for_ready=*/false);
      ++started;
      for (int seq = 0;; ++seq) {
        std::string name = absl::StrCat("t", c, "-", seq);
        std::string value =
            absl::StrCat("v", c, "-", seq, "-", absl::ToUnixNanos(absl::Now()));
        absl::Status s = Set(client.get(), name, value);
        absl::MutexLock lock(&mu);
        if (s.ok()) {
          acked[name] = value;
        } else if (s.code() == absl::StatusCode::kUnavailable) {
          unavailable[name] = value;
          return;
        } else if (s.code() == absl::StatusCode::kCancelled) {
          // gRPC 1.51 cancels calls that arrived but had not reached a
          // handler thread when Server::Shutdown() began (see
          // docs/reliability.md); such a write must be all or nothing.
          cancelled[name] = value;
          return;
        } else {
          other_errors.push_back(s.ToString());
          return;
        }
      }
    });
  }
  while (started.load() < kClients) ::poll(nullptr, 0, 5);
  ::poll(nullptr, 0, 500);
  (*daemon)->Signal(SIGTERM);
  auto exited = (*daemon)->WaitExit(kTimeout);
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(ExitCode(*exited), 0) << (*daemon)->Log();
  EXPECT_TRUE(other_errors.empty())
      << other_errors.size()
      << " calls failed otherwise, first: " << other_errors.front();
  EXPECT_EQ(IntegrityCheck(options.data_dir + "/secrets.db"), "ok");

  auto again = DaemonChild::Start(options);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->WaitReady(kTimeout).ok()) << (*again)->Log();
  std::unique_ptr<SecretsClient> client = ConnectClient(options.socket);
  for (const auto& [name, value] : acked) {
    absl::StatusOr<std::string> got = Get(client.get(), name);
    ASSERT_TRUE(got.ok()) << "acknowledged " << name
                          << " lost: " << got.status();
    ASSERT_EQ(*got, value) << name;
  }
  int applied_anyway = 0;
  std::map<std::string, std::string> not_acknowledged = unavailable;
  not_acknowledged.insert(cancelled.begin(), cancelled.end());
  for (const auto& [name, value] : not_acknowledged) {
    absl::StatusOr<std::string> got = Get(client.get(), name);
    if (got.ok()) {
      EXPECT_EQ(*got, value) << name;
      ++applied_anyway;
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
    }
  }
  std::cout << "load_test: SIGTERM under load: " << acked.size()
            << " acknowledged writes all present after restart, "
            << unavailable.size() << " calls refused UNAVAILABLE, "
            << cancelled.size() << " CANCELLED by gRPC's shutdown ("
            << applied_anyway << " of these applied), " << other_errors.size()
            << " other errors, exit code " << ExitCode(*exited) << "\n";
  EXPECT_GT(acked.size(), 0u);
}

}  // namespace
}  // namespace zlayer::secrets::reliability
