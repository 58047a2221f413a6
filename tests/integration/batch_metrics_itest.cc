// Metrics of batch runs, by the real binary and the real collectors: --metrics-file is served by
// Debian's node_exporter (textfile collector), --push-metrics lands in Debian's Pushgateway; both
// say what the cycle did to the database, also when it failed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";
constexpr const char* kPushgateway = "/usr/bin/prometheus-pushgateway";

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string this_host() {
  char buffer[HOST_NAME_MAX + 1] = {};
  gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

void require(const char* program) {
  if (program_installed(program)) return;
  const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
  if (required != nullptr && std::string(required) == "1") {
    FAIL() << program << " is not installed (scripts/install-deps.sh installs it)";
  }
  GTEST_SKIP() << program << " is not installed";
}

using BatchMetricsTest = BackendTest;

TEST_P(BatchMetricsTest, RunOnceLeavesATextfileThatNodeExporterServes) {
  require(kNodeExporter);
  if (::testing::Test::IsSkipped() || ::testing::Test::HasFailure()) return;
  db_->create_original_schema();
  db_->insert_users(0, 300);
  db_->insert_pending(0, 500);  // 300 match
  TempDir dir;
  const auto file = dir.path() + "/batch_cleanup.prom";
  const auto run = run_on_db({"--run-once", "--batch-size", "40", "--metrics-file", file});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const long long deleted = 500 - db_->count(kPending);
  ASSERT_EQ(deleted, 300);
  const auto text = read_all(file);
  EXPECT_EQ(metric_value(text, "batch_cleanup_rows_deleted_total"), deleted) << text;
  EXPECT_EQ(metric_value(text, "batch_cleanup_last_cycle_deleted"), deleted);
  EXPECT_EQ(metric_value(text, "batch_cleanup_cycles_total{outcome=\"success\"}"), 1);
  EXPECT_EQ(metric_value(text, "batch_cleanup_backlog_rows"), 0);
  EXPECT_EQ(metric_value(text, "batch_cleanup_database_up"), 1);
  EXPECT_GT(metric_value(text, "batch_cleanup_last_success_timestamp_seconds").value_or(0), 0);
  EXPECT_EQ(text.find("process_"), std::string::npos) << text;
  // Replaced atomically: nothing but the file is left in the directory.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
  const auto lint = promtool_check_metrics(text);
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  const PortLease port_lease;
  const int port = port_lease.port();
  ASSERT_GT(port, 0);
  ToolServer exporter({kNodeExporter, "--collector.disable-defaults", "--collector.textfile",
                       "--collector.textfile.directory=" + dir.path(),
                       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                      port, "/metrics");
  ASSERT_TRUE(exporter.ready()) << exporter.log();
  const auto served = http_get(port, "/metrics").body;
  EXPECT_EQ(metric_value(served, "node_textfile_scrape_error"), 0) << served;
  EXPECT_EQ(metric_value(served, "batch_cleanup_rows_deleted_total"), deleted) << served;
  EXPECT_EQ(metric_value(served, "batch_cleanup_last_cycle_deleted"), deleted);

  // A run that cannot reach its database leaves its failure behind (exit 3).
  const auto failed = run_tool({"--run-once", "--retries", "0", "--metrics-file", file,
                                "--database-url", "postgresql://u:pw@127.0.0.1:1/x"});
  EXPECT_EQ(failed.exit_code, 3) << failed.err;
  const auto after = http_get(port, "/metrics").body;
  EXPECT_EQ(metric_value(after, "batch_cleanup_database_up"), 0) << after;
  EXPECT_EQ(metric_value(after, "batch_cleanup_cycles_total{outcome=\"failed\"}"), 1);
  EXPECT_GT(metric_value(after, "batch_cleanup_last_cycle_timestamp_seconds{outcome=\"failed\"}")
                .value_or(0),
            0);
  EXPECT_EQ(after.find("pw@"), std::string::npos);
}

TEST_P(BatchMetricsTest, RunOncePushesEachJobToThePushgateway) {
  require(kPushgateway);
  if (::testing::Test::IsSkipped() || ::testing::Test::HasFailure()) return;
  db_->create_original_schema();
  db_->insert_users(0, 100);
  db_->insert_pending(0, 160);  // 100 match
  const PortLease port_lease;
  const int port = port_lease.port();
  ASSERT_GT(port, 0);
  ToolServer gateway({kPushgateway, "--web.listen-address=127.0.0.1:" + std::to_string(port)}, port,
                     "/-/ready");
  ASSERT_TRUE(gateway.ready()) << gateway.log();
  TempDir dir;
  // Two jobs on the same tables: the first deletes, the second finds nothing left.
  const auto config = dir.write("batch_cleanup.toml",
                                "database-url = \"" + db_->url() +
                                    "\"\n[[job]]\nname = \"first\"\n[[job]]\nname = \"second\"\n");
  const auto url = "http://127.0.0.1:" + std::to_string(port);
  const auto run = run_tool({"--config", config, "--run-once", "--push-metrics", url});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err.find("warning"), std::string::npos) << run.err;
  ASSERT_EQ(db_->count(kPending), 60);
  const auto pushed = http_get(port, "/metrics").body;
  const auto series = [&](const std::string& name, const std::string& job) {
    return metric_value(pushed, name + "{cleanup_job=\"" + job + "\",instance=\"" + this_host() +
                                    "\",job=\"batch_cleanup\"}");
  };
  EXPECT_EQ(series("batch_cleanup_rows_deleted_total", "first"), 100) << pushed;
  EXPECT_EQ(series("batch_cleanup_rows_deleted_total", "second"), 0);
  EXPECT_EQ(series("batch_cleanup_last_cycle_candidates", "first"), 100);
  EXPECT_EQ(series("batch_cleanup_daemon_running", "second"), 0);
  // The Pushgateway's own record of each group's last successful push.
  EXPECT_GT(series("push_time_seconds", "first").value_or(0), 0);
  EXPECT_GT(series("push_time_seconds", "second").value_or(0), 0);
  EXPECT_EQ(pushed.find("process_cpu_seconds_total{cleanup_job"), std::string::npos);

  // A Pushgateway that does not answer: a warning, the cycle still succeeds.
  const PortLease closed_lease;
  const int closed = closed_lease.port();
  const auto unreachable =
      run_on_db({"--run-once", "--push-metrics", "http://127.0.0.1:" + std::to_string(closed)});
  EXPECT_EQ(unreachable.exit_code, 0) << unreachable.err;
  EXPECT_NE(unreachable.err.find("cannot push metrics to http://127.0.0.1:" +
                                 std::to_string(closed) + "/metrics/job/batch_cleanup/instance/"),
            std::string::npos)
      << unreachable.err;
}

TEST(BatchMetricsOptionsTest, BadFileOrUrlIsAUsageError) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--metrics-file", "/nonexistent/dir/x.prom"},
           {"--metrics-file", "/tmp"},
           {"--push-metrics", "pushgateway:9091"},
       }) {
    auto full = args;
    full.insert(full.begin(), "--run-once");
    full.insert(full.end(), {"--database-url", "sqlite:/nonexistent/never.db"});
    const auto result = run_tool(full);
    EXPECT_EQ(result.exit_code, 2) << args[1] << "\n" << result.err;
    EXPECT_NE(result.err.find("invalid " + args[0] + " '" + args[1] + "'"), std::string::npos)
        << result.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BatchMetricsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
