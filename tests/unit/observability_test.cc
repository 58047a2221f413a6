// Metrics exposition and health verdicts, and the shipped alert rules against the metrics.
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "batch_cleanup/errors.h"
#include "cli/progress_bar.h"
#include "cli/statistics_table.h"
#include "http/pushgateway.h"
#include "http/status_page.h"
#include "http/status_server.h"
#include "log/json_formatter.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/metric_family.h"
#include "observability/process_metrics.h"
#include "observability/prometheus.h"
#include "observability/textfile.h"
#include "systemd/notify.h"

namespace batch_cleanup {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndACumulativeHistogram) {
  ServiceStatus status;
  status.running = true;
  status.totals.deleted = 1234;
  status.totals.failed = 2;
  status.totals.skipped = 7;
  status.totals.batches = 3;
  status.totals.deleted_by_policy = {1000, 200, 34};
  status.totals.dependent_rows = {{"public.otp", "cascade", 1300},
                                  {"public.referrals", "set null", 5},
                                  {"public.audit", "set default", 2}};
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
           "# TYPE batch_cleanup_dependent_rows_total counter\n"
           "batch_cleanup_dependent_rows_total{table=\"public.otp\",action=\"deleted\"} 1300\n"
           "batch_cleanup_dependent_rows_total{table=\"public.referrals\",action=\"set_null\"} "
           "5\n"
           "batch_cleanup_dependent_rows_total{table=\"public.audit\",action=\"set_default\"} "
           "2\n",
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
    EXPECT_TRUE(line.rfind("batch_cleanup_", 0) == 0 || line.rfind("process_", 0) == 0) << line;
    EXPECT_NO_THROW(std::stod(line.substr(line.rfind(' ') + 1))) << line;
  }
  // 28 of the job, build_info, and 6 process_* families.
  EXPECT_EQ(types, 35);
}

TEST(MetricsTest, LeadershipAndSkippedCycles) {
  ServiceStatus status;
  status.interval = std::chrono::minutes(15);
  std::string text = observability::render_metrics(status);
  // Present from the start, at 0, so that alert rules and rate() see them.
  for (const char* line :
       {"batch_cleanup_cycles_skipped_total{reason=\"lease_held\"} 0\n", "batch_cleanup_leader 0\n",
        "batch_cleanup_standby 0\n", "batch_cleanup_last_skipped_cycle_timestamp_seconds 0\n",
        "batch_cleanup_schedule_last_cycle_timestamp_seconds 0\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
  status.leadership.role = "standby";
  status.leadership.epoch = 3;
  status.leadership.last_cycle =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  status.cycles_skipped["lease_held"] = 2;
  status.last_skipped = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'900));
  text = observability::render_metrics(status);
  for (const char* line :
       {"batch_cleanup_cycles_skipped_total{reason=\"lease_held\"} 2\n", "batch_cleanup_leader 0\n",
        "batch_cleanup_standby 1\n", "batch_cleanup_lease_epoch 3\n",
        "batch_cleanup_last_skipped_cycle_timestamp_seconds 1700000900\n",
        "batch_cleanup_schedule_last_cycle_timestamp_seconds 1700000000\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
  status.leadership.role = "leader";
  text = observability::render_metrics(status);
  EXPECT_NE(text.find("batch_cleanup_leader 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("batch_cleanup_standby 0\n"), std::string::npos) << text;
}

TEST(MetricsTest, GaugesForAlertsBatchJobsAndTheBacklog) {
  ServiceStatus status;
  status.interval = std::chrono::minutes(15);
  status.database_unreachable = true;
  status.halted_on_config_error = true;
  status.last_cycle_by_outcome["partial"] =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'100));
  CycleReport report;
  report.candidates = 120;
  report.deleted = 100;
  report.failed = 3;
  report.skipped = 12;
  report.no_longer_matching = 5;
  status.last_report = report;
  std::string text = observability::render_metrics(status);
  for (const char* line : {
           "batch_cleanup_interval_seconds 900\n",
           "batch_cleanup_database_up 0\n",
           "batch_cleanup_job_halted 1\n",
           "batch_cleanup_last_cycle_failed 3\n",
           // 120 matched: 100 deleted, 5 no longer matching, 15 (refused or locked) left.
           "batch_cleanup_backlog_rows 15\n",
           "batch_cleanup_last_cycle_timestamp_seconds{outcome=\"partial\"} 1700000100\n",
           "batch_cleanup_last_cycle_timestamp_seconds{outcome=\"success\"} 0\n",
           "# TYPE batch_cleanup_build_info gauge\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
  }
  EXPECT_TRUE(std::regex_search(
      text,
      std::regex(
          R"(\nbatch_cleanup_build_info\{version="[0-9]+\.[0-9]+\.[0-9]+",libpq="[0-9.]+",sqlite="3\.[0-9.]+"\} 1\n)")))
      << text;
  // A dry run's candidates are the backlog.
  report.dry_run = true;
  status.last_report = report;
  text = observability::render_metrics(status);
  EXPECT_NE(text.find("batch_cleanup_backlog_rows 120\n"), std::string::npos) << text;
  status.database_unreachable = false;
  text = observability::render_metrics(status);
  EXPECT_NE(text.find("batch_cleanup_database_up 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, ProcessMetricsAreThoseOfThisProcess) {
  const auto stats = observability::read_process_stats();
  ASSERT_TRUE(stats.has_value());
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(stats->start_time_seconds, now - 3600);
  EXPECT_LE(stats->start_time_seconds, now + 1);
  EXPECT_GT(stats->resident_bytes, 1e6);
  EXPECT_GE(stats->virtual_bytes, stats->resident_bytes);
  EXPECT_GE(stats->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GT(stats->max_fds, stats->open_fds);
  EXPECT_GE(stats->cpu_seconds, 0);
  const auto text = observability::render_metrics(ServiceStatus{});
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_start_time_seconds ", "process_open_fds "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
  }
  // Not in the batch expositions (textfile, Pushgateway): their collectors export their own.
  const auto batch = observability::render_metrics({{"default", ServiceStatus{}}},
                                                   {.label_jobs = false, .process_metrics = false});
  EXPECT_EQ(batch.find("process_"), std::string::npos) << batch;
}

TEST(MetricFamilyTest, RendersLabelsEscapedAndAddsThemAsData) {
  std::vector<observability::MetricFamily> families{
      {"x_total",
       observability::MetricType::kCounter,
       "Help with \\ and\nnewline.",
       {{"", {{"path", "a\"b\\c\nd"}}, 1}, {"", {}, 2.5}}},
      {"h",
       observability::MetricType::kHistogram,
       "H.",
       {{"_bucket", {{"le", "+Inf"}}, 3}, {"_count", {}, 3}}}};
  observability::prepend_label(families, {"cleanup_job", "a"});
  observability::merge_families(
      families, {{"h", observability::MetricType::kHistogram, "H.", {{"_count", {}, 7}}},
                 {"g",
                  observability::MetricType::kGauge,
                  "G.",
                  {{"", {}, std::numeric_limits<double>::quiet_NaN()}}}});
  EXPECT_EQ(observability::render_text(families),
            "# HELP x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_total counter\n"
            "x_total{cleanup_job=\"a\",path=\"a\\\"b\\\\c\\nd\"} 1\n"
            "x_total{cleanup_job=\"a\"} 2.5\n"
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{cleanup_job=\"a\",le=\"+Inf\"} 3\n"
            "h_count{cleanup_job=\"a\"} 3\n"
            "h_count 7\n"
            "# HELP g G.\n# TYPE g gauge\n"
            "g NaN\n");
}

// Prometheus sets job and instance on every series it scrapes; a series of ours with either
// label would arrive renamed exported_job / exported_instance.
TEST(MetricsTest, NoSeriesCarriesJobOrInstance) {
  ServiceStatus status;
  status.last_report = CycleReport{};
  for (const bool label_jobs : {false, true}) {
    const auto families = observability::metric_families(
        {{"tenant_a", status}, {"tenant_b", status}}, {.label_jobs = label_jobs});
    for (const auto& family : families) {
      for (const auto& sample : family.samples) {
        for (const auto& label : sample.labels) {
          EXPECT_NE(label.name, "job") << family.name;
          EXPECT_NE(label.name, "instance") << family.name;
        }
      }
    }
  }
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

TEST(MetricsTest, SeveralJobsLabelEverySampleAndShareHelpAndType) {
  ServiceStatus a;
  a.totals.deleted = 11;
  a.cycles_by_outcome = {{"success", 2}};
  a.batch_duration.observe(0.003);
  ServiceStatus b;
  b.totals.deleted = 22;
  const observability::ExpositionOptions labelled{.label_jobs = true, .process_metrics = false};
  const std::string text = observability::render_metrics(
      std::vector<observability::JobStatus>{{"tenant_a", a}, {"tenant_b", b}}, labelled);
  for (const char* line : {
           "# TYPE batch_cleanup_rows_deleted_total counter\n"
           "batch_cleanup_rows_deleted_total{cleanup_job=\"tenant_a\"} 11\n"
           "batch_cleanup_rows_deleted_total{cleanup_job=\"tenant_b\"} 22\n",
           "batch_cleanup_cycles_total{cleanup_job=\"tenant_a\",outcome=\"success\"} 2\n",
           "batch_cleanup_cycles_total{cleanup_job=\"tenant_b\",outcome=\"success\"} 0\n",
           "batch_cleanup_batch_duration_seconds_bucket{cleanup_job=\"tenant_a\",le=\"0.005\"} 1\n",
           "batch_cleanup_batch_duration_seconds_count{cleanup_job=\"tenant_b\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
  }
  // HELP and TYPE once per metric; every job sample carries its cleanup_job label; build_info
  // is the process's, once.
  const std::string single = observability::render_metrics(
      {{"tenant_a", a}}, {.label_jobs = true, .process_metrics = false});
  std::istringstream lines(text);
  std::string line;
  int types = 0;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) ++types;
    if (line[0] == '#' || line.rfind("batch_cleanup_build_info{", 0) == 0) continue;
    ++samples;
    EXPECT_NE(line.find("{cleanup_job=\"tenant_"), std::string::npos) << line;
  }
  int single_samples = 0;
  std::istringstream single_lines(single);
  while (std::getline(single_lines, line)) {
    single_samples += line[0] == '#' || line.rfind("batch_cleanup_build_info{", 0) == 0 ? 0 : 1;
  }
  EXPECT_EQ(types, 29);  // 28 of a job, and build_info
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

TEST(HealthTest, LivenessIgnoresTheDatabaseAndHaltedJobs) {
  ServiceStatus running;
  running.running = true;
  running.consecutive_failures = 9;
  running.database_unreachable = true;  // an outage: not ready, but alive
  ServiceStatus halted;
  halted.halted_on_config_error = true;
  ServiceStatus dead;  // a daemon job whose thread is gone without halting
  EXPECT_TRUE(observability::evaluate_liveness({{"a", running}, {"b", halted}}, true).healthy);
  EXPECT_FALSE(observability::evaluate_health({{"a", running}}, 3).healthy);
  const auto health = observability::evaluate_liveness({{"a", running}, {"c", dead}}, true);
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.reason, "job c: its worker thread is not running");
  // --run-once starts no worker thread.
  EXPECT_TRUE(observability::evaluate_liveness({{"c", dead}}, false).healthy);
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
    // The file's own name and its tests' in comments.
    if (metric == "batch_cleanup_alerts" || metric == "batch_cleanup_alerts_test") continue;
    EXPECT_TRUE(metrics.find("\n" + metric + " ") != std::string::npos ||
                metrics.find("\n" + metric + "{") != std::string::npos)
        << metric;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

}  // namespace
}  // namespace batch_cleanup
