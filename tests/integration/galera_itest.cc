// The MySQL/MariaDB store on a real 3-node Galera cluster (scripts/galera_test_cluster.sh, started
// once by scripts/test.sh for the whole binary; BATCH_CLEANUP_TEST_GALERA_URLS names its nodes,
// BATCH_CLEANUP_TEST_GALERA_DIR its directory): the write-set row limit, flow control, one
// instance across nodes (the lease table), and exactly once through the failure of the node the
// tool writes to. The node failure comes last: the binary leaves that node down, and brings it
// back first when it finds it down (a rerun).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "integration/json_report.h"
#include "integration/mariadb_database.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

std::vector<std::string> galera_urls() {
  std::vector<std::string> urls;
  const char* text = std::getenv("BATCH_CLEANUP_TEST_GALERA_URLS");
  std::istringstream in(text == nullptr ? "" : text);
  for (std::string url; in >> url;) urls.push_back(url);
  return urls;
}

std::string galera_dir() {
  const char* dir = std::getenv("BATCH_CLEANUP_TEST_GALERA_DIR");
  return dir == nullptr ? "" : dir;
}

// Runs scripts/galera_test_cluster.sh with `args`; its exit code.
int cluster_script(const std::string& args) {
  const std::string command = std::string("bash ") + BATCH_CLEANUP_SOURCE_DIR +
                              "/scripts/galera_test_cluster.sh " + args + " >/dev/null";
  return std::system(command.c_str());
}

// Sets a global variable of one node for a test, and sets it back at the end.
class GlobalSetting {
 public:
  GlobalSetting(TestDatabase& db, const std::string& assignment, std::string undo)
      : db_(db), undo_(std::move(undo)) {
    db_.exec("SET GLOBAL " + assignment);
  }
  ~GlobalSetting() {
    try {
      db_.exec("SET GLOBAL " + undo_);
    } catch (...) {
    }
  }
  GlobalSetting(const GlobalSetting&) = delete;
  GlobalSetting& operator=(const GlobalSetting&) = delete;

 private:
  TestDatabase& db_;
  std::string undo_;
};

class GaleraTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto urls = galera_urls();
    if (urls.size() != 3) return;
    // A node a previous run of this binary killed comes back first (IST from the others).
    for (std::size_t n = 0; n < urls.size(); ++n) {
      try {
        (void)connect_mariadb_database(urls[n], "bc_test");
      } catch (const std::exception&) {
        if (!galera_dir().empty()) {
          (void)cluster_script(fmt::format("resume {} {}", galera_dir(), n + 1));
        }
      }
    }
  }

  void SetUp() override {
    urls_ = galera_urls();
    if (urls_.size() != 3) {
      const char* require = std::getenv("BATCH_CLEANUP_REQUIRE_GALERA");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << "BATCH_CLEANUP_REQUIRE_GALERA=1 but BATCH_CLEANUP_TEST_GALERA_URLS does not name "
                  "three nodes (scripts/galera_test_cluster.sh start DIR PORT prints them)";
      }
      GTEST_SKIP() << "no Galera cluster (BATCH_CLEANUP_TEST_GALERA_URLS)";
    }
    std::mt19937_64 random{std::random_device{}()};
    dbname_ = fmt::format("bc_galera_{:x}", random() & 0xffffffffffULL);
    owner_ = make_mariadb_database(urls_[0], dbname_);
    for (const auto& url : urls_) {
      // The other nodes apply the CREATE DATABASE a moment later.
      for (int attempt = 0;; ++attempt) {
        try {
          nodes_.push_back(connect_mariadb_database(url, dbname_));
          break;
        } catch (const std::runtime_error&) {
          if (attempt == 100) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
      // Reads see every write the cluster committed before them (causality checks).
      nodes_.back()->exec("SET SESSION wsrep_sync_wait = 1");
    }
  }

  void TearDown() override {
    nodes_.clear();
    owner_.reset();  // drops the database (on node 1, replicated)
  }

  std::string url(int node) const {
    return urls_[static_cast<std::size_t>(node)].substr(0, urls_[0].rfind('/') + 1) + dbname_;
  }
  TestDatabase& node(int n) { return *nodes_[static_cast<std::size_t>(n)]; }

  // Users u0..u{users-1}, pending p0..p{pending-1}: the first `users` pending rows match.
  void seed(long long users, long long pending) {
    node(0).create_original_schema();
    node(0).insert_users(0, users);
    node(0).insert_pending(0, pending);
  }

  ProcessResult run(int n, std::vector<std::string> args) {
    args.insert(args.end(), {"--database-url", url(n)});
    return run_tool(args);
  }

  std::vector<std::string> urls_;
  std::string dbname_;
  std::unique_ptr<TestDatabase> owner_;
  std::vector<std::unique_ptr<TestDatabase>> nodes_;
};

// explain names the cluster; with wsrep_max_ws_rows set low, a DELETE past it fails (ERROR
// 1180), and the cycle clamps its batches under it and completes.
TEST_F(GaleraTest, BatchesStayUnderTheWriteSetRowLimit) {
  seed(600, 700);
  const GlobalSetting setting(node(1), "wsrep_max_ws_rows = 40", "wsrep_max_ws_rows = 0");
  // The limit is live on that node: one statement deleting 100 rows is refused.
  try {
    node(1).exec(std::string("DELETE FROM ") + kPending + " WHERE pending_user_id LIKE 'p1__'");
    ADD_FAILURE() << "a 100-row DELETE passed wsrep_max_ws_rows = 40";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("wsrep_max_ws_rows"), std::string::npos) << e.what();
  }
  EXPECT_EQ(node(1).count(kPending), 700);
  const auto explained = run(1, {"explain", "--batch-size", "500"});
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  EXPECT_NE(
      explained.out.find("Galera cluster of 3 node(s), this one Synced: batches clamped "
                         "from 500 to 39 rows (wsrep_max_ws_rows 40, less 1 row(s) of the lease)"),
      std::string::npos)
      << explained.out;
  const auto result = run(1, {"--run-once", "--output", "json", "--batch-size", "500"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 600);
  EXPECT_GE(report["batches"].get<int>(), 15);
  EXPECT_EQ(node(2).count(kPending), 100);
  EXPECT_EQ(node(0).scalar(std::string("SELECT count(*) FROM ") + kPending +
                           " WHERE pending_user_id NOT LIKE 'p6__'"),
            "0");
}

// Flow control: node 2's applier is held (a table lock on the pending table, gcs.fc_limit=1),
// so the tool's commits on node 1 make the cluster pause. With --max-replication-lag the tool
// sees it and waits between batches, then goes on once node 2 catches up; every match goes.
TEST_F(GaleraTest, FlowControlPausesTheCycleThenItContinues) {
  seed(400, 450);
  const GlobalSetting setting(node(1), "wsrep_provider_options = 'gcs.fc_limit=1'",
                              "wsrep_provider_options = 'gcs.fc_limit=16'");
  auto holder = connect_mariadb_database(urls_[1], dbname_);
  std::atomic<bool> locked{false};
  std::thread hold([&] {
    holder->exec(std::string("FLUSH TABLES ") + kPending + " WITH READ LOCK");
    locked = true;
    holder->exec("DO SLEEP(2)");
    holder->exec("UNLOCK TABLES");
  });
  while (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto result = run(
      0, {"--run-once", "--output", "json", "--batch-size", "20", "--max-replication-lag", "1s"});
  hold.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 400);
  EXPECT_GE(report["replication_pauses"].get<int>(), 1) << result.err;
  EXPECT_NE(result.err.find("pausing: Galera flow control held the cluster"), std::string::npos)
      << result.err;
  EXPECT_EQ(node(1).count(kPending), 50);
}

// The lease table holds across nodes (GET_LOCK would not): a run on node 2 while a run on node
// 1 holds the lease exits 4 and deletes nothing; the holder finishes the job alone.
TEST_F(GaleraTest, OneInstanceAcrossNodes) {
  seed(1500, 1600);
  ChildProcess holder({tool_binary(), "--run-once", "--output", "json", "--batch-size", "50",
                       "--sleep", "30ms", "--database-url", url(0)},
                      {});
  // Until the lease row (written on node 1) is seen on node 2, and some rows went.
  bool held = false;
  for (int i = 0; i < 400 && !held; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    try {
      held = node(1).scalar(
                 "SELECT count(*) FROM batch_cleanup_leases WHERE expires_at > "
                 "utc_timestamp(6)") == "1" &&
             node(1).count(kPending) < 1600;
    } catch (const std::runtime_error&) {
    }
  }
  ASSERT_TRUE(held) << holder.current_err();
  const auto other = run(1, {"--run-once", "--output", "json"});
  const auto first = holder.wait(std::chrono::seconds(120));
  ASSERT_EQ(other.exit_code, 4) << other.err;
  EXPECT_TRUE(last_json_report(other)["skipped_by_lock"].get<bool>());
  EXPECT_EQ(last_json_report(other)["deleted"], 0);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(last_json_report(first)["deleted"], 1500);
  EXPECT_EQ(node(2).count(kPending), 100);
}

// kill -9 of the node the tool writes to, mid-cycle: the tool fails; a rerun against another
// node deletes exactly the matching rows that are left. Every matching row goes once, every
// other row stays. Node 3 stays down (SetUpTestSuite brings it back on a rerun).
TEST_F(GaleraTest, ExactlyOnceThroughTheFailureOfTheNodeWrittenTo) {
  seed(4000, 5000);  // p0..p3999 match
  ChildProcess cycle(
      {tool_binary(), "--run-once", "--output", "json", "--batch-size", "100", "--sleep", "20ms",
       "--retries", "1", "--connect-timeout", "2s", "--lease-ttl", "3s", "--database-url", url(2)},
      {});
  bool started = false;
  for (int i = 0; i < 400 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    started = node(0).count(kPending) <= 4700;
  }
  ASSERT_TRUE(started) << cycle.current_err();
  nodes_[2].reset();
  ASSERT_EQ(cluster_script(fmt::format("kill {} 3", galera_dir())), 0);
  const auto failed = cycle.wait(std::chrono::seconds(60));
  EXPECT_NE(failed.exit_code, 0) << failed.err;
  // What the cluster kept of the dead node's commits (node 1 and 2 agree).
  const long long left_after_failure = node(0).count(kPending);
  EXPECT_EQ(node(1).count(kPending), left_after_failure);
  EXPECT_LT(left_after_failure, 4700);
  EXPECT_GT(left_after_failure, 1000);
  // The dead instance's lease would expire in 3 s: let the rerun take it at once.
  node(0).exec("UPDATE batch_cleanup_leases SET expires_at = utc_timestamp(6)");
  const auto rerun = run(1, {"--run-once", "--output", "json", "--batch-size", "100"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(last_json_report(rerun)["deleted"].get<long long>(), left_after_failure - 1000);
  EXPECT_EQ(node(0).count(kPending), 1000);
  EXPECT_EQ(node(0).scalar(std::string("SELECT count(*) FROM ") + kPending +
                           " WHERE pending_user_id REGEXP '^p[4-9][0-9]{3}$'"),
            "1000");
  EXPECT_EQ(node(1).count(kPending), 1000);
}

}  // namespace
}  // namespace batch_cleanup::testing
