// Probes and job isolation, by the real binary: /livez stays 200 through a database outage while
// /readyz does not; in a daemon of several jobs, a job halted by a guard or configuration error
// stops alone (visible in /readyz, /status, /metrics and the log), the others go on deleting, and
// the daemon exits 2 only once every job has halted.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";

TEST(ProbeTest, LivezStaysUpThroughADatabaseOutageReadyzDoesNot) {
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1s", "--retries", "0",
                      "--http-listen", "127.0.0.1:0"},
                     {{"DATABASE_URL", kDeadUrl}});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  // Every endpoint is named in the startup line.
  EXPECT_NE(child.current_err().find("(/livez, /readyz, /healthz, /metrics, /status, "
                                     "/history.json, and the status page at /)"),
            std::string::npos)
      << child.current_err();
  HttpResponse ready;
  ASSERT_TRUE(wait_until([&] {
    ready = http_get(port, "/readyz");
    return ready.status == 503;
  })) << ready.status
      << " " << ready.body;
  EXPECT_EQ(ready.body.rfind("database unreachable: ", 0), 0u) << ready.body;
  EXPECT_EQ(ready.body.find("TopSecretPw42"), std::string::npos) << ready.body;
  EXPECT_EQ(http_get(port, "/healthz").status, 503);
  const auto live = http_get(port, "/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_EQ(http_get(port, "/readyz?job=default").status, 503);
  EXPECT_EQ(http_get(port, "/readyz?job=nope").status, 404);
  const auto metrics = http_get(port, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_database_up"), 0) << metrics;
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_interval_seconds"), 1);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_job_halted"), 0);
  EXPECT_GT(metric_value(metrics, "batch_cleanup_last_cycle_timestamp_seconds{outcome=\"failed\"}")
                .value_or(0),
            0);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(std::chrono::seconds(15)).exit_code, 0);
}

class JobIsolationTest : public BackendTest {
 protected:
  // Two tenants, each its own pair of tables; `good` gets more duplicates later.
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    for (const char* tenant : {"good", "spiky"}) {
      db_->exec(std::string("CREATE TABLE users_") + tenant +
                " (user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
      db_->exec(std::string("CREATE TABLE pending_") + tenant +
                " (pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE)");
      add(tenant, 0, 10);
    }
  }
  // Users and matching pending rows first..first+count-1.
  void add(const std::string& tenant, int first, int count) {
    for (int i = first; i < first + count; ++i) {
      const auto n = std::to_string(i);
      db_->exec("INSERT INTO users_" + tenant + " VALUES ('u" + n + "', 'user" + n +
                "@example.com')");
      db_->exec("INSERT INTO pending_" + tenant + " VALUES ('p" + n + "', 'user" + n +
                "@example.com')");
    }
  }
  std::string job(const std::string& name, const std::string& extra = "") const {
    return "\n[[job]]\nname = \"" + name + "\"\nusers-table = \"users_" + name +
           "\"\npending-table = \"pending_" + name + "\"\n" + extra;
  }
  std::string file(const std::string& jobs) const {
    return "database-url = \"" + db_->url() +
           "\"\ninterval = \"1s\"\nhttp-listen = \"127.0.0.1:0\"\n" + jobs;
  }
};

TEST_P(JobIsolationTest, AGuardRefusalHaltsOneJobTheOthersGoOn) {
  TempDir dir;
  // spiky: 10 candidates, at most 5 allowed: the guard refuses its first cycle.
  const auto config =
      dir.write("batch_cleanup.toml", file(job("good") + job("spiky", "max-deletes = 5\n")));
  ChildProcess child({tool_binary(), "--config", config, "--daemon"}, {});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/readyz?job=spiky").status == 503; }))
      << child.current_err();
  ASSERT_TRUE(wait_until([&] { return db_->count("pending_good") == 0; })) << child.current_err();
  // The good job goes on: rows arriving later are deleted by its next cycles.
  add("good", 10, 5);
  const auto status_of_jobs = [&] {
    const auto response = http_get(port, "/status");
    return response.status == 200 ? nlohmann::json::parse(response.body)["jobs"]
                                  : nlohmann::json::array();
  };
  ASSERT_TRUE(wait_until([&] {
    const auto jobs = status_of_jobs();
    return jobs.size() == 2 && jobs[0].value("total_deleted", 0) == 15;
  })) << child.current_err();
  EXPECT_EQ(db_->count("pending_good"), 0);
  EXPECT_EQ(db_->count("pending_spiky"), 10);

  const auto spiky = http_get(port, "/readyz?job=spiky");
  EXPECT_EQ(spiky.body.rfind("halted on a configuration error: guard 'max-deletes'", 0), 0u)
      << spiky.body;
  EXPECT_EQ(http_get(port, "/readyz?job=good").status, 200);
  const auto all = http_get(port, "/readyz");
  EXPECT_EQ(all.status, 503);
  EXPECT_NE(all.body.find("\njob good: ok\njob spiky: halted on a configuration error"),
            std::string::npos)
      << all.body;
  EXPECT_EQ(http_get(port, "/livez").status, 200);
  const auto status = status_of_jobs();
  EXPECT_EQ(status[0]["halted_on_config_error"], false);
  EXPECT_EQ(status[0]["running"], true);
  EXPECT_EQ(status[0]["total_deleted"], 15);
  EXPECT_EQ(status[1]["halted_on_config_error"], true);
  EXPECT_EQ(status[1]["running"], false);
  const auto metrics = http_get(port, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_job_halted{cleanup_job=\"spiky\"}"), 1);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_job_halted{cleanup_job=\"good\"}"), 0);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_daemon_running{cleanup_job=\"good\"}"), 1);
  EXPECT_EQ(metric_value(metrics, "batch_cleanup_rows_deleted_total{cleanup_job=\"good\"}"), 15);

  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("[job spiky] job spiky halted on a configuration error; the other "
                            "jobs go on"),
            std::string::npos)
      << result.err;
}

TEST_P(JobIsolationTest, TheDaemonExits2OnceEveryJobHasHalted) {
  TempDir dir;
  const auto config =
      dir.write("batch_cleanup.toml",
                file(job("good", "max-deletes = 5\n") +
                     "\n[[job]]\nname = \"broken\"\npending-table = \"no_such_table\"\n"));
  const auto result = run_tool({"--config", config, "--daemon"}, {}, std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("every job has halted: the daemon exits"), std::string::npos)
      << result.err;
  EXPECT_EQ(db_->count("pending_good"), 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, JobIsolationTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
