// The fault tier of production safety, on real processes: a server stopped longer than the
// retries (the failed cycle's committed rows still counted, everywhere), an in-doubt commit (a
// proxy cuts the connection right after forwarding COMMIT), a frozen server process (SIGSTOP),
// a lease holder paused past its lease (fencing), tables dropped and recreated under a daemon,
// a connection terminated between cycles, batches bounded whatever the page density, the role's
// own statement_timeout, and least privilege that stays fast. Each asserts in the database and
// in /metrics or the report, never in log lines alone.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/chaos_proxy.h"
#include "integration/http_client.h"
#include "integration/json_report.h"
#include "integration/own_server.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// Every JSON report line a process printed, in order.
std::vector<nlohmann::json> json_reports(const std::string& out) {
  std::vector<nlohmann::json> reports;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto object = nlohmann::json::parse(line, nullptr, false);
    if (object.is_object() && object.contains("cycle_id")) reports.push_back(object);
  }
  return reports;
}

// A sample of /metrics (the series named exactly), -1 when absent or unreachable.
double metric(int port, const std::string& series) {
  return metric_value(http_get(port, "/metrics").body, series).value_or(-1);
}

class FaultTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }
  std::string dbname() { return db_->scalar("SELECT current_database()"); }
};

// The server goes away for longer than the retries after some batches committed: the cycle
// fails, and its committed rows are still in the report (with the error), in /metrics and in a
// history row written once the server is back. Totals equal the rows gone.
TEST(FailedCycleTest, AnOutageLongerThanTheRetriesStillCountsWhatTheCycleCommitted) {
  if (!postgres_available()) GTEST_SKIP() << "no PostgreSQL server configured";
  OwnServer server(shared_server_port() + 16);
  server.start();
  create_app_database(server, 200);  // 150 ms per DELETE statement
  const int http = shared_server_port() + 17;
  ChildProcess daemon(
      {tool_binary(), "--daemon", "--interval", "2s", "--batch-size", "10", "--retries", "1",
       "--connect-timeout", "1s", "--output", "json", "--http-listen",
       fmt::format("127.0.0.1:{}", http), "--database-url", server.url("app")},
      {});
  ASSERT_TRUE(
      eventually([&] { return pending_count(server.url("app")) <= 150; }, std::chrono::seconds(30)))
      << daemon.current_err();
  server.halt("immediate");
  // The cycle fails after its retries; its report says what it had committed.
  ASSERT_TRUE(eventually([&] { return !json_reports(daemon.current_out()).empty(); },
                         std::chrono::seconds(60)))
      << daemon.current_err();
  const auto failed = json_reports(daemon.current_out()).front();
  ASSERT_TRUE(failed.contains("error")) << failed.dump();
  const long long committed = failed["deleted"].get<long long>();
  EXPECT_GT(committed, 0);
  EXPECT_EQ(metric(http, "batch_cleanup_rows_deleted_total"), static_cast<double>(committed));
  EXPECT_EQ(metric(http, "batch_cleanup_cycles_total{outcome=\"failed\"}"), 1);
  const auto status = nlohmann::json::parse(http_get(http, "/status").body);
  EXPECT_EQ(status["recent_cycles"].back()["cycle_id"], failed["cycle_id"]) << status.dump();
  EXPECT_EQ(status["recent_cycles"].back()["deleted"], committed);

  server.start();  // the next cycle runs the rest, and writes the failed cycle's history row
  ASSERT_TRUE(
      eventually([&] { return pending_count(server.url("app")) == 0; }, std::chrono::seconds(60)))
      << daemon.current_err();
  ASSERT_TRUE(eventually(
      [&] { return pg(server.url("app"), "SELECT count(*) FROM batch_cleanup_runs") == "2"; },
      std::chrono::seconds(30)));
  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(pg(server.url("app"),
               "SELECT concat(outcome, ' ', deleted) FROM batch_cleanup_runs WHERE cycle_id = '" +
                   failed["cycle_id"].get<std::string>() + "'"),
            fmt::format("failed {}", committed));
  EXPECT_EQ(pg(server.url("app"), "SELECT sum(deleted) FROM batch_cleanup_runs"), "200");
  long long reported = 0;
  for (const auto& report : json_reports(result.out))
    reported += report["deleted"].get<long long>();
  EXPECT_EQ(reported, 200);
}

// The connection dies right after the server received COMMIT: the client cannot know whether
// the batch committed. It asks the database (txid_status) and counts the batch exactly once.
TEST_P(FaultTest, AnInDoubtCommitIsResolvedAndCountedOnce) {
  db_->insert_users(0, 100);
  db_->insert_pending(0, 100);
  ChaosProxy proxy(shared_server_port() + 18, shared_server_port());
  proxy.cut_after_batch_commit(3);
  const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "10",
                                "--batch-strategy", "key", "--database-url",
                                fmt::format("host=127.0.0.1 port={} user=postgres dbname={}",
                                            shared_server_port() + 18, dbname())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(proxy.cuts(), 1);
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 100) << result.err;
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_NE(result.err.find("the database says it committed"), std::string::npos) << result.err;
}

// The server process serving the tool freezes (SIGSTOP: the kernel still acknowledges its TCP
// traffic, and the server cannot enforce its statement_timeout). The tool gives up that
// connection after its statement timeout plus 5 s, reconnects and finishes.
TEST_P(FaultTest, AFrozenServerProcessIsGivenUpWithinTheStatementTimeout) {
  db_->insert_users(0, 50);
  db_->insert_pending(0, 50);
  ChildProcess tool({tool_binary(), "--run-once", "--output", "json", "--batch-size", "10",
                     "--sleep", "1s", "--statement-timeout", "1s", "--database-url", db_->url()},
                    {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) < 50; }, std::chrono::seconds(20)));
  const std::string backend = db_->scalar(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name "
      "= 'batch_cleanup' LIMIT 1");
  ASSERT_FALSE(backend.empty());
  ASSERT_EQ(::kill(std::stoi(backend), SIGSTOP), 0);
  const auto started = std::chrono::steady_clock::now();
  const auto result = tool.wait(std::chrono::seconds(60));
  ::kill(std::stoi(backend), SIGCONT);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("no answer from the server within 6000 ms"), std::string::npos)
      << result.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_EQ(last_json_report(result)["deleted"], 50);
  EXPECT_EQ(db_->count(kPending), 0);
}

// A lease holder paused (SIGSTOP) past its lease: another instance takes over and finishes. When
// the first resumes, its next batch finds the lease taken (its epoch is stale) and rolls back:
// it never commits after the takeover. Every row is deleted once; the two reports add up.
TEST_P(FaultTest, APausedLeaseHolderIsFencedAfterATakeover) {
  db_->insert_users(0, 300);
  db_->insert_pending(0, 300);
  ChildProcess first(
      {tool_binary(), "--run-once", "--output", "json", "--batch-size", "10", "--sleep", "200ms",
       "--lease-ttl", "2s", "--archive-table", "bc_archive", "--database-url", db_->url()},
      {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) <= 280; }, std::chrono::seconds(20)));
  first.signal(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // past its lease
  const auto second =
      run_tool({"--run-once", "--output", "json", "--batch-size", "50", "--lease-ttl", "2s",
                "--archive-table", "bc_archive", "--database-url", db_->url()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto second_report = last_json_report(second);
  EXPECT_FALSE(second_report["skipped_by_lock"].get<bool>());
  EXPECT_EQ(db_->count(kPending), 0);
  first.signal(SIGCONT);
  const auto resumed = first.wait(std::chrono::seconds(30));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto first_report = last_json_report(resumed);
  EXPECT_TRUE(first_report["interrupted"].get<bool>()) << resumed.err;
  EXPECT_NE(resumed.err.find("taken over by another instance"), std::string::npos) << resumed.err;
  EXPECT_EQ(first_report["deleted"].get<long long>() + second_report["deleted"].get<long long>(),
            300);
  // In the archive: each row once, and nothing of the first cycle after the second began.
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT pending_user_id) FROM bc_archive"), "300");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive"), "300");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive a WHERE a.cycle_id = '" +
                        first_report["cycle_id"].get<std::string>() +
                        "' AND a.archived_at > (SELECT min(archived_at) FROM bc_archive WHERE "
                        "cycle_id = '" +
                        second_report["cycle_id"].get<std::string>() + "')"),
            "0");
}

// The daemon's connection is terminated between two cycles: the next cycle reconnects and runs;
// no cycle fails.
TEST_P(FaultTest, AConnectionLostBetweenCyclesIsRetried) {
  db_->insert_users(0, 40);
  db_->insert_pending(0, 20);
  const int http = shared_server_port() + 21;
  ChildProcess daemon({tool_binary(), "--daemon", "--interval", "2s", "--http-listen",
                       fmt::format("127.0.0.1:{}", http), "--database-url", db_->url()},
                      {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(20)));
  // Between cycles: the first one has ended (its metrics are published after its history row
  // and the lease's release), not just committed its last batch.
  ASSERT_TRUE(eventually([&] { return metric(http, "batch_cleanup_rows_deleted_total") == 20; },
                         std::chrono::seconds(10)));
  ASSERT_TRUE(eventually(
      [&] {
        return db_->scalar(
                   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                   "datname = current_database() AND application_name = "
                   "'batch_cleanup'") == "1";
      },
      std::chrono::seconds(10)));
  db_->insert_pending(20, 20);
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(20)))
      << daemon.current_err();
  // (The cycle's metrics are published when it ends, a moment after its last commit.)
  EXPECT_TRUE(eventually([&] { return metric(http, "batch_cleanup_rows_deleted_total") == 40; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(metric(http, "batch_cleanup_cycles_total{outcome=\"failed\"}"), 0)
      << daemon.current_err();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(20)).exit_code, 0);
}

// The first 200 pages are empty (a mass delete), the rest dense: no batch deletes more than 4x
// --batch-size rows, however the first pages misled the estimate.
TEST_P(FaultTest, BatchesStayBoundedWhenTheFrontPagesAreEmpty) {
  db_->exec(
      "ALTER TABLE core_mstr_one_qlick_pending_users_tbl ADD COLUMN pad text; "
      "INSERT INTO core_mstr_one_qlick_users_tbl SELECT 'u' || i, 'user' || i || '@example.com' "
      "FROM generate_series(0, 49999) i; INSERT INTO core_mstr_one_qlick_pending_users_tbl "
      "SELECT 'p' || i, 'user' || i || '@example.com', repeat('x', 30) FROM generate_series(0, "
      "49999) i; DELETE FROM core_mstr_one_qlick_pending_users_tbl WHERE ctid < '(200,0)'");
  db_->exec("VACUUM core_mstr_one_qlick_pending_users_tbl");
  const auto left = db_->count(kPending);
  ASSERT_GT(left, 20000);
  const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "200",
                                "--log-level", "debug", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err.substr(0, 2000);
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], left);
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_GE(report["batches"].get<long long>(), left / 800);
  long long largest = 0;
  const std::regex batch_line(R"(batch \d+: matched=(\d+))");
  for (std::sregex_iterator it(result.err.begin(), result.err.end(), batch_line), end; it != end;
       ++it) {
    largest = std::max(largest, std::stoll((*it)[1]));
  }
  EXPECT_GT(largest, 0);
  EXPECT_LE(largest, 800);
}

// The role's own statement_timeout (50 ms) is lower than the default (30 s): it applies.
TEST_P(FaultTest, TheRolesLowerStatementTimeoutApplies) {
  db_->insert_users(0, 20);
  db_->insert_pending(0, 20);
  db_->slow_pending_deletes(0.2);
  const std::string role = fmt::format("bc_slow_{:08x}", std::random_device{}());
  db_->exec("CREATE ROLE " + role + " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " +
            role + "; GRANT SELECT, DELETE, UPDATE ON " + kPending + " TO " + role +
            "; ALTER ROLE " + role + " SET statement_timeout = '50ms'");
  const std::string url = db_->url() + " user=" + role;
  const auto limited = run_tool(
      {"--run-once", "--output", "json", "--retries", "0", "--no-history", "--database-url", url});
  EXPECT_NE(limited.exit_code, 0) << limited.err;
  EXPECT_NE(limited.err.find("statement_timeout 50ms (the role's or database's"), std::string::npos)
      << limited.err;
  EXPECT_EQ(db_->count(kPending), 20);  // every DELETE takes 200 ms: none may finish
  // Chosen explicitly, the operator's value wins.
  const auto chosen = run_tool({"--run-once", "--output", "json", "--statement-timeout", "5s",
                                "--no-history", "--database-url", url});
  EXPECT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_EQ(db_->count(kPending), 0);
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
}

// Without UPDATE (no SKIP LOCKED), two rows another session holds cost a few statements
// (halving), not one per row of the batch. Counted by a sequence bumped by every DELETE
// statement (nextval is not rolled back with a savepoint).
TEST_P(FaultTest, LeastPrivilegeBisectsAroundLockedRows) {
  db_->insert_users(0, 2000);
  db_->insert_pending(0, 2000);
  db_->exec(
      "CREATE SEQUENCE delete_statements; CREATE FUNCTION count_delete() RETURNS trigger "
      "LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('delete_statements'); RETURN NULL; END $$; "
      "CREATE TRIGGER count_delete BEFORE DELETE ON core_mstr_one_qlick_pending_users_tbl FOR "
      "EACH STATEMENT EXECUTE FUNCTION count_delete()");
  const std::string role = fmt::format("bc_noupd_{:08x}", std::random_device{}());
  db_->exec("CREATE ROLE " + role + " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " +
            role + "; GRANT SELECT, DELETE ON " + kPending + " TO " + role +
            "; GRANT USAGE ON SEQUENCE delete_statements TO " + role);
  auto holder = db_->another_connection();
  holder->exec("BEGIN");
  holder->exec(
      "SELECT 1 FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id IN ('p500', "
      "'p1500') FOR UPDATE");
  const auto result =
      run_tool({"--run-once", "--output", "json", "--batch-size", "2000", "--batch-strategy", "key",
                "--no-history", "--database-url", db_->url() + " user=" + role});
  holder->exec("ROLLBACK");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 1998);
  EXPECT_EQ(report["skipped"], 2);
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p1500", "p500"}));
  const long long statements = std::stoll(db_->scalar("SELECT last_value FROM delete_statements"));
  EXPECT_LT(statements, 60) << "DELETE statements for a 2,000-row batch with 2 held rows";
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
}

INSTANTIATE_TEST_SUITE_P(Postgres, FaultTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

// The schema change on both backends.
class SchemaChangeTest : public FaultTest {};

// Both backends: the tables are dropped and recreated under a running daemon. The cycles in
// between fail (a clear error each), the daemon goes on, and it cleans the new tables.
TEST_P(SchemaChangeTest, TablesDroppedAndRecreatedUnderADaemon) {
  db_->insert_users(0, 30);
  db_->insert_pending(0, 30);
  const int http = shared_server_port() + (db_->is_postgres() ? 19 : 20);
  ChildProcess daemon({tool_binary(), "--daemon", "--interval", "1s", "--http-listen",
                       fmt::format("127.0.0.1:{}", http), "--database-url", db_->url()},
                      {});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(20)));
  db_->exec("DROP TABLE core_mstr_one_qlick_pending_users_tbl");
  ASSERT_TRUE(eventually(
      [&] { return metric(http, "batch_cleanup_cycles_total{outcome=\"failed\"}") >= 1; },
      std::chrono::seconds(20)))
      << daemon.current_err();
  EXPECT_NE(daemon.current_err().find("pending table 'core_mstr_one_qlick_pending_users_tbl' "
                                      "does not exist"),
            std::string::npos)
      << daemon.current_err();
  db_->exec(
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, "
      "email TEXT UNIQUE, full_name TEXT)");
  db_->insert_pending(0, 25);  // 25 new rows, all matching
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) == 0; }, std::chrono::seconds(30)))
      << daemon.current_err();
  EXPECT_TRUE(eventually([&] { return metric(http, "batch_cleanup_rows_deleted_total") == 55; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(metric(http, "batch_cleanup_job_halted"), 0);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(20)).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaChangeTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
