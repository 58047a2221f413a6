// Through a real connection pooler (Debian's PgBouncer, started by each test in front of the
// shared test server): a run leaves the pooled server connection exactly as it found it, one
// instance at a time cleans even when the pooler hands every transaction to another server
// process, no lock is left behind, and the session-lock fallback is refused where a pooler would
// defeat it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/own_server.h"
#include "integration/pgbouncer.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class PoolerTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    if (!PgBouncer::available()) {
      const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
      if (required != nullptr && std::string(required) == "1") {
        FAIL() << "pgbouncer is not installed (scripts/install-deps.sh installs it)";
      }
      GTEST_SKIP() << "pgbouncer is not installed";
    }
    db_->create_original_schema();
    dbname_ = db_->scalar("SELECT current_database()");
  }
  // What a session of the application on the pooled server connection carries, and which
  // process it is. (application_name is a startup parameter that PgBouncer itself sets on the
  // server connection for each client that names one, as applications do.)
  std::string session_state(const PgBouncer& bouncer) {
    return pg(bouncer.url(dbname_) + " application_name=the_app",
              "SELECT concat_ws(' ', current_setting('default_transaction_read_only'), "
              "current_setting('statement_timeout'), current_setting('lock_timeout'), "
              "current_setting('idle_in_transaction_session_timeout'), "
              "current_setting('application_name'), pg_backend_pid())");
  }
  // Advisory locks held in this test's database (other tests share the server, and a daemon
  // of theirs on the advisory fallback holds one in its own database).
  long long advisory_locks() {
    return std::stoll(
        db_->scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"));
  }
  std::string dbname_;
};

TEST_P(PoolerTest, TransactionModeRunsLeaveThePooledConnectionAsTheyFoundIt) {
  db_->insert_users(0, 50);
  db_->insert_pending(0, 80);
  PgBouncer bouncer(shared_server_port() + 10, shared_server_port(), {});
  const std::string before = session_state(bouncer);
  ASSERT_FALSE(before.empty());
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--run-once", "--dry-run"},
                                             {"--run-once", "--batch-size", "20", "--lock-timeout",
                                              "3s", "--statement-timeout", "7s"}}) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--output", "json", "--database-url", bouncer.url(dbname_)});
    const auto result = run_tool(full);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    // One server connection in the pool: the same process, with the same settings.
    EXPECT_EQ(session_state(bouncer), before) << "after " << args[1];
    // The application's next write through the pool works (a dry run used to leave
    // default_transaction_read_only on).
    EXPECT_EQ(pg(bouncer.url(dbname_), "INSERT INTO " + std::string(kPending) +
                                           " VALUES ('app-row', 'app@example.org') RETURNING 1"),
              "1");
    db_->exec("DELETE FROM " + std::string(kPending) + " WHERE pending_user_id = 'app-row'");
  }
  EXPECT_EQ(db_->count(kPending), 30);
  EXPECT_EQ(advisory_locks(), 0);
}

TEST_P(PoolerTest, ConcurrentRunsThroughATransactionPoolerDeleteOnceByOneInstance) {
  db_->insert_users(0, 300);
  db_->insert_pending(0, 400);  // p0..p299 match
  db_->slow_pending_deletes(0.1);
  // Every transaction of a client may land on another server process.
  PgBouncer bouncer(shared_server_port() + 11, shared_server_port(),
                    {"transaction", 3, 0, true, {"postgres"}});
  std::vector<std::unique_ptr<ChildProcess>> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{tool_binary(), "--run-once", "--batch-size", "30", "--output",
                                 "json", "--database-url", bouncer.url(dbname_)},
        std::map<std::string, std::string>{}));
  }
  int ran = 0;
  int skipped = 0;
  long long deleted = 0;
  for (auto& run : runs) {
    const auto result = run->wait(std::chrono::seconds(60));
    const auto report = last_json_report(result);
    if (report["skipped_by_lock"].get<bool>()) {
      EXPECT_EQ(result.exit_code, 4) << result.err;
      ++skipped;
    } else {
      EXPECT_EQ(result.exit_code, 0) << result.err;
      ++ran;
    }
    deleted += report["deleted"].get<long long>();
  }
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(skipped, 2);
  EXPECT_EQ(deleted, 300);
  EXPECT_EQ(db_->count(kPending), 100);
  EXPECT_EQ(advisory_locks(), 0);
  // The lease row: one holder, released (expired) when its cycle ended.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM batch_cleanup_leases WHERE expires_at > now()"), "0");
}

TEST_P(PoolerTest, AKilledHoldersLeaseExpiresAndTheNextRunTakesOver) {
  db_->insert_users(0, 200);
  db_->insert_pending(0, 200);
  db_->slow_pending_deletes(0.2);
  PgBouncer bouncer(shared_server_port() + 12, shared_server_port(),
                    {"transaction", 2, 0, false, {"postgres"}});
  const std::string before = session_state(bouncer);
  // As on two hosts: the same-host proof of a dead holder does not apply, and behind the pooler
  // its server process proves nothing: only the TTL frees the lease.
  ChildProcess holder({tool_binary(), "--run-once", "--batch-size", "10", "--lease-ttl", "2s",
                       "--database-url", bouncer.url(dbname_)},
                      {{"BATCH_CLEANUP_HOST_ID", "host-a"}});
  ASSERT_TRUE(eventually([&] { return db_->count(kPending) < 200; }, std::chrono::seconds(20)));
  holder.signal(SIGKILL);
  holder.wait(std::chrono::seconds(10));
  const auto left = db_->count(kPending);
  // Its lease is still live: a run right now skips.
  const auto early = run_tool({"--run-once", "--output", "json", "--lease-ttl", "2s",
                               "--database-url", bouncer.url(dbname_)},
                              {{"BATCH_CLEANUP_HOST_ID", "host-b"}});
  ASSERT_EQ(early.exit_code, 4) << early.err;
  EXPECT_TRUE(last_json_report(early)["skipped_by_lock"].get<bool>()) << early.err;
  EXPECT_EQ(db_->count(kPending), left);
  // Within about twice the heartbeat (the TTL), another instance takes over and finishes.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto late = run_tool({"--run-once", "--output", "json", "--lease-ttl", "2s",
                              "--database-url", bouncer.url(dbname_)},
                             {{"BATCH_CLEANUP_HOST_ID", "host-b"}});
  ASSERT_EQ(late.exit_code, 0) << late.err;
  EXPECT_FALSE(last_json_report(late)["skipped_by_lock"].get<bool>()) << late.err;
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(db_->scalar("SELECT max(epoch) FROM batch_cleanup_leases"), "2");
  EXPECT_EQ(advisory_locks(), 0);
  // The killed run's server connection carries nothing of it either (the pooler discarded or
  // reset it; none of its settings were session-level).
  const std::string after = session_state(bouncer);
  EXPECT_EQ(after.substr(0, after.rfind(' ')), before.substr(0, before.rfind(' ')));
}

// A role that may not create the lease table falls back to a session advisory lock; behind a
// transaction pooler that hands its transactions to different server processes, that lock
// cannot work, and the run is refused with the DDL to run. Through a session pooler it works.
TEST_P(PoolerTest, TheAdvisoryFallbackIsRefusedBehindATransactionPooler) {
  db_->insert_users(0, 20);
  db_->insert_pending(0, 20);
  const std::string role = fmt::format("bc_pool_{:08x}", std::random_device{}());
  db_->exec("CREATE ROLE " + role + " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " +
            role + "; GRANT SELECT, DELETE, UPDATE ON " + kPending + " TO " + role);
  {
    PgBouncer bouncer(shared_server_port() + 13, shared_server_port(),
                      {"transaction", 2, 0, true, {"postgres", role}});
    // Two server connections in the pool (two clients at once open them); round robin then
    // alternates them.
    ChildProcess busy(
        {"/usr/bin/psql", "-XAtq", "-d", bouncer.url(dbname_, role), "-c", "SELECT pg_sleep(1)"},
        {});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(pg(bouncer.url(dbname_, role), "SELECT 1"), "1");
    ASSERT_EQ(busy.wait(std::chrono::seconds(10)).exit_code, 0);
    ASSERT_TRUE(eventually(
        [&] {
          const auto first = pg(bouncer.url(dbname_, role), "SELECT pg_backend_pid()");
          const auto second = pg(bouncer.url(dbname_, role), "SELECT pg_backend_pid()");
          return !first.empty() && first != second;
        },
        std::chrono::seconds(10)));
    const auto refused = run_tool({"--run-once", "--database-url", bouncer.url(dbname_, role)});
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("transaction pooler"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("CREATE TABLE IF NOT EXISTS \"batch_cleanup_leases\""),
              std::string::npos)
        << refused.err;
    EXPECT_EQ(db_->count(kPending), 20);
    EXPECT_EQ(advisory_locks(), 0);
  }
  {
    PgBouncer bouncer(shared_server_port() + 14, shared_server_port(),
                      {"session", 2, 0, false, {"postgres", role}});
    const auto ran = run_tool({"--run-once", "--database-url", bouncer.url(dbname_, role)});
    EXPECT_EQ(ran.exit_code, 0) << ran.err;
    EXPECT_NE(ran.err.find("falling back to a session advisory lock"), std::string::npos)
        << ran.err;
    EXPECT_EQ(db_->count(kPending), 0);
  }
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
}

TEST_P(PoolerTest, SessionModeWorksWithTheLease) {
  db_->insert_users(0, 40);
  db_->insert_pending(0, 60);
  PgBouncer bouncer(shared_server_port() + 15, shared_server_port(),
                    {"session", 2, 0, false, {"postgres"}});
  const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "7",
                                "--database-url", bouncer.url(dbname_)});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 40);
  EXPECT_EQ(db_->count(kPending), 20);
  EXPECT_EQ(advisory_locks(), 0);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PoolerTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
