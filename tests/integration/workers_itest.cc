// --workers N on PostgreSQL and MariaDB: N connections delete over disjoint slices of the
// pending table (PostgreSQL: page or key ranges; MariaDB: primary-key ranges) while the cycle's
// own connection holds the lease. Exact rows, exact counts (report, history, metrics,
// --max-deletes as one budget), a concurrent application, the archive table and file written
// once per row (PostgreSQL), SIGTERM, a takeover of the lease, and SQLite's refusal.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/json_report.h"
#include "integration/own_server.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// The keys p<first> .. p<first+count-1>.
std::set<std::string> key_range(long long first, long long count) {
  std::set<std::string> keys;
  for (long long i = first; i < first + count; ++i) keys.insert("p" + std::to_string(i));
  return keys;
}

class WorkersTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    if (skip_sqlite()) return;
    db_->create_original_schema();
  }
  bool skip_sqlite() const { return db_->backend() == TestBackend::kSqlite; }
  // Every DELETE of `rows` pending rows takes about `seconds` longer (PostgreSQL: a statement
  // trigger; MariaDB has row triggers only: each row takes seconds / rows).
  void slow_deletes(double seconds, int rows) {
    db_->slow_pending_deletes(db_->is_mariadb() ? seconds / rows : seconds);
  }
  void drop_slow_deletes() {
    db_->exec(db_->is_mariadb() ? std::string("DROP TRIGGER slow_down")
                                : "DROP TRIGGER slow_down ON " + std::string(kPending));
  }
  // The server connections of the test's database other than the test's own.
  std::string other_connections() {
    return db_->scalar(db_->is_mariadb()
                           ? "SELECT count(*) FROM information_schema.processlist WHERE db = "
                             "database() AND id <> connection_id()"
                           : "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND pid <> pg_backend_pid()");
  }
};

// Every strategy, with 2 and 3 workers: exactly the matching rows go, every other row stays,
// and the report and the history row count each deletion once.
// MariaDB: the keyset over the primary key (its one strategy), with a metrics file too.
TEST_P(WorkersTest, WorkersDeleteExactlyTheMatchingRowsWithEitherStrategy) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB (SQLite: see SqliteRefusesWorkers)";
  const auto strategies = db_->is_mariadb() ? std::vector<std::string>{"key"}
                                            : std::vector<std::string>{"physical", "key", "email"};
  for (const std::string& strategy : strategies) {
    for (const int workers : {2, 3}) {
      SCOPED_TRACE(fmt::format("{} with {} workers", strategy, workers));
      db_->exec(fmt::format("TRUNCATE {}; TRUNCATE core_mstr_one_qlick_users_tbl", kPending));
      // Users 0..2999; pending 0..5999, interleaved with rows whose email differs only in case
      // (kept: no normalisation by default; on MariaDB, whose unique index under
      // utf8mb4_general_ci takes no such pair, emails no user has).
      db_->insert_users(0, 3000);
      db_->insert_pending(0, 6000);
      db_->exec(fmt::format(
          fmt::runtime(db_->is_mariadb()
                           ? "INSERT INTO {} (pending_user_id, email) SELECT concat('c', seq), "
                             "concat('nobody', seq, '@example.com') FROM seq_0_to_999"
                           : "INSERT INTO {} (pending_user_id, email) SELECT 'c' || i, 'USER' || i "
                             "|| '@example.com' FROM generate_series(0, 999) i"),
          kPending));
      TempDir dir;
      const auto metrics = dir.path() + "/batch_cleanup.prom";
      const auto result =
          run_on_db({"--run-once", "--output", "json", "--batch-size", "100", "--batch-strategy",
                     strategy, "--workers", std::to_string(workers), "--metrics-file", metrics});
      ASSERT_EQ(result.exit_code, 0) << result.err;
      EXPECT_NE(result.err.find(fmt::format("{} workers, over", workers)), std::string::npos)
          << result.err;
      const auto report = last_json_report(result);
      EXPECT_EQ(report["deleted"], 3000);
      EXPECT_EQ(report["candidates"], 3000);
      EXPECT_EQ(report["failed"], 0);
      EXPECT_GE(report["batches"].get<int>(), 30);
      EXPECT_EQ(report["interrupted"], false);
      EXPECT_GT(report["batch_p99_ms"].get<double>(), 0);
      auto expected = key_range(3000, 3000);
      for (int i = 0; i < 1000; ++i) expected.insert("c" + std::to_string(i));
      EXPECT_EQ(db_->keys(), expected);
      EXPECT_EQ(db_->scalar("SELECT deleted FROM batch_cleanup_runs ORDER BY run_id DESC LIMIT 1"),
                "3000");
      std::ifstream in(metrics);
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      EXPECT_EQ(metric_value(text, "batch_cleanup_last_cycle_deleted"), 3000) << text;
      EXPECT_EQ(metric_value(text, "batch_cleanup_rows_deleted_total"), 3000) << text;
    }
  }
}

// A partitioned table (key batches): the workers' key ranges cross the partitions.
// MariaDB: an integer key, split as numbers.
TEST_P(WorkersTest, APartitionedTableIsSplitByKeyRanges) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB";
  if (db_->is_mariadb()) {
    db_->exec(fmt::format(
        "DROP TABLE {0}; CREATE TABLE {0} (pending_user_id BIGINT PRIMARY KEY, email "
        "VARCHAR(191)) PARTITION BY RANGE (pending_user_id) (PARTITION pending_low VALUES LESS "
        "THAN (1500), PARTITION pending_high VALUES LESS THAN (10000)); INSERT INTO {0} SELECT "
        "seq, concat('user', seq, '@example.com') FROM seq_0_to_3999",
        kPending));
  } else {
    db_->exec(fmt::format(
        "DROP TABLE {0}; CREATE TABLE {0} (pending_user_id bigint PRIMARY KEY, email text) "
        "PARTITION BY RANGE (pending_user_id); CREATE TABLE pending_low "
        "PARTITION OF {0} FOR VALUES FROM (0) TO (1500); CREATE TABLE pending_high PARTITION OF "
        "{0} FOR VALUES FROM (1500) TO (10000); INSERT INTO {0} SELECT i, 'user' || i || "
        "'@example.com' FROM generate_series(0, 3999) i",
        kPending));
  }
  db_->insert_users(0, 4000);
  db_->exec("DELETE FROM core_mstr_one_qlick_users_tbl WHERE user_id IN ('u7', 'u1499', 'u3001')");
  const auto result =
      run_on_db({"--run-once", "--output", "json", "--batch-size", "128", "--workers", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["strategy"], "key");
  EXPECT_EQ(report["deleted"], 3997);
  EXPECT_EQ(db_->keys(kPending, db_->is_mariadb() ? "CAST(pending_user_id AS CHAR)"
                                                  : "pending_user_id::text"),
            (std::set<std::string>{"1499", "3001", "7"}));
}

// --max-deletes is one budget across the workers: rows an application adds while the cycle
// runs (after the guard counted) are left for the next cycle, and exactly the limit goes.
TEST_P(WorkersTest, MaxDeletesIsOneBudgetForAllWorkers) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB";
  db_->insert_users(0, 400);
  db_->insert_pending(0, 200);
  slow_deletes(0.05, 10);
  ChildProcess child({tool_binary(), "--run-once", "--output", "json", "--batch-size", "10",
                      "--workers", "2", "--max-deletes", "200", "--database-url", db_->url()},
                     {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) < 200; }, std::chrono::seconds(30)))
      << child.current_err();
  db_->insert_pending(200, 200);  // 200 more matching rows, in both workers' slices' reach
  const auto result = child.wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 200);
  EXPECT_EQ(db_->count(kPending), 200);
  EXPECT_NE(result.err.find("cycle stopped at --max-deletes 200"), std::string::npos) << result.err;
}

// The archive table and the archive file are written by every worker: each deleted row is in
// both exactly once, and in neither when it stayed.
TEST_P(WorkersTest, ArchiveTableAndFileHoldEachDeletedRowOnce) {
  if (!db_->is_postgres()) GTEST_SKIP() << "PostgreSQL only (no archive on MariaDB yet)";
  db_->insert_users(0, 1500);
  db_->insert_pending(0, 2000);
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("bc_workers_{}_{}", ::getpid(), std::random_device{}());
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "archive.ndjson").string();
  const auto result =
      run_on_db({"--run-once", "--output", "json", "--batch-size", "50", "--workers", "3",
                 "--archive-table", "bc_archive", "--archive-file", file});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 1500);
  EXPECT_EQ(db_->keys("bc_archive"), key_range(0, 1500));
  std::multiset<std::string> rows_in_file;
  std::set<std::string> committed;
  std::ifstream in(file);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  for (const auto& object : lines) {
    if (object["type"] == "commit") committed.insert(object["batch"].get<std::string>());
  }
  for (const auto& object : lines) {
    if (object["type"] == "row" && committed.count(object["batch"].get<std::string>())) {
      rows_in_file.insert(object["key"].get<std::string>());
    }
  }
  EXPECT_EQ(rows_in_file.size(), 1500u) << "a row is in the file twice, or missing";
  EXPECT_EQ(std::set<std::string>(rows_in_file.begin(), rows_in_file.end()), key_range(0, 1500));
  std::filesystem::remove_all(dir);
}

// SIGTERM ends every worker after the batch in flight: the run exits within seconds, the
// report counts exactly the rows gone, and the next run finishes the job.
TEST_P(WorkersTest, SigtermStopsEveryWorker) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB";
  db_->insert_users(0, 3000);
  db_->insert_pending(0, 3000);
  slow_deletes(0.2, 20);
  ChildProcess child({tool_binary(), "--run-once", "--output", "json", "--batch-size", "20",
                      "--workers", "3", "--database-url", db_->url()},
                     {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) <= 2900; }, std::chrono::seconds(30)))
      << child.current_err();
  child.signal(SIGTERM);
  const auto start = std::chrono::steady_clock::now();
  const auto result = child.wait(std::chrono::seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["interrupted"], true);
  const long long gone = 3000 - db_->count(kPending);
  EXPECT_EQ(report["deleted"], gone);
  EXPECT_LT(gone, 3000) << "the run finished before the signal";
  // No worker's connection is left behind on the server.
  EXPECT_TRUE(eventually([&] { return other_connections() == "0"; }, std::chrono::seconds(10)));
  drop_slow_deletes();
  const auto next = run_on_db({"--run-once", "--workers", "3"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(db_->count(kPending), 0);
}

// Another instance takes the lease over (here: the row is given to another holder, as an
// expired lease would be): the workers' next batches see it in their transactions and end the
// cycle; nothing is deleted after the takeover committed.
TEST_P(WorkersTest, ATakeoverOfTheLeaseEndsEveryWorker) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB";
  db_->insert_users(0, 3000);
  db_->insert_pending(0, 3000);
  slow_deletes(0.1, 20);
  ChildProcess child({tool_binary(), "--run-once", "--output", "json", "--batch-size", "20",
                      "--workers", "2", "--database-url", db_->url()},
                     {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) <= 2900; }, std::chrono::seconds(30)))
      << child.current_err();
  // Waits for the batches in flight (they hold the row shared), then commits.
  db_->exec("UPDATE batch_cleanup_leases SET holder = 'another-instance', epoch = epoch + 1");
  const long long after_takeover = db_->count(kPending);
  const auto result = child.wait(std::chrono::seconds(30));
  EXPECT_EQ(db_->count(kPending), after_takeover);
  EXPECT_NE(result.err.find("taken over"), std::string::npos) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["interrupted"], true);
  EXPECT_EQ(report["deleted"], 3000 - after_takeover);
}

// An application inserts new users, sign-ups nobody matches and late duplicates, and updates a
// surviving row, while two workers run: every original duplicate goes, nothing else is touched,
// the report counts exactly the rows gone, and no statement of the application waited as long
// as the lock timeout (2 s).
TEST_P(WorkersTest, AConcurrentApplicationDuringWorkers) {
  if (skip_sqlite()) GTEST_SKIP() << "PostgreSQL and MariaDB";
  db_->insert_users(0, 6000);
  db_->insert_pending(0, 6000);
  db_->insert_pending(100000, 1000, "keep");  // keep100000..: no user has these emails
  auto app = db_->another_connection();
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  double slowest_ms = 0;
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      const auto start = std::chrono::steady_clock::now();
      app->exec(fmt::format(
          "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email) VALUES ('w_u{0}', "
          "'late{0}@example.com');"
          "INSERT INTO {1} (pending_user_id, email) VALUES ('w_keep{0}', "
          "'fresh{0}@example.com'), ('w_dup{0}', 'late{0}@example.com');"
          "UPDATE {1} SET full_name = 'touched {0}' WHERE pending_user_id = 'keep{2}'",
          i, kPending, 100000 + i % 1000));
      slowest_ms = std::max(slowest_ms, std::chrono::duration<double, std::milli>(
                                            std::chrono::steady_clock::now() - start)
                                            .count());
      ++written;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const auto result = run_on_db({"--run-once", "--output", "json", "--batch-size", "100",
                                 "--workers", "2", "--lock-timeout", "2s"});
  stop = true;
  writer.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("2 workers, over"), std::string::npos) << result.err;
  ASSERT_GT(written.load(), 0);
  EXPECT_EQ(
      db_->scalar(fmt::format("SELECT count(*) FROM {} WHERE pending_user_id LIKE 'p%'", kPending)),
      "0");
  EXPECT_EQ(db_->scalar(fmt::format("SELECT count(*) FROM {} WHERE pending_user_id LIKE 'keep%'",
                                    kPending)),
            "1000");
  EXPECT_EQ(db_->scalar(fmt::format("SELECT count(*) FROM {} WHERE pending_user_id LIKE 'w_keep%'",
                                    kPending)),
            std::to_string(written.load()));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"].get<long long>(), 7000 + 2LL * written.load() - db_->count(kPending));
  EXPECT_EQ(report["failed"], 0);
  EXPECT_LT(slowest_ms, 2000.0) << "the application waited for the workers' locks";
  // Late duplicates left for the next run go then.
  ASSERT_EQ(run_on_db({"--run-once", "--workers", "2"}).exit_code, 0);
  EXPECT_EQ(db_->scalar(fmt::format("SELECT count(*) FROM {} WHERE pending_user_id LIKE 'w_dup%'",
                                    kPending)),
            "0");
}

// SQLite has one writer: more workers are refused as a configuration error.
TEST_P(WorkersTest, SqliteRefusesWorkers) {
  if (!skip_sqlite()) GTEST_SKIP() << "SQLite only";
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  const auto result = run_on_db({"--run-once", "--workers", "2"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--workers 2: SQLite lets one connection write at a time"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(db_->count(kPending), 10);
  EXPECT_EQ(run_on_db({"--run-once", "--workers", "1"}).exit_code, 0);
  EXPECT_EQ(db_->count(kPending), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkersTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
