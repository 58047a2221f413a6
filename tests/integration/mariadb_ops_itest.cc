// The MySQL/MariaDB store's operational safety on the real MariaDB server scripts/test.sh
// starts: an in-doubt COMMIT resolved from the lease row's batch marker (a proxy cuts the link
// at COMMIT, before or after the server got it), and the totals equal the rows really gone.
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

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbOpsTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
