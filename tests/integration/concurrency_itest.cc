// Concurrent sessions: locked rows, writers during a run, SQLite's single writer lock.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kUsers = "core_mstr_one_qlick_users_tbl";

class ConcurrencyTest : public BackendTest {};

TEST_P(ConcurrencyTest, InsertsIntoBothTablesDuringARun) {
  db_->create_original_schema();
  db_->insert_users(0, 20000);
  db_->insert_pending(0, 20000);
  db_->insert_pending(100000, 2000, "keep");  // keep100000..: no user has these emails
  auto writer_db = db_->another_connection();
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      // A new user and a pending sign-up nobody matches, then a late duplicate of that user.
      writer_db->exec(fmt::format(
          "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) VALUES ('w_u{0}', "
          "'late{0}@example.com');"
          "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email) VALUES "
          "('w_keep{0}', 'fresh{0}@example.com'), ('w_dup{0}', 'late{0}@example.com')",
          i));
      ++written;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const auto result = run_tool(
      {"--run-once", "--output", "json", "--batch-size", "200", "--database-url", db_->url()});
  stop = true;
  writer.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GT(written.load(), 0);
  // Every original duplicate is gone.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'p%'"),
            "0");
  // Nothing that never matched was touched.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'keep%'"),
            "2000");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'w_keep%'"),
            std::to_string(written.load()));
  EXPECT_EQ(db_->count(kUsers), 20000 + written.load());
  // Late duplicates are either deleted by this run or left for the next one; the next run
  // removes whatever is left.
  const auto next = run_tool({"--run-once", "--database-url", db_->url()});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'w_dup%'"),
            "0");
  const auto report = last_json_report(result);
  EXPECT_GE(report["deleted"].get<long long>(), 20000);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConcurrencyTest, all_backends(), backend_param_name);

class PostgresConcurrencyTest : public BackendTest {};

TEST_P(PostgresConcurrencyTest, RowLockedByAnOpenTransactionIsSkippedWithoutWaiting) {
  db_->create_original_schema();
  db_->insert_users(0, 50);
  db_->insert_pending(0, 50);
  auto app = db_->another_connection();
  app->exec("BEGIN");
  app->query(
      "SELECT * FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id = 'p7' FOR "
      "UPDATE");
  for (const char* strategy : {"physical", "key"}) {
    const auto result = run_tool({"--run-once", "--output", "json", "--lock-timeout", "30s",
                                  "--batch-strategy", strategy, "--database-url", db_->url()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_LT(result.elapsed, std::chrono::seconds(10)) << "waited for the lock";
    const auto report = last_json_report(result);
    EXPECT_EQ(report["skipped"], 1) << strategy;
    EXPECT_EQ(db_->keys(), (std::set<std::string>{"p7"}));
  }
  app->exec("COMMIT");
  const auto after = run_tool({"--run-once", "--output", "json", "--database-url", db_->url()});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(last_json_report(after)["deleted"], 1);
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(PostgresConcurrencyTest, RoleWithoutUpdatePrivilegeStillSkipsLockedRows) {
  db_->create_original_schema();
  db_->insert_users(0, 40);
  db_->insert_pending(0, 40);
  const std::string role = "bc_minimal_" + std::to_string(::getpid());
  db_->exec("CREATE ROLE " + role + " LOGIN");
  db_->exec("GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " + role);
  db_->exec("GRANT SELECT, DELETE ON core_mstr_one_qlick_pending_users_tbl TO " + role);
  auto app = db_->another_connection();
  app->exec("BEGIN");
  app->query(
      "SELECT * FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id = 'p9' FOR "
      "UPDATE");
  for (const char* strategy : {"physical", "key"}) {
    const auto result =
        run_tool({"--run-once", "--output", "json", "--batch-size", "15", "--batch-strategy",
                  strategy, "--database-url", db_->url() + " user=" + role});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("no UPDATE privilege"), std::string::npos) << result.err;
    const auto report = last_json_report(result);
    EXPECT_EQ(report["skipped"], 1) << strategy << " " << result.out;
    EXPECT_EQ(report["failed"], 0);
    EXPECT_EQ(db_->keys(), (std::set<std::string>{"p9"})) << strategy;
    EXPECT_LT(result.elapsed, std::chrono::seconds(10));
  }
  app->exec("COMMIT");
  const auto after =
      run_tool({"--run-once", "--output", "json", "--database-url", db_->url() + " user=" + role});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(db_->count(kPending), 0);
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
}

TEST_P(PostgresConcurrencyTest, KeyStrategyOnPartitionedPendingTable) {
  db_->exec(
      "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id uuid PRIMARY KEY DEFAULT "
      "gen_random_uuid(), email text UNIQUE);"
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id bigint, email text, "
      "region int NOT NULL,"
      " PRIMARY KEY (pending_user_id, region)) PARTITION BY LIST (region);"
      "CREATE TABLE pending_r1 PARTITION OF core_mstr_one_qlick_pending_users_tbl FOR VALUES IN "
      "(1);"
      "CREATE TABLE pending_r2 PARTITION OF core_mstr_one_qlick_pending_users_tbl FOR VALUES IN "
      "(2);"
      "CREATE UNIQUE INDEX ON pending_r1 (pending_user_id); CREATE UNIQUE INDEX ON pending_r2 "
      "(pending_user_id);"
      "INSERT INTO core_mstr_one_qlick_users_tbl (email) SELECT 'user' || i || '@example.com' FROM "
      "generate_series(1, 500) i;"
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT i, 'user' || i || '@example.com', "
      "1 + i % 2 "
      "FROM generate_series(1, 1000) i");
  // The partitioned parent has no single-column unique index: the key guard refuses ...
  auto result = run_tool({"--run-once", "--database-url", db_->url()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("guard 'unique-key'"), std::string::npos) << result.err;
  // ... until the key is unique on the parent.
  db_->exec(
      "DROP TABLE core_mstr_one_qlick_pending_users_tbl;"
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id bigint, email text, "
      "region int NOT NULL,"
      " PRIMARY KEY (pending_user_id)) PARTITION BY RANGE (pending_user_id);"
      "CREATE TABLE pending_low PARTITION OF core_mstr_one_qlick_pending_users_tbl FOR VALUES FROM "
      "(0) TO (500);"
      "CREATE TABLE pending_high PARTITION OF core_mstr_one_qlick_pending_users_tbl FOR VALUES "
      "FROM (500) TO (2000);"
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT i, 'user' || i || '@example.com', "
      "1 "
      "FROM generate_series(1, 1000) i");
  result = run_tool(
      {"--run-once", "--output", "json", "--batch-size", "64", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["strategy"], "key");
  EXPECT_EQ(report["deleted"], 500);
  EXPECT_EQ(db_->scalar("SELECT min(pending_user_id) FROM core_mstr_one_qlick_pending_users_tbl"),
            "501");
  EXPECT_EQ(db_->count(kPending), 500);
  // Physical batches are refused on a partitioned table.
  result = run_tool({"--run-once", "--batch-strategy", "physical", "--database-url", db_->url()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
}

TEST_P(PostgresConcurrencyTest, UuidKeysWithBothStrategies) {
  db_->exec(
      "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id uuid PRIMARY KEY DEFAULT "
      "gen_random_uuid(), "
      " email varchar(255) UNIQUE, phone varchar(32));"
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id uuid PRIMARY KEY "
      "DEFAULT gen_random_uuid(),"
      " email varchar(255) UNIQUE, phone varchar(32), created_at timestamptz DEFAULT now());"
      "INSERT INTO core_mstr_one_qlick_users_tbl (email) SELECT 'user' || i || '@example.com' FROM "
      "generate_series(1, 3000) i;");
  for (const char* strategy : {"physical", "key"}) {
    db_->exec(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (email) SELECT 'user' || i || "
        "'@example.com' "
        "FROM generate_series(2001, 5000) i");
    const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "97",
                                  "--batch-strategy", strategy, "--database-url", db_->url()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto report = last_json_report(result);
    EXPECT_EQ(report["deleted"], 1000) << strategy;
    EXPECT_EQ(report["strategy"], strategy);
    EXPECT_EQ(db_->count(kPending), 2000);
    EXPECT_EQ(db_->scalar("SELECT min(email) FROM core_mstr_one_qlick_pending_users_tbl"),
              "user3001@example.com");
    db_->exec("TRUNCATE core_mstr_one_qlick_pending_users_tbl");
  }
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresConcurrencyTest,
                         ::testing::Values(TestBackend::kPostgres), backend_param_name);

class SqliteConcurrencyTest : public BackendTest {};

TEST_P(SqliteConcurrencyTest, WaitsForAnotherConnectionHoldingTheWriteLock) {
  db_->create_original_schema();
  db_->insert_users(0, 100);
  db_->insert_pending(0, 100);
  const auto journal_mode = db_->scalar("PRAGMA journal_mode");
  auto holder = db_->another_connection();
  holder->exec("BEGIN IMMEDIATE");
  holder->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) VALUES ('held', "
      "'held@example.com')");
  ChildProcess child({tool_binary(), "--run-once", "--output", "json", "--lock-timeout", "200ms",
                      "--database-url", db_->url()},
                     {});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  holder->exec("COMMIT");
  const auto result = child.wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 100);
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(db_->scalar("PRAGMA journal_mode"), journal_mode) << "the journal mode must not change";
}

TEST_P(SqliteConcurrencyTest, AnotherProcessWritesThroughoutA100kRowCleanup) {
  db_->create_original_schema();
  db_->insert_users(0, 100000);
  db_->insert_pending(0, 100000);
  db_->insert_pending(500000, 1000, "keep");
  const std::string path = db_->url().substr(7);
  // The writer is a separate process: short write transactions, as an application would do.
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    sqlite3* conn = nullptr;
    if (sqlite3_open_v2(path.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      _exit(10);
    sqlite3_busy_timeout(conn, 30000);
    for (int i = 0; i < 1000000; ++i) {
      const auto sql = fmt::format(
          "BEGIN IMMEDIATE;"
          "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) VALUES ('w_u{0}', "
          "'writer{0}@example.com');"
          "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email) VALUES "
          "('w_keep{0}', 'other{0}@example.com');"
          "UPDATE core_mstr_one_qlick_users_tbl SET full_name = 'touched {0}' WHERE user_id = "
          "'u{1}';"
          "COMMIT;",
          i, i % 100000);
      if (sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(11);
      usleep(1000);
    }
    _exit(0);
  }
  const auto result = run_tool({"--run-once", "--output", "json", "--database-url", db_->url()});
  kill(writer, SIGKILL);
  int status = 0;
  waitpid(writer, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer process failed with exit " << WEXITSTATUS(status);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err.find("[error]"), std::string::npos) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 100000);
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'p%'"),
            "0");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'keep%'"),
            "1000");
  const auto writer_rows = std::stoll(
      db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_users_tbl WHERE user_id LIKE 'w_u%'"));
  EXPECT_GT(writer_rows, 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "pending_user_id LIKE 'w_keep%'"),
            std::to_string(writer_rows));
  EXPECT_EQ(db_->count(kUsers), 100000 + writer_rows);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteConcurrencyTest, ::testing::Values(TestBackend::kSqlite),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
