// One active instance: several processes started at once on the same tables; exactly one
// cleans, the others skip the cycle (or wait, with --wait-lock). Asserted in the database (the
// archive records which cycle deleted each row) and in the reports.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class InstanceLockTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }

  // Makes every deleted row cost some time, so that a cycle lasts a few seconds.
  void slow_down_deletes() {
    if (db_->is_postgres()) {
      db_->exec(
          "CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
          "pg_sleep(0.3); RETURN NULL; END $$;"
          "CREATE TRIGGER slow_down AFTER DELETE ON core_mstr_one_qlick_pending_users_tbl FOR "
          "EACH STATEMENT EXECUTE FUNCTION slow_down()");
    } else {
      // SQLite has no sleep: a join of 400x400 rows per deleted row.
      db_->exec(
          "CREATE TABLE slow (x INTEGER);"
          "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 400) "
          "INSERT INTO slow SELECT i FROM s;"
          "CREATE TRIGGER slow_down AFTER DELETE ON core_mstr_one_qlick_pending_users_tbl BEGIN "
          "SELECT count(*) FROM slow a, slow b; END");
    }
  }

  // Holds the instance lock the way another batch_cleanup would, until destroyed.
  class HeldLock {
   public:
    // PostgreSQL: another instance's live lease (the README's DDL, a row expiring in an hour).
    explicit HeldLock(TestDatabase& db) {
      if (db.is_postgres()) {
        session_ = db.another_connection();
        session_->exec(
            "CREATE TABLE IF NOT EXISTS batch_cleanup_leases (name text PRIMARY KEY, holder text "
            "NOT NULL, epoch bigint NOT NULL, acquired_at timestamptz NOT NULL, heartbeat_at "
            "timestamptz NOT NULL, expires_at timestamptz NOT NULL); "
            "INSERT INTO batch_cleanup_leases VALUES "
            "('batch_cleanup:public.core_mstr_one_qlick_pending_users_tbl', 'another-host:1:1', "
            "7, now(), now(), now() + interval '1 hour') ON CONFLICT (name) DO UPDATE SET holder "
            "= excluded.holder, expires_at = excluded.expires_at");
      } else {
        const std::string path = db.url().substr(std::string("sqlite:").size()) + ".lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        EXPECT_GE(fd_, 0);
        EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0);
      }
    }
    ~HeldLock() {
      if (fd_ >= 0) ::close(fd_);
      if (session_) session_->exec("UPDATE batch_cleanup_leases SET expires_at = now()");
    }

   private:
    std::unique_ptr<TestDatabase> session_;
    int fd_ = -1;
  };
};

TEST_P(InstanceLockTest, SeveralProcessesStartedAtOnceExactlyOneRuns) {
  db_->insert_users(0, 300);
  db_->insert_pending(0, 400);  // p0..p299 match
  slow_down_deletes();
  constexpr int kProcesses = 4;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < kProcesses; ++i) {
    children.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{tool_binary(), "--run-once", "--output", "json", "--batch-size",
                                 "30", "--archive-table", "bc_archive", "--database-url",
                                 db_->url()},
        std::map<std::string, std::string>{}));
  }
  int ran = 0;
  int skipped = 0;
  std::string runner_cycle;
  for (auto& child : children) {
    const auto result = child->wait(std::chrono::seconds(120));
    const auto report = last_json_report(result);
    if (report["skipped_by_lock"].get<bool>()) {
      EXPECT_EQ(result.exit_code, 4) << result.err;  // a skipped run says so
      EXPECT_EQ(report["skipped_reason"], "lease_held");
      ++skipped;
      EXPECT_EQ(report["deleted"], 0);
      EXPECT_NE(result.err.find("skipped: another instance holds the lock for these tables"),
                std::string::npos)
          << result.err;
    } else {
      EXPECT_EQ(result.exit_code, 0) << result.err;
      ++ran;
      EXPECT_EQ(report["deleted"], 300);
      runner_cycle = report["cycle_id"];
    }
  }
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(skipped, kProcesses - 1);
  // In the database: every row was deleted once, all by the one cycle that ran.
  EXPECT_EQ(db_->count(kPending), 100);
  EXPECT_EQ(db_->count("bc_archive"), 300);
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT pending_user_id) FROM bc_archive"), "300");
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT cycle_id) FROM bc_archive"), "1");
  EXPECT_EQ(db_->scalar("SELECT min(cycle_id) FROM bc_archive"), runner_cycle);
}

TEST_P(InstanceLockTest, SkipsWhileAnotherInstanceHoldsTheLockAndWaitsWithWaitLock) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  auto held = std::make_unique<HeldLock>(*db_);
  const auto skipped = run_tool({"--run-once", "--output", "json", "--database-url", db_->url()});
  ASSERT_EQ(skipped.exit_code, 4) << skipped.err;
  const auto report = last_json_report(skipped);
  EXPECT_TRUE(report["skipped_by_lock"].get<bool>());
  EXPECT_EQ(report["skipped_reason"], "lease_held");
  if (db_->is_postgres()) {
    // Who holds it, and until when (a lease table of the earlier layout, given its new columns).
    EXPECT_EQ(report["lease"]["holder"], "another-host:1:1");
    EXPECT_EQ(report["lease"]["epoch"], 7);
    EXPECT_FALSE(report["lease"]["expires_at"].is_null());
    EXPECT_NE(skipped.err.find("another-host:1:1 (epoch 7) until 20"), std::string::npos)
        << skipped.err;
  }
  EXPECT_EQ(db_->count(kPending), 10);

  ChildProcess waiting({tool_binary(), "--run-once", "--wait-lock", "--output", "json",
                        "--database-url", db_->url()},
                       {});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(db_->count(kPending), 10);  // still waiting: nothing deleted
  EXPECT_NE(waiting.current_err().find("another instance holds the lock for these tables: "),
            std::string::npos)
      << waiting.current_err();
  held.reset();  // the other instance's cycle ends
  const auto result = waiting.wait(std::chrono::seconds(30));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(last_json_report(result)["skipped_by_lock"].get<bool>());
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(InstanceLockTest, TheLockIsReleasedAtTheEndOfEachCycle) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  ASSERT_EQ(run_tool({"--run-once", "--database-url", db_->url()}).exit_code, 0);
  db_->insert_pending(5, 5);
  // A later instance gets the lock at once.
  const auto second = run_tool({"--run-once", "--output", "json", "--database-url", db_->url()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_FALSE(last_json_report(second)["skipped_by_lock"].get<bool>());
  EXPECT_EQ(db_->count(kPending), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, InstanceLockTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
