// Faults that need a PostgreSQL server of their own: a restart (fast and immediate) during a
// daemon cycle, and a failover to a pg_basebackup standby behind a multi-host URL. Each test
// starts its servers with scripts/pg_test_server.sh (loopback, temporary directories, ports just
// above the shared test server's) and stops them.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/own_server.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

class PgServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_available()) {
      const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
      if (required != nullptr && std::string(required) == "1") FAIL() << "no PostgreSQL";
      GTEST_SKIP() << "no PostgreSQL server binaries configured (scripts/test.sh does)";
    }
  }
};

TEST_F(PgServerTest, DaemonRecoversFromFastAndImmediateRestartsMidCycle) {
  OwnServer server(shared_server_port() + 3);
  server.start();
  create_app_database(server, 2000);
  const std::string app = server.url("app");
  ChildProcess daemon({tool_binary(), "--daemon", "--interval", "1s", "--batch-size", "100",
                       "--retries", "10", "--database-url", app},
                      {});
  for (const std::string mode : {"fast", "immediate"}) {
    SCOPED_TRACE(mode);
    // Mid-cycle: some rows gone, most still there.
    ASSERT_TRUE(eventually(
        [&] {
          const auto n = pending_count(app);
          return n >= 0 && n < 1900;
        },
        std::chrono::seconds(30)))
        << daemon.current_err();
    ASSERT_GT(pending_count(app), 0) << "the cycle ended before the restart";
    server.restart(mode);
    EXPECT_TRUE(eventually([&] { return pending_count(app) == 0; }, std::chrono::seconds(60)))
        << daemon.current_err();
    ASSERT_EQ(::kill(daemon.pid(), 0), 0) << "the daemon exited";
    // Work for the next round.
    pg(app,
       "INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT 'q' || i || md5(random()::text), "
       "'user' || i || '@example.com' FROM generate_series(2000, 3999) i");
  }
  EXPECT_TRUE(eventually([&] { return pending_count(app) == 0; }, std::chrono::seconds(60)));
  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("connection"), std::string::npos) << result.err;
}

TEST_F(PgServerTest, DaemonFollowsAFailoverToThePromotedStandby) {
  OwnServer primary(shared_server_port() + 4);
  OwnServer standby(shared_server_port() + 5);
  primary.start();
  create_app_database(primary, 200);
  standby.standby_of(primary);
  const std::string url = fmt::format(
      "host=127.0.0.1,127.0.0.1 port={},{} user=postgres dbname=app "
      "target_session_attrs=read-write",
      primary.port(), standby.port());
  ChildProcess daemon({tool_binary(), "--daemon", "--interval", "1s", "--retries", "10",
                       "--connect-timeout", "2s", "--database-url", url},
                      {});
  ASSERT_TRUE(
      eventually([&] { return pending_count(primary.url("app")) == 0; }, std::chrono::seconds(30)))
      << daemon.current_err();
  // The standby has caught up with the deletions.
  ASSERT_TRUE(
      eventually([&] { return pending_count(standby.url("app")) == 0; }, std::chrono::seconds(30)));

  primary.halt("immediate");
  standby.promote();
  ASSERT_TRUE(
      eventually([&] { return pg(standby.url("app"), "SELECT pg_is_in_recovery()") == "f"; },
                 std::chrono::seconds(30)));
  pg(standby.url("app"),
     "INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT 'after' || i, 'user' || i || "
     "'@example.com' FROM generate_series(0, 99) i");
  EXPECT_TRUE(
      eventually([&] { return pending_count(standby.url("app")) == 0; }, std::chrono::seconds(60)))
      << daemon.current_err();
  ASSERT_EQ(::kill(daemon.pid(), 0), 0) << "the daemon exited";
  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST_F(PgServerTest, MaxReplicationLagPausesBatchesWhileAStandbyLags) {
  OwnServer primary(shared_server_port() + 1);
  OwnServer standby(shared_server_port() + 7);
  primary.start();
  create_app_database(primary, 600);
  // A standby that applies WAL 3 s late: its replay lag is about 3 s while WAL keeps coming.
  standby.standby_of(primary, "-c recovery_min_apply_delay=3s");
  const std::string app = primary.url("app");
  pg(app, "CREATE TABLE heartbeat (at timestamptz)");
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing) {
      pg(app, "INSERT INTO heartbeat VALUES (now())");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const auto lag_ms = [&] {
    const auto text = pg(app,
                         "SELECT coalesce(round(max(extract(epoch FROM replay_lag)) * 1000), 0) "
                         "FROM pg_stat_replication");
    return text.empty() ? 0.0 : std::stod(text);
  };
  ASSERT_TRUE(eventually([&] { return lag_ms() > 1500; }, std::chrono::seconds(30)));

  ChildProcess tool({tool_binary(), "--run-once", "--output", "json", "--batch-size", "100",
                     "--max-replication-lag", "1s", "--database-url", app},
                    {});
  ASSERT_TRUE(eventually(
      [&] {
        return tool.current_err().find(
                   "pausing: a standby has not replayed the cycle's last commit") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << tool.current_err();
  const auto at_pause = pending_count(app);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(pending_count(app), at_pause);  // no batch while the standby lags
  EXPECT_LT(at_pause, 600);                 // the first batch ran ...
  EXPECT_GE(at_pause, 600 - 4 * 100);       // ... and only it (at most 4x --batch-size rows)
  writing = false;
  writer.join();
  const auto result = tool.wait(std::chrono::seconds(90));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(pending_count(app), 0);
  EXPECT_NE(result.err.find("resuming"), std::string::npos) << result.err;
  EXPECT_GE(last_json_report(result)["replication_pauses"].get<int>(), 1);
}

// A short burst on an otherwise idle primary, against a standby that applies WAL 3 s late: its
// replay_lag is empty or stale (nothing else is written), but it has not replayed the burst's
// commits. Compared by WAL position, the second batch waits until the standby has replayed the
// first one's commit; every pause ends once it has.
TEST_F(PgServerTest, MaxReplicationLagBytesCatchesAShortBurstOnAnIdlePrimary) {
  OwnServer primary(shared_server_port() + 22);
  OwnServer standby(shared_server_port() + 23);
  primary.start();
  create_app_database(primary, 300);
  standby.standby_of(primary, "-c recovery_min_apply_delay=3s");
  const std::string app = primary.url("app");
  ASSERT_TRUE(eventually([&] { return pg(app, "SELECT count(*) FROM pg_stat_replication") == "1"; },
                         std::chrono::seconds(30)));
  const auto started = std::chrono::steady_clock::now();
  const auto result =
      run_tool({"--run-once", "--output", "json", "--batch-size", "100", "--no-history",
                "--max-replication-lag-bytes", "1", "--database-url", app});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(pending_count(app), 0);
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 300);
  // Three batches: the second and the third each waited for the standby to replay the commit
  // before them (about 3 s each); the tool does not wait after its last batch.
  EXPECT_GE(report["replication_pauses"].get<int>(), 2) << result.err;
  EXPECT_GE(took, std::chrono::milliseconds(5000)) << result.err;
  EXPECT_NE(result.err.find("pausing: a standby has not replayed the cycle's last commit"),
            std::string::npos)
      << result.err;
  // The standby has every deletion once it catches up.
  ASSERT_TRUE(
      eventually([&] { return pending_count(standby.url("app")) == 0; }, std::chrono::seconds(30)));
}

TEST_F(PgServerTest, TlsSettingsAndPasswordsFromUrlEnvironmentAndPgpassNeverShown) {
  const std::string password = "S3cret-pw-C0FFEE";
  OwnServer server(shared_server_port() + 6);
  server.start();
  create_app_database(server, 10);
  pg(server.url(), "CREATE ROLE app LOGIN PASSWORD '" + password + "'");
  pg(server.url("app"),
     "GRANT SELECT ON core_mstr_one_qlick_users_tbl TO app; GRANT SELECT, DELETE, UPDATE "
     "(pending_user_id) ON core_mstr_one_qlick_pending_users_tbl TO app;"
     "DROP TRIGGER slow_down ON core_mstr_one_qlick_pending_users_tbl");
  server.require_tls_and_password();
  const std::string app = server.socket_url("app");
  const auto refill = [&](int round) {
    pg(app, fmt::format("INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT 'r{0}_' || i, "
                        "'user' || (i + 10 * {0}) || '@example.com' FROM generate_series(0, 4) i",
                        round));
  };
  const auto expect_clean = [&](const ProcessResult& result, const std::string& what) {
    EXPECT_EQ(result.out.find(password), std::string::npos) << what << ": " << result.out;
    EXPECT_EQ(result.err.find(password), std::string::npos) << what << ": " << result.err;
  };
  const std::string tcp = fmt::format("host=127.0.0.1 port={} user=app dbname=app", server.port());

  // TLS settings reach libpq: without TLS the server refuses, with sslmode=require it works.
  const auto plain = run_tool({"--run-once", "--retries", "0", "--database-url",
                               tcp + " sslmode=disable password=" + password});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.err.find("no encryption"), std::string::npos) << plain.err;
  expect_clean(plain, "sslmode=disable");

  const auto from_url =
      run_tool({"--run-once", "--output", "json", "--log-level", "debug", "--database-url",
                fmt::format("postgresql://app:{}@127.0.0.1:{}/app?sslmode=require", password,
                            server.port())});
  EXPECT_EQ(from_url.exit_code, 0) << from_url.err;
  expect_clean(from_url, "password in the URL");
  EXPECT_EQ(pending_count(app), 0);

  refill(1);
  const auto from_env =
      run_tool({"--run-once", "--output", "json", "--database-url", tcp + " sslmode=require"},
               {{"PGPASSWORD", password}});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  expect_clean(from_env, "PGPASSWORD");
  EXPECT_EQ(pending_count(app), 0);

  refill(2);
  const std::string pgpass =
      (std::filesystem::temp_directory_path() / fmt::format("bc_pgpass_{}", ::getpid())).string();
  {
    std::ofstream out(pgpass);
    out << fmt::format("127.0.0.1:{}:app:app:{}\n", server.port(), password);
  }
  std::filesystem::permissions(
      pgpass, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto from_file =
      run_tool({"--run-once", "--output", "json", "--database-url", tcp + " sslmode=require"},
               {{"PGPASSFILE", pgpass}});
  std::filesystem::remove(pgpass);
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  expect_clean(from_file, ".pgpass");
  EXPECT_EQ(pending_count(app), 0);

  // A wrong password is refused, and shown nowhere.
  const std::string wrong = "Wrong-pw-DEADBEEF";
  const auto refused = run_tool({"--run-once", "--output", "json", "--retries", "0",
                                 "--database-url", tcp + " sslmode=require password=" + wrong});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("password authentication failed"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(wrong), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find(wrong), std::string::npos) << refused.out;
}

}  // namespace
}  // namespace batch_cleanup::testing
