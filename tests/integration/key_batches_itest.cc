// PostgreSQL key batches: which order the keyset walks (the email's unique index where it can,
// the key otherwise), and that either deletes exactly the matching rows.
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
    std::vector<std::string> args{"--run-once", "--output",     "json", "--batch-strategy",
                                  "key",        "--batch-size", "7",    "--database-url",
                                  db_->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = run_tool(args);
    EXPECT_EQ(result.exit_code, exit_code) << result.err;
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

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresKeyBatchesTest,
                         ::testing::Values(TestBackend::kPostgres), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
