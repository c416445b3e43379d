#include "core/identity/node_affinity_view.h"

#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/identity/api_key_store.h"
#include "core/store/memory_secret_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fault_injecting_store.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets {
namespace {

using ::testing::ElementsAre;
using Strings = std::vector<std::string>;

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }

Principal Node(const std::string& name, Strings labels = {}) {
  Principal p;
  p.transport = Transport::kTls;
  p.api_key_id = "agent-" + name;
  p.roles.push_back("node:" + name);
  for (const std::string& l : labels) p.roles.push_back("node-label:" + l);
  AddNodeIdentityFromRoles(&p);
  return p;
}

WriteOptions Pinned(Strings affinity) {
  WriteOptions o;
  o.node_affinity = std::move(affinity);
  return o;
}

TEST(NodeAffinityAdmitsTest, NamesAndLabelsMatchAnyEntry) {
  EXPECT_TRUE(NodeAffinityAdmits({}, Principal()));
  EXPECT_FALSE(NodeAffinityAdmits({"node:n1"}, Principal()));
  EXPECT_TRUE(NodeAffinityAdmits({"node:n1"}, Node("n1")));
  EXPECT_FALSE(NodeAffinityAdmits({"node:n1"}, Node("n2")));
  EXPECT_FALSE(NodeAffinityAdmits({"node:n1"}, Node("n10")));
  EXPECT_TRUE(
      NodeAffinityAdmits({"label:zone=a", "node:n9"}, Node("n2", {"zone=a"})));
  EXPECT_FALSE(NodeAffinityAdmits({"label:zone=a"}, Node("n2", {"zone=b"})));
  // A label named like a node, or a node named like a label, is no match.
  EXPECT_FALSE(NodeAffinityAdmits({"label:n1"}, Node("n1")));
}

TEST(NodeAffinityAdmitsTest, OnlyNodeRolesGiveANodeIdentity) {
  Principal p;
  p.roles = {"admin", "node:n1", "node-label:zone=a", "role:node:n2"};
  AddNodeIdentityFromRoles(&p);
  AddNodeIdentityFromRoles(&p);
  EXPECT_THAT(p.node_names, ElementsAre("n1"));
  EXPECT_THAT(p.node_labels, ElementsAre("zone=a"));
  EXPECT_OK(ValidateRole("node:n1"));
  EXPECT_OK(ValidateRole("node-label:topology.kubernetes.io/zone=eu-1"));
  EXPECT_STATUS(ValidateRole("node:a/b"), kInvalidArgument);
  EXPECT_STATUS(ValidateRole("node:"), kInvalidArgument);
  EXPECT_STATUS(ValidateRole("node-label:zone"), kInvalidArgument);
}

class NodeAffinityViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(store_.SetSecret("s", "pinned", V("p1"), Pinned({"node:n1"})));
    ASSERT_OK(store_.SetSecret("s", "free", V("f1"), {}));
  }
  FakeClock clock_;
  MemorySecretStore store_{&clock_};
};

TEST_F(NodeAffinityViewTest, OtherNodeSeesAMissingSecretOnEveryRead) {
  const Principal n2 = Node("n2");
  NodeAffinityView view(&store_, nullptr, n2, /*administrator=*/false);
  auto missing = store_.GetSecret("s", "nope");
  for (const absl::Status& status :
       {view.GetSecret("s", "pinned").status(),
        view.GetVersioned("s", "pinned", 1).status(),
        view.GetWithMetadata("s", "pinned", 0).status(),
        view.GetMetadata("s", "pinned").status(),
        view.ListVersions("s", "pinned").status()}) {
    EXPECT_EQ(status, missing.status());
  }
  EXPECT_FALSE(*view.Exists("s", "pinned"));
  auto batch = view.ReadBatch({{"s", "pinned"}, {"s", "free"}});
  ASSERT_OK(batch);
  EXPECT_EQ((*batch)[0].status(), missing.status());
  EXPECT_OK((*batch)[1]);
  auto pinned_read = view.ReadVersions({{{"s", "pinned"}, 1}});
  ASSERT_OK(pinned_read);
  EXPECT_STATUS((*pinned_read)[0], kNotFound);
  auto many = view.GetSecrets("s", {"pinned", "free"});
  ASSERT_OK(many);
  EXPECT_EQ(many->size(), 1u);
  EXPECT_EQ(many->count("free"), 1u);
  auto page = view.List("s", {});
  ASSERT_OK(page);
  ASSERT_EQ(page->secrets.size(), 1u);
  EXPECT_EQ(page->secrets[0].name, "free");
  EXPECT_EQ(view.ListSecrets("s")->size(), 1u);
  ASSERT_EQ(view.hidden().size(), 1u);
  EXPECT_EQ(view.hidden()[0], (SecretKey{"s", "pinned"}));
}

// Batch and versioned reads take the affinity from the row they read the
// value from: no second read per key (ResolveEnv(20) stays one read, one
// etcd quorum check in cluster mode), and no window in which the row
// changes between the value and its affinity.
TEST_F(NodeAffinityViewTest, BatchReadsUseTheAffinityReadWithTheValue) {
  testing::FaultInjectingStore counted(&store_);
  const Principal n2 = Node("n2");  // the view keeps a reference
  NodeAffinityView view(&counted, nullptr, n2, false);
  auto batch = view.ReadBatch({{"s", "pinned"}, {"s", "free"}});
  ASSERT_OK(batch);
  EXPECT_STATUS((*batch)[0], kNotFound);
  EXPECT_OK((*batch)[1]);
  EXPECT_STATUS(view.GetVersioned("s", "pinned", 1), kNotFound);
  EXPECT_EQ(counted.reads(), 2);  // the batch and the versioned read

  // Values from a source whose metadata the view's store no longer has
  // (the secret went away after its value was read): the affinity that
  // came with the value still decides.
  FakeClock clock;
  MemorySecretStore empty(&clock);
  NodeAffinityView late(&empty, &store_, n2, false);
  auto read = late.ReadBatch({{"s", "pinned"}});
  ASSERT_OK(read);
  EXPECT_STATUS((*read)[0], kNotFound);
}

TEST_F(NodeAffinityViewTest, PinnedNodeReadsButIsNotShownTheAffinity) {
  const Principal n1 = Node("n1");
  NodeAffinityView view(&store_, nullptr, n1, /*administrator=*/false);
  auto got = view.GetWithMetadata("s", "pinned", 0);
  ASSERT_OK(got);
  EXPECT_EQ(got->read.value.InsecureView(), "p1");
  EXPECT_TRUE(got->metadata.node_affinity.empty());
  EXPECT_EQ(view.GetSecret("s", "pinned")->InsecureView(), "p1");
  EXPECT_TRUE(view.GetMetadata("s", "pinned")->node_affinity.empty());
  EXPECT_TRUE(view.hidden().empty());
}

TEST_F(NodeAffinityViewTest, AdministratorSeesMetadataAndAffinityNotValue) {
  const Principal root;  // a Unix administrator: no node
  NodeAffinityView view(&store_, nullptr, root, /*administrator=*/true);
  EXPECT_STATUS(view.GetSecret("s", "pinned"), kNotFound);
  EXPECT_STATUS(view.GetWithMetadata("s", "pinned", 0), kNotFound);
  EXPECT_THAT(view.GetMetadata("s", "pinned")->node_affinity,
              ElementsAre("node:n1"));
  EXPECT_EQ(view.List("s", {})->secrets.size(), 2u);
  EXPECT_TRUE(*view.Exists("s", "pinned"));
}

TEST_F(NodeAffinityViewTest, OnlyAdministratorsChangeAnExistingAffinity) {
  const Principal writer;
  NodeAffinityView view(&store_, nullptr, writer, /*administrator=*/false);
  EXPECT_STATUS(view.SetSecret("s", "pinned", V("x"), Pinned({})),
                kPermissionDenied);
  EXPECT_STATUS(view.SetSecret("s", "pinned", V("x"), Pinned({"node:n2"})),
                kPermissionDenied);
  // Restating the same affinity, or none at all, is a plain write.
  EXPECT_OK(view.SetSecret("s", "pinned", V("x"), Pinned({"node:n1"})));
  EXPECT_OK(view.SetSecret("s", "pinned", V("y"), {}));
  // Soft-deleted secrets keep their pin against a revival without it.
  ASSERT_OK(store_.DeleteSecret("s", "pinned"));
  EXPECT_STATUS(view.SetSecret("s", "pinned", V("z"), Pinned({})),
                kPermissionDenied);
  // Pinning a secret without an affinity only narrows it.
  auto pinned = view.SetSecret("s", "free", V("f2"), Pinned({"node:n3"}));
  ASSERT_OK(pinned);
  EXPECT_TRUE(pinned->node_affinity.empty());  // not shown to non-admins
  EXPECT_THAT(store_.GetMetadata("s", "free")->node_affinity,
              ElementsAre("node:n3"));

  const Principal root;
  NodeAffinityView admin(&store_, nullptr, root, /*administrator=*/true);
  auto moved = admin.SetSecret("s", "free", V("f3"), Pinned({}));
  ASSERT_OK(moved);
  EXPECT_TRUE(store_.GetMetadata("s", "free")->node_affinity.empty());
}

}  // namespace
}  // namespace zlayer::secrets
