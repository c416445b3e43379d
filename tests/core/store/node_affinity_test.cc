#include "core/store/node_affinity.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using Strings = std::vector<std::string>;

TEST(NodeAffinityTest, CanonicalFormIsPrefixedSortedAndUnique) {
  auto got = CanonicalNodeAffinity({"n1", "label:zone=a", "node:n1",
                                    "label:topology.kubernetes.io/zone=eu-1"});
  ASSERT_OK(got);
  EXPECT_EQ(*got, (Strings{"label:topology.kubernetes.io/zone=eu-1",
                           "label:zone=a", "node:n1"}));
  EXPECT_OK(ValidateCanonicalNodeAffinity(*got));
  EXPECT_TRUE(CanonicalNodeAffinity({})->empty());
}

TEST(NodeAffinityTest, MalformedEntriesAreInvalidArgumentNamingTheRule) {
  for (const std::string& bad :
       {std::string(""), std::string("node:"), std::string("node:a b"),
        std::string("node:a/b"), std::string("label:zone"),
        std::string("label:=a"), std::string("label:zone="),
        std::string("label:zone=a/b"), std::string("host:n1"),
        std::string("n1,n2"), std::string(64, 'x'), std::string("node:\xff"),
        std::string("node:n\n1")}) {
    auto got = CanonicalNodeAffinity({"ok", bad});
    SCOPED_TRACE(bad);
    EXPECT_STATUS(got, kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()),
                ::testing::HasSubstr("node affinity entry 2"));
  }
}

TEST(NodeAffinityTest, CountIsBounded) {
  Strings many;
  for (size_t i = 0; i <= kMaxNodeAffinityEntries; ++i) {
    many.push_back("n" + std::to_string(i));
  }
  auto got = CanonicalNodeAffinity(many);
  EXPECT_STATUS(got, kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()),
              ::testing::HasSubstr("at most 32"));
  many.pop_back();
  EXPECT_OK(CanonicalNodeAffinity(many));
}

TEST(NodeAffinityTest, UnprintableEntriesAreNotEchoed) {
  auto got = CanonicalNodeAffinity({"node:sec\x01ret"});
  EXPECT_STATUS(got, kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()),
              ::testing::Not(::testing::HasSubstr("sec")));
}

TEST(NodeAffinityTest, EncodingRoundTripsAndRejectsEditedText) {
  const Strings entries = {"label:zone=a", "node:n1"};
  EXPECT_EQ(EncodeNodeAffinity(entries), "label:zone=a,node:n1");
  EXPECT_EQ(*DecodeNodeAffinity("label:zone=a,node:n1"), entries);
  EXPECT_TRUE(DecodeNodeAffinity("")->empty());
  EXPECT_STATUS(DecodeNodeAffinity("node:n2,node:n1"), kDataLoss);
  EXPECT_STATUS(DecodeNodeAffinity("node:n1,"), kDataLoss);
  EXPECT_STATUS(DecodeNodeAffinity("n1"), kDataLoss);
}

}  // namespace
}  // namespace zlayer::secrets
