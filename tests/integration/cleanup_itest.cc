// The behavioural suite: the same cases on SQLite files, a real PostgreSQL server and a real
// MariaDB server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kUsers = "core_mstr_one_qlick_users_tbl";

class CleanupTest : public BackendTest {
 protected:
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }
};

TEST_P(CleanupTest, DeletesExactlyTheMatchingRowsAndKeepsTheRest) {
  db_->create_original_schema();
  // MariaDB's default collation (utf8mb4_general_ci) makes the case variants below duplicates
  // of a UNIQUE email: this case needs the pending emails without one.
  if (db_->is_mariadb())
    db_->exec("ALTER TABLE core_mstr_one_qlick_pending_users_tbl DROP INDEX email");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) VALUES "
      "('u1', 'alice@example.com'), ('u2', 'Bob@Example.com'), ('u3', 'o''brien@example.ie'), "
      "('u4', 'élodie@exemple.fr'), ('u5', '王@例子.中国'), ('u6', NULL), ('u7', "
      "'space@example.com')");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email) VALUES "
      "('p_exact', 'alice@example.com'), "      // exact duplicate: deleted
      "('p_case', 'ALICE@example.com'), "       // case variant: kept (exact match)
      "('p_case2', 'bob@example.com'), "        // case variant of Bob@Example.com: kept
      "('p_bob', 'Bob@Example.com'), "          // exact: deleted
      "('p_quote', 'o''brien@example.ie'), "    // quote inside: deleted
      "('p_unicode', 'élodie@exemple.fr'), "    // unicode: deleted
      "('p_cjk', '王@例子.中国'), "             // unicode: deleted
      "('p_null', NULL), "                      // NULL never matches (users has a NULL too)
      "('p_trailing', 'space@example.com '), "  // trailing space: kept
      "('p_new', 'carol@example.com')");        // no user: kept
  const std::string users_before = db_->dump(kUsers, "user_id");
  const auto result = run({"--run-once", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db_->keys(),
            (std::set<std::string>{"p_case", "p_case2", "p_null", "p_trailing", "p_new"}));
  EXPECT_EQ(db_->dump(kUsers, "user_id"), users_before);
  const auto report = last_json_report(result);
  EXPECT_EQ(report["candidates"], 5);
  EXPECT_EQ(report["deleted"], 5);
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(report["skipped"], 0);
  EXPECT_EQ(report["dry_run"], false);
}

TEST_P(CleanupTest, ThousandsOfRowsAcrossManyBatches) {
  db_->create_original_schema();
  db_->insert_users(0, 3000);
  db_->insert_pending(1000, 4000);  // p1000..p4999: p1000..p2999 match
  const std::string users_before = db_->dump(kUsers, "user_id");
  const auto result = run({"--run-once", "--output", "json", "--batch-size", "150"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 2000);
  EXPECT_EQ(report["candidates"], 2000);
  // 150 rows per batch; a batch holds at most 4x that (PostgreSQL's page ranges, SQLite's chunks).
  EXPECT_GE(report["batches"].get<int>(), 4);
  EXPECT_EQ(db_->count(kPending), 2000);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p WHERE EXISTS "
                        "(SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email)"),
            "0");
  EXPECT_EQ(db_->scalar("SELECT min(full_name) FROM core_mstr_one_qlick_pending_users_tbl"),
            "Pending 3000");
  EXPECT_EQ(db_->dump(kUsers, "user_id"), users_before);
  // A second run finds nothing and still succeeds.
  const auto again = run({"--run-once", "--output", "json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(last_json_report(again)["deleted"], 0);
}

TEST_P(CleanupTest, DryRunWritesNothing) {
  db_->create_original_schema();
  db_->insert_users(0, 50);
  db_->insert_pending(25, 50);
  const std::string pending_before = db_->dump(kPending, "pending_user_id");
  const std::string users_before = db_->dump(kUsers, "user_id");
  const auto result = run({"--run-once", "--dry-run", "--output", "json", "--sample-size", "3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["dry_run"], true);
  EXPECT_EQ(report["candidates"], 25);
  EXPECT_EQ(report["deleted"], 0);
  ASSERT_EQ(report["sample"].size(), 3u);
  EXPECT_EQ(report["sample"][0]["key"], "p25");
  EXPECT_EQ(report["sample"][0]["email"], "u***@example.com");
  EXPECT_EQ(db_->dump(kPending, "pending_user_id"), pending_before);
  EXPECT_EQ(db_->dump(kUsers, "user_id"), users_before);
  if (db_->is_postgres()) {
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'batch_cleanup%'"),
              "0");
  } else if (db_->is_mariadb()) {
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                          "database() AND table_name LIKE 'batch_cleanup%'"),
              "0");
  } else {
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'batch_cleanup%'"),
              "0");
  }
}

TEST_P(CleanupTest, DryRunTextShowsMaskedSample) {
  db_->create_original_schema();
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  const auto result = run({"--run-once", "--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("5 pending row(s) would be deleted"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("u***@example.com"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("user0@example.com"), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("user0@example.com"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 5);
}

TEST_P(CleanupTest, ForeignKeyReferencedRowIsIsolatedAndTheRestOfItsBatchGoes) {
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  db_->exec(std::string("CREATE TABLE signup_audit (id INTEGER PRIMARY KEY, pending_user_id ") +
            (db_->is_mariadb() ? "VARCHAR(191)" : "TEXT") +
            " NOT NULL, FOREIGN KEY (pending_user_id) REFERENCES "
            "core_mstr_one_qlick_pending_users_tbl (pending_user_id) ON DELETE RESTRICT)");
  db_->exec("INSERT INTO signup_audit VALUES (1, 'p4')");
  const auto result = run({"--run-once", "--output", "json", "--batch-size", "100"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p4"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 9);
  EXPECT_EQ(report["failed"], 1);
  ASSERT_EQ(report["failures"].size(), 1u);
  EXPECT_EQ(report["failures"][0]["key"], "p4");
  EXPECT_EQ(report["failures"][0]["email"], "u***@example.com");
  if (db_->is_postgres()) {
    EXPECT_EQ(report["failures"][0]["sqlstate"], "23503");
  } else if (db_->is_mariadb()) {
    EXPECT_EQ(report["failures"][0]["sqlstate"], "1451");  // ER_ROW_IS_REFERENCED_2
  } else {
    // SQLite raises ON DELETE RESTRICT through its internal foreign-key trigger.
    EXPECT_EQ(report["failures"][0]["sqlstate"], "SQLITE_CONSTRAINT_TRIGGER");
    EXPECT_NE(
        report["failures"][0]["message"].get<std::string>().find("FOREIGN KEY constraint failed"),
        std::string::npos);
  }
  // The log names the row's key and the SQLSTATE, with the email masked.
  EXPECT_NE(result.err.find("key=p4"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("user4@example.com"), std::string::npos) << result.err;
}

TEST_P(CleanupTest, TriggerThatRaisesIsIsolated) {
  db_->create_original_schema();
  db_->insert_users(0, 6);
  db_->insert_pending(0, 6);
  if (db_->is_postgres()) {
    db_->exec(
        "CREATE FUNCTION refuse_vip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF OLD.email = 'user2@example.com' THEN RAISE EXCEPTION 'vip rows are kept'; END IF; "
        "RETURN OLD; END $$;"
        "CREATE TRIGGER refuse_vip BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl "
        "FOR EACH ROW EXECUTE FUNCTION refuse_vip()");
  } else if (db_->is_mariadb()) {
    db_->exec(
        "CREATE TRIGGER refuse_vip BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl "
        "FOR EACH ROW IF OLD.email = 'user2@example.com' THEN SIGNAL SQLSTATE '45000' SET "
        "MESSAGE_TEXT = 'vip rows are kept'; END IF");
  } else {
    db_->exec(
        "CREATE TRIGGER refuse_vip BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl "
        "WHEN OLD.email = 'user2@example.com' BEGIN SELECT RAISE(ABORT, 'vip rows are kept'); END");
  }
  const auto result = run({"--run-once", "--output", "json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p2"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 5);
  EXPECT_EQ(report["failed"], 1);
  EXPECT_NE(report["failures"][0]["message"].get<std::string>().find("vip rows are kept"),
            std::string::npos);
}

TEST_P(CleanupTest, SchemaQualifiedAndCustomNames) {
  // MariaDB: a database of the test's own (a schema is a database there).
  const std::string schema = db_->is_postgres()  ? "app"
                             : db_->is_mariadb() ? db_->scalar("SELECT database()") + "_app"
                                                 : "main";
  if (db_->is_postgres() || db_->is_mariadb()) db_->exec("CREATE SCHEMA " + schema);
  const std::string text_key = db_->is_mariadb() ? "VARCHAR(191)" : "TEXT";
  db_->exec("CREATE TABLE " + schema + ".accounts (id " + text_key + " PRIMARY KEY, mail " +
            text_key + " UNIQUE)");
  db_->exec("CREATE TABLE " + schema + ".signups (signup_id " + text_key + " PRIMARY KEY, mail " +
            text_key + ")");
  db_->exec("INSERT INTO " + schema +
            ".accounts VALUES ('a1', 'x@example.com'), ('a2', 'y@example.com')");
  db_->exec("INSERT INTO " + schema +
            ".signups VALUES ('s1', 'x@example.com'), ('s2', 'z@example.com')");
  const auto result =
      run({"--run-once", "--users-table", schema + ".accounts", "--pending-table",
           schema + ".signups", "--pending-key", "signup_id", "--email-column", "mail"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db_->keys(schema + ".signups", "signup_id"), (std::set<std::string>{"s2"}));
  if (db_->is_mariadb()) db_->exec("DROP SCHEMA " + schema);
}

TEST_P(CleanupTest, MissingUsersEmailIndexIsReportedWithTheStatementToRun) {
  db_->create_original_schema(/*users_email_index=*/false);
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  const auto result = run({"--run-once"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string expected =
      db_->is_postgres()
          ? "CREATE INDEX CONCURRENTLY ON \"core_mstr_one_qlick_users_tbl\" (\"email\");"
          : "CREATE INDEX";
  EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(CleanupTest, UnknownTableAndColumnAreConfigurationErrors) {
  db_->create_original_schema();
  auto result = run({"--run-once", "--users-table", "no_such_users"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("users table 'no_such_users' does not exist"), std::string::npos)
      << result.err;
  result = run({"--run-once", "--pending-table", "no_such_pending"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("pending table 'no_such_pending' does not exist"), std::string::npos)
      << result.err;
  result = run({"--run-once", "--email-column", "mail"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("column 'mail' does not exist"), std::string::npos) << result.err;
  result = run({"--run-once", "--pending-key", "nope"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("column 'nope' does not exist"), std::string::npos) << result.err;
}

TEST_P(CleanupTest, SameRelationGuard) {
  db_->create_original_schema();
  db_->insert_users(0, 3);
  const auto result = run({"--run-once", "--users-table", kUsers, "--pending-table", kUsers,
                           "--pending-key", "user_id"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("guard 'distinct-tables'"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kUsers), 3);
}

TEST_P(CleanupTest, NonUniqueKeyGuard) {
  db_->create_original_schema();
  db_->exec("CREATE TABLE loose_pending (k TEXT, email TEXT)");
  db_->exec("INSERT INTO loose_pending VALUES ('a', 'user0@example.com'), ('a', 'x@example.com')");
  db_->insert_users(0, 1);
  const auto result = run({"--run-once", "--pending-table", "loose_pending", "--pending-key", "k"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("guard 'unique-key'"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count("loose_pending"), 2);
}

TEST_P(CleanupTest, TextSummaryAndLogSummaryLine) {
  db_->create_original_schema();
  db_->insert_users(0, 4);
  db_->insert_pending(0, 6);
  const auto result = run({"--run-once"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("candidates=4 deleted=4 failed=0 skipped=0"), std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("candidates=4 deleted=4 failed=0 skipped=0"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("batches=1"), std::string::npos) << result.err;
}

TEST_P(CleanupTest, DebugLogMasksEmailsUnlessLogPii) {
  db_->create_original_schema();
  db_->insert_users(0, 2);
  db_->insert_pending(0, 2);
  auto result = run({"--run-once", "--log-level", "debug"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("deleted pending row key=p0 email=u***@example.com"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("user0@example.com"), std::string::npos) << result.err;
  db_->insert_pending(0, 1);
  result = run({"--run-once", "--log-level", "debug", "--log-pii"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("deleted pending row key=p0 email=user0@example.com"),
            std::string::npos)
      << result.err;
}

TEST_P(CleanupTest, ExplainShowsIndexProbesAndWritesNothing) {
  db_->create_original_schema();
  db_->insert_users(0, 2000);
  db_->insert_pending(1000, 2000);
  if (db_->is_postgres()) db_->exec("ANALYZE");
  const std::string before = db_->dump(kPending, "pending_user_id");
  const auto result = run({"explain", "--batch-size", "500"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  if (db_->is_postgres()) {
    EXPECT_NE(result.out.find("strategy physical"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("Tid Range Scan"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("Index Only Scan using core_mstr_one_qlick_users_tbl_email_key"),
              std::string::npos)
        << result.out;
    // Never a scan of the whole users table inside a batch.
    EXPECT_EQ(result.out.find("Seq Scan on core_mstr_one_qlick_users_tbl"), std::string::npos)
        << result.out;
    EXPECT_EQ(result.out.find("Hash"), std::string::npos) << result.out;
  } else if (db_->is_mariadb()) {
    // A keyset over the primary key; each row probes the users' email index (eq_ref).
    EXPECT_NE(result.out.find("strategy key"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("| range | PRIMARY | PRIMARY |"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("| u | eq_ref | email | email |"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("| u | ALL |"), std::string::npos) << result.out;
  } else {
    EXPECT_NE(result.out.find("strategy rowid"), std::string::npos) << result.out;
    EXPECT_NE(
        result.out.find("USING COVERING INDEX sqlite_autoindex_core_mstr_one_qlick_users_tbl"),
        std::string::npos)
        << result.out;
  }
  EXPECT_EQ(db_->dump(kPending, "pending_user_id"), before);
}

TEST_P(CleanupTest, ThrottledRunStillDeletesExactly) {
  db_->create_original_schema();
  db_->insert_users(0, 300);
  db_->insert_pending(0, 400);
  const auto result =
      run({"--run-once", "--output", "json", "--batch-size", "10", "--batch-strategy", "key",
           "--sleep", "20ms", "--max-rate", "20000", "--batch-time", "30ms"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 300);
  EXPECT_GE(report["throttle_ms"].get<double>(), 40.0);
  EXPECT_EQ(db_->count(kPending), 100);
}

INSTANTIATE_TEST_SUITE_P(Backends, CleanupTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
