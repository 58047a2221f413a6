// Rows that go with a pending row on MariaDB (issues 20 and 22), where InnoDB differs from
// PostgreSQL and SQLite: it cascades at most 14 levels deep and refuses a delete that would go
// further; ROW_COUNT() and triggers see none of the cascaded rows, so the store counts them
// around each DELETE of locked rows, exactly even while the application inserts, deletes and
// moves child rows of the same pending rows. (dependents_itest.cc runs the common cases here.)
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

class MariadbDependentsTest : public BackendTest {
 protected:
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--pending-table", "pending", "--users-table", "users",
                               "--pending-key", "pending_user_id"});
    return run_on_db(std::move(args));
  }
  void users_and_pending() {
    db_->exec(
        "CREATE TABLE users (user_id VARCHAR(64) PRIMARY KEY, email VARCHAR(191) UNIQUE);"
        "CREATE TABLE pending (pending_user_id VARCHAR(64) PRIMARY KEY, email VARCHAR(191) "
        "UNIQUE)");
  }
};

// A chain of 15 tables below pending, each ON DELETE CASCADE from the one above. InnoDB deletes
// a row whose cascade reaches 14 levels down, and refuses one that reaches the 15th: that row is
// isolated and reported, its rows all kept, and only the committed cascades are counted.
TEST_P(MariadbDependentsTest, CascadeDeeperThanInnodbGoesIsRefusedAndOnlyTheRestCounted) {
  users_and_pending();
  std::string schema;
  for (int level = 1; level <= 15; ++level) {
    const std::string parent =
        level == 1 ? "pending (pending_user_id)" : fmt::format("t{} (id)", level - 1);
    schema += fmt::format(
        "CREATE TABLE t{0} (id VARCHAR(64) PRIMARY KEY, up VARCHAR(64), FOREIGN KEY (up) "
        "REFERENCES {1} ON DELETE CASCADE ON UPDATE RESTRICT);",
        level, parent);
  }
  // ON UPDATE is not what a delete does: this key refuses nothing.
  schema +=
      "CREATE TABLE notes (id VARCHAR(64) PRIMARY KEY, up VARCHAR(64), FOREIGN KEY (up) "
      "REFERENCES pending (pending_user_id) ON DELETE SET NULL ON UPDATE RESTRICT);";
  db_->exec(schema);
  // p_shallow's rows go 14 levels down, p_deep's 15; p_none has none; all three are candidates.
  std::string rows =
      "INSERT INTO users VALUES ('u1', 'shallow@example.com'), ('u2', 'deep@example.com'), "
      "('u3', 'none@example.com');"
      "INSERT INTO pending VALUES ('p_shallow', 'shallow@example.com'), ('p_deep', "
      "'deep@example.com'), ('p_none', 'none@example.com'), ('p_kept', 'kept@example.com');"
      "INSERT INTO notes VALUES ('n1', 'p_shallow'), ('n2', 'p_deep'), ('n3', 'p_kept');";
  for (const std::string owner : {"shallow", "deep"}) {
    const int levels = owner == "shallow" ? 14 : 15;
    for (int level = 1; level <= levels; ++level) {
      rows += fmt::format("INSERT INTO t{0} VALUES ('{1}{0}', '{2}');", level, owner,
                          level == 1 ? "p_" + owner : fmt::format("{}{}", owner, level - 1));
    }
  }
  db_->exec(rows);

  const auto dry = run({"--run-once", "--dry-run", "--output", "json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.err.find("foreign key t15(up) -> t14(id) ON DELETE CASCADE lies 15 keys below "
                         "pending: MariaDB refuses a delete whose cascade reaches that deep (at "
                         "most 14 levels)"),
            std::string::npos)
      << dry.err;
  // InnoDB indexes every foreign key: no index warning.
  EXPECT_EQ(dry.err.find("no index on"), std::string::npos) << dry.err;
  const auto predicted = last_json_report(dry);
  EXPECT_EQ(predicted["dependents"].size(), 16U) << predicted.dump();
  EXPECT_EQ(predicted["refused_by_dependents"], 0) << predicted.dump();

  TempDir dir;
  const auto file = dir.path() + "/batch_cleanup.prom";
  const auto real = run({"--run-once", "--output", "json", "--metrics-file", file});
  const auto report = last_json_report(real);
  EXPECT_EQ(report["deleted"], 2) << real.out << real.err;
  EXPECT_EQ(report["failed"], 1) << report.dump();
  ASSERT_EQ(report["failures"].size(), 1U) << report.dump();
  EXPECT_EQ(report["failures"][0]["key"], "p_deep") << report.dump();
  EXPECT_EQ(db_->keys("pending"), (std::set<std::string>{"p_deep", "p_kept"}));
  for (int level = 1; level <= 15; ++level) {
    // p_deep's chain stays whole; p_shallow's went with it.
    EXPECT_EQ(db_->scalar(fmt::format("SELECT count(*) FROM t{}", level)), "1") << level;
    EXPECT_EQ(db_->scalar(fmt::format("SELECT count(*) FROM t{} WHERE id LIKE 'deep%'", level)),
              "1")
        << level;
  }
  for (int level = 1; level <= 14; ++level) {
    EXPECT_EQ(dependent_metric(file, fmt::format("t{}", level), "deleted"), 1) << level;
  }
  EXPECT_EQ(dependent_metric(file, "notes", "set_null"), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM notes WHERE up IS NULL"), "1");
}

// While batches run, the application inserts codes for random pending rows (candidates or
// not), deletes codes, and moves codes from one pending row to another, each statement its own
// transaction. The rows the run reports as taken with the pending rows are exactly the codes
// that left the table other than by the application's own deletes.
TEST_P(MariadbDependentsTest, CascadedRowsAreCountedExactlyWhileTheApplicationWrites) {
  users_and_pending();
  db_->exec(
      "CREATE TABLE codes (code_id VARCHAR(64) PRIMARY KEY, pending_user_id VARCHAR(64) NOT NULL, "
      "FOREIGN KEY (pending_user_id) REFERENCES pending (pending_user_id) ON DELETE CASCADE)");
  constexpr int kPendingRows = 600;  // p0..p399 have a users row
  constexpr int kCandidates = 400;
  std::string rows;
  for (int i = 0; i < kPendingRows; ++i) {
    if (i < kCandidates) {
      rows += fmt::format("INSERT INTO users VALUES ('u{0}', 'user{0}@example.com');", i);
    }
    rows += fmt::format(
        "INSERT INTO pending VALUES ('p{0}', 'user{0}@example.com');"
        "INSERT INTO codes VALUES ('c{0}_a', 'p{0}'), ('c{0}_b', 'p{0}');",
        i);
  }
  db_->exec(rows);
  const long long initial = db_->count("codes");

  auto app = db_->another_connection();
  app->exec("SET SESSION innodb_lock_wait_timeout = 20");
  TempDir dir;
  const auto file = dir.path() + "/batch_cleanup.prom";
  ChildProcess cycle(
      {tool_binary(), "--pending-table", "pending", "--users-table", "users", "--pending-key",
       "pending_user_id", "--run-once", "--output", "json", "--batch-size", "5", "--sleep", "2ms",
       "--metrics-file", file, "--database-url", db_->url()},
      {});
  std::mt19937 random{7};
  long long inserted = 0;
  long long deleted_by_app = 0;
  long long moved = 0;
  int statements = 0;
  for (;;) {
    const int target = static_cast<int>(random() % kPendingRows);
    const int code = static_cast<int>(random() % kPendingRows);
    try {
      switch (statements % 3) {
        case 0:
          app->exec(fmt::format("INSERT INTO codes VALUES ('n{}', 'p{}')", statements, target));
          ++inserted;
          break;
        case 1:
          app->exec(fmt::format("DELETE FROM codes WHERE code_id = 'c{}_a'", code));
          deleted_by_app += std::stoll(app->scalar("SELECT ROW_COUNT()"));
          break;
        default:
          app->exec(fmt::format("UPDATE codes SET pending_user_id = 'p{}' WHERE code_id = 'c{}_b'",
                                target, code));
          moved += std::stoll(app->scalar("SELECT ROW_COUNT()"));
          break;
      }
    } catch (const std::runtime_error& e) {
      // The pending row is gone (the reference is refused): nothing changed.
      ASSERT_NE(std::string(e.what()).find("foreign key constraint fails"), std::string::npos)
          << e.what();
    }
    ++statements;
    if (cycle.current_out().find("\"deleted\"") != std::string::npos) break;
  }
  const auto result = cycle.wait(std::chrono::seconds(120));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  std::cerr << statements << " application statements during the run (" << inserted << " inserts, "
            << deleted_by_app << " deletes, " << moved << " moves), " << report["batches"]
            << " batches\n";
  EXPECT_GT(statements, 30);
  EXPECT_GT(report["batches"], 40) << report.dump();
  EXPECT_EQ(report["deleted"], kPendingRows - db_->count("pending")) << report.dump();
  const long long cascaded = initial + inserted - deleted_by_app - db_->count("codes");
  EXPECT_GT(cascaded, 0);
  ASSERT_EQ(report["dependents"].size(), 1U) << report.dump();
  EXPECT_EQ(report["dependents"][0]["table"], "codes") << report.dump();
  EXPECT_EQ(report["dependents"][0]["rows"], cascaded) << report.dump();
  EXPECT_EQ(dependent_metric(file, "codes", "deleted"), cascaded);
  // No code points at a pending row that is gone.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM codes c WHERE NOT EXISTS (SELECT 1 FROM pending p "
                        "WHERE p.pending_user_id = c.pending_user_id)"),
            "0");
}

// The application has deleted a code of a candidate and not committed yet. The batch waits for
// that code's lock (it locks the codes below its pending rows before it counts them), then
// counts and deletes once the application commits: the candidate is deleted, not skipped, and
// the codes counted are those the cascade took, not the one the application deleted.
TEST_P(MariadbDependentsTest, ACodeTheApplicationIsDeletingIsWaitedForAndNotCounted) {
  users_and_pending();
  db_->exec(
      "CREATE TABLE codes (code_id VARCHAR(64) PRIMARY KEY, pending_user_id VARCHAR(64) NOT NULL, "
      "FOREIGN KEY (pending_user_id) REFERENCES pending (pending_user_id) ON DELETE CASCADE);"
      "INSERT INTO users VALUES ('u1', 'one@example.com');"
      "INSERT INTO pending VALUES ('p1', 'one@example.com'), ('p2', 'two@example.com');"
      "INSERT INTO codes VALUES ('c1', 'p1'), ('c2', 'p1'), ('c3', 'p1'), ('c4', 'p2')");
  auto app = db_->another_connection();
  app->exec("START TRANSACTION");
  app->exec("DELETE FROM codes WHERE code_id = 'c2'");
  TempDir dir;
  const auto file = dir.path() + "/batch_cleanup.prom";
  ChildProcess cycle(
      {tool_binary(), "--pending-table", "pending", "--users-table", "users", "--pending-key",
       "pending_user_id", "--run-once", "--output", "json", "--lock-timeout", "20s",
       "--metrics-file", file, "--database-url", db_->url()},
      {});
  // Until the batch waits for the code's lock (or the run ended without waiting).
  bool waiting = false;
  const auto started = std::chrono::steady_clock::now();
  while (!waiting && std::chrono::steady_clock::now() - started < std::chrono::seconds(5) &&
         cycle.current_out().find("\"deleted\"") == std::string::npos) {
    waiting = db_->scalar(
                  "SELECT (SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = "
                  "'LOCK WAIT') + (SELECT count(*) FROM information_schema.processlist WHERE "
                  "state LIKE '%lock%' AND id <> connection_id())") != "0";
  }
  for (const auto& row : db_->query("SELECT state, left(info, 120) FROM "
                                    "information_schema.processlist WHERE state LIKE '%lock%'")) {
    std::cerr << "waiting: " << row[0].value_or("") << ": " << row[1].value_or("") << "\n";
  }
  if (!waiting) std::cerr << "cycle so far: " << cycle.current_err() << "\n";
  app->exec("COMMIT");
  const auto result = cycle.wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Not asserted: run after other cases, the wait is sometimes not seen as an InnoDB or
  // processlist lock wait (not explained yet); the outcome below is what the lock decides.
  if (!waiting) std::cerr << "no lock wait seen within 5 s\n";
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 1) << report.dump();
  EXPECT_EQ(report["skipped"], 0) << report.dump();
  EXPECT_EQ(db_->keys("pending"), (std::set<std::string>{"p2"}));
  EXPECT_EQ(db_->count("codes"), 1);
  ASSERT_EQ(report["dependents"].size(), 1U) << report.dump();
  EXPECT_EQ(report["dependents"][0]["rows"], 2) << report.dump();
  EXPECT_EQ(dependent_metric(file, "codes", "deleted"), 2);
}

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbDependentsTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
