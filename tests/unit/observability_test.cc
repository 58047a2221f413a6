// Metrics exposition, health verdicts, the JSON log format, the progress line, the statistics
// table, the status page and the systemd notification protocol.
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "batch_cleanup/errors.h"
#include "cli/progress_bar.h"
#include "cli/statistics_table.h"
#include "http/status_page.h"
#include "http/status_server.h"
#include "log/json_formatter.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/prometheus.h"
#include "systemd/notify.h"

namespace batch_cleanup {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndACumulativeHistogram) {
  ServiceStatus status;
  status.running = true;
  status.total_deleted = 1234;
  status.total_failed = 2;
  status.total_skipped = 7;
  status.total_batches = 3;
  status.total_deleted_by_policy = {1000, 200, 34};
  status.cycles_by_outcome = {{"success", 4}, {"failed", 1}};
  status.last_success = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  CycleReport report;
  report.duration_ms = 1500;
  report.candidates = 99;
  report.deleted = 97;
  status.last_report = report;
  status.batch_duration.observe(0.003);  // <= 0.005
  status.batch_duration.observe(0.005);  // <= 0.005 (bounds are inclusive)
  status.batch_duration.observe(0.2);    // <= 0.25
  status.batch_duration.observe(99);     // +Inf only
  const std::string text = observability::render_metrics(status);
  for (const char* line : {
           "# TYPE batch_cleanup_rows_deleted_total counter\nbatch_cleanup_rows_deleted_total "
           "1234\n",
           "batch_cleanup_rows_failed_total 2\n",
           "# TYPE batch_cleanup_rows_deleted_by_policy_total counter\n"
           "batch_cleanup_rows_deleted_by_policy_total{policy=\"email\"} 1000\n"
           "batch_cleanup_rows_deleted_by_policy_total{policy=\"phone\"} 200\n"
           "batch_cleanup_rows_deleted_by_policy_total{policy=\"expired\"} 34\n",
           "batch_cleanup_rows_skipped_total 7\n",
           "batch_cleanup_batches_total 3\n",
           "batch_cleanup_cycles_total{outcome=\"success\"} 4\n",
           "batch_cleanup_cycles_total{outcome=\"partial\"} 0\n",
           "batch_cleanup_cycles_total{outcome=\"failed\"} 1\n",
           "# TYPE batch_cleanup_last_success_timestamp_seconds gauge\n"
           "batch_cleanup_last_success_timestamp_seconds 1700000000\n",
           "batch_cleanup_last_cycle_duration_seconds 1.5\n",
           "batch_cleanup_last_cycle_candidates 99\n",
           "batch_cleanup_last_cycle_deleted 97\n",
           "batch_cleanup_daemon_running 1\n",
           "batch_cleanup_cycle_in_progress 0\n",
           "# TYPE batch_cleanup_batch_duration_seconds histogram\n",
           "batch_cleanup_batch_duration_seconds_bucket{le=\"0.005\"} 2\n",
           "batch_cleanup_batch_duration_seconds_bucket{le=\"0.1\"} 2\n",
           "batch_cleanup_batch_duration_seconds_bucket{le=\"0.25\"} 3\n",
           "batch_cleanup_batch_duration_seconds_bucket{le=\"30\"} 3\n",
           "batch_cleanup_batch_duration_seconds_bucket{le=\"+Inf\"} 4\n",
           "batch_cleanup_batch_duration_seconds_count 4\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
  }
  // Every sample line is "name[{labels}] value" and every metric has HELP and TYPE.
  std::istringstream lines(text);
  std::string line;
  int types = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) ++types;
    if (line[0] == '#') continue;
    EXPECT_EQ(line.rfind("batch_cleanup_", 0), 0u) << line;
    EXPECT_NO_THROW(std::stod(line.substr(line.rfind(' ') + 1))) << line;
  }
  EXPECT_EQ(types, 15);
}

TEST(MetricsTest, BeforeTheFirstCycleEverythingIsZero) {
  const std::string text = observability::render_metrics(ServiceStatus{});
  EXPECT_NE(text.find("batch_cleanup_last_success_timestamp_seconds 0\n"), std::string::npos);
  EXPECT_NE(text.find("batch_cleanup_daemon_running 0\n"), std::string::npos);
  EXPECT_NE(text.find("batch_cleanup_batch_duration_seconds_count 0\n"), std::string::npos);
}

TEST(HealthTest, Verdicts) {
  ServiceStatus status;
  EXPECT_TRUE(observability::evaluate_health(status, 3).healthy);  // nothing due yet
  status.consecutive_failures = 2;
  status.last_error = "permission denied";
  EXPECT_TRUE(observability::evaluate_health(status, 3).healthy);
  status.consecutive_failures = 3;
  auto health = observability::evaluate_health(status, 3);
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.reason, "3 consecutive failed cycle(s): permission denied");
  status.consecutive_failures = 1;
  status.database_unreachable = true;
  status.last_error = "connection refused";
  health = observability::evaluate_health(status, 3);
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.reason, "database unreachable: connection refused");
  status.consecutive_failures = 0;  // a later cycle succeeded
  status.database_unreachable = false;
  EXPECT_TRUE(observability::evaluate_health(status, 3).healthy);
  status.halted_on_config_error = true;
  EXPECT_FALSE(observability::evaluate_health(status, 3).healthy);
}

TEST(JsonLogTest, OneObjectPerLineWithCycleIdAndCounts) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger json_log("json_test", sink);
  json_log.set_formatter(std::make_unique<logging::JsonFormatter>());
  json_log.info("before");
  {
    logging::CycleLogScope cycle("abc123");
    json_log.warn("quote \" and newline \n inside");
    logging::CountsLogScope counts({{"deleted", 12}, {"failed", 1}});
    json_log.info("cycle done");
  }
  json_log.error("after");
  std::istringstream lines(out.str());
  std::vector<nlohmann::json> parsed;
  std::string line;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 4u) << out.str();
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["msg"], "before");
  EXPECT_FALSE(parsed[0].contains("cycle_id"));
  EXPECT_EQ(parsed[0]["ts"].get<std::string>().size(), 24u);  // 2026-11-29T16:00:00.000Z
  EXPECT_EQ(parsed[1]["level"], "warning");
  EXPECT_EQ(parsed[1]["cycle_id"], "abc123");
  EXPECT_EQ(parsed[1]["msg"], "quote \" and newline \n inside");
  EXPECT_EQ(parsed[2]["deleted"], 12);
  EXPECT_EQ(parsed[2]["failed"], 1);
  EXPECT_EQ(parsed[3]["level"], "error");
  EXPECT_FALSE(parsed[3].contains("cycle_id"));
  EXPECT_FALSE(parsed[3].contains("deleted"));
}

TEST(MetricsTest, SeveralJobsLabelEverySampleAndShareHelpAndType) {
  ServiceStatus a;
  a.total_deleted = 11;
  a.cycles_by_outcome = {{"success", 2}};
  a.batch_duration.observe(0.003);
  ServiceStatus b;
  b.total_deleted = 22;
  const std::string text = observability::render_metrics(
      std::vector<observability::JobStatus>{{"tenant_a", a}, {"tenant_b", b}});
  for (const char* line : {
           "# TYPE batch_cleanup_rows_deleted_total counter\n"
           "batch_cleanup_rows_deleted_total{job=\"tenant_a\"} 11\n"
           "batch_cleanup_rows_deleted_total{job=\"tenant_b\"} 22\n",
           "batch_cleanup_cycles_total{job=\"tenant_a\",outcome=\"success\"} 2\n",
           "batch_cleanup_cycles_total{job=\"tenant_b\",outcome=\"success\"} 0\n",
           "batch_cleanup_batch_duration_seconds_bucket{job=\"tenant_a\",le=\"0.005\"} 1\n",
           "batch_cleanup_batch_duration_seconds_count{job=\"tenant_b\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
  }
  // HELP and TYPE once per metric; every sample carries a job label.
  const std::string single = observability::render_metrics(a);
  std::istringstream lines(text);
  std::string line;
  int types = 0;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) ++types;
    if (line[0] == '#') continue;
    ++samples;
    EXPECT_NE(line.find("{job=\"tenant_"), std::string::npos) << line;
  }
  int single_samples = 0;
  std::istringstream single_lines(single);
  while (std::getline(single_lines, line)) single_samples += line[0] == '#' ? 0 : 1;
  EXPECT_EQ(types, 15);
  EXPECT_EQ(samples, 2 * single_samples);
}

TEST(HealthTest, SeveralJobsAreUnhealthyWhenAnyIs) {
  ServiceStatus good;
  ServiceStatus bad;
  bad.halted_on_config_error = true;
  bad.last_error = "unknown table";
  EXPECT_TRUE(observability::evaluate_health({{"a", good}, {"b", good}}, 3).healthy);
  const auto health = observability::evaluate_health({{"a", good}, {"b", bad}}, 3);
  EXPECT_FALSE(health.healthy);
  EXPECT_NE(health.reason.find("job b: halted on a configuration error"), std::string::npos)
      << health.reason;
}

TEST(JsonLogTest, NamedJobsAreTaggedTheDefaultJobIsNot) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger json_log("json_job_test", sink);
  json_log.set_formatter(std::make_unique<logging::JsonFormatter>());
  {
    logging::JobLogScope job("tenant_a");
    json_log.info("in a job");
  }
  {
    logging::JobLogScope job("default");
    json_log.info("in the default job");
  }
  json_log.info("outside");
  std::istringstream lines(out.str());
  std::vector<nlohmann::json> parsed;
  std::string line;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 3u) << out.str();
  EXPECT_EQ(parsed[0]["job"], "tenant_a");
  EXPECT_FALSE(parsed[1].contains("job"));
  EXPECT_FALSE(parsed[2].contains("job"));
}

TEST(TextLogTest, NamedJobsArePrefixed) {
  const auto path =
      std::filesystem::temp_directory_path() / ("bc_text_log_" + std::to_string(getpid()) + ".log");
  logging::configure_logging("info", path.string(), "text");
  {
    logging::JobLogScope job("tenant_b");
    logging::logger()->info("cycle started");
  }
  logging::logger()->info("no job here");
  logging::configure_logging("info", "", "text");
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(info +\[job tenant_b\] cycle started\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(info +no job here\n)"))) << text;
}

TEST(ProgressLineTest, ShowsShareRowsRateAndEta) {
  CycleProgress p;
  p.fraction = 0.25;
  p.deleted = 12345;
  p.candidates = 12400;
  p.skipped = 55;
  p.elapsed_ms = 10'000;
  const std::string line = cli::render_progress_line(p, 8);
  EXPECT_EQ(line,
            "[##......]  25.0%  deleted 12,345 of 12,400  failed 0  skipped 55  1,235 rows/s  ETA "
            "0:30");
  p.fraction = 0;
  EXPECT_NE(cli::render_progress_line(p, 8).find("ETA --"), std::string::npos);
  p.fraction = 1;
  EXPECT_NE(cli::render_progress_line(p, 8).find("[########] 100.0%"), std::string::npos);
}

TEST(StatisticsTest, OneLinePerPhaseWithShares) {
  CycleReport report;
  report.cycle_id = "c1";
  report.batches = 4;
  report.duration_ms = 1000;
  report.phases = {100, 200, 300, 0, 250};
  const std::string table = cli::render_statistics(report);
  EXPECT_NE(table.find("find candidates (lock)                  100.0   10.0%        25.00"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("commit                                  300.0   30.0%"), std::string::npos);
  EXPECT_NE(table.find("archive                                   0.0"), std::string::npos);
  EXPECT_NE(table.find("waiting on locks or throttle            250.0   25.0%"), std::string::npos);
  EXPECT_NE(table.find("other (connect, preflight, ...)         150.0   15.0%"), std::string::npos);
}

TEST(StatusPageTest, EmbedsTheStatusSafely) {
  const std::string page =
      http::render_status_page(R"({"recent_cycles":[{"error":"</script><b>x"}]})", 1234);
  EXPECT_EQ(page.find("</script><b>"), std::string::npos);
  EXPECT_NE(page.find(R"(<\/script><b>x)"), std::string::npos);
  EXPECT_NE(page.find("}, 1234);"), std::string::npos);
  EXPECT_EQ(page.find("@STATUS_JSON@"), std::string::npos);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos);  // nothing loaded from elsewhere
}

TEST(ListenAddressTest, Parses) {
  auto address = http::parse_listen_address("127.0.0.1:9187");
  EXPECT_EQ(address.host, "127.0.0.1");
  EXPECT_EQ(address.port, 9187);
  address = http::parse_listen_address("[::1]:0");
  EXPECT_EQ(address.host, "::1");
  EXPECT_EQ(address.port, 0);
  for (const char* bad : {"9187", ":9187", "host:", "host:70000", "host:-1", "host:9x"}) {
    EXPECT_THROW(http::parse_listen_address(bad), ConfigError) << bad;
  }
}

TEST(SdNotifyTest, SendsDatagramsToNotifySocketAndReadsTheWatchdog) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("bc_notify_unit_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "s").string();
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(systemd::notify("READY=1"));
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_TRUE(systemd::notify("READY=1\nSTATUS=hi"));
  char buffer[256] = {};
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  const auto n = recv(fd, buffer, sizeof buffer, 0);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(n)), "READY=1\nSTATUS=hi");
  unsetenv("NOTIFY_SOCKET");

  setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(1'500'000));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(1'500'000));
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(0));
  unsetenv("WATCHDOG_PID");
  unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(0));
  close(fd);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace batch_cleanup

namespace batch_cleanup {
namespace {

// The alert rules and the systemd unit under deploy/ name only metrics and flags that exist.
TEST(DeployFilesTest, AlertRulesUseExportedMetrics) {
  std::ifstream rules(std::string(BATCH_CLEANUP_SOURCE_DIR) +
                      "/deploy/prometheus/batch_cleanup_alerts.yml");
  ASSERT_TRUE(rules.good());
  const std::string text((std::istreambuf_iterator<char>(rules)), std::istreambuf_iterator<char>());
  ServiceStatus status;
  status.last_report = CycleReport{};
  const std::string metrics = observability::render_metrics(status);
  const std::regex name(R"(batch_cleanup_[a-z_]+)");
  int checked = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    const std::string metric = it->str();
    if (metric == "batch_cleanup_alerts") continue;  // the file's own name in a comment
    EXPECT_NE(metrics.find("\n" + metric + " "), std::string::npos) << metric;
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

}  // namespace
}  // namespace batch_cleanup
