// ScopeRoutedProvider: which provider answers each scope, at which path, and
// the resolver reading through it (two memory stores stand in for the
// daemon's store and a Vault mount).
#include "core/resolve/scope_routed_provider.h"

#include <map>
#include <string>

#include "core/base/clock.h"
#include "core/resolve/resolver.h"
#include "core/store/memory_secret_store.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

SecretBytes S(absl::string_view s) { return SecretBytes::FromString(s); }

class ScopeRoutedProviderTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  MemorySecretStore local_{&clock_};
  MemorySecretStore remote_{&clock_};
  ScopeRoutedProvider routed_{&local_,
                              {{"shop/api", &remote_, "apps/shop-api"},
                               {"shop/api/v2", &remote_, "v2"},
                               {"legacy", &remote_, ""}}};
};

TEST_F(ScopeRoutedProviderTest, RoutesScopesAndTheirSubScopes) {
  EXPECT_EQ(routed_.Route("shop").first, &local_);
  EXPECT_EQ(routed_.Route("shop/apix").first, &local_);
  EXPECT_EQ(routed_.Route("shop/api").second, "apps/shop-api");
  EXPECT_EQ(routed_.Route("shop/api/x").second, "apps/shop-api/x");
  EXPECT_EQ(routed_.Route("shop/api/v2").second, "v2");  // longest wins
  EXPECT_EQ(routed_.Route("legacy").second, "");
  EXPECT_EQ(routed_.Route("legacy/web").second, "web");
}

TEST_F(ScopeRoutedProviderTest, ResolverReadsEachScopeFromItsProvider) {
  ASSERT_OK(local_.SetSecret("shop", "db", S("local-db"), {}));
  ASSERT_OK(local_.SetSecret("shop/api", "key", S("shadowed"), {}));
  ASSERT_OK(remote_.SetSecret("apps/shop-api", "key", S("remote-1"), {}));
  ASSERT_OK(remote_.SetSecret("apps/shop-api", "key", S("remote-2"), {}));
  Resolver resolver(&routed_, nullptr);
  ResolveContext ctx;
  ctx.deployment = "shop";
  absl::StatusOr<ResolvedEnv> out =
      resolver.Resolve({{"DB", "$S:db"}, {"KEY", "$S:@api/key"}}, ctx);
  ASSERT_OK(out);
  EXPECT_EQ(out->values.at("DB").InsecureView(), "local-db");
  EXPECT_EQ(out->values.at("KEY").InsecureView(), "remote-2");
  ASSERT_EQ(out->receipt.size(), 2u);
  EXPECT_EQ(out->receipt[1].target.scope, "shop/api");  // the caller's scope
  EXPECT_EQ(out->receipt[1].version, 2u);

  // Pinned reads go to the same provider.
  std::vector<ReceiptEntry> pins = out->receipt;
  pins[1].version = 1;
  absl::StatusOr<ResolvedEnv> pinned = resolver.ResolvePinned(
      {{"DB", "$S:db"}, {"KEY", "$S:@api/key"}}, ctx, pins,
      [](const SecretKey&) { return absl::OkStatus(); });
  ASSERT_OK(pinned);
  EXPECT_EQ(pinned->values.at("KEY").InsecureView(), "remote-1");

  absl::StatusOr<std::vector<SecretMetadata>> list =
      routed_.ListSecrets("shop/api");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].scope, "shop/api");
  EXPECT_TRUE(*routed_.Exists("shop/api", "key"));
  EXPECT_FALSE(*routed_.Exists("shop/api", "db"));
  EXPECT_EQ(routed_.GetSecret("shop", "db")->InsecureView(), "local-db");
}

}  // namespace
}  // namespace zlayer::secrets
