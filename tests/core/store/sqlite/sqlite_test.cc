#include "core/store/sqlite/sqlite.h"

#include <fstream>
#include <memory>
#include <string>

#include "tests/testutil/status_testing.h"
#include "tests/testutil/temp_dir.h"

namespace zlayer::secrets {
namespace {

using testing::MakeTempDir;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = MakeTempDir() + "/t.sqlite";
    auto db = Database::Open(path_, {});
    ASSERT_OK(db);
    db_ = *std::move(db);
    ASSERT_OK(
        db_->Execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, n INTEGER);"
                     "CREATE TABLE c (x INTEGER CHECK (x > 0))"));
  }

  absl::Status Insert(absl::string_view k, absl::string_view v, int64_t n) {
    auto st = db_->Prepare("INSERT INTO t (k, v, n) VALUES (?1, ?2, ?3)");
    if (!st.ok()) return st.status();
    if (auto s = (*st)->BindText(1, k); !s.ok()) return s;
    if (auto s = (*st)->BindBlob(2, v); !s.ok()) return s;
    if (auto s = (*st)->BindInt64(3, n); !s.ok()) return s;
    return (*st)->Run();
  }

  int64_t Count() { return *db_->QueryInt64("SELECT COUNT(*) FROM t"); }

  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteTest, BindsAndReadsEveryType) {
  const std::string blob("\0\x01\xff", 3);
  ASSERT_OK(Insert("key", blob, -42));
  auto st = db_->Prepare("SELECT k, v, n FROM t WHERE k = ?1");
  ASSERT_OK(st);
  ASSERT_OK((*st)->BindText(1, "key"));
  auto row = (*st)->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ((*st)->ColumnText(0), "key");
  EXPECT_EQ((*st)->ColumnBlob(1), blob);
  EXPECT_EQ((*st)->ColumnInt64(2), -42);
  EXPECT_FALSE((*st)->ColumnIsNull(1));
  auto done = (*st)->Step();
  ASSERT_OK(done);
  EXPECT_FALSE(*done);
}

TEST_F(SqliteTest, EmptyValuesBindAsEmptyNotNull) {
  ASSERT_OK(Insert("", "", 0));
  EXPECT_EQ(*db_->QueryInt64("SELECT COUNT(*) FROM t WHERE k = '' AND "
                             "v IS NOT NULL AND length(v) = 0"),
            1);
}

TEST_F(SqliteTest, CachedStatementIsResetBetweenLoans) {
  ASSERT_OK(Insert("a", "1", 1));
  ASSERT_OK(Insert("b", "2", 2));  // same cached INSERT, bindings cleared
  {
    auto st = db_->Prepare("SELECT k FROM t ORDER BY k");
    ASSERT_OK(st);
    ASSERT_TRUE(*(*st)->Step());  // left mid-way on purpose
  }
  auto st = db_->Prepare("SELECT k FROM t ORDER BY k");
  ASSERT_OK(st);
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_EQ((*st)->ColumnText(0), "a");
}

TEST_F(SqliteTest, PrepareTakesOneStatement) {
  EXPECT_STATUS(db_->Prepare("SELECT 1; SELECT 2"), kInvalidArgument);
  EXPECT_STATUS(db_->Prepare("   "), kInvalidArgument);
  EXPECT_STATUS(db_->Prepare("SELEKT 1"), kInternal);
}

TEST_F(SqliteTest, ConstraintErrorsMapToStatusCodes) {
  ASSERT_OK(Insert("a", "1", 1));
  EXPECT_STATUS(Insert("a", "2", 2), kAlreadyExists);
  EXPECT_STATUS(db_->Execute("INSERT INTO c (x) VALUES (0)"),
                kFailedPrecondition);
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  {
    auto txn = Transaction::Begin(db_.get(), TransactionMode::kImmediate);
    ASSERT_OK(txn);
    ASSERT_OK(Insert("a", "1", 1));
  }
  EXPECT_EQ(Count(), 0);
  {
    auto txn = Transaction::Begin(db_.get(), TransactionMode::kImmediate);
    ASSERT_OK(txn);
    ASSERT_OK(Insert("a", "1", 1));
    ASSERT_OK(txn->Commit());
    EXPECT_STATUS(txn->Commit(), kFailedPrecondition);
  }
  EXPECT_EQ(Count(), 1);
  {
    auto txn = Transaction::Begin(db_.get(), TransactionMode::kDeferred);
    ASSERT_OK(txn);
    ASSERT_OK(Insert("b", "2", 2));
    ASSERT_OK(txn->Rollback());
  }
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteTest, BusyWriterIsUnavailableAfterTimeout) {
  DatabaseOptions quick;
  quick.busy_timeout = absl::Milliseconds(1);
  auto other = Database::Open(path_, quick);
  ASSERT_OK(other);
  ASSERT_OK(db_->QueryText("PRAGMA journal_mode = WAL"));
  auto held = Transaction::Begin(db_.get(), TransactionMode::kImmediate);
  ASSERT_OK(held);
  EXPECT_STATUS(Transaction::Begin(other->get(), TransactionMode::kImmediate),
                kUnavailable);
}

TEST(SqliteOpenTest, NotADatabaseIsDataLoss) {
  const std::string path = MakeTempDir() + "/junk";
  std::ofstream(path) << std::string(1024, 'j');
  auto db = Database::Open(path, {});
  ASSERT_OK(db);  // SQLite reads the header lazily
  EXPECT_STATUS((*db)->QueryText("PRAGMA journal_mode"), kDataLoss);
}

TEST(SqliteOpenTest, UnopenablePathIsUnavailable) {
  EXPECT_STATUS(Database::Open(MakeTempDir() + "/no/such/dir/db", {}),
                kUnavailable);
}

TEST(SqliteStatusTest, MapsResultCodes) {
  EXPECT_TRUE(SqliteStatus(SQLITE_OK, nullptr, "x").ok());
  EXPECT_EQ(SqliteStatus(SQLITE_FULL, nullptr, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_IOERR_FSYNC, nullptr, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_READONLY, nullptr, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_BUSY, nullptr, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_CORRUPT, nullptr, "x").code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(SqliteStatus(SQLITE_NOTADB, nullptr, "x").code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_UNIQUE, nullptr, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_FOREIGNKEY, nullptr, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SqliteStatus(SQLITE_MISUSE, nullptr, "x").code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace zlayer::secrets
