// Faults on the shared PostgreSQL test server: a statement timeout hit by a batch, the DELETE
// privilege revoked under a running daemon, and a least-privilege role.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// Polls `condition` every 100 ms for up to `timeout`.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

class PgFaultTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }
  void TearDown() override {
    if (!role_.empty() && db_) {
      db_->exec("DROP OWNED BY " + role_ + "; DROP ROLE " + role_);
    }
  }
  // A login role with exactly the privileges the README lists.
  std::string least_privilege_role() {
    role_ = fmt::format("bc_role_{:08x}", std::random_device{}());
    db_->exec("CREATE ROLE " + role_ + " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " +
              role_ + "; GRANT SELECT, DELETE ON core_mstr_one_qlick_pending_users_tbl TO " +
              role_);
    return db_->url() + " user=" + role_;
  }
  std::string role_;
};

TEST_P(PgFaultTest, BatchHittingTheStatementTimeoutIsRetriedSmallerNotSkipped) {
  db_->insert_users(0, 400);
  db_->insert_pending(0, 400);
  // Each deleted row costs 5 ms: a batch of 400 rows needs 2 s.
  db_->exec(
      "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
      "pg_sleep(0.005); RETURN OLD; END $$;"
      "CREATE TRIGGER slow_row BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl FOR EACH "
      "ROW EXECUTE FUNCTION slow_row()");
  // No retries at all: halving after a statement timeout is not a retry, and goes on down to
  // the size that fits (50 rows and below here), whatever --retries says.
  const auto result =
      run_tool({"--run-once", "--output", "json", "--batch-size", "400", "--statement-timeout",
                "400ms", "--retries", "0", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 400);
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(report["batch_retries"].get<int>(), 0);
  EXPECT_NE(result.err.find("batch hit the statement timeout; running it again with 200 rows"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("running it again with 50 rows"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(PgFaultTest, LeastPrivilegeRoleRunsWithArchiveTable) {
  db_->insert_users(0, 50);
  db_->insert_pending(0, 80);
  const std::string url = least_privilege_role();
  // The archive table, created by the owner; the role may only insert into it.
  db_->exec(
      "CREATE TABLE bc_archive (LIKE core_mstr_one_qlick_pending_users_tbl, archived_at "
      "timestamptz NOT NULL DEFAULT now(), cycle_id text NOT NULL, reason text NOT NULL);"
      "GRANT INSERT ON bc_archive TO " +
      role_);
  const auto result = run_tool({"--run-once", "--output", "json", "--archive-table", "bc_archive",
                                "--batch-size", "20", "--database-url", url});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 50);
  EXPECT_EQ(db_->count(kPending), 30);
  EXPECT_EQ(db_->count("bc_archive"), 50);
  EXPECT_EQ(db_->scalar("SELECT rolsuper::text FROM pg_roles WHERE rolname = '" + role_ + "'"),
            "false");
}

TEST_P(PgFaultTest, RoleWithoutUpdateRunsAndSaysWhichGrantEnablesSkipLocked) {
  db_->insert_users(0, 5);
  db_->insert_pending(0, 8);
  const std::string url = least_privilege_role();  // SELECT on users; SELECT, DELETE on pending
  const auto result = run_tool({"--run-once", "--output", "json", "--database-url", url});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(
      result.err.find("HINT: GRANT UPDATE ON core_mstr_one_qlick_pending_users_tbl TO <role>"),
      std::string::npos)
      << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 5);
  EXPECT_EQ(db_->count(kPending), 3);
  // A dry run needs only SELECT.
  db_->exec("REVOKE DELETE ON core_mstr_one_qlick_pending_users_tbl FROM " + role_);
  EXPECT_EQ(run_tool({"--run-once", "--dry-run", "--database-url", url}).exit_code, 0);
}

TEST_P(PgFaultTest, DeletePrivilegeRevokedUnderADaemonThenGrantedAgain) {
  db_->insert_users(0, 100);
  db_->insert_pending(0, 10);
  const std::string url = least_privilege_role();
  ChildProcess daemon({tool_binary(), "--daemon", "--interval", "1s", "--database-url", url}, {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(20)))
      << daemon.current_err();

  db_->exec("REVOKE DELETE ON core_mstr_one_qlick_pending_users_tbl FROM " + role_);
  db_->insert_pending(10, 10);
  ASSERT_TRUE(eventually(
      [&] {
        return daemon.current_err().find(
                   "no DELETE privilege on "
                   "'core_mstr_one_qlick_pending_users_tbl'") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << daemon.current_err();
  EXPECT_EQ(db_->count(kPending), 10);
  EXPECT_NE(daemon.current_err().find("the worker goes on"), std::string::npos)
      << daemon.current_err();

  db_->exec("GRANT DELETE ON core_mstr_one_qlick_pending_users_tbl TO " + role_);
  EXPECT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(20)))
      << daemon.current_err();
  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(20));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

INSTANTIATE_TEST_SUITE_P(Postgres, PgFaultTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
