// Archive and restore: every deleted row lands, whole, in the archive table in the same
// transaction; restore puts rows back and never overwrites; retention purges old rows.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class ArchiveTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json"});
    return run_on_db(std::move(args));
  }
  // Pending rows as "key|email|phone|full_name" lines, in key order.
  std::string rows_of(const std::string& table, const std::string& where = "1=1") {
    std::string out;
    for (const auto& row : db_->query("SELECT pending_user_id, email, phone, full_name FROM " +
                                      table + " WHERE " + where + " ORDER BY pending_user_id")) {
      for (const auto& v : row) out += v.value_or("NULL") + "|";
      out += "\n";
    }
    return out;
  }
};

TEST_P(ArchiveTest, ArchiveHoldsExactlyTheDeletedRowsWhole) {
  db_->insert_users(0, 1000);
  db_->insert_pending(500, 1000);  // p500..p999 match
  db_->exec("UPDATE core_mstr_one_qlick_pending_users_tbl SET phone = 'tel-' || pending_user_id");
  const std::string matching_before =
      rows_of(kPending, "email IN (SELECT email FROM core_mstr_one_qlick_users_tbl)");
  const auto result = run({"--run-once", "--batch-size", "70", "--archive-table", "bc_archive"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 500);
  EXPECT_EQ(report["archived"], 500);
  // 70 rows per batch; a batch holds at most 4x that (PostgreSQL's page ranges, SQLite's chunks).
  EXPECT_GE(report["batches"].get<int>(), 2);
  EXPECT_EQ(rows_of("bc_archive"), matching_before);
  EXPECT_EQ(db_->count(kPending), 500);
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT cycle_id) FROM bc_archive"), "1");
  EXPECT_EQ(db_->scalar("SELECT min(cycle_id) FROM bc_archive"), report["cycle_id"]);
  EXPECT_EQ(db_->scalar("SELECT min(reason) || '/' || max(reason) FROM bc_archive"),
            "email exists in users/email exists in users");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive WHERE archived_at IS NULL"), "0");
}

TEST_P(ArchiveTest, RowsARefusalKeepsAreNotArchived) {
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  db_->exec(db_->is_mariadb()
                ? "CREATE TABLE refs (id VARCHAR(64) PRIMARY KEY, pending_id VARCHAR(191), "
                  "FOREIGN KEY (pending_id) REFERENCES core_mstr_one_qlick_pending_users_tbl "
                  "(pending_user_id) ON DELETE RESTRICT);"
                  "INSERT INTO refs VALUES ('r1', 'p2')"
                : "CREATE TABLE refs (id TEXT PRIMARY KEY, pending_id TEXT REFERENCES "
                  "core_mstr_one_qlick_pending_users_tbl (pending_user_id) ON DELETE RESTRICT);"
                  "INSERT INTO refs VALUES ('r1', 'p2')");
  const auto result = run({"--run-once", "--archive-table", "bc_archive"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p2"}));
  EXPECT_EQ(db_->keys("bc_archive"), (std::set<std::string>{"p0", "p1", "p3", "p4"}));
}

TEST_P(ArchiveTest, ExistingTableWithoutTheColumnsIsRefused) {
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  db_->exec("CREATE TABLE bc_archive (pending_user_id VARCHAR(191), email TEXT)");
  const auto result = run({"--run-once", "--archive-table", "bc_archive"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("archive table 'bc_archive' has no column 'archived_at'. HINT:"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(db_->count(kPending), 5);
}

TEST_P(ArchiveTest, RestoreByCyclePutsRowsBackAndSkipsConflicts) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  db_->exec("UPDATE core_mstr_one_qlick_pending_users_tbl SET phone = 'tel-' || pending_user_id");
  const std::string first_rows = rows_of(kPending);
  const auto first = run({"--run-once", "--archive-table", "bc_archive"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string first_cycle = last_json_report(first)["cycle_id"];
  db_->insert_pending(5, 5);  // a second cycle's rows
  const auto second = run({"--run-once", "--archive-table", "bc_archive"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(db_->count("bc_archive"), 10);

  // The application meanwhile re-created p1 (same key) and a sign-up with p3's email.
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, phone) VALUES "
      "('p1', 'new1@example.com', 'new'), ('n3', 'user3@example.com', 'new')");

  const auto dry =
      run({"restore", "--archive-table", "bc_archive", "--cycle", first_cycle, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.err;
  EXPECT_EQ(last_json_report(dry)["restored"], 3);
  EXPECT_EQ(db_->count(kPending), 2);
  EXPECT_EQ(db_->count("bc_archive"), 10);

  const auto restored = run({"restore", "--archive-table", "bc_archive", "--cycle", first_cycle});
  EXPECT_EQ(restored.exit_code, 1) << restored.err;
  const auto report = last_json_report(restored);
  EXPECT_EQ(report["selected"], 5);
  EXPECT_EQ(report["restored"], 3);
  EXPECT_EQ(report["skipped"], 2);
  ASSERT_EQ(report["conflicts"].size(), 2u) << report.dump();
  EXPECT_EQ(report["conflicts"][0]["key"], "p1");
  EXPECT_EQ(report["conflicts"][0]["reason"], "key exists in the pending table");
  EXPECT_EQ(report["conflicts"][1]["key"], "p3");
  EXPECT_EQ(report["conflicts"][1]["reason"], "email exists in the pending table");
  EXPECT_EQ(report["conflicts"][1]["email"], "u***@example.com");
  // Restored rows are back whole; the conflicting ones were not touched.
  EXPECT_EQ(rows_of(kPending, "pending_user_id IN ('p0', 'p2', 'p4')"),
            "p0|user0@example.com|tel-p0|Pending 0|\np2|user2@example.com|tel-p2|Pending 2|\n"
            "p4|user4@example.com|tel-p4|Pending 4|\n");
  EXPECT_EQ(db_->scalar("SELECT email FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id = 'p1'"),
            "new1@example.com");
  EXPECT_EQ(db_->keys("bc_archive"),
            (std::set<std::string>{"p1", "p3", "p5", "p6", "p7", "p8", "p9"}));
  (void)first_rows;
}

TEST_P(ArchiveTest, RestoreSinceSelectsByArchiveTime) {
  db_->insert_users(0, 4);
  db_->insert_pending(0, 4);
  ASSERT_EQ(run({"--run-once", "--archive-table", "bc_archive"}).exit_code, 0);
  const auto none = run({"restore", "--archive-table", "bc_archive", "--since", "2999-01-01"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(last_json_report(none)["selected"], 0);
  const auto all = run({"restore", "--archive-table", "bc_archive", "--since", "1h"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(last_json_report(all)["restored"], 4);
  EXPECT_EQ(db_->count(kPending), 4);
  EXPECT_EQ(db_->count("bc_archive"), 0);
}

TEST_P(ArchiveTest, RestoreNeedsAnExistingArchive) {
  db_->insert_users(0, 1);
  const auto missing = run({"restore", "--archive-table", "no_such_archive"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("archive table 'no_such_archive' does not exist. HINT: check "
                             "--archive-table"),
            std::string::npos)
      << missing.err;
  const auto unnamed = run({"restore"});
  EXPECT_EQ(unnamed.exit_code, 2) << unnamed.err;
  EXPECT_NE(unnamed.err.find("restore needs --archive-table"), std::string::npos) << unnamed.err;
}

TEST_P(ArchiveTest, RetentionPurgesOnlyOldArchiveRows) {
  db_->insert_users(0, 6);
  db_->insert_pending(0, 3);
  ASSERT_EQ(run({"--run-once", "--archive-table", "bc_archive"}).exit_code, 0);
  // Age the first cycle's rows by 40 days.
  db_->exec(db_->is_postgres() ? "UPDATE bc_archive SET archived_at = archived_at - interval "
                                 "'40 days'"
            : db_->is_mariadb()
                ? "UPDATE bc_archive SET archived_at = archived_at - INTERVAL 40 DAY"
                : "UPDATE bc_archive SET archived_at = strftime('%Y-%m-%dT%H:%M:%fZ', "
                  "archived_at, '-40 days')");
  db_->insert_pending(3, 3);
  const auto result = run({"--run-once", "--archive-table", "bc_archive", "--archive-retention",
                           "30d", "--batch-size", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["archive_purged"], 3);
  EXPECT_EQ(db_->keys("bc_archive"), (std::set<std::string>{"p3", "p4", "p5"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
