// Run history: every non-dry cycle appends one row to the history table, in both stores, and
// `batch_cleanup history` prints them. Values are checked against what the cycle did to the
// database.
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "integration/backend_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class HistoryTest : public BackendTest {
 protected:
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }

  std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }

  long long relations_named(const std::string& pattern) {
    return std::stoll(
        db_->scalar(db_->is_postgres()
                        ? "SELECT count(*) FROM pg_class WHERE relname LIKE '" + pattern + "'"
                        : "SELECT count(*) FROM sqlite_schema WHERE name LIKE '" + pattern + "'"));
  }
};

std::string this_host() {
  char name[HOST_NAME_MAX + 1] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

TEST_P(HistoryTest, EveryNonDryCycleIsRecordedWithWhatItDid) {
  db_->create_original_schema();
  db_->insert_users(0, 1000);
  db_->insert_pending(0, 1500);  // p0..p999 match, p1000..p1499 do not

  ASSERT_EQ(run({"--run-once", "--dry-run"}).exit_code, 0);
  EXPECT_EQ(relations_named("batch_cleanup%"), 0) << "a dry run wrote history";

  const auto first = run({"--run-once", "--output", "json", "--batch-size", "100"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const long long deleted_in_db = 1500 - db_->count(kPending);
  EXPECT_EQ(deleted_in_db, 1000);
  const auto first_report = nlohmann::json::parse(first.out);
  const auto second = run({"--run-once", "--output", "json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto second_report = nlohmann::json::parse(second.out);

  const auto rows = db_->query(
      "SELECT cycle_id, mode, candidates, deleted, failed, skipped, batches, outcome, error, "
      "host, started_at, finished_at FROM batch_cleanup_runs ORDER BY run_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], first_report["cycle_id"].get<std::string>());
  EXPECT_EQ(rows[0][1], "once");
  EXPECT_EQ(rows[0][2], "1000");
  EXPECT_EQ(rows[0][3], std::to_string(deleted_in_db));
  EXPECT_EQ(rows[0][4], "0");
  EXPECT_EQ(rows[0][5], "0");
  EXPECT_EQ(rows[0][6], std::to_string(first_report["batches"].get<long long>()));
  // 100 rows per batch; a batch holds at most 4x that.
  EXPECT_GE(first_report["batches"].get<long long>(), 3);
  EXPECT_EQ(rows[0][7], "success");
  EXPECT_FALSE(rows[0][8].has_value());
  EXPECT_EQ(rows[0][9], this_host());
  EXPECT_TRUE(rows[0][10].has_value() && rows[0][11].has_value());
  EXPECT_EQ(rows[1][0], second_report["cycle_id"].get<std::string>());
  EXPECT_EQ(rows[1][3], "0");

  // The history command, newest first.
  const auto json = run({"history", "--output", "json", "--limit", "10"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto records = json_lines(json.out);
  ASSERT_EQ(records.size(), 2u) << json.out;
  EXPECT_EQ(records[0]["cycle_id"], second_report["cycle_id"]);
  EXPECT_EQ(records[1]["cycle_id"], first_report["cycle_id"]);
  EXPECT_EQ(records[1]["deleted"], deleted_in_db);
  EXPECT_EQ(records[1]["candidates"], 1000);
  EXPECT_EQ(records[1]["batches"], first_report["batches"]);
  EXPECT_EQ(records[1]["outcome"], "success");
  EXPECT_EQ(records[1]["mode"], "once");
  EXPECT_EQ(records[1]["host"], this_host());
  EXPECT_EQ(records[1]["started_at"], first_report["started_at"]);
  EXPECT_EQ(records[1]["finished_at"], first_report["finished_at"]);

  const auto text = run({"history", "--limit", "1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(second_report["cycle_id"].get<std::string>()), std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find(first_report["cycle_id"].get<std::string>()), std::string::npos)
      << text.out;
  // Reading the history wrote nothing.
  EXPECT_EQ(db_->count("batch_cleanup_runs"), 2);
}

TEST_P(HistoryTest, RefusedRowsAreRecordedAsPartial) {
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  db_->exec(
      "CREATE TABLE signup_audit (id INTEGER PRIMARY KEY, pending_user_id TEXT NOT NULL "
      "REFERENCES core_mstr_one_qlick_pending_users_tbl (pending_user_id) ON DELETE RESTRICT)");
  db_->exec("INSERT INTO signup_audit VALUES (1, 'p4')");
  const auto result = run({"--run-once"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const auto rows =
      db_->query("SELECT deleted, failed, outcome FROM batch_cleanup_runs ORDER BY run_id");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "9");
  EXPECT_EQ(rows[0][1], "1");
  EXPECT_EQ(rows[0][2], "partial");
}

TEST_P(HistoryTest, NoHistoryAndCustomTable) {
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 5);
  ASSERT_EQ(run({"--run-once", "--no-history"}).exit_code, 0);
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(relations_named("batch_cleanup_runs%"), 0) << "--no-history wrote history";

  db_->insert_pending(5, 3);
  ASSERT_EQ(run({"--run-once", "--history-table", "cleanup_audit"}).exit_code, 0);
  EXPECT_EQ(relations_named("batch_cleanup_runs%"), 0);
  const auto rows = db_->query("SELECT deleted, outcome FROM cleanup_audit");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "3");
  EXPECT_EQ(rows[0][1], "success");

  const auto empty = run({"history"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_NE(empty.out.find("no cycles recorded"), std::string::npos) << empty.out;
  const auto custom = run({"history", "--history-table", "cleanup_audit", "--output", "json"});
  EXPECT_EQ(custom.exit_code, 0) << custom.err;
  EXPECT_EQ(json_lines(custom.out).size(), 1u) << custom.out;
  EXPECT_EQ(run({"history", "--history-table", "x;drop"}).exit_code, 2);
}

// A role with only the privileges the cleanup needs (UPDATE too: this branch's batches lock
// their rows with SELECT ... FOR UPDATE, which PostgreSQL allows only with UPDATE privilege):
// the history cannot be created, the cycle
// still succeeds with a warning; once the table exists and INSERT is granted, it is recorded.
TEST(HistoryPrivilegesTest, WithoutCreateTheCycleSucceedsAndWarns) {
  if (!postgres_available()) GTEST_SKIP() << "no PostgreSQL server";
  auto db = make_test_database(TestBackend::kPostgres);
  db->create_original_schema();
  db->insert_users(0, 10);
  db->insert_pending(0, 4);
  const std::string role = "bc_limited_" + std::to_string(getpid());
  db->exec("CREATE ROLE " + role + " LOGIN");
  struct DropRole {
    TestDatabase& db;
    std::string role;
    ~DropRole() {
      try {
        db.exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
      } catch (...) {
      }
    }
  } drop{*db, role};
  db->exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO " + role +
           "; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " + role +
           "; GRANT SELECT, UPDATE, DELETE ON core_mstr_one_qlick_pending_users_tbl TO " + role);
  const std::string url = db->url() + " user=" + role;

  const auto limited = run_tool({"--run-once", "--database-url", url});
  EXPECT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_EQ(db->count(kPending), 0);
  EXPECT_NE(limited.err.find("could not record cycle"), std::string::npos) << limited.err;
  EXPECT_NE(limited.err.find("--no-history"), std::string::npos) << limited.err;
  EXPECT_EQ(db->scalar("SELECT to_regclass('batch_cleanup_runs') IS NULL"), "t");

  // An administrator's cycle creates the table; the role may then insert into it.
  db->insert_pending(4, 2);
  ASSERT_EQ(run_tool({"--run-once", "--database-url", db->url()}).exit_code, 0);
  db->exec("GRANT SELECT, INSERT ON batch_cleanup_runs TO " + role);
  db->insert_pending(6, 3);
  const auto granted = run_tool({"--run-once", "--database-url", url});
  EXPECT_EQ(granted.exit_code, 0) << granted.err;
  EXPECT_EQ(granted.err.find("could not record cycle"), std::string::npos) << granted.err;
  const auto rows = db->query("SELECT deleted FROM batch_cleanup_runs ORDER BY run_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "2");
  EXPECT_EQ(rows[1][0], "3");
}

INSTANTIATE_TEST_SUITE_P(Backends, HistoryTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

TEST(ObservabilityCliTest, ProgressBarIsDrawnWhenAsked) {
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 40);
  db->insert_pending(0, 30);
  const auto result = run_tool({"--run-once", "--progress-bar", "always", "--batch-size", "5",
                                "--progress-interval", "100ms", "--database-url", db->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("\r[########################] 100.0%  deleted 30 of 30"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("progress:"), std::string::npos) << "the bar replaces the log line";
  // Off a terminal (auto), no bar.
  db->insert_pending(100, 3);
  const auto plain = run_tool({"--run-once", "--database-url", db->url()});
  EXPECT_EQ(plain.err.find("\r["), std::string::npos) << plain.err;
}

}  // namespace
}  // namespace batch_cleanup::testing

namespace batch_cleanup::testing {
namespace {

TEST(ObservabilityCliTest, HelpListsTheObservabilityOptions) {
  const auto result = run_tool({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag :
       {"--http-listen", "--unhealthy-after", "--history-table", "--no-history", "--statistics",
        "--log-format", "--progress-bar", "history", "BATCH_CLEANUP_HTTP_LISTEN"}) {
    EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
  }
  const auto history = run_tool({"history", "--help"});
  EXPECT_EQ(history.exit_code, 0);
  EXPECT_NE(history.out.find("--limit"), std::string::npos) << history.out;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--run-once", "--log-format", "xml"},
        std::vector<std::string>{"--run-once", "--unhealthy-after", "0"},
        std::vector<std::string>{"--run-once", "--history-table", "a b"},
        std::vector<std::string>{"history", "--limit", "0"}}) {
    auto args = bad;
    args.insert(args.end(), {"--database-url", "sqlite:/nonexistent/never.db"});
    EXPECT_EQ(run_tool(args).exit_code, 2) << ::testing::PrintToString(bad);
  }
}

TEST(ObservabilityCliTest, JsonLogLinesCarryTheCycleIdAndCounts) {
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 20);
  db->insert_pending(0, 12);
  const auto result = run_tool({"--run-once", "--log-format", "json", "--statistics", "--output",
                                "json", "--database-url", db->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  bool summary = false;
  std::istringstream lines(result.err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("{", 0) != 0) continue;  // the --statistics table
    const auto log = nlohmann::json::parse(line);
    EXPECT_TRUE(log.contains("ts") && log.contains("level") && log.contains("msg")) << line;
    if (log.contains("deleted")) {
      summary = true;
      EXPECT_EQ(log["cycle_id"], report["cycle_id"]);
      EXPECT_EQ(log["deleted"], 12);
      EXPECT_EQ(log["candidates"], 12);
    }
  }
  EXPECT_TRUE(summary) << result.err;
  EXPECT_NE(result.err.find("find candidates (lock)"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("waiting on locks or throttle"), std::string::npos);
  EXPECT_TRUE(report["phases_ms"].contains("commit"));
}

}  // namespace
}  // namespace batch_cleanup::testing
