// The configuration file with several jobs, by the real binary on both backends: each job
// deletes exactly its own rows, reports separately (stdout, logs, /metrics, /status, history),
// and `batch_cleanup config` shows every value's source without the password.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

// A file in a temporary directory, removed afterwards.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text) {
    char dir[] = "/tmp/bc_config_itest_XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/batch_cleanup.toml";
    std::ofstream(path_) << text;
  }
  ~TempConfig() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

class ConfigFileTest : public BackendTest {
 protected:
  // Tenant tables: two schemas on PostgreSQL, two table pairs in one file on SQLite.
  std::string users(const std::string& tenant) const {
    return db_->is_postgres() ? tenant + ".users" : "users_" + tenant;
  }
  std::string pending(const std::string& tenant) const {
    return db_->is_postgres() ? tenant + ".pending" : "pending_" + tenant;
  }

  // Users user0..user{n_users-1}; pending p0..p{n_pending-1} with the same email numbering.
  void create_tenant(const std::string& tenant, int n_users, int n_pending) {
    if (db_->is_postgres()) db_->exec("CREATE SCHEMA " + tenant);
    db_->exec("CREATE TABLE " + users(tenant) + " (user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
    db_->exec("CREATE TABLE " + pending(tenant) +
              " (pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
    const auto series = [](int n) {
      return "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < " +
             std::to_string(n - 1) + ") ";
    };
    db_->exec(series(n_users) + "INSERT INTO " + users(tenant) +
              " SELECT 'u' || i, 'user' || i || '@example.com' FROM s");
    db_->exec(series(n_pending) + "INSERT INTO " + pending(tenant) +
              " SELECT 'p' || i, 'user' || i || '@example.com' FROM s");
  }

  // tenant_a: 100 of 150 pending rows match; tenant_b: 40 of 80 (its p40..p79 match only
  // tenant_a's users, so they must stay).
  void create_tenants() {
    create_tenant("tenant_a", 100, 150);
    create_tenant("tenant_b", 40, 80);
  }

  std::string two_jobs(const std::string& top = "") const {
    return "database-url = \"" + db_->url() + "\"\nbatch-size = 7\n" + top +
           "\n[[job]]\nname = \"tenant_a\"\nusers-table = \"" + users("tenant_a") +
           "\"\npending-table = \"" + pending("tenant_a") +
           "\"\n\n[[job]]\nname = \"tenant_b\"\nusers-table = \"" + users("tenant_b") +
           "\"\npending-table = \"" + pending("tenant_b") + "\"\nbatch-size = 3\n";
  }

  std::set<std::string> expected_keys(int first, int last) const {
    std::set<std::string> out;
    for (int i = first; i <= last; ++i) out.insert("p" + std::to_string(i));
    return out;
  }

  void expect_rows_of_each_job_deleted() {
    EXPECT_EQ(db_->keys(pending("tenant_a")), expected_keys(100, 149));
    EXPECT_EQ(db_->keys(pending("tenant_b")), expected_keys(40, 79));
    EXPECT_EQ(db_->count(users("tenant_a")), 100);
    EXPECT_EQ(db_->count(users("tenant_b")), 40);
  }
};

TEST_P(ConfigFileTest, RunOnceRunsEveryJobInFileOrderAndReportsEach) {
  create_tenants();
  TempConfig config(two_jobs());
  const auto text = run_tool({"--config", config.path(), "--run-once"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  expect_rows_of_each_job_deleted();
  const auto a = text.out.find("== job tenant_a ==\n");
  const auto b = text.out.find("== job tenant_b ==\n");
  ASSERT_NE(a, std::string::npos) << text.out;
  ASSERT_NE(b, std::string::npos) << text.out;
  EXPECT_LT(a, b);
  EXPECT_NE(text.err.find("[job tenant_a] "), std::string::npos) << text.err;
  EXPECT_NE(text.err.find("[job tenant_b] "), std::string::npos) << text.err;

  // The history table: one row per job, with its name and its own count.
  const auto rows = db_->query("SELECT job, deleted FROM batch_cleanup_runs ORDER BY run_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "tenant_a");
  EXPECT_EQ(rows[0][1], "100");
  EXPECT_EQ(rows[1][0], "tenant_b");
  EXPECT_EQ(rows[1][1], "40");

  // JSON: one object per job, with its name; nothing left to delete.
  const auto json = run_tool({"--config", config.path(), "--run-once", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto reports = json_reports(json);
  ASSERT_EQ(reports.size(), 2u) << json.out;
  EXPECT_EQ(reports[0]["job"], "tenant_a");
  EXPECT_EQ(reports[1]["job"], "tenant_b");
  EXPECT_EQ(reports[0]["deleted"], 0);
  EXPECT_EQ(reports[1]["candidates"], 0);

  // `history` shows the job column; --job keeps one job's cycles.
  const auto all = run_tool({"history", "--config", config.path()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find(" job "), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("tenant_a"), std::string::npos) << all.out;
  const auto only_b =
      run_tool({"history", "--config", config.path(), "--job", "tenant_b", "--output", "json"});
  ASSERT_EQ(only_b.exit_code, 0) << only_b.err;
  const auto records = json_reports(only_b);
  ASSERT_EQ(records.size(), 2u) << only_b.out;
  for (const auto& record : records) EXPECT_EQ(record["job"], "tenant_b");
  EXPECT_EQ(records[1]["deleted"], 40);
}

// Policies are per job: tenant_a compares emails lowercased and exempts one address; tenant_b
// only expires old sign-ups (--match none), whatever its users table holds.
TEST_P(ConfigFileTest, EachJobHasItsOwnPolicies) {
  create_tenants();
  db_->exec("UPDATE " + pending("tenant_a") +
            " SET email = upper(email) WHERE pending_user_id IN ('p1', 'p2')");
  const std::string time_type = db_->is_postgres() ? "timestamptz" : "TEXT";
  db_->exec("ALTER TABLE " + pending("tenant_b") + " ADD COLUMN created_at " + time_type);
  const std::string old_time =
      db_->is_postgres() ? "now() - interval '30 days'" : "datetime('now', '-30 days')";
  const std::string new_time =
      db_->is_postgres() ? "now() - interval '1 day'" : "datetime('now', '-1 day')";
  db_->exec("UPDATE " + pending("tenant_b") + " SET created_at = " + new_time);
  db_->exec("UPDATE " + pending("tenant_b") + " SET created_at = " + old_time +
            " WHERE pending_user_id IN ('p5', 'p50', 'p51')");
  TempConfig config("database-url = \"" + db_->url() +
                    "\"\n"
                    "[[job]]\nname = \"tenant_a\"\nusers-table = \"" +
                    users("tenant_a") + "\"\npending-table = \"" + pending("tenant_a") +
                    "\"\nnormalize-email = \"lower\"\nexclude-email = [\"User2@example.com\"]\n"
                    "[[job]]\nname = \"tenant_b\"\nusers-table = \"" +
                    users("tenant_b") + "\"\npending-table = \"" + pending("tenant_b") +
                    "\"\nmatch = \"none\"\nexpire-after = \"7d\"\n");
  const auto result = run_tool({"--config", config.path(), "--run-once", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto kept_a = expected_keys(100, 149);
  kept_a.insert("p2");
  EXPECT_EQ(db_->keys(pending("tenant_a")), kept_a);
  auto kept_b = expected_keys(0, 79);
  for (const char* gone : {"p5", "p50", "p51"}) kept_b.erase(gone);
  EXPECT_EQ(db_->keys(pending("tenant_b")), kept_b);
  const auto reports = json_reports(result);
  ASSERT_EQ(reports.size(), 2u) << result.out;
  EXPECT_EQ(reports[0]["job"], "tenant_a");
  EXPECT_EQ(reports[0]["deleted_by_policy"]["email"], 99);
  EXPECT_EQ(reports[1]["job"], "tenant_b");
  EXPECT_EQ(reports[1]["deleted_by_policy"]["expired"], 3);
  EXPECT_EQ(reports[1]["deleted_by_policy"]["email"], 0);
}

TEST_P(ConfigFileTest, FlagAndEnvironmentBeatTheFileForEveryJob) {
  create_tenants();
  TempConfig config(two_jobs());
  // --dry-run from the flag: nothing is deleted in either job.
  const auto dry = run_tool({"--config", config.path(), "--run-once", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(db_->count(pending("tenant_a")), 150);
  EXPECT_EQ(db_->count(pending("tenant_b")), 80);
  // The environment's batch size beats both the top level (7) and tenant_b's table (3).
  const auto env = run_tool({"--config", config.path(), "--run-once", "--output", "json"},
                            {{"BATCH_CLEANUP_BATCH_SIZE", "1000"}});
  ASSERT_EQ(env.exit_code, 0) << env.err;
  const auto reports = json_reports(env);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0]["batches"], 1);
  EXPECT_EQ(reports[1]["batches"], 1);
  expect_rows_of_each_job_deleted();
}

TEST_P(ConfigFileTest, ExitCodeIsTheWorstJobsAndTheOtherJobsStillRun) {
  create_tenants();
  TempConfig config("database-url = \"" + db_->url() +
                    "\"\n[[job]]\nname = \"broken\"\npending-table = \"no_such_table\"\n"
                    "\n[[job]]\nname = \"tenant_b\"\nusers-table = \"" +
                    users("tenant_b") + "\"\npending-table = \"" + pending("tenant_b") + "\"\n");
  const auto result = run_tool({"--config", config.path(), "--run-once"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("[job broken] "), std::string::npos) << result.err;
  EXPECT_EQ(db_->keys(pending("tenant_b")), expected_keys(40, 79));
  EXPECT_EQ(db_->count(pending("tenant_a")), 150);
}

TEST_P(ConfigFileTest, DaemonReportsEveryJobSeparately) {
  create_tenants();
  TempConfig config(two_jobs("interval = \"1h\"\nhttp-listen = \"127.0.0.1:0\"\n"));
  ChildProcess child({tool_binary(), "--config", config.path(), "--daemon"}, {});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  const auto status = [&] {
    const auto response = http_get(port, "/status");
    return response.status == 200 ? nlohmann::json::parse(response.body) : nlohmann::json{};
  };
  ASSERT_TRUE(wait_until([&] {
    const auto s = status();
    if (!s.contains("jobs") || s["jobs"].size() != 2) return false;
    for (const auto& job : s["jobs"]) {
      if (job.value("cycles", 0) < 1) return false;
    }
    return true;
  })) << child.current_err();
  expect_rows_of_each_job_deleted();

  const auto jobs = status()["jobs"];
  EXPECT_EQ(jobs[0]["job"], "tenant_a");
  EXPECT_EQ(jobs[0]["total_deleted"], 100);
  EXPECT_EQ(jobs[1]["job"], "tenant_b");
  EXPECT_EQ(jobs[1]["total_deleted"], 40);

  const auto metrics = http_get(port, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_rows_deleted_total{cleanup_job=\"tenant_a\"}"),
            100)
      << metrics;
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_rows_deleted_total{cleanup_job=\"tenant_b\"}"),
            40);
  EXPECT_EQ(metric_value(metrics,
                         "batch_cleanup_rows_deleted_by_policy_total{cleanup_job=\"tenant_a\","
                         "policy=\"email\"}"),
            100);
  EXPECT_EQ(metric_value(metrics,
                         "batch_cleanup_rows_deleted_by_policy_total{cleanup_job=\"tenant_b\","
                         "policy=\"expired\"}"),
            0);
  EXPECT_EQ(
      metric_value(metrics,
                   "batch_cleanup_cycles_total{cleanup_job=\"tenant_a\",outcome=\"success\"}"),
      1);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_last_cycle_deleted{cleanup_job=\"tenant_b\"}"),
            40);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_daemon_running{cleanup_job=\"tenant_b\"}"), 1);
  // 40 rows at 3 per batch on tenant_b; a batch may hold up to 4x that (PostgreSQL's page
  // ranges, SQLite's chunks).
  const auto batches_b =
      metric_value(metrics, "batch_cleanup_batches_total{cleanup_job=\"tenant_b\"}");
  ASSERT_TRUE(batches_b.has_value());
  EXPECT_GE(*batches_b, 4);
  EXPECT_EQ(
      metric_value(metrics, "batch_cleanup_batch_duration_seconds_count{cleanup_job=\"tenant_b\"}"),
      batches_b);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_rows_deleted_total"), std::nullopt);

  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  const auto history = nlohmann::json::parse(http_get(port, "/history.json").body);
  std::set<std::string> history_jobs;
  for (const auto& cycle : history) history_jobs.insert(cycle["job"].get<std::string>());
  EXPECT_EQ(history_jobs, (std::set<std::string>{"tenant_a", "tenant_b"}));
  const auto page = http_get(port, "/").body;
  EXPECT_NE(page.find("\"job\":\"tenant_b\""), std::string::npos);

  // The history table has each job's row.
  const auto rows = db_->query("SELECT job, deleted FROM batch_cleanup_runs ORDER BY job");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "tenant_a");
  EXPECT_EQ(rows[0][1], "100");
  EXPECT_EQ(rows[1][0], "tenant_b");
  EXPECT_EQ(rows[1][1], "40");

  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // Every line of a job's cycle names the job.
  int cycle_lines = 0;
  std::istringstream lines(result.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" cycle ") == std::string::npos || line.find("started (") == std::string::npos)
      continue;
    ++cycle_lines;
    EXPECT_TRUE(line.find("[job tenant_a] ") != std::string::npos ||
                line.find("[job tenant_b] ") != std::string::npos)
        << line;
  }
  EXPECT_EQ(cycle_lines, 2) << result.err << "\n---\n" << child.current_err();
}

TEST_P(ConfigFileTest, HistoryTableOfAnEarlierVersionGetsTheJobColumn) {
  create_tenants();
  db_->exec(std::string("CREATE TABLE batch_cleanup_runs (run_id ") +
            (db_->is_postgres() ? "bigint GENERATED ALWAYS AS IDENTITY" : "INTEGER") +
            " PRIMARY KEY, cycle_id text NOT NULL, started_at text NOT NULL, finished_at text "
            "NOT NULL, host text NOT NULL, mode text NOT NULL, candidates bigint NOT NULL, "
            "deleted bigint NOT NULL, failed bigint NOT NULL, skipped bigint NOT NULL, "
            "batches bigint NOT NULL, duration_ms double precision NOT NULL, outcome text NOT "
            "NULL, error text)");
  if (db_->is_postgres()) {
    db_->exec(
        "ALTER TABLE batch_cleanup_runs ALTER started_at TYPE timestamptz USING "
        "started_at::timestamptz, ALTER finished_at TYPE timestamptz USING "
        "finished_at::timestamptz");
  }
  db_->exec(
      "INSERT INTO batch_cleanup_runs (cycle_id, started_at, finished_at, host, mode, "
      "candidates, deleted, failed, skipped, batches, duration_ms, outcome) VALUES ('old1', "
      "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z', 'h', 'once', 1, 1, 0, 0, 1, 5, "
      "'success')");
  // Read before any new cycle: the old row is the default job's.
  const auto before = run_on_db({"history", "--output", "json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  ASSERT_EQ(json_reports(before).size(), 1u) << before.out;
  EXPECT_EQ(json_reports(before)[0]["job"], "default");

  TempConfig config(two_jobs());
  const auto run = run_tool({"--config", config.path(), "--run-once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err.find("could not record"), std::string::npos) << run.err;
  const auto rows = db_->query("SELECT coalesce(job, '-') FROM batch_cleanup_runs ORDER BY run_id");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "-");
  EXPECT_EQ(rows[1][0], "tenant_a");
  EXPECT_EQ(rows[2][0], "tenant_b");
  const auto old = run_on_db({"history", "--job", "default", "--output", "json"});
  ASSERT_EQ(json_reports(old).size(), 1u) << old.out;
  EXPECT_EQ(json_reports(old)[0]["cycle_id"], "old1");
}

INSTANTIATE_TEST_SUITE_P(Backends, ConfigFileTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

// No database needed: the config command never connects.
TEST(ConfigCommandTest, ShowsEverySourceAndNeverThePassword) {
  TempConfig config(
      "database-url = \"postgresql://app:TopSecretPw42@127.0.0.1:1/app\"\n"
      "batch-size = 1000\nsleep = \"5ms\"\n\n[[job]]\nname = \"tenant_a\"\n"
      "pending-table = \"tenant_a.pending\"\nbatch-size = 200\n\n[[job]]\nname = \"tenant_b\"\n"
      "pending-table = \"tenant_b.pending\"\n");
  const auto text = run_tool({"config", "--config", config.path(), "--retries", "2"},
                             {{"BATCH_CLEANUP_SLEEP", "3ms"}});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.find("TopSecretPw42"), std::string::npos) << text.out;
  EXPECT_EQ(text.err.find("TopSecretPw42"), std::string::npos) << text.err;
  EXPECT_NE(text.out.find("postgresql://app:***@127.0.0.1:1/app"), std::string::npos);
  EXPECT_NE(text.out.find("job tenant_a\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("file " + config.path() + ":8"), std::string::npos) << text.out;

  const auto json =
      run_tool({"config", "--config", config.path(), "--retries", "2", "--output", "json"},
               {{"BATCH_CLEANUP_SLEEP", "3ms"}});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find("TopSecretPw42"), std::string::npos);
  const auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["config_file"], config.path());
  ASSERT_EQ(parsed["jobs"].size(), 2u);
  std::map<std::string, std::pair<std::string, std::string>> b;
  for (const auto& s : parsed["jobs"][1]["settings"]) {
    b[s["key"]] = {s["value"].get<std::string>(), s["source"].get<std::string>()};
  }
  EXPECT_EQ(parsed["jobs"][1]["job"], "tenant_b");
  EXPECT_EQ(b["batch-size"], std::make_pair(std::string("1000"), "file " + config.path() + ":2"));
  EXPECT_EQ(b["pending-table"],
            std::make_pair(std::string("tenant_b.pending"), "file " + config.path() + ":12"));
  EXPECT_EQ(b["sleep"], std::make_pair(std::string("3ms"), std::string("env BATCH_CLEANUP_SLEEP")));
  EXPECT_EQ(b["retries"], std::make_pair(std::string("2"), std::string("flag")));
  EXPECT_EQ(b["lock-timeout"], std::make_pair(std::string("2s"), std::string("default")));

  // BATCH_CLEANUP_CONFIG names the file too.
  const auto from_env = run_tool({"config"}, {{"BATCH_CLEANUP_CONFIG", config.path()}});
  ASSERT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_NE(from_env.out.find("job tenant_b\n"), std::string::npos);
}

TEST(ConfigCommandTest, ConfigurationErrorsExit2WithFileLineAndKey) {
  TempConfig config("batch-size = 10\n[[job]]\nname = \"a\"\nlog-level = \"debug\"\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"config", "--config", config.path()}, {"--config", config.path(), "--run-once"}}) {
    const auto result = run_tool(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(config.path() + ":4: key 'log-level' applies to the whole process"),
              std::string::npos)
        << result.err;
  }
  TempConfig unknown("\nbatch-sise = 10\n");
  const auto result = run_tool({"--config", unknown.path(), "--run-once"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(unknown.path() + ":2: unknown key 'batch-sise'"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace batch_cleanup::testing
