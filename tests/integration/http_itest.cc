// The HTTP endpoints of a running daemon (--http-listen): /healthz, /metrics, /status,
// /history.json and the status page. Metric values are checked against what the cycles did
// to the database.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";

using HttpTest = BackendTest;

nlohmann::json status_of(int port) {
  const auto response = http_get(port, "/status");
  if (response.status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(response.body);
}

TEST_P(HttpTest, EndpointsReportWhatTheCyclesDid) {
  db_->create_original_schema();
  db_->insert_users(0, 2000);
  db_->insert_pending(0, 2500);  // 2000 match
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1h", "--batch-size", "150",
                      "--http-listen", "127.0.0.1:0", "--database-url", db_->url()},
                     {});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  ASSERT_TRUE(wait_until([&] { return status_of(port).value("cycles", 0) >= 1; }))
      << child.current_err();
  const long long deleted_in_db = 2500 - db_->count(kPending);
  ASSERT_EQ(deleted_in_db, 2000);

  const auto status = status_of(port);
  EXPECT_EQ(status["running"], true);
  EXPECT_EQ(status["total_deleted"], deleted_in_db);
  ASSERT_TRUE(status["last_report"].is_object());
  const long long batches = status["last_report"]["batches"].get<long long>();
  // 2000 rows at 150 per batch; a batch holds at most 4x that (PostgreSQL's page ranges,
  // SQLite's chunks).
  EXPECT_GE(batches, 4);

  // What the job cleans, for the status page.
  ASSERT_TRUE(status["info"].is_object()) << status.dump();
  EXPECT_EQ(status["info"]["backend"], db_->is_postgres() ? "postgresql" : "sqlite");
  EXPECT_EQ(status["info"]["pending_table"], kPending);
  EXPECT_EQ(status["info"]["policies"], nlohmann::json::array({"email"}));
  EXPECT_EQ(status["info"]["interval_ms"], 3'600'000);
  EXPECT_FALSE(status["info"]["version"].get<std::string>().empty());
  EXPECT_TRUE(status["last_cycle_by_outcome"].contains("success")) << status.dump();

  const auto health = http_get(port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  for (const char* probe : {"/livez", "/readyz", "/readyz?job=default"}) {
    const auto answer = http_get(port, probe);
    EXPECT_EQ(answer.status, 200) << probe;
    EXPECT_EQ(answer.body, "ok\n") << probe;
  }

  const auto metrics = http_get(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  const auto& text = metrics.body;
  EXPECT_EQ(metric_value(text, "batch_cleanup_rows_deleted_total"), deleted_in_db) << text;
  EXPECT_EQ(metric_value(text, "batch_cleanup_rows_failed_total"), 0);
  EXPECT_EQ(metric_value(text, "batch_cleanup_rows_skipped_total"), 0);
  EXPECT_EQ(metric_value(text, "batch_cleanup_cycles_total{outcome=\"success\"}"), 1);
  EXPECT_EQ(metric_value(text, "batch_cleanup_cycles_total{outcome=\"failed\"}"), 0);
  EXPECT_EQ(metric_value(text, "batch_cleanup_last_cycle_candidates"), 2000);
  EXPECT_EQ(metric_value(text, "batch_cleanup_daemon_running"), 1);
  EXPECT_EQ(metric_value(text, "batch_cleanup_batch_duration_seconds_count"), batches);
  EXPECT_EQ(metric_value(text, "batch_cleanup_batch_duration_seconds_bucket{le=\"+Inf\"}"),
            batches);
  EXPECT_EQ(metric_value(text, "batch_cleanup_batches_total"), batches);
  const auto duration = metric_value(text, "batch_cleanup_last_cycle_duration_seconds");
  ASSERT_TRUE(duration.has_value());
  EXPECT_NEAR(*duration, status["last_report"]["duration_ms"].get<double>() / 1000.0, 0.002);
  const auto last_success = metric_value(text, "batch_cleanup_last_success_timestamp_seconds");
  ASSERT_TRUE(last_success.has_value());
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(*last_success, now - 120);
  EXPECT_LE(*last_success, now + 1);
  EXPECT_NE(text.find("# TYPE batch_cleanup_batch_duration_seconds histogram"), std::string::npos);

  const auto history = http_get(port, "/history.json");
  ASSERT_EQ(history.status, 200);
  const auto cycles = nlohmann::json::parse(history.body);
  ASSERT_EQ(cycles.size(), 1u);
  EXPECT_EQ(cycles[0]["deleted"], deleted_in_db);
  EXPECT_EQ(cycles[0]["mode"], "daemon");
  // The database's history row says the same.
  EXPECT_EQ(db_->scalar("SELECT deleted FROM batch_cleanup_runs"), std::to_string(deleted_in_db));

  const auto page = http_get(port, "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<div id=\"jobs\"></div>"), std::string::npos);
  EXPECT_NE(page.body.find("<script id=\"initial-status\" type=\"application/json\">"),
            std::string::npos);
  EXPECT_NE(page.body.find(cycles[0]["cycle_id"].get<std::string>()), std::string::npos);

  EXPECT_EQ(http_get(port, "/nope").status, 404);

  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(15));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

TEST(HttpHealthTest, UnreachableDatabaseMakesHealthz503) {
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1s", "--retries", "0",
                      "--http-listen", "127.0.0.1:0", "--unhealthy-after", "5"},
                     {{"DATABASE_URL", kDeadUrl}});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  HttpResponse health;
  ASSERT_TRUE(wait_until([&] {
    health = http_get(port, "/healthz");
    return health.status == 503;
  })) << health.status
      << " " << health.body;
  EXPECT_NE(health.body.find("database unreachable"), std::string::npos) << health.body;
  EXPECT_EQ(health.body.find("TopSecretPw42"), std::string::npos) << health.body;
  const auto metrics = http_get(port, "/metrics").body;
  EXPECT_GE(metric_value(metrics, "batch_cleanup_cycles_total{outcome=\"failed\"}").value_or(0), 1);
  EXPECT_GE(metric_value(metrics, "batch_cleanup_consecutive_failed_cycles").value_or(0), 1);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_last_success_timestamp_seconds"), 0);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_rows_deleted_total"), 0);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(std::chrono::seconds(15)).exit_code, 0);
}

TEST(HttpHealthTest, BadListenAddressIsAUsageError) {
  for (const char* address : {"9187", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:x"}) {
    const auto result = run_tool(
        {"--run-once", "--http-listen", address, "--database-url", "sqlite:/nonexistent/never.db"});
    EXPECT_EQ(result.exit_code, 2) << address << "\n" << result.err;
    EXPECT_NE(result.err.find("--http-listen"), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace batch_cleanup::testing
