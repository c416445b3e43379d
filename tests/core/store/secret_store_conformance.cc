#include "tests/core/store/secret_store_conformance.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/testutil/status_testing.h"

namespace zlayer::secrets::testing {

std::string SecretStoreFactoryName(
    const ::testing::TestParamInfo<SecretStoreFactory>& info) {
  return info.param.name;
}

void SecretStoreConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<SecretStore>> store = GetParam().make(&clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
}

namespace {

constexpr int64_t kStart = 1700000000;  // FakeClock's default start

SecretBytes V(absl::string_view s) { return SecretBytes::FromString(s); }

std::string Str(const SecretBytes& b) { return std::string(b.InsecureView()); }

WriteOptions Expect(uint32_t version) {
  WriteOptions o;
  o.expected_version = version;
  return o;
}

WriteOptions Keep(uint32_t max_versions) {
  WriteOptions o;
  o.max_versions = max_versions;
  return o;
}

std::vector<std::string> Names(const std::vector<SecretMetadata>& list) {
  std::vector<std::string> out;
  for (const SecretMetadata& m : list) out.push_back(m.name);
  return out;
}

using Strings = std::vector<std::string>;

// --- Basic reads and writes
// ---------------------------------------------------

TEST_P(SecretStoreConformanceTest, SetThenGetReturnsTheValue) {
  auto m = store_->SetSecret("prod", "db_password", V("hunter2"), {});
  ASSERT_OK(m);
  EXPECT_EQ(m->scope, "prod");
  EXPECT_EQ(m->name, "db_password");
  EXPECT_EQ(m->version, 1u);
  auto got = store_->GetSecret("prod", "db_password");
  ASSERT_OK(got);
  EXPECT_EQ(Str(*got), "hunter2");
}

TEST_P(SecretStoreConformanceTest, EmptyAndBinaryValuesRoundTrip) {
  ASSERT_OK(store_->SetSecret("s", "empty", V(""), {}));
  const std::string binary("\0\x01\xff\n", 4);
  ASSERT_OK(store_->SetSecret("s", "binary", V(binary), {}));
  EXPECT_EQ(Str(*store_->GetSecret("s", "empty")), "");
  EXPECT_EQ(Str(*store_->GetSecret("s", "binary")), binary);
}

TEST_P(SecretStoreConformanceTest, MissingSecretIsNotFound) {
  EXPECT_STATUS(store_->GetSecret("prod", "nope"), kNotFound);
  EXPECT_STATUS(store_->GetVersioned("prod", "nope", 0), kNotFound);
  EXPECT_STATUS(store_->GetMetadata("prod", "nope"), kNotFound);
  EXPECT_STATUS(store_->ListVersions("prod", "nope"), kNotFound);
  EXPECT_STATUS(store_->DeleteSecret("prod", "nope"), kNotFound);
}

TEST_P(SecretStoreConformanceTest, ExistsReflectsLiveSecrets) {
  EXPECT_FALSE(*store_->Exists("prod", "a"));
  ASSERT_OK(store_->SetSecret("prod", "a", V("1"), {}));
  EXPECT_TRUE(*store_->Exists("prod", "a"));
  EXPECT_FALSE(*store_->Exists("other", "a"));
  ASSERT_OK(store_->DeleteSecret("prod", "a"));
  EXPECT_FALSE(*store_->Exists("prod", "a"));
}

TEST_P(SecretStoreConformanceTest, SameNameInDifferentScopesIsIndependent) {
  ASSERT_OK(store_->SetSecret("a", "x", V("in a"), {}));
  ASSERT_OK(store_->SetSecret("a:b", "x", V("in a:b"), {}));
  ASSERT_OK(store_->SetSecret("a:b", "x", V("in a:b again"), {}));
  EXPECT_EQ(Str(*store_->GetSecret("a", "x")), "in a");
  EXPECT_EQ(store_->GetMetadata("a", "x")->version, 1u);
  EXPECT_EQ(store_->GetMetadata("a:b", "x")->version, 2u);
}

TEST_P(SecretStoreConformanceTest, UnicodeNamesAreAccepted) {
  ASSERT_OK(store_->SetSecret("prod", "пароль-🔑", V("v"), {}));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "пароль-🔑")), "v");
}

// --- Versions
// -----------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, EveryWriteMakesTheNextVersion) {
  for (uint32_t i = 1; i <= 4; ++i) {
    auto m = store_->SetSecret("prod", "k", V(absl::StrCat("v", i)), {});
    ASSERT_OK(m);
    EXPECT_EQ(m->version, i);
  }
  auto current = store_->GetVersioned("prod", "k", 0);
  ASSERT_OK(current);
  EXPECT_EQ(current->version, 4u);
  EXPECT_EQ(Str(current->value), "v4");
}

// A pinned "v1" must not resolve a secret destroyed and created again since.
TEST_P(SecretStoreConformanceTest, IncarnationLastsUntilDestroy) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), {}));
  auto first = store_->GetVersioned("prod", "k", 0);
  ASSERT_OK(first);
  const std::string life = first->incarnation;
  ASSERT_FALSE(life.empty());
  EXPECT_EQ(store_->GetMetadata("prod", "k")->incarnation, life);
  // Writes, a soft delete and its undo, and re-creation after a soft delete
  // (the version counter continues) keep it.
  ASSERT_OK(store_->SetSecret("prod", "k", V("v2"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  ASSERT_OK(store_->UndeleteSecret("prod", "k"));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  ASSERT_OK(store_->SetSecret("prod", "k", V("v3"), {}));
  auto kept = store_->GetVersioned("prod", "k", 1);
  ASSERT_OK(kept);
  EXPECT_EQ(kept->incarnation, life);
  auto pinned = store_->ReadVersions({{{"prod", "k"}, 3}});
  ASSERT_OK(pinned);
  ASSERT_OK((*pinned)[0]);
  EXPECT_EQ((*pinned)[0]->incarnation, life);
  auto batch = store_->ReadBatch({{"prod", "k"}});
  ASSERT_OK(batch);
  ASSERT_OK((*batch)[0]);
  EXPECT_EQ((*batch)[0]->incarnation, life);
  // Destroyed and created again: v1 again, another life.
  ASSERT_OK(store_->DestroySecret("prod", "k"));
  ASSERT_OK(store_->SetSecret("prod", "k", V("again"), {}));
  auto again = store_->GetVersioned("prod", "k", 0);
  ASSERT_OK(again);
  EXPECT_EQ(again->version, 1u);
  EXPECT_FALSE(again->incarnation.empty());
  EXPECT_NE(again->incarnation, life);
  EXPECT_EQ(store_->GetMetadata("prod", "k")->incarnation, again->incarnation);
  // Another secret has its own.
  ASSERT_OK(store_->SetSecret("prod", "other", V("o"), {}));
  EXPECT_NE(store_->GetVersioned("prod", "other", 0)->incarnation,
            again->incarnation);
}

TEST_P(SecretStoreConformanceTest, GetVersionedReadsEachKeptVersion) {
  for (int i = 1; i <= 3; ++i) {
    ASSERT_OK(store_->SetSecret("prod", "k", V(absl::StrCat("v", i)), {}));
  }
  for (uint32_t i = 1; i <= 3; ++i) {
    auto v = store_->GetVersioned("prod", "k", i);
    ASSERT_OK(v);
    EXPECT_EQ(v->version, i);
    EXPECT_EQ(Str(v->value), absl::StrCat("v", i));
  }
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 4), kNotFound);
}

TEST_P(SecretStoreConformanceTest, GetWithMetadataReadsBothAtOneSnapshot) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("v1"), Keep(3)));
  clock_.Advance(absl::Seconds(5));
  ASSERT_OK(store_->SetSecret("prod", "k", V("v2"), {}));
  auto current = store_->GetWithMetadata("prod", "k", 0);
  ASSERT_OK(current);
  EXPECT_EQ(Str(current->read.value), "v2");
  EXPECT_EQ(current->read.version, 2u);
  EXPECT_EQ(current->metadata.version, 2u);
  EXPECT_EQ(current->metadata.max_versions, 3u);
  EXPECT_EQ(current->metadata.created_at, kStart);
  EXPECT_EQ(current->metadata.updated_at, kStart + 5);
  EXPECT_EQ(current->metadata.key_id, store_->GetMetadata("prod", "k")->key_id);
  // An older version: its value, and the metadata of the secret (current).
  auto old = store_->GetWithMetadata("prod", "k", 1);
  ASSERT_OK(old);
  EXPECT_EQ(Str(old->read.value), "v1");
  EXPECT_EQ(old->read.version, 1u);
  EXPECT_EQ(old->metadata.version, 2u);
  EXPECT_STATUS(store_->GetWithMetadata("prod", "k", 3), kNotFound);
  EXPECT_STATUS(store_->GetWithMetadata("prod", "nope", 0), kNotFound);
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  EXPECT_STATUS(store_->GetWithMetadata("prod", "k", 0), kNotFound);
  EXPECT_STATUS(store_->GetWithMetadata("", "k", 0), kInvalidArgument);
}

TEST_P(SecretStoreConformanceTest, ListVersionsIsNewestFirst) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(store_->SetSecret("prod", "k", V("x"), {}));
    clock_.Advance(absl::Seconds(10));
  }
  auto versions = store_->ListVersions("prod", "k");
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].version, 3u);
  EXPECT_EQ((*versions)[1].version, 2u);
  EXPECT_EQ((*versions)[2].version, 1u);
  EXPECT_EQ((*versions)[0].created_at, kStart + 20);
  EXPECT_EQ((*versions)[2].created_at, kStart);
}

TEST_P(SecretStoreConformanceTest, PruningKeepsOnlyMaxVersions) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_OK(store_->SetSecret("prod", "k", V(absl::StrCat("v", i)), Keep(3)));
  }
  auto versions = store_->ListVersions("prod", "k");
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ(versions->back().version, 3u);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 2), kNotFound);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 1), kNotFound);
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 3)->value), "v3");
  EXPECT_EQ(store_->GetMetadata("prod", "k")->max_versions, 3u);

  // 0 keeps the secret's setting; a smaller setting prunes on the next write.
  ASSERT_OK(store_->SetSecret("prod", "k", V("v6"), {}));
  EXPECT_EQ(store_->ListVersions("prod", "k")->size(), 3u);
  ASSERT_OK(store_->SetSecret("prod", "k", V("v7"), Keep(1)));
  versions = store_->ListVersions("prod", "k");
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(versions->front().version, 7u);
}

TEST_P(SecretStoreConformanceTest, DefaultRetentionIsTenVersions) {
  for (int i = 0; i < 12; ++i)
    ASSERT_OK(store_->SetSecret("s", "k", V("x"), {}));
  EXPECT_EQ(store_->GetMetadata("s", "k")->max_versions, kDefaultMaxVersions);
  EXPECT_EQ(store_->ListVersions("s", "k")->size(), kDefaultMaxVersions);
}

TEST_P(SecretStoreConformanceTest, RollbackWritesOldValueAsNewVersion) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("old"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("new"), {}));
  auto m = store_->RollbackSecret("prod", "k", 1);
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 3u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "old");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 2)->value), "new");
}

TEST_P(SecretStoreConformanceTest, RollbackToMissingVersionIsNotFound) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(store_->SetSecret("prod", "k", V("x"), Keep(2)));
  }
  EXPECT_STATUS(store_->RollbackSecret("prod", "k", 1), kNotFound);  // pruned
  EXPECT_STATUS(store_->RollbackSecret("prod", "k", 9), kNotFound);  // future
  EXPECT_STATUS(store_->RollbackSecret("prod", "nope", 1), kNotFound);
  EXPECT_STATUS(store_->RollbackSecret("prod", "k", 0), kInvalidArgument);
  EXPECT_EQ(store_->GetMetadata("prod", "k")->version, 3u);
}

// --- Check-and-set
// ------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, CreateOnlyOnLiveSecretIsAlreadyExists) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), Expect(0)));
  EXPECT_STATUS(store_->SetSecret("prod", "k", V("b"), Expect(0)),
                kAlreadyExists);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "a");
}

TEST_P(SecretStoreConformanceTest, VersionMismatchIsFailedPrecondition) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("b"), {}));
  EXPECT_STATUS(store_->SetSecret("prod", "k", V("c"), Expect(1)),
                kFailedPrecondition);
  EXPECT_STATUS(store_->SetSecret("prod", "missing", V("c"), Expect(1)),
                kFailedPrecondition);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "b");
  EXPECT_FALSE(*store_->Exists("prod", "missing"));
  auto m = store_->SetSecret("prod", "k", V("c"), Expect(2));
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 3u);
}

TEST_P(SecretStoreConformanceTest, CreateOnlyRevivesSoftDeletedSecret) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  auto m = store_->SetSecret("prod", "k", V("b"), Expect(0));
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 2u);
}

// --- Delete, undelete, destroy
// ------------------------------------------------

TEST_P(SecretStoreConformanceTest, SoftDeleteHidesTheSecret) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "other", V("b"), {}));
  clock_.Advance(absl::Seconds(5));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kNotFound);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 1), kNotFound);
  EXPECT_STATUS(store_->GetMetadata("prod", "k"), kNotFound);
  EXPECT_STATUS(store_->ListVersions("prod", "k"), kNotFound);
  EXPECT_STATUS(store_->RotateSecret("prod", "k", V("x")), kNotFound);
  EXPECT_STATUS(store_->RollbackSecret("prod", "k", 1), kNotFound);
  EXPECT_STATUS(store_->DeleteSecret("prod", "k"), kNotFound);
  EXPECT_EQ(Names(*store_->ListSecrets("prod")), Strings({"other"}));
  EXPECT_EQ(Names(store_->List("prod", {})->secrets), Strings({"other"}));

  ListOptions with_deleted;
  with_deleted.include_deleted = true;
  auto page = store_->List("prod", with_deleted);
  ASSERT_OK(page);
  ASSERT_EQ(page->secrets.size(), 2u);
  EXPECT_EQ(page->secrets[0].name, "k");
  EXPECT_TRUE(page->secrets[0].deleted);
  EXPECT_EQ(page->secrets[0].deleted_at, kStart + 5);
  EXPECT_FALSE(page->secrets[1].deleted);
}

TEST_P(SecretStoreConformanceTest, UndeleteRestoresTheSecret) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("b"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  ASSERT_OK(store_->UndeleteSecret("prod", "k"));
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "b");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 1)->value), "a");
  auto m = store_->GetMetadata("prod", "k");
  EXPECT_EQ(m->version, 2u);
  EXPECT_FALSE(m->deleted);
  EXPECT_EQ(m->deleted_at, 0);
  EXPECT_STATUS(store_->UndeleteSecret("prod", "k"), kNotFound);  // live
  EXPECT_STATUS(store_->UndeleteSecret("prod", "nope"), kNotFound);
}

TEST_P(SecretStoreConformanceTest, SetAfterDeleteRevivesWithNextVersion) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("b"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  auto m = store_->SetSecret("prod", "k", V("c"), {});
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 3u);
  EXPECT_FALSE(m->deleted);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "c");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 1)->value), "a");
}

TEST_P(SecretStoreConformanceTest, DestroyRemovesEveryVersion) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("b"), {}));
  ASSERT_OK(store_->DestroySecret("prod", "k"));
  EXPECT_STATUS(store_->GetSecret("prod", "k"), kNotFound);
  EXPECT_STATUS(store_->UndeleteSecret("prod", "k"), kNotFound);
  EXPECT_STATUS(store_->DestroySecret("prod", "k"), kNotFound);
  ListOptions with_deleted;
  with_deleted.include_deleted = true;
  EXPECT_TRUE(store_->List("prod", with_deleted)->secrets.empty());
  // Versions restart at 1.
  auto m = store_->SetSecret("prod", "k", V("c"), {});
  ASSERT_OK(m);
  EXPECT_EQ(m->version, 1u);
  EXPECT_EQ(store_->ListVersions("prod", "k")->size(), 1u);
  EXPECT_STATUS(store_->GetVersioned("prod", "k", 2), kNotFound);
}

TEST_P(SecretStoreConformanceTest, DestroyWorksOnSoftDeletedSecret) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "k"));
  ASSERT_OK(store_->DestroySecret("prod", "k"));
  EXPECT_STATUS(store_->UndeleteSecret("prod", "k"), kNotFound);
}

// --- Rotate
// -------------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, RotateReportsPreviousAndNewVersion) {
  ASSERT_OK(store_->SetSecret("prod", "k", V("a"), {}));
  ASSERT_OK(store_->SetSecret("prod", "k", V("b"), {}));
  auto r = store_->RotateSecret("prod", "k", V("c"));
  ASSERT_OK(r);
  EXPECT_EQ(r->previous_version, 2u);
  EXPECT_EQ(r->new_version, 3u);
  EXPECT_EQ(Str(*store_->GetSecret("prod", "k")), "c");
  EXPECT_EQ(Str(store_->GetVersioned("prod", "k", 2)->value), "b");
}

TEST_P(SecretStoreConformanceTest, RotateOfAbsentSecretIsNotFound) {
  // A same-named secret in an extending scope must not count
  // (docs/compatibility.md, "Deliberate differences").
  ASSERT_OK(store_->SetSecret("prod:x", "k", V("a"), {}));
  EXPECT_STATUS(store_->RotateSecret("prod", "k", V("b")), kNotFound);
  EXPECT_FALSE(*store_->Exists("prod", "k"));
}

// --- Batch reads
// --------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, GetSecretsOmitsMissingAndDeleted) {
  ASSERT_OK(store_->SetSecret("prod", "a", V("1"), {}));
  ASSERT_OK(store_->SetSecret("prod", "b", V("2"), {}));
  ASSERT_OK(store_->SetSecret("prod", "gone", V("3"), {}));
  ASSERT_OK(store_->DeleteSecret("prod", "gone"));
  auto got = store_->GetSecrets("prod", {"a", "missing", "b", "gone", "a"});
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(Str(got->at("a")), "1");
  EXPECT_EQ(Str(got->at("b")), "2");
  EXPECT_STATUS(store_->GetSecrets("prod", {"a", "bad/name"}),
                kInvalidArgument);
}

TEST_P(SecretStoreConformanceTest, ReadBatchAnswersEachKeyAcrossScopes) {
  ASSERT_OK(store_->SetSecret("a", "x", V("ax"), {}));
  ASSERT_OK(store_->SetSecret("b", "x", V("bx1"), {}));
  ASSERT_OK(store_->SetSecret("b", "x", V("bx2"), {}));
  auto batch = store_->ReadBatch(
      {{"a", "x"}, {"b", "x"}, {"c", "x"}, {"a", "bad/name"}, {"a", "x"}});
  ASSERT_OK(batch);
  ASSERT_EQ(batch->size(), 5u);
  ASSERT_OK((*batch)[0]);
  EXPECT_EQ(Str((*batch)[0]->value), "ax");
  EXPECT_EQ((*batch)[0]->version, 1u);
  ASSERT_OK((*batch)[1]);
  EXPECT_EQ(Str((*batch)[1]->value), "bx2");
  EXPECT_EQ((*batch)[1]->version, 2u);
  EXPECT_STATUS((*batch)[2], kNotFound);
  EXPECT_STATUS((*batch)[3], kInvalidArgument);
  ASSERT_OK((*batch)[4]);
  EXPECT_TRUE(store_->ReadBatch({})->empty());
}

TEST_P(SecretStoreConformanceTest, ReadVersionsAnswersPinnedVersions) {
  WriteOptions keep_two;
  keep_two.max_versions = 2;
  ASSERT_OK(store_->SetSecret("a", "x", V("ax1"), keep_two));
  ASSERT_OK(store_->SetSecret("a", "x", V("ax2"), {}));
  ASSERT_OK(store_->SetSecret("a", "x", V("ax3"), {}));  // prunes version 1
  ASSERT_OK(store_->SetSecret("b", "y", V("by1"), {}));
  ASSERT_OK(store_->SetSecret("b", "gone", V("g1"), {}));
  ASSERT_OK(store_->DestroySecret("b", "gone"));
  auto batch = store_->ReadVersions({{{"a", "x"}, 2},
                                     {{"a", "x"}, 0},
                                     {{"a", "x"}, 1},
                                     {{"b", "y"}, 1},
                                     {{"b", "y"}, 7},
                                     {{"b", "gone"}, 1},
                                     {{"a", "bad/name"}, 1}});
  ASSERT_OK(batch);
  ASSERT_EQ(batch->size(), 7u);
  ASSERT_OK((*batch)[0]);
  EXPECT_EQ(Str((*batch)[0]->value), "ax2");
  EXPECT_EQ((*batch)[0]->version, 2u);
  ASSERT_OK((*batch)[1]);
  EXPECT_EQ(Str((*batch)[1]->value), "ax3");
  EXPECT_EQ((*batch)[1]->version, 3u);
  EXPECT_STATUS((*batch)[2], kNotFound);  // pruned
  ASSERT_OK((*batch)[3]);
  EXPECT_EQ(Str((*batch)[3]->value), "by1");
  EXPECT_STATUS((*batch)[4], kNotFound);  // never existed
  EXPECT_STATUS((*batch)[5], kNotFound);  // destroyed
  EXPECT_STATUS((*batch)[6], kInvalidArgument);
  EXPECT_TRUE(store_->ReadVersions({})->empty());
}

// --- Listing
// ------------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, ListSecretsIsOrderedAndNeverMixesScopes) {
  for (const char* n : {"b", "a", "B", "ab"}) {
    ASSERT_OK(store_->SetSecret("a", n, V("x"), {}));
  }
  ASSERT_OK(store_->SetSecret("a:b", "c", V("x"), {}));
  ASSERT_OK(store_->SetSecret("A", "d", V("x"), {}));
  ASSERT_OK(store_->SetSecret("a%", "e", V("x"), {}));
  EXPECT_EQ(Names(*store_->ListSecrets("a")), Strings({"B", "a", "ab", "b"}));
  EXPECT_EQ(Names(*store_->ListSecrets("a:b")), Strings({"c"}));
  EXPECT_EQ(Names(*store_->ListSecrets("A")), Strings({"d"}));
  EXPECT_EQ(Names(*store_->ListSecrets("a%")), Strings({"e"}));
  EXPECT_TRUE(store_->ListSecrets("a:")->empty());
  EXPECT_TRUE(store_->ListSecrets("_")->empty());
  auto in_a = store_->ListSecrets("a");
  ASSERT_OK(in_a);
  for (const SecretMetadata& m : *in_a) EXPECT_EQ(m.scope, "a");
}

TEST_P(SecretStoreConformanceTest, ListPagesThroughEveryNameOnce) {
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    want.push_back(absl::StrCat("name", i < 10 ? "0" : "", i));
    ASSERT_OK(store_->SetSecret("prod", want.back(), V("x"), {}));
  }
  ASSERT_OK(store_->SetSecret("prod:more", "name99", V("x"), {}));
  std::vector<std::string> seen;
  ListOptions options;
  options.page_size = 10;
  int pages = 0;
  while (true) {
    auto page = store_->List("prod", options);
    ASSERT_OK(page);
    ++pages;
    ASSERT_LE(page->secrets.size(), 10u);
    for (const SecretMetadata& m : page->secrets) seen.push_back(m.name);
    if (page->next_page_token.empty()) break;
    options.page_token = page->next_page_token;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, want);
}

TEST_P(SecretStoreConformanceTest, ExactlyFullPageHasNoNextToken) {
  for (const char* n : {"a", "b"})
    ASSERT_OK(store_->SetSecret("s", n, V("x"), {}));
  ListOptions options;
  options.page_size = 2;
  auto page = store_->List("s", options);
  ASSERT_OK(page);
  EXPECT_EQ(page->secrets.size(), 2u);
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(SecretStoreConformanceTest, PrefixIsLiteralNotAPattern) {
  for (const char* n : {"a%", "a%b", "a_c", "abc", "_x", "b", "A%"}) {
    ASSERT_OK(store_->SetSecret("s", n, V("x"), {}));
  }
  const auto list = [&](const std::string& prefix) {
    ListOptions o;
    o.name_prefix = prefix;
    return Names(store_->List("s", o)->secrets);
  };
  EXPECT_EQ(list("a%"), Strings({"a%", "a%b"}));
  EXPECT_EQ(list("_"), Strings({"_x"}));
  EXPECT_EQ(list("a"), Strings({"a%", "a%b", "a_c", "abc"}));
  EXPECT_EQ(list("a_"), Strings({"a_c"}));
  EXPECT_EQ(list("A"), Strings({"A%"}));
  EXPECT_EQ(list("abcd"), Strings({}));
  EXPECT_EQ(list("\xff"), Strings({}));
  EXPECT_EQ(list(""), Strings({"A%", "_x", "a%", "a%b", "a_c", "abc", "b"}));
}

TEST_P(SecretStoreConformanceTest, PrefixCombinesWithPaging) {
  for (const char* n : {"app1", "app2", "app3", "apq", "ap"}) {
    ASSERT_OK(store_->SetSecret("s", n, V("x"), {}));
  }
  ListOptions o;
  o.name_prefix = "app";
  o.page_size = 2;
  auto first = store_->List("s", o);
  ASSERT_OK(first);
  EXPECT_EQ(Names(first->secrets), Strings({"app1", "app2"}));
  ASSERT_FALSE(first->next_page_token.empty());
  o.page_token = first->next_page_token;
  auto second = store_->List("s", o);
  ASSERT_OK(second);
  EXPECT_EQ(Names(second->secrets), Strings({"app3"}));
  EXPECT_TRUE(second->next_page_token.empty());
}

TEST_P(SecretStoreConformanceTest, MalformedPageTokenIsInvalidArgument) {
  ListOptions o;
  o.page_token = "not hex!";
  EXPECT_STATUS(store_->List("s", o), kInvalidArgument);
  o.page_token = "abc";  // odd length
  EXPECT_STATUS(store_->List("s", o), kInvalidArgument);
}

TEST_P(SecretStoreConformanceTest, ListReportsMetadataWithoutValues) {
  ASSERT_OK(store_->SetSecret("s", "k", V("a"), Keep(5)));
  clock_.Advance(absl::Seconds(30));
  ASSERT_OK(store_->SetSecret("s", "k", V("b"), {}));
  auto list = store_->ListSecrets("s");
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  const SecretMetadata& m = (*list)[0];
  EXPECT_EQ(m.scope, "s");
  EXPECT_EQ(m.version, 2u);
  EXPECT_EQ(m.created_at, kStart);
  EXPECT_EQ(m.updated_at, kStart + 30);
  EXPECT_EQ(m.max_versions, 5u);
  EXPECT_FALSE(m.deleted);
}

// --- Validation
// ---------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, InvalidInputIsRejectedAndNothingWritten) {
  const std::string too_long_name(kMaxNameBytes + 1, 'n');
  const std::string too_long_scope(kMaxScopeBytes + 1, 's');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"s", ""},
      {"s", "a/b"},
      {"s", "tab\there"},
      {"s", std::string("nul\0", 4)},
      {"s", "del\x7f"},
      {"s", "c1\xc2\x85"},
      {"s", "\xff\xfe"},
      {"s", "\xc0\xaf"},      // overlong '/'
      {"s", "\xed\xa0\x80"},  // surrogate
      {"s", too_long_name},
      {"", "k"},
      {"s\n", "k"},
      {"\x80", "k"},
      {too_long_scope, "k"},
  };
  for (const auto& [scope, name] : bad) {
    SCOPED_TRACE(
        absl::StrCat("scope size ", scope.size(), " name size ", name.size()));
    EXPECT_STATUS(store_->SetSecret(scope, name, V("canary"), {}),
                  kInvalidArgument);
    EXPECT_STATUS(store_->GetSecret(scope, name), kInvalidArgument);
    EXPECT_STATUS(store_->Exists(scope, name), kInvalidArgument);
    EXPECT_STATUS(store_->DeleteSecret(scope, name), kInvalidArgument);
  }
  EXPECT_STATUS(store_->SetSecret("s", "big",
                                  V(std::string(kMaxValueBytes + 1, 'x')), {}),
                kInvalidArgument);
  EXPECT_STATUS(store_->SetSecret("s", "k", V("x"), Keep(kMaxMaxVersions + 1)),
                kInvalidArgument);
  ListOptions with_deleted;
  with_deleted.include_deleted = true;
  EXPECT_TRUE(store_->List("s", with_deleted)->secrets.empty());
  EXPECT_STATUS(store_->ListSecrets(""), kInvalidArgument);

  // Limits are inclusive.
  ASSERT_OK(store_->SetSecret(std::string(kMaxScopeBytes, 's'),
                              std::string(kMaxNameBytes, 'n'), V("x"),
                              Keep(kMaxMaxVersions)));
}

TEST_P(SecretStoreConformanceTest, ErrorMessagesNeverEchoValues) {
  const std::string canary = "canary-7f3a";
  auto big = store_->SetSecret(
      "s", "k", V(canary + std::string(kMaxValueBytes, 'x')), {});
  EXPECT_EQ(big.status().message().find(canary), absl::string_view::npos);
  ASSERT_OK(store_->SetSecret("s", "k", V(canary), {}));
  auto cas = store_->SetSecret("s", "k", V(canary), Expect(0));
  EXPECT_EQ(cas.status().message().find(canary), absl::string_view::npos);
}

// --- Time
// ---------------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, TimestampsComeFromTheClock) {
  ASSERT_OK(store_->SetSecret("s", "k", V("a"), {}));
  clock_.Advance(absl::Seconds(100));
  auto m = store_->SetSecret("s", "k", V("b"), {});
  ASSERT_OK(m);
  EXPECT_EQ(m->created_at, kStart);
  EXPECT_EQ(m->updated_at, kStart + 100);
  auto meta = store_->GetMetadata("s", "k");
  EXPECT_EQ(meta->created_at, kStart);
  EXPECT_EQ(meta->updated_at, kStart + 100);
  auto versions = store_->ListVersions("s", "k");
  EXPECT_EQ((*versions)[0].created_at, kStart + 100);
  EXPECT_EQ((*versions)[1].created_at, kStart);
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(store_->DeleteSecret("s", "k"));
  ListOptions with_deleted;
  with_deleted.include_deleted = true;
  EXPECT_EQ(store_->List("s", with_deleted)->secrets[0].deleted_at,
            kStart + 101);
}

// --- Concurrency
// --------------------------------------------------------------

TEST_P(SecretStoreConformanceTest, ConcurrentWritersLoseNothing) {
  constexpr int kThreads = 6;
  constexpr int kWrites = 25;
  ASSERT_OK(
      store_->SetSecret("s", "shared", V("start"), Keep(kMaxMaxVersions)));
  std::atomic<int> read_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = absl::StrCat("own", t);
      for (int i = 0; i < kWrites; ++i) {
        if (!store_->SetSecret("s", "shared", V(absl::StrCat(t, ":", i)), {})
                 .ok() ||
            !store_->SetSecret("s", own, V(absl::StrCat(i)), {}).ok()) {
          read_failures++;
        }
        auto got = store_->GetSecret("s", own);
        if (!got.ok() || Str(*got) != absl::StrCat(i)) read_failures++;
        if (!store_->GetSecret("s", "shared").ok()) read_failures++;
        if (!store_->ReadBatch({{"s", "shared"}, {"s", own}}).ok()) {
          read_failures++;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(read_failures.load(), 0);
  const uint32_t total = 1 + kThreads * kWrites;
  EXPECT_EQ(store_->GetMetadata("s", "shared")->version, total);
  auto versions = store_->ListVersions("s", "shared");
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), total);
  // Dense: every version from total down to 1, each value written once.
  std::set<std::string> values;
  for (uint32_t i = 0; i < total; ++i) {
    EXPECT_EQ((*versions)[i].version, total - i);
    auto v = store_->GetVersioned("s", "shared", total - i);
    ASSERT_OK(v);
    values.insert(Str(v->value));
  }
  EXPECT_EQ(values.size(), total);
  for (int t = 0; t < kThreads; ++t) {
    auto m = store_->GetMetadata("s", absl::StrCat("own", t));
    ASSERT_OK(m);
    EXPECT_EQ(m->version, static_cast<uint32_t>(kWrites));
  }
}

TEST_P(SecretStoreConformanceTest, CheckAndSetSerialisesReadModifyWrite) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 15;
  ASSERT_OK(store_->SetSecret("s", "counter", V("0"), Keep(kMaxMaxVersions)));
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kIncrements;) {
        auto cur = store_->GetVersioned("s", "counter", 0);
        if (!cur.ok()) {
          errors++;
          return;
        }
        const int next = std::stoi(Str(cur->value)) + 1;
        auto w = store_->SetSecret("s", "counter", V(std::to_string(next)),
                                   Expect(cur->version));
        if (w.ok()) {
          ++done;
        } else if (w.status().code() != absl::StatusCode::kFailedPrecondition) {
          errors++;
          return;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Str(*store_->GetSecret("s", "counter")),
            std::to_string(kThreads * kIncrements));
  EXPECT_EQ(store_->GetMetadata("s", "counter")->version,
            static_cast<uint32_t>(1 + kThreads * kIncrements));
}

// --- Node affinity
// ----------------------------------------------------------

WriteOptions Pinned(std::vector<std::string> affinity) {
  WriteOptions o;
  o.node_affinity = std::move(affinity);
  return o;
}

TEST_P(SecretStoreConformanceTest,
       NodeAffinityRoundTripsAndIsKeptAcrossWrites) {
  const Strings pinned = {"label:zone=a", "node:n1"};
  auto m = store_->SetSecret("prod", "db", V("one"), Pinned(pinned));
  ASSERT_OK(m);
  EXPECT_EQ(m->node_affinity, pinned);
  EXPECT_EQ(store_->GetMetadata("prod", "db")->node_affinity, pinned);
  EXPECT_EQ(store_->GetWithMetadata("prod", "db", 0)->metadata.node_affinity,
            pinned);
  auto listed = store_->List("prod", {});
  ASSERT_OK(listed);
  ASSERT_EQ(listed->secrets.size(), 1u);
  EXPECT_EQ(listed->secrets[0].node_affinity, pinned);
  EXPECT_EQ((*store_->ListSecrets("prod"))[0].node_affinity, pinned);

  // Writes that do not name an affinity keep it: set, rotate, rollback,
  // delete and undelete.
  ASSERT_OK(store_->SetSecret("prod", "db", V("two"), {}));
  ASSERT_OK(store_->RotateSecret("prod", "db", V("three")));
  ASSERT_OK(store_->RollbackSecret("prod", "db", 1));
  ASSERT_OK(store_->DeleteSecret("prod", "db"));
  ASSERT_OK(store_->UndeleteSecret("prod", "db"));
  EXPECT_EQ(store_->GetMetadata("prod", "db")->node_affinity, pinned);
  EXPECT_EQ(store_->GetMetadata("prod", "db")->version, 4u);

  // A new list replaces it; an empty one clears it.
  ASSERT_OK(store_->SetSecret("prod", "db", V("five"), Pinned({"node:n2"})));
  EXPECT_EQ(store_->GetMetadata("prod", "db")->node_affinity,
            Strings{"node:n2"});
  ASSERT_OK(store_->SetSecret("prod", "db", V("six"), Pinned({})));
  EXPECT_TRUE(store_->GetMetadata("prod", "db")->node_affinity.empty());

  // Other secrets have none, and a destroyed secret's affinity is gone.
  ASSERT_OK(store_->SetSecret("prod", "other", V("x"), {}));
  EXPECT_TRUE(store_->GetMetadata("prod", "other")->node_affinity.empty());
  ASSERT_OK(store_->SetSecret("prod", "gone", V("x"), Pinned({"node:n1"})));
  ASSERT_OK(store_->DestroySecret("prod", "gone"));
  ASSERT_OK(store_->SetSecret("prod", "gone", V("y"), {}));
  EXPECT_TRUE(store_->GetMetadata("prod", "gone")->node_affinity.empty());
}

TEST_P(SecretStoreConformanceTest, NonCanonicalNodeAffinityIsRejected) {
  for (const Strings& bad :
       {Strings{"n1"}, Strings{"node:n2", "node:n1"},
        Strings{"node:n1", "node:n1"}, Strings{"node:"}, Strings{"node:a,b"},
        Strings{"label:zone"}, Strings{"zone=a"}, Strings{"node:a b"}}) {
    EXPECT_STATUS(store_->SetSecret("prod", "db", V("v"), Pinned(bad)),
                  kInvalidArgument);
  }
  EXPECT_STATUS(store_->GetMetadata("prod", "db"), kNotFound);
}

}  // namespace
}  // namespace zlayer::secrets::testing
