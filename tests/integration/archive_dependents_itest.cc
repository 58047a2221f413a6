// Cascaded rows archived and restored: with --archive-table, the rows an ON DELETE CASCADE
// foreign key deletes with a pending row (and their own cascaded rows) are archived in the same
// transaction, into "<archive>__<table>", and restore puts the pending rows back first, then
// their children, then the grandchildren, byte for byte.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class ArchiveDependentsTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
    // The schema: OTP codes of a pending row or of a user, and their attempts.
    db_->exec(
        "CREATE TABLE otp_verifications (otp_id TEXT PRIMARY KEY, pending_user_id TEXT "
        "REFERENCES core_mstr_one_qlick_pending_users_tbl (pending_user_id) ON DELETE CASCADE, "
        "user_id TEXT REFERENCES core_mstr_one_qlick_users_tbl (user_id) ON DELETE CASCADE, "
        "code TEXT NOT NULL, sent_at TEXT, CHECK ((user_id IS NULL) <> (pending_user_id IS "
        "NULL)));"
        "CREATE TABLE otp_attempts (attempt_id TEXT PRIMARY KEY, otp_id TEXT NOT NULL "
        "REFERENCES otp_verifications (otp_id) ON DELETE CASCADE, entered TEXT)");
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json"});
    return run_on_db(std::move(args));
  }
  void insert_codes() {
    db_->exec(std::string("UPDATE ") + kPending + " SET phone = 'tel-' || pending_user_id");
    for (int p = 0; p < 5; ++p) {
      for (int n = 0; n < 2; ++n) {
        const std::string otp = "o" + std::to_string(p) + "-" + std::to_string(n);
        db_->exec("INSERT INTO otp_verifications VALUES ('" + otp + "', 'p" + std::to_string(p) +
                  "', NULL, '" + std::to_string(100000 + p * 10 + n) + "', " +
                  (n == 0 ? "NULL" : "'2026-12-07T10:00:00Z'") + ");" +
                  "INSERT INTO otp_attempts VALUES ('a" + otp + "', '" + otp + "', 'x" + otp +
                  "')");
      }
    }
    // A user's own code: no pending row, never touched.
    db_->exec("INSERT INTO otp_verifications VALUES ('ou', NULL, 'u9', '999999', NULL)");
  }
  std::string everything() {
    return db_->dump(kPending, "pending_user_id") + "--\n" +
           db_->dump("otp_verifications", "otp_id") + "--\n" +
           db_->dump("otp_attempts", "attempt_id");
  }
};

TEST_P(ArchiveDependentsTest, CascadedRowsAreArchivedAndRestoredByteIdentical) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  db_->insert_pending(20, 2);  // p20, p21: no users row, kept
  insert_codes();
  const std::string before = everything();

  const auto archived = run({"--run-once", "--archive-table", "bc_archive"});
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  EXPECT_EQ(last_json_report(archived)["deleted"], 5);
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p20", "p21"}));
  // The cascade took the codes and attempts; each is in its archive, whole, with the cycle.
  EXPECT_EQ(db_->count("otp_verifications"), 1);
  EXPECT_EQ(db_->count("otp_attempts"), 0);
  EXPECT_EQ(db_->count("bc_archive__otp_verifications"), 10);
  EXPECT_EQ(db_->count("bc_archive__otp_attempts"), 10);
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT cycle_id) FROM bc_archive__otp_attempts"), "1");
  // The report counts what the cascade took, the archive's copies not included.
  const auto dependents = last_json_report(archived)["dependents"];
  ASSERT_EQ(dependents.size(), 2u) << dependents.dump();
  for (const auto& d : dependents) {
    EXPECT_EQ(d["action"], "cascade") << dependents.dump();
    EXPECT_EQ(d["rows"], 10) << dependents.dump();
  }
  EXPECT_EQ(db_->scalar("SELECT min(cycle_id) FROM bc_archive__otp_verifications"),
            last_json_report(archived)["cycle_id"]);
  EXPECT_EQ(db_->scalar("SELECT code || '/' || coalesce(sent_at, 'NULL') FROM "
                        "bc_archive__otp_verifications WHERE otp_id = 'o3-1'"),
            "100031/2026-12-07T10:00:00Z");

  const auto dry = run({"restore", "--archive-table", "bc_archive", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(db_->count("otp_verifications"), 1);

  const auto restored = run({"restore", "--archive-table", "bc_archive"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  const auto report = last_json_report(restored);
  EXPECT_EQ(report["restored"], 5);
  ASSERT_EQ(report["dependents"].size(), 2u) << report.dump();
  EXPECT_EQ(report["dependents"][0]["table"], "otp_verifications");
  EXPECT_EQ(report["dependents"][0]["restored"], 10);
  EXPECT_EQ(report["dependents"][1]["table"], "otp_attempts");
  EXPECT_EQ(report["dependents"][1]["restored"], 10);
  EXPECT_EQ(everything(), before);
  EXPECT_EQ(db_->count("bc_archive"), 0);
  EXPECT_EQ(db_->count("bc_archive__otp_verifications"), 0);
  EXPECT_EQ(db_->count("bc_archive__otp_attempts"), 0);
}

// An archive file alone keeps the pending rows but not their cascaded codes: refused before
// anything is deleted, and the hint (an archive table beside the file) works.
TEST_P(ArchiveDependentsTest, AnArchiveFileAloneIsRefusedWhenRowsCascade) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  insert_codes();
  const std::string before = everything();
  TempDir dir;
  const std::string file = dir.path() + "/archive.jsonl";
  for (const bool dry : {false, true}) {
    std::vector<std::string> args = {"--run-once", "--archive-file", file};
    if (dry) args.push_back("--dry-run");
    const auto refused = run(args);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("--archive-file keeps the deleted"), std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("otp_verifications(pending_user_id)"), std::string::npos)
        << refused.err;
    EXPECT_EQ(everything(), before);
  }
  const auto both = run({"--run-once", "--archive-file", file, "--archive-table", "bc_archive"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive__otp_verifications"), "10");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM otp_verifications"), "1");
}

TEST_P(ArchiveDependentsTest, TheChildrenOfASkippedParentStayArchivedAndAreNamed) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  insert_codes();
  ASSERT_EQ(run({"--run-once", "--archive-table", "bc_archive"}).exit_code, 0);
  // The application re-created p1 with another email: p1 is not restored, and its codes are
  // not attached to the new p1; they stay archived with their attempts.
  db_->exec(std::string("INSERT INTO ") + kPending +
            " (pending_user_id, email) VALUES ('p1', 'again@example.com')");
  const auto restored = run({"restore", "--archive-table", "bc_archive"});
  EXPECT_EQ(restored.exit_code, 1) << restored.err;
  const auto report = last_json_report(restored);
  EXPECT_EQ(report["restored"], 4);
  ASSERT_EQ(report["dependents"].size(), 2u) << report.dump();
  EXPECT_EQ(report["dependents"][0]["restored"], 8);
  EXPECT_EQ(report["dependents"][0]["skipped"], 2);
  ASSERT_EQ(report["dependents"][0]["conflicts"].size(), 2u) << report.dump();
  EXPECT_EQ(report["dependents"][0]["conflicts"][0]["row"], "o1-0");
  EXPECT_EQ(report["dependents"][0]["conflicts"][0]["reason"], "its parent row was not restored");
  EXPECT_EQ(report["dependents"][1]["restored"], 8);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM otp_verifications WHERE pending_user_id = 'p1'"),
            "0");
  EXPECT_EQ(db_->keys("bc_archive__otp_verifications", "otp_id"),
            (std::set<std::string>{"o1-0", "o1-1"}));
  EXPECT_EQ(db_->keys("bc_archive__otp_attempts", "attempt_id"),
            (std::set<std::string>{"ao1-0", "ao1-1"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveDependentsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
