// PostgreSQL batch shapes beyond ctid ranges: key batches (which order the keyset walks: the
// email's unique index where it can, the key otherwise) and email ranges (chosen from the heap
// locality of the email order, or forced), each deleting exactly the matching rows.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class PostgresKeyBatchesTest : public BackendTest {
 protected:
  // users u0..u59; pending p0..p99: p0..p59 duplicate a user, p60..p99 do not.
  void fill() {
    db_->create_original_schema();
    db_->insert_users(0, 60);
    db_->insert_pending(0, 100);
    db_->exec("ANALYZE");
  }

  std::set<std::string> unmatched_keys() const {
    std::set<std::string> keys;
    for (int i = 60; i < 100; ++i) keys.insert("p" + std::to_string(i));
    return keys;
  }

  ProcessResult explain_key() {
    return run_tool(
        {"explain", "--batch-strategy", "key", "--batch-size", "7", "--database-url", db_->url()});
  }

  // exit_code 1: the cycle finished, some rows could not be deleted.
  nlohmann::json run_key(std::vector<std::string> extra = {}, int exit_code = 0) {
    return run_strategy("key", std::move(extra), exit_code);
  }

  nlohmann::json run_strategy(const std::string& strategy, std::vector<std::string> extra = {},
                              int exit_code = 0) {
    std::vector<std::string> args{"--run-once", "--output",     "json", "--batch-strategy",
                                  strategy,     "--batch-size", "7",    "--database-url",
                                  db_->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = run_tool(args);
    EXPECT_EQ(result.exit_code, exit_code) << result.err;
    if (result.exit_code != exit_code) return nlohmann::json::object();
    return last_json_report(result);
  }
};

TEST_P(PostgresKeyBatchesTest, AUniqueEmailIndexIsWalkedInEmailOrder) {
  fill();
  const auto plan = explain_key();
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("keyset over the unique index of 'email'"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("fast path"), std::string::npos) << plan.out;
  // The window walks the pending email index.
  EXPECT_NE(plan.out.find("Index Only Scan using core_mstr_one_qlick_pending_users_tbl_email_key"),
            std::string::npos)
      << plan.out;

  const auto report = run_key();
  EXPECT_EQ(report["deleted"], 60);
  EXPECT_EQ(report["batches"], 9);  // ceil(60 / 7): every batch but the last is full
  EXPECT_EQ(report["no_longer_matching"], 0);
  EXPECT_EQ(db_->keys(), unmatched_keys());
}

TEST_P(PostgresKeyBatchesTest, WithoutAUniqueEmailIndexTheKeyIsWalked) {
  fill();
  db_->exec(
      "ALTER TABLE core_mstr_one_qlick_pending_users_tbl DROP CONSTRAINT "
      "core_mstr_one_qlick_pending_users_tbl_email_key");
  db_->exec("CREATE INDEX ON core_mstr_one_qlick_pending_users_tbl (email)");
  const auto plan = explain_key();
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("keyset over 'pending_user_id' (a unique index on 'email'"),
            std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("using core_mstr_one_qlick_pending_users_tbl_pkey"), std::string::npos)
      << plan.out;

  const auto report = run_key();
  EXPECT_EQ(report["deleted"], 60);
  EXPECT_EQ(report["batches"], 9);
  EXPECT_EQ(db_->keys(), unmatched_keys());
}

TEST_P(PostgresKeyBatchesTest, RowsWithoutAnEmailAreReachedWhenThePhonePolicyIsOn) {
  fill();
  // A sign-up without an email whose phone a user has, and one whose phone nobody has.
  db_->exec("UPDATE core_mstr_one_qlick_users_tbl SET phone = '+15550001' WHERE user_id = 'u3'");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, phone) VALUES "
      "('nomail1', NULL, '+15550001'), ('nomail2', NULL, '+15550002')");
  const auto plan = run_tool({"explain", "--batch-strategy", "key", "--match", "email,phone",
                              "--database-url", db_->url()});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("keyset over 'pending_user_id' (the phone or expired policy"),
            std::string::npos)
      << plan.out;

  const auto report = run_key({"--match", "email,phone"});
  EXPECT_EQ(report["deleted"], 61);
  auto kept = unmatched_keys();
  kept.insert("nomail2");
  EXPECT_EQ(db_->keys(), kept);
}

TEST_P(PostgresKeyBatchesTest, RowsARefusingTriggerProtectsFallBackToTheCarefulPath) {
  fill();
  // A trigger refuses to delete p5 and p41: their windows are done the careful way, every
  // other row of those windows still goes.
  db_->exec(
      "CREATE FUNCTION refuse_some() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
      "OLD.pending_user_id IN ('p5', 'p41') THEN RAISE EXCEPTION 'kept by policy' USING ERRCODE "
      "= '23503'; END IF; RETURN OLD; END $$");
  db_->exec(
      "CREATE TRIGGER refuse_some BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl FOR "
      "EACH ROW EXECUTE FUNCTION refuse_some()");
  const auto report = run_key({}, 1);
  EXPECT_EQ(report["deleted"], 58);
  EXPECT_EQ(report["failed"], 2);
  auto kept = unmatched_keys();
  kept.insert({"p5", "p41"});
  EXPECT_EQ(db_->keys(), kept);
  EXPECT_EQ(db_->count(kPending), 42);
}

// Email ranges: --batch-strategy email forces them; auto takes them on a table of 1,000 pages or
// more whose email order shares heap pages (at least 4 rows per page visited).
class PostgresEmailRangesTest : public PostgresKeyBatchesTest {
 protected:
  // `n` pending rows of about 300 bytes (about 25 per page), every other one a user's; in email
  // order on the heap, or in random email order.
  void fill_wide(int n, bool heap_in_email_order) {
    db_->create_original_schema();
    db_->exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) SELECT 'u' || i, 'user' || "
        "lpad(i::text, 6, '0') || '@example.com' FROM generate_series(0, {}) i WHERE i % 2 = 0",
        n - 1));
    db_->exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, full_name) "
        "SELECT 'p' || i, 'user' || lpad(i::text, 6, '0') || '@example.com', repeat('x', 300) "
        "FROM generate_series(0, {}) i ORDER BY {}",
        n - 1, heap_in_email_order ? "i" : "md5(i::text)"));
    db_->exec("VACUUM ANALYZE");
  }
};

TEST_P(PostgresEmailRangesTest, ForcedRangesDeleteExactlyTheMatchingRows) {
  fill();
  const auto plan = run_tool(
      {"explain", "--batch-strategy", "email", "--batch-size", "7", "--database-url", db_->url()});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("strategy email"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("batch shape: ranges of the email order"), std::string::npos) << plan.out;
  // The users side is bounded by the range.
  EXPECT_NE(plan.out.find("u.\"email\" <= $"), std::string::npos) << plan.out;

  const auto report = run_strategy("email");
  EXPECT_EQ(report["strategy"], "email");
  EXPECT_EQ(report["deleted"], 60);
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(db_->keys(), unmatched_keys());
}

TEST_P(PostgresEmailRangesTest, AutoTakesThemWhereTheEmailOrderSharesHeapPages) {
  fill_wide(40000, true);
  const auto plan = run_tool({"explain", "--database-url", db_->url()});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("strategy email"), std::string::npos) << plan.out;
  // The two index ranges are joined, not probed per row.
  EXPECT_EQ(plan.out.find("SubPlan"),
            plan.out.find("-- careful path") == std::string::npos
                ? std::string::npos
                : plan.out.find("SubPlan", plan.out.find("-- careful path")))
      << plan.out;

  // With workers, page slices keep them on different heap pages.
  const auto with_workers = run_tool({"explain", "--workers", "2", "--database-url", db_->url()});
  ASSERT_EQ(with_workers.exit_code, 0) << with_workers.err;
  EXPECT_NE(with_workers.out.find("strategy physical"), std::string::npos) << with_workers.out;
  EXPECT_NE(with_workers.out.find("not email ranges: with --workers"), std::string::npos)
      << with_workers.out;

  const auto result = run_tool(
      {"--run-once", "--output", "json", "--batch-size", "1000", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["strategy"], "email");
  EXPECT_EQ(report["deleted"], 20000);
  EXPECT_EQ(db_->count(kPending), 20000);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p WHERE "
                        "EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = "
                        "p.email)"),
            "0");
}

TEST_P(PostgresEmailRangesTest, AutoKeepsCtidRangesWhereTheEmailOrderIsScatteredOnTheHeap) {
  fill_wide(40000, false);
  const auto plan = run_tool({"explain", "--database-url", db_->url()});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("strategy physical"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("not email ranges: "), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("fewer than 4 rows per page"), std::string::npos) << plan.out;
}

TEST_P(PostgresEmailRangesTest, EveryRangeStaysWithinItsBoundWhereMatchesSuddenlyThicken) {
  db_->create_original_schema();
  // In email order: 3,000 sign-ups nobody matches ('a...'), then 3,000 that all match ('b...').
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) SELECT 'u' || i, 'b' || "
      "lpad(i::text, 5, '0') || '@example.com' FROM generate_series(0, 2999) i");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email) SELECT 'k' || "
      "i, 'a' || lpad(i::text, 5, '0') || '@example.com' FROM generate_series(0, 2999) i UNION "
      "ALL SELECT 'p' || i, 'b' || lpad(i::text, 5, '0') || '@example.com' FROM "
      "generate_series(0, 2999) i");
  // Rows deleted per transaction, recorded by a statement trigger inside each batch.
  db_->exec("CREATE TABLE deleted_per_tx (tx bigint, n bigint)");
  db_->exec(
      "CREATE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
      "deleted_per_tx SELECT txid_current(), count(*) FROM gone; RETURN NULL; END $$");
  db_->exec(
      "CREATE TRIGGER count_deleted AFTER DELETE ON core_mstr_one_qlick_pending_users_tbl "
      "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION count_deleted()");
  const auto result = run_tool({"--run-once", "--output", "json", "--batch-strategy", "email",
                                "--batch-size", "50", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 3000);
  EXPECT_EQ(db_->scalar("SELECT sum(n) FROM deleted_per_tx"), "3000");
  // Never more than 4 x --batch-size in one batch transaction.
  EXPECT_LE(std::stoll(db_->scalar(
                "SELECT max(s) FROM (SELECT sum(n) AS s FROM deleted_per_tx GROUP BY tx) t")),
            200);
  EXPECT_EQ(db_->count(kPending), 3000);
}

TEST_P(PostgresEmailRangesTest, ALockedRowIsSkippedAndARefusedRowIsIsolated) {
  fill();
  db_->exec(
      "CREATE FUNCTION refuse_some() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
      "OLD.pending_user_id = 'p41' THEN RAISE EXCEPTION 'kept by policy' USING ERRCODE = "
      "'23503'; END IF; RETURN OLD; END $$");
  db_->exec(
      "CREATE TRIGGER refuse_some BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl FOR "
      "EACH ROW EXECUTE FUNCTION refuse_some()");
  auto app = db_->another_connection();
  app->exec("BEGIN");
  app->query(
      "SELECT * FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id = 'p7' FOR "
      "UPDATE");
  const auto report = run_strategy("email", {"--lock-timeout", "30s"}, 1);
  EXPECT_EQ(report["deleted"], 58);
  EXPECT_EQ(report["skipped"], 1);
  EXPECT_EQ(report["failed"], 1);
  app->exec("COMMIT");
  auto kept = unmatched_keys();
  kept.insert({"p7", "p41"});
  EXPECT_EQ(db_->keys(), kept);
}

TEST_P(PostgresEmailRangesTest, RefusedWhereTheyCannotServeThePolicies) {
  fill();
  const auto result = run_tool({"--run-once", "--batch-strategy", "email", "--match", "email,phone",
                                "--database-url", db_->url()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--batch-strategy email cannot run: they need the email policy "
                            "alone"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(db_->count(kPending), 100);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresEmailRangesTest,
                         ::testing::Values(TestBackend::kPostgres), backend_param_name);

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresKeyBatchesTest,
                         ::testing::Values(TestBackend::kPostgres), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
