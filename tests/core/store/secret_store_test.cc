// ValidateName / ValidateScope and the shared store rules (store_common.h).
#include "core/store/secret_store.h"

#include <string>

#include "core/store/store_common.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

TEST(ValidateNameTest, AcceptsOrdinaryNames) {
  for (const char* n :
       {"db_password", "API-KEY.v2", "a", "пароль", "🔑", "a b", "a%_:b"}) {
    EXPECT_OK(ValidateName(n));
  }
  EXPECT_OK(ValidateName(std::string(kMaxNameBytes, 'n')));
}

TEST(ValidateNameTest, RejectsBadNamesWithoutEchoingThem) {
  const std::string secretish = "hunter2-canary";
  for (const std::string& n :
       {std::string(), std::string(kMaxNameBytes + 1, 'n'), secretish + "/x",
        secretish + "\n", secretish + std::string("\0", 1), secretish + "\x7f",
        secretish + "\xc2\x9f", secretish + "\xff", secretish + "\xc3",
        secretish + "\xe0\x80\xaf", secretish + "\xed\xb0\x80",
        secretish + "\xf4\x90\x80\x80"}) {
    absl::Status s = ValidateName(n);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << n.size();
    EXPECT_EQ(s.message().find(secretish), absl::string_view::npos) << s;
  }
}

TEST(ValidateNameTest, MessagesDescribeTheProblem) {
  EXPECT_EQ(ValidateName("").message(), "secret name is empty");
  EXPECT_EQ(ValidateName("a/b").message(),
            "secret name contains '/' (a name is a single path segment)");
  EXPECT_EQ(ValidateName("ab\x01").message(),
            "secret name contains a control character (at byte 2)");
  EXPECT_EQ(ValidateName("\xff").message(),
            "secret name is not valid UTF-8 (at byte 0)");
}

TEST(ValidateScopeTest, AllowsSlashesAndColonsButNotControls) {
  EXPECT_OK(ValidateScope("deploy/service"));
  EXPECT_OK(ValidateScope("project:p:env:123"));
  EXPECT_OK(ValidateScope(std::string(kMaxScopeBytes, 's')));
  EXPECT_STATUS(ValidateScope(""), kInvalidArgument);
  EXPECT_STATUS(ValidateScope(std::string(kMaxScopeBytes + 1, 's')),
                kInvalidArgument);
  EXPECT_STATUS(ValidateScope("a\tb"), kInvalidArgument);
  EXPECT_STATUS(ValidateScope("\xc0\x80"), kInvalidArgument);
}

TEST(StoreCommonTest, PageTokensRoundTripAndRejectJunk) {
  for (const std::string& name : {std::string("a"), std::string("пароль"),
                                  std::string("x\xff\x00y", 4)}) {
    auto back = DecodePageToken(EncodePageToken(name));
    ASSERT_OK(back);
    EXPECT_EQ(*back, name);
  }
  EXPECT_EQ(*DecodePageToken(""), "");
  EXPECT_STATUS(DecodePageToken("0"), kInvalidArgument);
  EXPECT_STATUS(DecodePageToken("zz"), kInvalidArgument);
  EXPECT_STATUS(DecodePageToken("AB"), kInvalidArgument);
  EXPECT_STATUS(DecodePageToken(std::string(2 * kMaxNameBytes + 2, 'a')),
                kInvalidArgument);
}

TEST(StoreCommonTest, PrefixUpperBound) {
  EXPECT_EQ(PrefixUpperBound(""), absl::nullopt);
  EXPECT_EQ(*PrefixUpperBound("a"), "b");
  EXPECT_EQ(*PrefixUpperBound("a%"), "a&");
  EXPECT_EQ(*PrefixUpperBound("a\xff"), "b");
  EXPECT_EQ(PrefixUpperBound("\xff\xff"), absl::nullopt);
}

TEST(StoreCommonTest, CheckAndSetRule) {
  EXPECT_OK(CheckExpectedVersion(absl::nullopt, true, 3));
  EXPECT_OK(CheckExpectedVersion(0, false, 0));
  EXPECT_STATUS(CheckExpectedVersion(0, true, 3), kAlreadyExists);
  EXPECT_OK(CheckExpectedVersion(3, true, 3));
  EXPECT_STATUS(CheckExpectedVersion(2, true, 3), kFailedPrecondition);
  EXPECT_STATUS(CheckExpectedVersion(2, false, 0), kFailedPrecondition);
}

TEST(StoreCommonTest, RetentionAndVersions) {
  EXPECT_EQ(EffectiveMaxVersions(0, 0), kDefaultMaxVersions);
  EXPECT_EQ(EffectiveMaxVersions(0, 4), 4u);
  EXPECT_EQ(EffectiveMaxVersions(2, 4), 2u);
  EXPECT_EQ(OldestKeptVersion(5, 3), 3u);
  EXPECT_EQ(OldestKeptVersion(2, 3), 1u);
  EXPECT_EQ(OldestKeptVersion(5, 1), 5u);
  EXPECT_EQ(*NextVersion(0), 1u);
  EXPECT_STATUS(NextVersion(0xFFFFFFFFu), kOutOfRange);
  EXPECT_EQ(EffectivePageSize(0), kDefaultPageSize);
  EXPECT_EQ(EffectivePageSize(5), 5u);
  EXPECT_EQ(EffectivePageSize(5000), kMaxPageSize);
}

}  // namespace
}  // namespace zlayer::secrets
