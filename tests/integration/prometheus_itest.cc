// The metrics as Prometheus sees them: Debian's prometheus binary scrapes a daemon running three
// jobs of a configuration file (one deleting, one with a refused row, one halted on a
// configuration error), loads the shipped alert rules, and answers every PromQL expression of the
// README's Metrics section and of the rules through its HTTP API, each with the documented series.
// promtool checks the exposition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// A result's series as "label=value,..." (job, instance and __name__ left out) -> value.
std::map<std::string, double> series_of(const nlohmann::json& result) {
  std::map<std::string, double> out;
  if (!result.is_array()) return out;
  for (const auto& series : result) {
    std::string signature;
    for (const auto& [name, value] : series["metric"].items()) {
      if (name == "__name__" || name == "job" || name == "instance") continue;
      signature += (signature.empty() ? "" : ",") + name + "=" + value.get<std::string>();
    }
    const auto text = series["value"][1].get<std::string>();
    out[signature] = text == "NaN" ? std::nan("") : std::stod(text);
  }
  return out;
}

std::set<std::string> keys_of(const std::map<std::string, double>& series) {
  std::set<std::string> out;
  for (const auto& [key, value] : series) out.insert(key);
  return out;
}

// The lines of the README's ```promql blocks that are not comments.
std::vector<std::string> readme_queries() {
  std::ifstream in(std::string(BATCH_CLEANUP_SOURCE_DIR) + "/README.md");
  std::vector<std::string> out;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) {
      inside = line == "```promql";
      continue;
    }
    if (inside && !line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// alert name -> expr, from the shipped rules.
std::map<std::string, std::string> alert_expressions() {
  std::ifstream in(std::string(BATCH_CLEANUP_SOURCE_DIR) +
                   "/deploy/prometheus/batch_cleanup_alerts.yml");
  std::map<std::string, std::string> out;
  std::string alert;
  for (std::string line; std::getline(in, line);) {
    const auto trim = [](std::string text) {
      text.erase(0, text.find_first_not_of(' '));
      return text;
    };
    if (const auto at = line.find("- alert: "); at != std::string::npos) {
      alert = trim(line.substr(at + 9));
    } else if (const auto expr = line.find("expr: "); expr != std::string::npos) {
      out[alert] = trim(line.substr(expr + 6));
    }
  }
  return out;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!program_installed(kPrometheus)) {
      const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
      if (required != nullptr && std::string(required) == "1") {
        FAIL() << "prometheus is not installed (scripts/install-deps.sh installs it)";
      }
      GTEST_SKIP() << "prometheus is not installed";
    }
    db_ = make_test_database(TestBackend::kSqlite);
    // tenant_a: 100 of 150 pending rows match. tenant_b: 40 of 80 match, and a trigger refuses to
    // delete p3. broken: its pending table does not exist, so its first cycle halts it.
    for (const auto& [tenant, users, pending] :
         {std::tuple<std::string, int, int>{"tenant_a", 100, 150}, {"tenant_b", 40, 80}}) {
      db_->exec("CREATE TABLE users_" + tenant + " (user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
      db_->exec("CREATE TABLE pending_" + tenant +
                " (pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
      const auto series = [](int n) {
        return "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < " +
               std::to_string(n - 1) + ") ";
      };
      db_->exec(series(users) + "INSERT INTO users_" + tenant +
                " SELECT 'u' || i, 'user' || i || '@example.com' FROM s");
      db_->exec(series(pending) + "INSERT INTO pending_" + tenant +
                " SELECT 'p' || i, 'user' || i || '@example.com' FROM s");
    }
    db_->exec(
        "CREATE TRIGGER keep_p3 BEFORE DELETE ON pending_tenant_b WHEN old.pending_user_id = 'p3' "
        "BEGIN SELECT RAISE(ABORT, 'p3 is kept'); END");
  }

  std::string config_text() const {
    std::string text = "database-url = \"" + db_->url() +
                       "\"\ninterval = \"1h\"\nhttp-listen = \"127.0.0.1:0\"\nbatch-size = 7\n";
    for (const char* tenant : {"tenant_a", "tenant_b"}) {
      text += std::string("\n[[job]]\nname = \"") + tenant + "\"\nusers-table = \"users_" + tenant +
              "\"\npending-table = \"pending_" + tenant + "\"\n";
    }
    return text + "\n[[job]]\nname = \"broken\"\npending-table = \"no_such_table\"\n";
  }

  std::unique_ptr<TestDatabase> db_;
};

TEST_F(PrometheusTest, EveryDocumentedQueryAndAlertReturnsItsSeries) {
  TempDir dir;
  const auto config = dir.write("batch_cleanup.toml", config_text());
  ChildProcess daemon({tool_binary(), "--config", config, "--daemon"}, {});
  const int daemon_port = wait_for_http_port(daemon);
  ASSERT_GT(daemon_port, 0) << daemon.current_err();
  // Every job has run its first cycle (the broken one halted), and the daemon goes on.
  ASSERT_TRUE(wait_until([&] {
    const auto response = http_get(daemon_port, "/status");
    if (response.status != 200) return false;
    const auto jobs = nlohmann::json::parse(response.body)["jobs"];
    return jobs.size() == 3 && std::all_of(jobs.begin(), jobs.end(), [](const auto& job) {
             return job.value("cycles", 0) >= 1;
           });
  })) << daemon.current_err();
  EXPECT_EQ(db_->count("pending_tenant_a"), 50);
  EXPECT_EQ(db_->count("pending_tenant_b"), 41);

  // promtool accepts the exposition.
  const auto exposition = http_get(daemon_port, "/metrics").body;
  const auto lint = promtool_check_metrics(exposition);
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err << "\n---\n" << exposition;

  const PortLease port_lease;
  const int port = port_lease.port();
  ASSERT_GT(port, 0) << "no free port in 54360..54369";
  const auto prometheus_config = dir.write(
      "prometheus.yml",
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - " +
          std::string(BATCH_CLEANUP_SOURCE_DIR) +
          "/deploy/prometheus/batch_cleanup_alerts.yml\nscrape_configs:\n"
          "  - job_name: batch_cleanup\n    static_configs:\n      - targets: ['127.0.0.1:" +
          std::to_string(daemon_port) + "']\n");
  ToolServer prometheus(
      {kPrometheus, "--config.file=" + prometheus_config,
       "--storage.tsdb.path=" + dir.path() + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
      port, "/-/ready");
  ASSERT_TRUE(prometheus.ready()) << prometheus.log();
  // A few scrapes, and the rules evaluated on them: the alerts without `for` fire.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto scrapes =
            series_of(prometheus_query(port, "count_over_time(up{job=\"batch_cleanup\"}[1m])"));
        return !scrapes.empty() && scrapes.begin()->second >= 3 &&
               series_of(prometheus_query(port, "ALERTS{alertstate=\"firing\"}")).size() >= 2;
      },
      std::chrono::seconds(60)))
      << prometheus.log();

  const auto any = std::nan("");  // a series must be there; its value is not checked
  const std::map<std::string, std::map<std::string, double>> readme = {
      {R"(batch_cleanup_rows_deleted_total{cleanup_job="tenant_a"})",
       {{"cleanup_job=tenant_a", 100}}},
      {R"(sum by (cleanup_job) (increase(batch_cleanup_rows_deleted_total[1h])))",
       {{"cleanup_job=broken", 0}, {"cleanup_job=tenant_a", 0}, {"cleanup_job=tenant_b", 0}}},
      {R"(batch_cleanup_rows_deleted_by_policy_total{policy=~"email|phone|expired"})",
       {{"cleanup_job=broken,policy=email", 0},
        {"cleanup_job=broken,policy=expired", 0},
        {"cleanup_job=broken,policy=phone", 0},
        {"cleanup_job=tenant_a,policy=email", 100},
        {"cleanup_job=tenant_a,policy=expired", 0},
        {"cleanup_job=tenant_a,policy=phone", 0},
        {"cleanup_job=tenant_b,policy=email", 39},
        {"cleanup_job=tenant_b,policy=expired", 0},
        {"cleanup_job=tenant_b,policy=phone", 0}}},
      {R"(batch_cleanup_last_cycle_failed > 0)", {{"cleanup_job=tenant_b", 1}}},
      {R"(batch_cleanup_backlog_rows)",
       {{"cleanup_job=broken", 0}, {"cleanup_job=tenant_a", 0}, {"cleanup_job=tenant_b", 1}}},
      {R"(time() - batch_cleanup_last_success_timestamp_seconds > 2 * batch_cleanup_interval_seconds)",
       {{"cleanup_job=broken", any}}},
      {R"(batch_cleanup_job_halted == 1)", {{"cleanup_job=broken", 1}}},
      {R"(batch_cleanup_database_up == 0)", {}},
      {R"(histogram_quantile(0.99, sum by (cleanup_job, le) (rate(batch_cleanup_batch_duration_seconds_bucket[5m]))))",
       {{"cleanup_job=broken", any}, {"cleanup_job=tenant_a", any}, {"cleanup_job=tenant_b", any}}},
      {R"(increase(batch_cleanup_cycles_total{outcome="failed"}[1h]))",
       {{"cleanup_job=broken,outcome=failed", 0},
        {"cleanup_job=tenant_a,outcome=failed", 0},
        {"cleanup_job=tenant_b,outcome=failed", 0}}},
      {R"(process_resident_memory_bytes{job="batch_cleanup"})", {{"", any}}},
  };
  // The README lists exactly these (and build_info, checked below).
  const auto queries = readme_queries();
  const std::set<std::string> listed(queries.begin(), queries.end());
  std::set<std::string> tested;
  for (const auto& [query, expected] : readme) tested.insert(query);
  tested.insert("batch_cleanup_build_info");
  EXPECT_EQ(listed, tested);

  const auto check = [&](const std::string& query, const std::map<std::string, double>& expected) {
    const auto result = prometheus_query(port, query);
    ASSERT_TRUE(result.is_array()) << query << ": " << result.dump();
    const auto got = series_of(result);
    EXPECT_EQ(keys_of(got), keys_of(expected)) << query << ": " << result.dump();
    for (const auto& [signature, value] : expected) {
      if (std::isnan(value) || !got.contains(signature)) continue;
      EXPECT_EQ(got.at(signature), value) << query << " " << signature;
    }
  };
  for (const auto& [query, expected] : readme) check(query, expected);
  const auto build = prometheus_query(port, "batch_cleanup_build_info");
  ASSERT_EQ(build.size(), 1u) << build.dump();
  EXPECT_EQ(build[0]["metric"]["version"], "0.1.0");
  EXPECT_EQ(build[0]["value"][1], "1");
  EXPECT_TRUE(build[0]["metric"].contains("libpq")) << build.dump();

  // Every alert's expression, and which alerts fire.
  const std::map<std::string, std::map<std::string, double>> alerts = {
      {"BatchCleanupNoRecentSuccess", {{"cleanup_job=broken", any}}},
      {"BatchCleanupRowsFailed", {{"cleanup_job=tenant_b", 1}}},
      {"BatchCleanupCyclesFailing", {}},
      {"BatchCleanupDatabaseDown", {}},
      {"BatchCleanupJobHalted", {{"cleanup_job=broken", 1}}},
      {"BatchCleanupCyclesSkipped", {}},
      {"BatchCleanupDown", {}},
  };
  const auto shipped = alert_expressions();
  ASSERT_EQ(shipped.size(), alerts.size());
  for (const auto& [alert, expected] : alerts) {
    ASSERT_TRUE(shipped.contains(alert)) << alert;
    check(shipped.at(alert), expected);
  }
  const auto firing = series_of(prometheus_query(port, "ALERTS{alertstate=\"firing\"}"));
  EXPECT_EQ(keys_of(firing),
            (std::set<std::string>{
                "alertname=BatchCleanupJobHalted,alertstate=firing,cleanup_job=broken,severity="
                "critical",
                "alertname=BatchCleanupRowsFailed,alertstate=firing,cleanup_job=tenant_b,"
                "severity=warning"}));

  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace batch_cleanup::testing
