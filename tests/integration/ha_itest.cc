// High availability with real processes: daemons killed with SIGKILL, paused with SIGSTOP,
// restarted at once (as systemd's Restart=on-failure would; systemd itself does not run on the
// test machines), two daemons on the same tables, and run-once jobs after a crash; directly and
// through PgBouncer in transaction mode. Short leases (--lease-ttl 3s). Asserted in the
// database (rows left, the archive table) and in /status, /metrics and the JSON reports. The
// takeover times printed ("takeover: ...") are the figures of README's HA section.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/json_report.h"
#include "integration/own_server.h"
#include "integration/pgbouncer.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr int kTtlSeconds = 3;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

nlohmann::json status_of(int port) {
  const auto response = http_get(port, "/status");
  if (response.status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(response.body, nullptr, false);
}

std::string role_of(int port) {
  const auto status = status_of(port);
  if (!status.is_object() || !status.contains("leadership")) return "";
  const auto& role = status["leadership"]["role"];
  return role.is_string() ? role.get<std::string>() : "";
}

double metric(int port, const std::string& series) {
  return metric_value(http_get(port, "/metrics").body, series).value_or(-1);
}

// A daemon of the test: its process and HTTP port.
struct Daemon {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
};

class HaTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }

  // The database the daemons use (this test's, or through a pooler).
  std::string url() const { return url_.empty() ? db_->url() : url_; }

  // Matching rows still pending (every p<i> with a user i).
  long long backlog() {
    return std::stoll(db_->scalar(std::string("SELECT count(*) FROM ") + kPending +
                                  " p WHERE EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl "
                                  "u WHERE u.email = p.email)"));
  }

  Daemon start_daemon(const std::string& host_id, const std::string& interval,
                      std::vector<std::string> extra = {}, const std::string& ttl = "3s") {
    std::vector<std::string> args = {tool_binary(), "--daemon", "--interval",     interval,
                                     "--lease-ttl", ttl,        "--http-listen",  "127.0.0.1:0",
                                     "--log-level", "info",     "--database-url", url()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::map<std::string, std::string> env;
    if (!host_id.empty()) env["BATCH_CLEANUP_HOST_ID"] = host_id;
    Daemon daemon;
    daemon.process = std::make_unique<ChildProcess>(args, env);
    daemon.port = wait_for_http_port(*daemon.process);
    EXPECT_GT(daemon.port, 0) << daemon.process->current_err();
    return daemon;
  }

  // Kills a daemon with SIGKILL, then starts its successor at once (Restart=on-failure with
  // RestartSec=0); returns the seconds from the kill to the successor's first deleted row.
  double kill_and_restart(Daemon& daemon, const std::string& successor_host_id, Daemon& next,
                          const std::vector<std::string>& extra) {
    const long long before_kill = backlog();
    daemon.process->signal(SIGKILL);
    daemon.process->wait(seconds(10));
    const auto killed = Clock::now();
    const long long left = backlog();
    EXPECT_LT(left, 600) << "the killed daemon had not started";
    EXPECT_GT(left, 0) << "the killed daemon had finished: nothing left to take over";
    (void)before_kill;
    next = start_daemon(successor_host_id, "1h", extra);
    EXPECT_TRUE(eventually([&] { return backlog() < left; }, seconds(30)))
        << next.process->current_err();
    return seconds_since(killed);
  }

  std::string url_;
};

// Rows that take a while to delete: 600 matching rows, 20 per batch, 100 ms apart (about 3 s).
void slow_backlog(TestDatabase& db) {
  db.insert_users(0, 600);
  db.insert_pending(0, 700);  // p0..p599 match
}
const std::vector<std::string> kSlowCycle = {"--batch-size", "20", "--sleep", "100ms"};

// kill -9 mid-cycle, restarted at once on the same host: the successor proves its predecessor
// dead (its process is gone) and finishes the backlog within seconds, not a TTL (nor an
// interval) later.
TEST_P(HaTest, ADaemonRestartedAfterKillNineTakesOverAtOnce) {
  slow_backlog(*db_);
  Daemon first = start_daemon("", "1h", kSlowCycle);
  ASSERT_TRUE(eventually([&] { return backlog() < 560; }, seconds(30)))
      << first.process->current_err();
  Daemon second;
  const double takeover = kill_and_restart(first, "", second, kSlowCycle);
  std::cerr << "takeover: same host, restart after kill -9 (" << backend_name(GetParam())
            << "): first row deleted " << takeover << " s after the kill\n";
  // The restart's own start (a process, a connection) is in there: well under the TTL.
  EXPECT_LT(takeover, kTtlSeconds) << second.process->current_err();
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(30)))
      << second.process->current_err();
  EXPECT_EQ(db_->count(kPending), 100);
  ASSERT_TRUE(eventually([&] { return role_of(second.port) == "leader"; }, seconds(10)));
  EXPECT_EQ(metric(second.port, "batch_cleanup_leader"), 1);
  if (db_->is_postgres()) {
    EXPECT_EQ(db_->scalar("SELECT epoch FROM batch_cleanup_leases"), "2");
    EXPECT_NE(second.process->current_err().find("on this host no longer runs"), std::string::npos)
        << second.process->current_err();
  }
}

// The same from "another host" (another BATCH_CLEANUP_HOST_ID) on a direct connection: the
// dead holder's server process is gone from pg_stat_activity, which proves it dead.
TEST_P(HaTest, OnADirectConnectionTheHoldersGoneServerProcessProvesItDead) {
  if (!db_->is_postgres()) GTEST_SKIP() << "a PostgreSQL lease";
  slow_backlog(*db_);
  Daemon first = start_daemon("host-a", "1h", kSlowCycle);
  ASSERT_TRUE(eventually([&] { return backlog() < 560; }, seconds(30)))
      << first.process->current_err();
  EXPECT_EQ(db_->scalar("SELECT direct_connection FROM batch_cleanup_leases"), "t");
  Daemon second;
  const double takeover = kill_and_restart(first, "host-b", second, kSlowCycle);
  std::cerr << "takeover: direct connection, another host, after kill -9: first row deleted "
            << takeover << " s after the kill\n";
  EXPECT_LT(takeover, kTtlSeconds) << second.process->current_err();
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(30)));
  EXPECT_NE(second.process->current_err().find("server process of its direct connection"),
            std::string::npos)
      << second.process->current_err();
}

// Two daemons: one leads, the other stands by (role, holder, gauge). The leader killed, the
// standby takes over and deletes rows inserted after the kill within 2 x TTL.
TEST_P(HaTest, TheStandbyTakesOverWithinTwoTtlsWhenTheLeaderIsKilled) {
  db_->insert_users(0, 200);
  db_->insert_pending(0, 100);
  Daemon leader = start_daemon("", "2s");
  ASSERT_TRUE(eventually([&] { return role_of(leader.port) == "leader"; }, seconds(20)))
      << leader.process->current_err();
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(20)));
  Daemon standby = start_daemon("", "2s");
  ASSERT_TRUE(eventually([&] { return role_of(standby.port) == "standby"; }, seconds(20)))
      << standby.process->current_err();
  const auto standby_status = status_of(standby.port);
  const auto leader_status = status_of(leader.port);
  EXPECT_EQ(standby_status["leadership"]["holder"], leader_status["leadership"]["holder"]);
  EXPECT_FALSE(standby_status["leadership"]["holder"].get<std::string>().empty());
  EXPECT_EQ(metric(leader.port, "batch_cleanup_leader"), 1);
  EXPECT_EQ(metric(standby.port, "batch_cleanup_leader"), 0);
  // A healthy leader keeps the shared schedule: the standby skips nothing.
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(metric(standby.port, "batch_cleanup_cycles_skipped_total{reason=\"lease_held\"}"), 0);
  EXPECT_EQ(status_of(standby.port)["total_deleted"], 0);

  leader.process->signal(SIGKILL);
  leader.process->wait(seconds(10));
  const auto killed = Clock::now();
  db_->insert_pending(100, 50);  // p100..p149 match
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(4 * kTtlSeconds)))
      << standby.process->current_err();
  const double took = seconds_since(killed);
  std::cerr << "takeover: standby on the same host (" << backend_name(GetParam())
            << "): new rows deleted " << took << " s after the leader's kill\n";
  EXPECT_LT(took, 2 * kTtlSeconds);
  EXPECT_EQ(role_of(standby.port), "leader");
  EXPECT_EQ(metric(standby.port, "batch_cleanup_leader"), 1);
  // (A cycle's totals are published when it ends, a moment after its last commit.)
  EXPECT_TRUE(
      eventually([&] { return status_of(standby.port)["total_deleted"] == 50; }, seconds(10)))
      << status_of(standby.port).dump();
}

// --run-once while a live (paused) daemon holds the lock: exit 4, the holder named; with
// --wait-lock it waits, and completes once the holder is gone.
TEST_P(HaTest, RunOnceExitsFourNamingTheHolderOrWaitsWithWaitLock) {
  db_->insert_users(0, 50);
  db_->insert_pending(0, 10);
  // A long lease: the run below must find it live however slow the machine.
  Daemon holder = start_daemon("", "1h", {}, "60s");
  ASSERT_TRUE(eventually([&] { return role_of(holder.port) == "leader"; }, seconds(20)));
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(20)));
  const std::string holder_name = status_of(holder.port)["leadership"]["holder"];
  holder.process->signal(SIGSTOP);  // alive, its lock held: nothing proves it dead
  db_->insert_pending(10, 10);
  const auto skipped = run_tool(
      {"--run-once", "--output", "json", "--lease-ttl", "3s", "--database-url", db_->url()});
  EXPECT_EQ(skipped.exit_code, 4) << skipped.err;
  const auto report = last_json_report(skipped);
  EXPECT_EQ(report["skipped_reason"], "lease_held");
  EXPECT_EQ(report["lease"]["holder"], holder_name);
  EXPECT_NE(skipped.err.find(holder_name), std::string::npos) << skipped.err;
  EXPECT_EQ(backlog(), 10);

  ChildProcess waiting({tool_binary(), "--run-once", "--wait-lock", "--output", "json",
                        "--lease-ttl", "3s", "--database-url", db_->url()},
                       {});
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(backlog(), 10);
  holder.process->signal(SIGKILL);
  holder.process->signal(SIGCONT);
  holder.process->wait(seconds(10));
  const auto result = waiting.wait(seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(backlog(), 0);
}

// SIGSTOP of the leader past its TTL: the standby takes over (the TTL path: the paused process
// and its server process still exist), the leader resumes and is fenced at its next batch.
// Nothing is deleted twice (the archive holds each row once) and every commit is counted (the
// two daemons' totals add up to the rows gone).
TEST_P(HaTest, APausedLeaderIsFencedAndEveryCommitIsCounted) {
  if (!db_->is_postgres()) GTEST_SKIP() << "a lock file has no TTL: a paused holder keeps it";
  db_->insert_users(0, 800);
  db_->insert_pending(0, 900);  // p0..p799 match
  const std::vector<std::string> slow = {"--batch-size",    "10",        "--sleep", "300ms",
                                         "--archive-table", "bc_archive"};
  Daemon leader = start_daemon("", "1h", slow);
  ASSERT_TRUE(eventually([&] { return backlog() < 780; }, seconds(30)));
  Daemon standby = start_daemon("", "1h", slow);
  ASSERT_TRUE(eventually([&] { return role_of(standby.port) == "standby"; }, seconds(20)));
  // Pause the leader between its batches (paused inside a batch's transaction, it would keep
  // the lease row locked until the server ends the idle transaction).
  bool paused_outside_a_transaction = false;
  for (int attempt = 0; attempt < 20 && !paused_outside_a_transaction; ++attempt) {
    leader.process->signal(SIGSTOP);
    std::this_thread::sleep_for(milliseconds(100));
    paused_outside_a_transaction =
        db_->scalar(
            "SELECT count(*) FROM pg_stat_activity a JOIN batch_cleanup_leases l ON "
            "a.pid = l.backend_pid WHERE a.state = 'idle'") == "1";
    if (!paused_outside_a_transaction) {
      leader.process->signal(SIGCONT);
      std::this_thread::sleep_for(milliseconds(150));
    }
  }
  ASSERT_TRUE(paused_outside_a_transaction);
  const auto paused = Clock::now();
  const long long left = backlog();
  ASSERT_GT(left, 0);
  ASSERT_TRUE(eventually([&] { return backlog() < left; }, seconds(4 * kTtlSeconds)))
      << standby.process->current_err();
  const double took = seconds_since(paused);
  std::cerr << "takeover: paused leader (TTL path): first row deleted " << took
            << " s after SIGSTOP\n";
  EXPECT_GE(took, 1.0);  // not before the paused leader's lease ran out
  EXPECT_LT(took, 2 * kTtlSeconds);
  leader.process->signal(SIGCONT);
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(60)));
  ASSERT_TRUE(eventually([&] { return role_of(leader.port) == "standby"; }, seconds(20)))
      << leader.process->current_err();
  EXPECT_EQ(role_of(standby.port), "leader");
  // Every row deleted once, and counted once.
  EXPECT_EQ(db_->count(kPending), 100);
  EXPECT_EQ(db_->count("bc_archive"), 800);
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT pending_user_id) FROM bc_archive"), "800");
  // (A cycle's totals are published when it ends, a moment after its last commit.)
  long long counted = 0;
  EXPECT_TRUE(eventually(
      [&] {
        counted = status_of(leader.port)["total_deleted"].get<long long>() +
                  status_of(standby.port)["total_deleted"].get<long long>();
        return counted == 800;
      },
      seconds(10)))
      << counted;
  EXPECT_EQ(metric(leader.port, "batch_cleanup_rows_deleted_total") +
                metric(standby.port, "batch_cleanup_rows_deleted_total"),
            800);
  EXPECT_GE(std::stoll(db_->scalar("SELECT epoch FROM batch_cleanup_leases")), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, HaTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

// Through PgBouncer in transaction mode: the holder's server process proves nothing (the
// pooler keeps it), so between hosts only the lease's TTL frees a dead leader's lock; on the
// same host, its process does.
class HaPoolerTest : public HaTest {
 protected:
  void SetUp() override {
    HaTest::SetUp();
    if (!db_ || ::testing::Test::IsSkipped()) return;
    if (!PgBouncer::available()) {
      const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
      if (required != nullptr && std::string(required) == "1") {
        FAIL() << "pgbouncer is not installed (scripts/install-deps.sh installs it)";
      }
      GTEST_SKIP() << "pgbouncer is not installed";
    }
  }
};

TEST_P(HaPoolerTest, BetweenHostsOnlyTheTtlFreesADeadLeadersLease) {
  PgBouncer bouncer(shared_server_port() + 47, shared_server_port(),
                    {"transaction", 4, 0, false, {"postgres"}});
  url_ = bouncer.url(db_->scalar("SELECT current_database()"));
  db_->insert_users(0, 200);
  db_->insert_pending(0, 100);
  Daemon leader = start_daemon("host-a", "2s");
  ASSERT_TRUE(eventually([&] { return role_of(leader.port) == "leader"; }, seconds(20)))
      << leader.process->current_err();
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(20)));
  EXPECT_EQ(db_->scalar("SELECT direct_connection FROM batch_cleanup_leases"), "f");
  Daemon standby = start_daemon("host-b", "2s");
  ASSERT_TRUE(eventually([&] { return role_of(standby.port) == "standby"; }, seconds(20)));

  leader.process->signal(SIGKILL);
  leader.process->wait(seconds(10));
  const auto killed = Clock::now();
  db_->insert_pending(100, 50);
  // A run-once from a third host right after the crash: the lease is live, exit 4.
  const auto early =
      run_tool({"--run-once", "--output", "json", "--lease-ttl", "3s", "--database-url", url_},
               {{"BATCH_CLEANUP_HOST_ID", "host-c"}});
  const double early_at = seconds_since(killed);
  if (early.exit_code == 4) {
    EXPECT_EQ(last_json_report(early)["skipped_reason"], "lease_held");
    EXPECT_NE(early.err.find("until"), std::string::npos) << early.err;
  } else {
    // Only once the lease ran out (it had 1.5 to 3 s left at the kill).
    EXPECT_EQ(early.exit_code, 0) << early.err;
    EXPECT_GE(early_at, 1.5) << early.err;
  }
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(4 * kTtlSeconds)))
      << standby.process->current_err();
  const double took = seconds_since(killed);
  std::cerr << "takeover: through PgBouncer, another host (TTL path): new rows deleted " << took
            << " s after the leader's kill\n";
  EXPECT_GE(took, 1.5);  // not before the dead leader's lease ran out
  EXPECT_LT(took, 2 * kTtlSeconds);
  if (early.exit_code == 4) {
    EXPECT_EQ(role_of(standby.port), "leader");
    EXPECT_TRUE(
        eventually([&] { return status_of(standby.port)["total_deleted"] == 50; }, seconds(10)))
        << status_of(standby.port).dump();
  }
}

TEST_P(HaPoolerTest, OnTheSameHostARestartedDaemonTakesOverAtOnceThroughThePooler) {
  PgBouncer bouncer(shared_server_port() + 48, shared_server_port(),
                    {"transaction", 4, 0, false, {"postgres"}});
  url_ = bouncer.url(db_->scalar("SELECT current_database()"));
  slow_backlog(*db_);
  Daemon first = start_daemon("", "1h", kSlowCycle);
  ASSERT_TRUE(eventually([&] { return backlog() < 560; }, seconds(30)));
  Daemon second;
  const double takeover = kill_and_restart(first, "", second, kSlowCycle);
  std::cerr << "takeover: through PgBouncer, same host, restart after kill -9: first row "
               "deleted "
            << takeover << " s after the kill\n";
  EXPECT_LT(takeover, kTtlSeconds);
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }, seconds(30)));
}

INSTANTIATE_TEST_SUITE_P(Postgres, HaPoolerTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
