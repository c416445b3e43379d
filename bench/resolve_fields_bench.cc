// Resolver cost when many references point at fields of one large JSON
// value (issue 18, item 3). In-process (MemorySecretStore, no gRPC), so the
// figure is the resolver's own work: before the fix every field reference
// parsed the whole value again.
//
//   bazel run -c opt //bench:resolve_fields_bench
//
// Prints, for 1,000 references to distinct fields of one ~1 MiB object (the
// answer is ~1 MiB, inside the 4 MiB budget), the wall time of one Resolve
// and the process's peak RSS.
#include <sys/resource.h>

#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/resolve/resolver.h"
#include "core/store/memory_secret_store.h"

int main() {
  using namespace zlayer::secrets;
  constexpr int kFields = 1000;
  std::string json = "{";
  for (int f = 0; f < kFields; ++f) {
    absl::StrAppend(&json, f == 0 ? "" : ",", "\"f", f, "\":\"",
                    std::string(1000, 'a' + f % 26), "\"");
  }
  json += "}";
  FakeClock clock;
  MemorySecretStore store(&clock);
  if (!store.SetSecret("shop", "cfg", SecretBytes::FromString(json), {}).ok()) {
    std::cerr << "store failed\n";
    return 1;
  }
  std::map<std::string, std::string> env;
  for (int i = 0; i < kFields; ++i) {
    env[absl::StrCat("K", i)] = absl::StrCat("$S:cfg/f", i);
  }
  Resolver resolver(&store, nullptr);
  ResolveContext context{"shop", ""};
  const absl::Time start = absl::Now();
  auto out = resolver.Resolve(env, context);
  const absl::Duration took = absl::Now() - start;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::cout << "value_bytes=" << json.size() << " references=" << kFields
            << " status=" << (out.ok() ? "OK" : out.status().ToString())
            << " resolve_ms=" << absl::ToDoubleMilliseconds(took)
            << " maxrss_kib=" << usage.ru_maxrss << "\n";
  return out.ok() ? 0 : 1;
}
