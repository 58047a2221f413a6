// SQLite batches on real files, through the store's own classes: statements prepared once and
// reused by every batch, chunks of a transaction within their bound, refusals in a later chunk,
// key order, and the journal mode left as it is.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"
#include "store/sql/policy_spec.h"
#include "store/sqlite/sqlite_batches.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_executor.h"
#include "store/sqlite/sqlite_store.h"
#include "store/table_names.h"

namespace batch_cleanup::testing {
namespace {

using namespace std::chrono_literals;
using store::BatchEvent;
using store::BatchResult;
using store::RowDetail;

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// One connection and the batches of `config` over it, as the store wires them.
class Rig {
 public:
  Rig(std::string path, CleanupConfig config, bool key_mode = false)
      : path_(std::move(path)),
        config_(std::move(config)),
        names_(config_, store::sqlite::sqlite_dialect()),
        executor_(connection_, config_.min_age, config_.expire_after),
        key_mode_(key_mode) {
    open();
  }

  // Opens the file again (the kept statements of the old handle are gone) and rebuilds the
  // batches over the new one.
  void open() {
    connection_.open(path_, false, 5s, 30s);
    catalog_ = store::sqlite::inspect_catalog(connection_, names_, config_);
    const auto spec = store::sql::policy_predicate(
        executor_, config_, store::sqlite::predicate_columns(catalog_, names_));
    batches_ = std::make_unique<store::sqlite::SqliteBatches>(
        connection_, executor_,
        store::sqlite::batch_setup(config_, catalog_, names_, spec,
                                   key_mode_ || catalog_.rowid.empty()));
  }

  store::sqlite::SqliteBatches& batches() { return *batches_; }

  BatchResult next(std::int64_t target, RowDetail detail = RowDetail::kCounts,
                   std::int64_t max_rows = 0) {
    return batches_->run_next_batch({target, detail, /*track_commit_lsn=*/false, max_rows});
  }

  // The statements prepared on the handle now.
  std::set<sqlite3_stmt*> statements() {
    std::set<sqlite3_stmt*> out;
    for (sqlite3_stmt* s = sqlite3_next_stmt(connection_.handle(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(connection_.handle(), s)) {
      out.insert(s);
    }
    return out;
  }

  // A whole pass; stops after `limit` batches.
  std::vector<BatchResult> pass(std::int64_t target, RowDetail detail = RowDetail::kCounts,
                                int limit = 100000) {
    batches_->begin_pass();
    std::vector<BatchResult> out;
    while (static_cast<int>(out.size()) < limit) {
      out.push_back(next(target, detail));
      if (out.back().exhausted) break;
    }
    return out;
  }

 private:
  std::string path_;
  CleanupConfig config_;
  store::TableNames names_;
  store::sqlite::SqliteConnection connection_;
  store::sqlite::SqliteExecutor executor_;
  store::sqlite::SqliteCatalog catalog_;
  bool key_mode_;
  std::unique_ptr<store::sqlite::SqliteBatches> batches_;
};

struct Totals {
  long long matched = 0;
  long long deleted = 0;
  long long no_longer_matching = 0;
  PolicyCounts by_policy;
  std::set<std::string> keys;       // of the deleted rows, when returned
  std::vector<std::string> failed;  // keys of the refused rows
  std::map<BatchEvent::Kind, int> events;
};

Totals totals(const std::vector<BatchResult>& results) {
  Totals t;
  for (const auto& r : results) {
    EXPECT_EQ(r.matched, r.deleted + r.skipped + r.no_longer_matching +
                             static_cast<std::int64_t>(r.failures.size()));
    t.matched += r.matched;
    t.deleted += r.deleted;
    t.no_longer_matching += r.no_longer_matching;
    t.by_policy.email += r.deleted_by_policy.email;
    t.by_policy.phone += r.deleted_by_policy.phone;
    t.by_policy.expired += r.deleted_by_policy.expired;
    for (const auto& row : r.deleted_rows) t.keys.insert(row.key);
    for (const auto& f : r.failures) t.failed.push_back(f.row.key);
    for (const auto& e : r.events) ++t.events[e.kind];
  }
  return t;
}

class SqliteBatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = make_test_database(TestBackend::kSqlite);
    path_ = db_->url().substr(std::string("sqlite:").size());
    db_->create_original_schema();
  }

  std::unique_ptr<TestDatabase> db_;
  std::string path_;
};

// Users u0..u299 (emails user<i>, phones tel-<i>) and pending p0..p599: p0..p299 share a
// user's email (p0..p49 were created just now, p55 is exempt), p300..p399 a user's phone,
// p400..p499 are 40 days old, p500..p599 match nothing.
void policy_rows(TestDatabase& db) {
  db.insert_users(0, 300);
  db.exec("UPDATE core_mstr_one_qlick_users_tbl SET phone = 'tel-' || substr(user_id, 2)");
  db.exec("ALTER TABLE core_mstr_one_qlick_pending_users_tbl ADD COLUMN created_at TEXT");
  db.insert_pending(0, 600);
  db.exec(
      "UPDATE core_mstr_one_qlick_pending_users_tbl SET email = 'new' || substr(pending_user_id, "
      "2) || '@example.com' WHERE CAST(substr(pending_user_id, 2) AS INTEGER) >= 300");
  db.exec(
      "UPDATE core_mstr_one_qlick_pending_users_tbl SET phone = 'tel-' || "
      "(CAST(substr(pending_user_id, 2) AS INTEGER) - 300) WHERE CAST(substr(pending_user_id, 2) "
      "AS INTEGER) BETWEEN 300 AND 399");
  db.exec(
      "UPDATE core_mstr_one_qlick_pending_users_tbl SET created_at = CASE WHEN "
      "CAST(substr(pending_user_id, 2) AS INTEGER) < 50 THEN strftime('%Y-%m-%d %H:%M:%S', 'now') "
      "WHEN CAST(substr(pending_user_id, 2) AS INTEGER) BETWEEN 400 AND 499 THEN "
      "strftime('%Y-%m-%d %H:%M:%S', 'now', '-40 days') ELSE strftime('%Y-%m-%d %H:%M:%S', "
      "'now', '-2 hours') END");
}

CleanupConfig policy_config() {
  CleanupConfig config;
  config.match_email = true;
  config.match_phone = true;
  config.phone_column = "phone";
  config.created_column = "created_at";
  config.expire_after = std::chrono::hours(24 * 30);
  config.min_age = std::chrono::hours(1);
  config.exclude_emails = {"USER55@example.com "};
  return config;
}

std::set<std::string> expected_policy_deletions() {
  std::set<std::string> keys;
  for (int i = 50; i < 500; ++i) {
    if (i != 55) keys.insert("p" + std::to_string(i));
  }
  return keys;
}

class SqlitePolicyBatchesTest : public SqliteBatchesTest,
                                public ::testing::WithParamInterface<RowDetail> {};

TEST_P(SqlitePolicyBatchesTest, EveryBatchReusesStatementsPreparedOnceAndDeletesExactly) {
  policy_rows(*db_);
  const auto before = db_->dump(kPending, "pending_user_id");
  Rig rig(path_, policy_config());
  rig.batches().begin_pass();
  std::vector<BatchResult> results;
  std::vector<std::set<sqlite3_stmt*>> prepared;  // after each batch
  while (true) {
    results.push_back(rig.next(7, GetParam()));
    prepared.push_back(rig.statements());
    if (results.back().exhausted) break;
  }
  ASSERT_GE(results.size(), 10u) << "the table should take many batches";
  // Past the first batch (which also prepares the statements for a cursor), no statement is
  // prepared again or added, until the last one (the range that reaches the end of the table).
  for (std::size_t i = 2; i + 1 < prepared.size(); ++i) {
    EXPECT_EQ(prepared[i], prepared[1]) << "batch " << i + 1 << " prepared a statement again";
  }
  EXPECT_LE(prepared.back().size(), 14u);

  Totals t = totals(results);
  const auto expected = expected_policy_deletions();
  EXPECT_EQ(t.deleted, static_cast<long long>(expected.size()));
  EXPECT_EQ(t.by_policy.email, 249);
  EXPECT_EQ(t.by_policy.phone, 100);
  EXPECT_EQ(t.by_policy.expired, 100);
  EXPECT_TRUE(t.failed.empty());
  if (GetParam() != RowDetail::kCounts) {
    EXPECT_EQ(t.keys, expected);
  }
  if (GetParam() == RowDetail::kWholeRows) {
    for (const auto& r : results) {
      for (const auto& row : r.deleted_rows) {
        const auto json = nlohmann::json::parse(row.row_json);
        EXPECT_EQ(json["pending_user_id"], row.key);
        EXPECT_EQ(json["email"], row.email);
        EXPECT_TRUE(json.contains("created_at"));
      }
    }
  }
  for (const auto& r : results) {
    for (const auto& row : r.deleted_rows) {
      const int i = std::stoi(row.key.substr(1));
      EXPECT_EQ(row.reason, i < 300   ? "email exists in users"
                            : i < 400 ? "phone exists in users"
                                      : "expired")
          << row.key;
    }
  }
  // What is left: the young rows, the exempt one, the rows no policy matches.
  const auto kept = db_->keys();
  EXPECT_EQ(kept.size(), 600 - expected.size());
  for (const auto& key : expected) EXPECT_EQ(kept.count(key), 0u) << key;
  EXPECT_EQ(kept.count("p55"), 1u);
  EXPECT_EQ(kept.count("p0"), 1u);
  EXPECT_EQ(kept.count("p599"), 1u);
  EXPECT_NE(db_->dump(kPending, "pending_user_id"), before);
}

INSTANTIATE_TEST_SUITE_P(Details, SqlitePolicyBatchesTest,
                         ::testing::Values(RowDetail::kCounts, RowDetail::kKeys,
                                           RowDetail::kWholeRows),
                         [](const ::testing::TestParamInfo<RowDetail>& param) {
                           switch (param.param) {
                             case RowDetail::kCounts:
                               return std::string("counts");
                             case RowDetail::kKeys:
                               return std::string("keys");
                             case RowDetail::kWholeRows:
                               break;
                           }
                           return std::string("whole_rows");
                         });

TEST_F(SqliteBatchesTest, ATransactionTakesUpToFourChunksAndNeverMoreThanItsBound) {
  db_->insert_users(0, 1000);
  db_->insert_pending(0, 1000);
  Rig rig(path_, CleanupConfig{});
  rig.batches().begin_pass();
  // Chunks of 10 rows take far less than the hold budget: the first batch takes all four.
  const auto first = rig.next(10);
  EXPECT_EQ(first.deleted, 40);
  // --max-deletes' remainder caps the chunks.
  const auto capped = rig.next(10, RowDetail::kCounts, 13);
  EXPECT_EQ(capped.deleted, 13);
  const auto smaller = rig.next(10, RowDetail::kCounts, 4);
  EXPECT_EQ(smaller.deleted, 10) << "a batch still takes its target rows";
  long long deleted = first.deleted + capped.deleted + smaller.deleted;
  while (true) {
    const auto r = rig.next(10);
    EXPECT_LE(r.deleted, 40);
    deleted += r.deleted;
    if (r.exhausted) break;
  }
  EXPECT_EQ(deleted, 1000);
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_F(SqliteBatchesTest, ARowRefusedInALaterChunkIsIsolatedAndTheRestCommits) {
  db_->insert_users(0, 200);
  db_->insert_pending(0, 200);
  db_->exec(
      "CREATE TABLE child (id INTEGER PRIMARY KEY, pending_id TEXT REFERENCES "
      "core_mstr_one_qlick_pending_users_tbl (pending_user_id)); INSERT INTO child (pending_id) "
      "VALUES ('p25')");
  Rig rig(path_, CleanupConfig{});
  Totals t = totals(rig.pass(10, RowDetail::kKeys));
  EXPECT_EQ(t.deleted, 199);
  EXPECT_EQ(t.failed, std::vector<std::string>{"p25"});
  EXPECT_EQ(t.events[BatchEvent::Kind::kBatchRefused], 1);
  EXPECT_EQ(t.keys.count("p25"), 0u);
  EXPECT_EQ(db_->keys(), std::set<std::string>{"p25"});
}

TEST_F(SqliteBatchesTest, ATriggerRollingBackTheTransactionInALaterChunkLosesNoRow) {
  db_->insert_users(0, 200);
  db_->insert_pending(0, 200);
  db_->exec(
      "CREATE TRIGGER refuse BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl WHEN "
      "OLD.pending_user_id = 'p25' BEGIN SELECT RAISE(ROLLBACK, 'p25 stays'); END");
  Rig rig(path_, CleanupConfig{});
  const auto results = rig.pass(10, RowDetail::kKeys);
  Totals t = totals(results);
  EXPECT_EQ(t.deleted, 199);
  EXPECT_EQ(t.failed, std::vector<std::string>{"p25"});
  EXPECT_GE(t.events[BatchEvent::Kind::kTransactionRolledBack], 1);
  EXPECT_EQ(static_cast<long long>(t.keys.size()), t.deleted) << "a row counted twice";
  EXPECT_EQ(db_->keys(), std::set<std::string>{"p25"});
}

TEST_F(SqliteBatchesTest, ADeferredForeignKeyRefusingTheCommitLosesNoRow) {
  db_->insert_users(0, 200);
  db_->insert_pending(0, 200);
  db_->exec(
      "CREATE TABLE child (id INTEGER PRIMARY KEY, pending_id TEXT REFERENCES "
      "core_mstr_one_qlick_pending_users_tbl (pending_user_id) DEFERRABLE INITIALLY DEFERRED); "
      "INSERT INTO child (pending_id) VALUES ('p15')");
  Rig rig(path_, CleanupConfig{});
  Totals t = totals(rig.pass(10, RowDetail::kKeys));
  EXPECT_EQ(t.deleted, 199);
  EXPECT_EQ(t.failed, std::vector<std::string>{"p15"});
  EXPECT_GE(t.events[BatchEvent::Kind::kCommitRefused], 1);
  EXPECT_EQ(static_cast<long long>(t.keys.size()), t.deleted);
  EXPECT_EQ(db_->keys(), std::set<std::string>{"p15"});
}

TEST_F(SqliteBatchesTest, KeyOrderChunksOnAWithoutRowidTable) {
  db_->exec(
      "DROP TABLE core_mstr_one_qlick_pending_users_tbl; CREATE TABLE "
      "core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, email TEXT, "
      "phone TEXT, full_name TEXT) WITHOUT ROWID");
  db_->insert_users(0, 300);
  db_->insert_pending(0, 500);  // p0..p299 match
  db_->exec(
      "CREATE TABLE child (id INTEGER PRIMARY KEY, pending_id TEXT REFERENCES "
      "core_mstr_one_qlick_pending_users_tbl (pending_user_id)); INSERT INTO child (pending_id) "
      "VALUES ('p123')");
  Rig rig(path_, CleanupConfig{});
  const auto results = rig.pass(9, RowDetail::kKeys);
  Totals t = totals(results);
  EXPECT_EQ(t.deleted, 299);
  EXPECT_EQ(t.by_policy.email, 299);
  EXPECT_EQ(t.failed, std::vector<std::string>{"p123"});
  for (const auto& r : results)
    EXPECT_LE(r.deleted + static_cast<long long>(r.failures.size()), 36);
  EXPECT_EQ(db_->count(kPending), 201);
}

TEST_F(SqliteBatchesTest, AReopenedConnectionPreparesItsStatementsAgain) {
  db_->insert_users(0, 500);
  db_->insert_pending(0, 500);
  Rig rig(path_, CleanupConfig{});
  const auto first = rig.pass(10, RowDetail::kCounts, 2);
  ASSERT_EQ(first.size(), 2u);
  const long long done = first[0].deleted + first[1].deleted;
  rig.open();  // as after a reconnect: the old handle closed with its statements
  const Totals rest = totals(rig.pass(10));
  EXPECT_EQ(done + rest.deleted, 500);
  EXPECT_EQ(db_->count(kPending), 0);
}

// Through the binary: the file's journal mode is never changed, with or without the opt-in
// cache, and the opt-in is not persistent.
class SqliteJournalTest : public SqliteBatchesTest,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(SqliteJournalTest, CleansExactlyAndLeavesTheJournalModeAsItWas) {
  db_->insert_users(0, 3000);
  db_->insert_pending(1000, 4000);  // p1000..p2999 match
  db_->scalar(std::string("PRAGMA journal_mode = ") + GetParam());
  const auto mode = db_->scalar("PRAGMA journal_mode");
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--sqlite-cache-mb", "16"}}) {
    std::vector<std::string> args = {"--run-once", "--output",       "json",    "--batch-size",
                                     "100",        "--database-url", db_->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = run_tool(args);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto report = last_json_report(result);
    EXPECT_EQ(report["deleted"], extra.empty() ? 2000 : 0);
    EXPECT_EQ(db_->count(kPending), 2000);
    EXPECT_EQ(db_->scalar("PRAGMA journal_mode"), mode);
    auto fresh = db_->another_connection();
    EXPECT_EQ(fresh->scalar("PRAGMA journal_mode"), mode);
    EXPECT_EQ(fresh->scalar("PRAGMA cache_size"), "-2000") << "the cache size is not persistent";
  }
  const auto refused =
      run_tool({"--run-once", "--sqlite-cache-mb", "5000", "--database-url", db_->url()});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--sqlite-cache-mb"), std::string::npos) << refused.err;
}

INSTANTIATE_TEST_SUITE_P(Modes, SqliteJournalTest, ::testing::Values("delete", "wal"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace batch_cleanup::testing
