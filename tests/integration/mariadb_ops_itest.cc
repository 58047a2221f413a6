// The MySQL/MariaDB store's operational safety on the real MariaDB server scripts/test.sh
// starts: an in-doubt COMMIT resolved from the lease row's batch marker (a proxy cuts the link
// at COMMIT, before or after the server got it), and the totals equal the rows really gone; the
// privilege probe of the preflight, with a real restricted account.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "integration/backend_fixture.h"
#include "integration/chaos_proxy.h"
#include "integration/json_report.h"
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

class MariadbOpsTest : public BackendTest {
 protected:
  // Through a proxy that cuts the third deleting batch's COMMIT (after forwarding it when
  // `forwarded`): the cycle still deletes the 100 rows, and reports each exactly once.
  void in_doubt_commit(bool forwarded, const std::string& said) {
    db_->create_original_schema();
    db_->insert_users(0, 100);
    db_->insert_pending(0, 100);
    const int server_port = port_of(db_->url());
    ChaosProxy proxy(server_port + 18, server_port);
    if (forwarded) {
      proxy.cut_after_batch_commit(3);
    } else {
      proxy.cut_before_batch_commit(3);
    }
    const auto result = run_tool({"--run-once", "--output", "json", "--batch-size", "10",
                                  "--database-url", with_port(db_->url(), server_port + 18)});
    ASSERT_EQ(result.exit_code, 0) << "signal " << result.term_signal << ": " << result.err;
    EXPECT_EQ(proxy.cuts(), 1);
    EXPECT_EQ(last_json_report(result)["deleted"], 100) << result.err;
    EXPECT_EQ(db_->count(kPending), 0);
    EXPECT_NE(result.err.find(said), std::string::npos) << result.err;
    EXPECT_EQ(db_->scalar("SELECT sum(deleted) FROM batch_cleanup_runs"), "100");
  }
};

TEST_P(MariadbOpsTest, AnInDoubtCommitThatCommittedCountsOnce) {
  in_doubt_commit(true, "the database says it committed");
}

TEST_P(MariadbOpsTest, AnInDoubtCommitThatRolledBackRunsAgain) {
  in_doubt_commit(false, "the database says it rolled back");
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

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbOpsTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
