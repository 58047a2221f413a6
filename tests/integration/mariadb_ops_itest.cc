// The MySQL/MariaDB store's operational safety on the real MariaDB server scripts/test.sh
// starts: an in-doubt COMMIT resolved from the lease row's batch marker (a proxy cuts the link
// at COMMIT, before or after the server got it), and the totals equal the rows really gone; the
// privilege probe of the preflight, with a real restricted account; SKIP LOCKED only where the
// binary log's format allows it (a server of the test's own, started with
// --binlog-format=STATEMENT); pauses while a real replica (a second mariadbd, MASTER_USE_GTID)
// has not applied the cycle's commits.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/chaos_proxy.h"
#include "integration/json_report.h"
#include "integration/mariadb_database.h"
#include "integration/own_server.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// The port of a mysql://user:pass@host:port/db URL.
int port_of(const std::string& url) {
  const auto colon = url.rfind(':');
  return std::stoi(url.substr(colon + 1, url.find('/', colon) - colon - 1));
}

// `url` with its port replaced.
std::string with_port(const std::string& url, int port) {
  const auto colon = url.rfind(':');
  return url.substr(0, colon + 1) + std::to_string(port) + url.substr(url.find('/', colon));
}

// A MariaDB server of the test's own (scripts/mariadb_test_server.sh with server options), on
// the shared server's port + `offset`, in its directory + `suffix`; stopped when destroyed.
class OwnMariadb {
 public:
  OwnMariadb(int offset, const std::string& suffix, const std::string& options) {
    const char* shared_dir = std::getenv("BATCH_CLEANUP_TEST_MARIADB_DIR");
    const char* shared_url = std::getenv("BATCH_CLEANUP_TEST_MARIADB_URL");
    if (shared_url == nullptr) return;
    dir_ = std::string(shared_dir != nullptr ? shared_dir : "/tmp/bc_mariadb") + suffix;
    port_ = port_of(shared_url) + offset;
    std::system(script("stop " + dir_).c_str());
    FILE* out =
        ::popen(script("start " + dir_ + " " + std::to_string(port_) + " " + options).c_str(), "r");
    std::array<char, 512> line{};
    while (std::fgets(line.data(), line.size(), out) != nullptr) url_ = line.data();
    ::pclose(out);
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
  }
  ~OwnMariadb() {
    if (!dir_.empty()) std::system(script("stop " + dir_).c_str());
  }
  OwnMariadb(const OwnMariadb&) = delete;
  OwnMariadb& operator=(const OwnMariadb&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  static std::string script(const std::string& arguments) {
    return std::string(BATCH_CLEANUP_SOURCE_DIR) + "/scripts/mariadb_test_server.sh " + arguments +
           " 2>&1";
  }
  std::string dir_;
  std::string url_;
  int port_ = 0;
};

class MariadbOpsTest : public BackendTest {
 protected:
  // Through a proxy (on the server's port + `proxy_offset`, one per case: ctest runs cases side
  // by side) that cuts the third deleting batch's COMMIT (after forwarding it when
  // `forwarded`): the cycle still deletes the 100 rows, and reports each exactly once.
  void in_doubt_commit(bool forwarded, const std::string& said, int proxy_offset) {
    db_->create_original_schema();
    db_->insert_users(0, 100);
    db_->insert_pending(0, 100);
    const int server_port = port_of(db_->url());
    ChaosProxy proxy(server_port + proxy_offset, server_port);
    if (forwarded) {
      proxy.cut_after_batch_commit(3);
    } else {
      proxy.cut_before_batch_commit(3);
    }
    const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "10",
                                  "--database-url",
                                  with_port(db_->url(), server_port + proxy_offset)});
    ASSERT_EQ(result.exit_code, 0) << "signal " << result.term_signal << ": " << result.err;
    EXPECT_EQ(proxy.cuts(), 1);
    EXPECT_EQ(last_json_report(result)["deleted"], 100) << result.err;
    EXPECT_EQ(db_->count(kPending), 0);
    EXPECT_NE(result.err.find(said), std::string::npos) << result.err;
    EXPECT_EQ(db_->scalar("SELECT sum(deleted) FROM batch_cleanup_runs"), "100");
  }
};

TEST_P(MariadbOpsTest, AnInDoubtCommitThatCommittedCountsOnce) {
  in_doubt_commit(true, "the database says it committed", 18);
}

TEST_P(MariadbOpsTest, AnInDoubtCommitThatRolledBackRunsAgain) {
  in_doubt_commit(false, "the database says it rolled back", 19);
}

// An account with too few grants is refused before it deletes anything (exit 2), the message
// naming what is missing and the GRANT that gives it; running those GRANTs (one through a
// default role, which only SHOW GRANTS lists) lets the run through.
TEST_P(MariadbOpsTest, MissingGrantsAreRefusedNamingTheGrantStatement) {
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  const std::string url = db_->url();
  const std::string dbname = url.substr(url.rfind('/') + 1);
  const std::string account = "'bc_limited'@'127.0.0.1'";
  db_->exec("DROP USER IF EXISTS " + account + "; DROP ROLE IF EXISTS bc_limited_role");
  db_->exec("CREATE USER " + account + " IDENTIFIED BY 'limited_pw'; GRANT SELECT ON `" + dbname +
            "`.core_mstr_one_qlick_users_tbl TO " + account + "; GRANT SELECT ON `" + dbname +
            "`.core_mstr_one_qlick_pending_users_tbl TO " + account);
  const std::string limited = "mysql://bc_limited:limited_pw@" + url.substr(url.find('@') + 1);
  const auto run_limited = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--database-url", limited});
    return run_tool(args);
  };

  auto result = run_limited({"--run-once"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("no DELETE privilege on 'core_mstr_one_qlick_pending_users_tbl'. "
                            "HINT: GRANT SELECT, DELETE ON core_mstr_one_qlick_pending_users_tbl "
                            "TO 'bc_limited'@'127.0.0.1'"),
            std::string::npos)
      << result.err;
  // A dry run writes nothing and needs only SELECT.
  EXPECT_EQ(run_limited({"--run-once", "--dry-run"}).exit_code, 0);

  db_->exec("GRANT DELETE ON `" + dbname + "`.core_mstr_one_qlick_pending_users_tbl TO " + account);
  result = run_limited({"--run-once"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  const std::string lease_grant = "GRANT CREATE, SELECT, INSERT, UPDATE ON `" + dbname +
                                  "`.`batch_cleanup_leases` TO 'bc_limited'@'127.0.0.1'";
  const std::string history_grant = "GRANT CREATE, SELECT, INSERT ON `" + dbname +
                                    "`.`batch_cleanup_runs` TO 'bc_limited'@'127.0.0.1'";
  EXPECT_NE(result.err.find("lacks CREATE, SELECT, INSERT, UPDATE on 'batch_cleanup_leases' for "
                            "the lease (--lease-table); CREATE, SELECT, INSERT on "
                            "'batch_cleanup_runs' for the run history (--history-table)"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(lease_grant), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(history_grant), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 10);

  // The statements as printed, the history's through a default role.
  db_->exec(lease_grant);
  db_->exec("CREATE ROLE bc_limited_role; " +
            std::string(history_grant)
                .replace(history_grant.rfind(" TO ") + 4, std::string::npos, "bc_limited_role") +
            "; GRANT bc_limited_role TO " + account + "; SET DEFAULT ROLE bc_limited_role FOR " +
            account);
  result = run_limited({"--run-once", "--output", "json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 10);
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(db_->scalar("SELECT sum(deleted) FROM batch_cleanup_runs"), "10");
  db_->exec("DROP USER " + account + "; DROP ROLE bc_limited_role");
}

// The binary log decides the careful path. Off (the shared server) or in ROW format: SKIP
// LOCKED. In STATEMENT format, where SKIP LOCKED is unsafe and InnoDB refuses to log writes
// made under READ COMMITTED (ERROR 1665): REPEATABLE READ, the window's rows read without locks
// and deleted by key; a held row is still skipped at once. explain says which and why.
TEST_P(MariadbOpsTest, StatementBinlogTakesTheCarefulPathWithoutSkipLocked) {
  db_->create_original_schema();
  const auto off = run_on_db({"explain"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("-- row locks: FOR UPDATE SKIP LOCKED on the careful path (binary log "
                         "off: safe)"),
            std::string::npos)
      << off.out;

  OwnMariadb server(10, "_statement", "--log-bin --binlog-format=STATEMENT --server-id=7");
  ASSERT_FALSE(server.url().empty());
  auto db = make_mariadb_database(server.url(), "bc_statement");
  db->create_original_schema();
  db->insert_users(0, 50);
  db->insert_pending(0, 50);
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--database-url", db->url()});
    return run_tool(args);
  };
  const auto explained = run({"explain"});
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  EXPECT_NE(explained.out.find("-- row locks: no SKIP LOCKED (binlog_format=STATEMENT: unsafe for "
                               "statement-based replication"),
            std::string::npos)
      << explained.out;
  EXPECT_EQ(explained.out.find("SKIP LOCKED\n"), std::string::npos) << explained.out;
  EXPECT_EQ(explained.out.find("DELETE FROM"), std::string::npos) << explained.out;

  auto app = db->another_connection();
  app->exec("START TRANSACTION");
  app->exec(
      "SELECT * FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id = 'p7' FOR "
      "UPDATE");
  const auto result = run({"--run-once", "--output", "json", "--batch-size", "20"});
  app->exec("COMMIT");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 49);
  EXPECT_EQ(report["skipped"], 1);
  EXPECT_EQ(db->keys(), (std::set<std::string>{"p7"}));

  // ROW format on the same server: SKIP LOCKED again.
  db->exec("SET GLOBAL binlog_format = 'ROW'");
  const auto row = run({"explain"});
  ASSERT_EQ(row.exit_code, 0) << row.err;
  EXPECT_NE(row.out.find("FOR UPDATE SKIP LOCKED on the careful path (binlog_format=ROW: safe)"),
            std::string::npos)
      << row.out;
}

// A primary with a binary log and a replica of it (CHANGE MASTER TO ... MASTER_USE_GTID =
// slave_pos). While the replica's SQL thread is stopped, the cycle pauses between batches once
// its last commit is older than --max-replication-lag; when the thread runs again, the cycle
// finishes, and the replica has applied every delete.
TEST_P(MariadbOpsTest, PausesWhileAReplicaHasNotAppliedTheCyclesCommits) {
  OwnMariadb primary(20, "_primary", "--log-bin --server-id=1 --binlog-format=MIXED");
  OwnMariadb replica(50, "_replica", "--server-id=2");
  ASSERT_FALSE(primary.url().empty());
  ASSERT_FALSE(replica.url().empty());
  auto admin = make_mariadb_database(replica.url(), "bc_replica_admin");
  const std::string position =
      make_mariadb_database(primary.url(), "bc_primary_admin")->scalar("SELECT @@gtid_binlog_pos");
  admin->exec("SET GLOBAL gtid_slave_pos = '" + position +
              "'; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = " +
              std::to_string(primary.port()) +
              ", MASTER_USER = 'bc_test', MASTER_PASSWORD = 'bc_test_pw', MASTER_USE_GTID = "
              "slave_pos; START SLAVE");
  auto db = make_mariadb_database(primary.url(), "app");
  db->create_original_schema();
  db->insert_users(0, 100);
  db->insert_pending(0, 100);
  const auto caught_up = [&] {
    return admin->scalar("SELECT MASTER_GTID_WAIT('" + db->scalar("SELECT @@gtid_binlog_pos") +
                         "', 10)") == "0";
  };
  ASSERT_TRUE(caught_up()) << admin->scalar("SELECT @@gtid_slave_pos");
  const std::string replica_app = replica.url().substr(0, replica.url().rfind('/') + 1) + "app";
  admin->exec("STOP SLAVE SQL_THREAD");

  ChildProcess tool(
      {tool_binary(), "--run-once", "--output", "json", "--batch-size", "10", "--sleep", "200ms",
       "--max-replication-lag", "1s", "--replica-url", replica_app, "--database-url", db->url()},
      {});
  // Paused: some batches committed, then none for a while.
  ASSERT_TRUE(eventually([&] { return db->count(kPending) < 100; }, std::chrono::seconds(20)));
  long long before = -1;
  ASSERT_TRUE(eventually(
      [&] {
        const long long now = db->count(kPending);
        const bool still = now == before;
        before = now;
        if (!still) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return still;
      },
      std::chrono::seconds(20)));
  EXPECT_GT(before, 0);
  EXPECT_EQ(db->count(kPending), before);
  admin->exec("START SLAVE SQL_THREAD");
  const auto result = tool.wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 100);
  EXPECT_GE(report["replication_pauses"].get<long long>(), 1) << result.err;
  EXPECT_EQ(db->count(kPending), 0);
  ASSERT_TRUE(caught_up());
  auto replicated = make_mariadb_database(replica.url(), "bc_replica_check");
  EXPECT_EQ(replicated->scalar("SELECT count(*) FROM app.core_mstr_one_qlick_pending_users_tbl"),
            "0");
}

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbOpsTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
