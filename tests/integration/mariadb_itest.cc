// What the MySQL/MariaDB store must get right beyond the shared behavioural suites, on the real
// MariaDB server scripts/test.sh starts: emails compared byte for byte whatever the columns'
// collation, the lock footprint of a cycle (the application never waits for it), kill -9 in the
// middle of a cycle, the lease, and the features it refuses (exit 2) until they are built.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class MariadbTest : public BackendTest {
 protected:
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }

  // Users and pending rows whose emails a _ci collation (and PAD SPACE) would call equal.
  void collation_cases(const std::string& users_collation, const std::string& pending_collation) {
    db_->exec(
        "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id VARCHAR(64) PRIMARY KEY, email "
        "VARCHAR(191) COLLATE " +
        users_collation +
        " UNIQUE);"
        "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id VARCHAR(64) PRIMARY "
        "KEY, email VARCHAR(191) COLLATE " +
        pending_collation + ")");
    db_->exec(
        "INSERT INTO core_mstr_one_qlick_users_tbl VALUES ('u1', 'alice@example.com'), "
        "('u2', 'jose@example.com'), ('u3', 'bob@example.com'), ('u4', 'Carol@Example.com')");
    db_->exec(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl VALUES "
        "('p_exact', 'alice@example.com'), "        // the same bytes: deleted
        "('p_case', 'ALICE@Example.COM'), "         // equal under _ci: kept
        "('p_accent', 'josé@example.com'), "        // equal under general_ci: kept
        "('p_space', 'bob@example.com '), "         // equal under PAD SPACE (even _bin): kept
        "('p_carol', 'Carol@Example.com'), "        // the same bytes: deleted
        "('p_carol_lower', 'carol@example.com'), "  // kept
        "('p_null', NULL)");
  }

  void expect_only_exact_matches_deleted() {
    const auto dry = run({"--run-once", "--dry-run", "--output", "json"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_EQ(last_json_report(dry)["candidates"], 2);
    const auto result = run({"--run-once", "--output", "json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(last_json_report(result)["deleted"], 2);
    EXPECT_EQ(db_->keys(),
              (std::set<std::string>{"p_case", "p_accent", "p_space", "p_carol_lower", "p_null"}));
  }
};

// The default collation (utf8mb4_general_ci) equates case, accents and trailing spaces; the
// tool compares bytes (`u.email = p.email AND BINARY u.email = BINARY p.email`).
TEST_P(MariadbTest, CiCollationComparesBytes) {
  collation_cases("utf8mb4_general_ci", "utf8mb4_general_ci");
  expect_only_exact_matches_deleted();
}

TEST_P(MariadbTest, BinCollationComparesBytesWithoutPadSpace) {
  collation_cases("utf8mb4_bin", "utf8mb4_bin");
  expect_only_exact_matches_deleted();
}

TEST_P(MariadbTest, MixedCollationsCompareBytes) {
  collation_cases("utf8mb4_bin", "utf8mb4_unicode_ci");
  // explain names both collations and the comparison.
  const auto explained = run({"explain"});
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  EXPECT_NE(explained.out.find("emails compared byte for byte, whatever the collations (pending "
                               "'email': utf8mb4_unicode_ci, users 'email': utf8mb4_bin)"),
            std::string::npos)
      << explained.out;
  EXPECT_NE(explained.out.find("BINARY u.`email` = BINARY"), std::string::npos) << explained.out;
  expect_only_exact_matches_deleted();
}

TEST_P(MariadbTest, IntegerKeysAcrossManyBatchesDeleteExactly) {
  db_->exec(
      "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id BIGINT PRIMARY KEY, email "
      "VARCHAR(191) UNIQUE);"
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id BIGINT PRIMARY KEY, "
      "email VARCHAR(191), note TEXT)");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl SELECT seq, concat('user', seq, '@example.com') "
      "FROM seq_1_to_3000");
  // Every third pending row has a user.
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT seq, concat('user', seq * 3 + "
      "(seq % 3), '@example.com'), 'n' FROM seq_1_to_3000");
  const std::string expected_left = db_->scalar(
      "SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p WHERE NOT EXISTS (SELECT 1 "
      "FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email)");
  const auto result = run({"--run-once", "--output", "json", "--batch-size", "97"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"].get<long long>(), 3000 - std::stoll(expected_left));
  EXPECT_EQ(report["backend"], "mysql");
  EXPECT_GE(report["batches"].get<int>(), 10);
  EXPECT_EQ(std::to_string(db_->count(kPending)), expected_left);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p WHERE "
                        "EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = "
                        "p.email)"),
            "0");
}

// A row another session holds locked is skipped (not waited for), the rest of its window goes.
TEST_P(MariadbTest, HeldRowIsSkippedWithoutWaiting) {
  db_->create_original_schema();
  db_->insert_users(0, 50);
  db_->insert_pending(0, 50);
  auto app = db_->another_connection();
  app->exec("START TRANSACTION");
  app->exec(
      "SELECT * FROM core_mstr_one_qlick_pending_users_tbl WHERE pending_user_id = 'p7' "
      "FOR UPDATE");
  const auto result = run({"--run-once", "--output", "json", "--lock-timeout", "5s"});
  app->exec("ROLLBACK");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 49);
  EXPECT_EQ(report["skipped"], 1);
  EXPECT_LT(result.elapsed, std::chrono::seconds(5)) << "waited for the held row";
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p7"}));
}

// During a cycle, an application updates surviving rows and inserts rows into the range the
// cycle walks; none of its statements waits as long as the lock timeout.
TEST_P(MariadbTest, ConcurrentApplicationNeverWaitsForTheCycle) {
  db_->create_original_schema();
  db_->insert_users(0, 20000);
  db_->insert_pending(0, 30000);  // p0..p19999 match; p20000..p29999 survive
  auto app = db_->another_connection();
  app->exec("SET SESSION innodb_lock_wait_timeout = 10");
  ChildProcess cycle({tool_binary(), "--run-once", "--output", "json", "--batch-size", "500",
                      "--sleep", "5ms", "--lock-timeout", "2s", "--database-url", db_->url()},
                     {});
  std::mt19937 random{42};
  double max_wait_ms = 0;
  int statements = 0;
  const auto started = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
    const int survivor = 20000 + static_cast<int>(random() % 10000);
    const auto t0 = std::chrono::steady_clock::now();
    app->exec(
        fmt::format("UPDATE core_mstr_one_qlick_pending_users_tbl SET full_name = 'touched' WHERE "
                    "pending_user_id = 'p{}'",
                    survivor));
    // Keys between the walked ones ("p123" < "p123_new" < "p1230"): inserts into the range.
    app->exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email) VALUES "
        "('p{}_new{}', 'nobody{}@example.org')",
        random() % 20000, statements, statements));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    max_wait_ms = std::max(max_wait_ms, ms);
    ++statements;
    if (cycle.current_out().find("\"deleted\"") != std::string::npos) break;
  }
  const auto result = cycle.wait(std::chrono::seconds(120));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::cerr << statements << " application statement pairs during the cycle, the slowest took "
            << max_wait_ms << " ms\n";
  EXPECT_GT(statements, 10);
  EXPECT_LT(max_wait_ms, 2000.0);
  EXPECT_EQ(last_json_report(result)["deleted"], 20000);
  EXPECT_EQ(db_->count(kPending), 10000 + statements);
  // The application's updates of surviving rows committed.
  EXPECT_NE(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl WHERE "
                        "full_name = 'touched'"),
            "0");
}

// kill -9 at random points of a cycle: every committed batch is whole (the rows gone are a
// prefix of the key order, a multiple of the batch size), and the next run finishes the job.
TEST_P(MariadbTest, Kill9MidCycleThenTheRerunDeletesEachRowOnce) {
  db_->create_original_schema();
  db_->insert_users(0, 12000);
  db_->insert_pending(0, 15000);  // p0..p11999 match
  const std::string matching =
      "SELECT pending_user_id FROM core_mstr_one_qlick_pending_users_tbl p WHERE EXISTS (SELECT "
      "1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email) ORDER BY pending_user_id";
  std::vector<std::string> order;
  for (const auto& row : db_->query(matching)) order.push_back(*row[0]);
  std::mt19937 random{std::random_device{}()};
  int killed_mid_run = 0;
  for (int kill = 0; kill < 3; ++kill) {
    ChildProcess child(
        {tool_binary(), "--run-once", "--batch-size", "100", "--sleep", "10ms", "--lease-ttl", "3s",
         "--wait-lock", "--log-level", "warning", "--database-url", db_->url()},
        {});
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 900));
    child.signal(SIGKILL);
    if (child.wait(std::chrono::seconds(60)).term_signal == SIGKILL) ++killed_mid_run;
    // The dead instance's lease would expire in 3 s: let the next run take it at once.
    db_->exec("UPDATE batch_cleanup_leases SET expires_at = utc_timestamp(6)");
    std::vector<std::string> left;
    for (const auto& row : db_->query(matching)) left.push_back(*row[0]);
    const std::size_t gone = order.size() - left.size();
    EXPECT_EQ(gone % 100, 0u) << "a half batch after kill " << kill;
    EXPECT_TRUE(std::equal(left.begin(), left.end(), order.begin() + static_cast<long>(gone)))
        << "the rows left are not the end of the key order after kill " << kill;
    EXPECT_EQ(db_->count(kPending), 15000 - static_cast<long long>(gone));
  }
  EXPECT_GT(killed_mid_run, 0);
  // The killed instance's lease expires (3 s): the next run waits for it, then finishes.
  const auto final_run =
      run({"--run-once", "--output", "json", "--lease-ttl", "3s", "--wait-lock"});
  ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
  EXPECT_EQ(db_->count(kPending), 3000);
  EXPECT_EQ(db_->scalar("SELECT min(pending_user_id) FROM core_mstr_one_qlick_pending_users_tbl "
                        "WHERE pending_user_id LIKE 'p1____'"),
            "p12000");
}

// The lease: processes started at once, exactly one runs; a live lease of another instance
// makes a run skip; the lease is released at the end of each cycle.
TEST_P(MariadbTest, OneInstanceAtATimeThroughTheLeaseTable) {
  db_->create_original_schema();
  db_->insert_users(0, 3000);
  db_->insert_pending(0, 4000);
  std::vector<std::unique_ptr<ChildProcess>> children;
  children.reserve(3);
  for (int i = 0; i < 3; ++i) {
    children.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{tool_binary(), "--run-once", "--output", "json", "--batch-size",
                                 "50", "--sleep", "20ms", "--database-url", db_->url()},
        std::map<std::string, std::string>{}));
  }
  int ran = 0;
  long long deleted = 0;
  for (auto& child : children) {
    const auto result = child->wait(std::chrono::seconds(120));
    const auto report = last_json_report(result);
    // A run-once that finds the lease held exits 4.
    ASSERT_EQ(result.exit_code, report["skipped_by_lock"].get<bool>() ? 4 : 0) << result.err;
    if (!report["skipped_by_lock"].get<bool>()) ++ran;
    deleted += report["deleted"].get<long long>();
  }
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(deleted, 3000);
  EXPECT_EQ(db_->count(kPending), 1000);
  EXPECT_EQ(db_->scalar("SELECT epoch FROM batch_cleanup_leases"), "1");
  // Another instance's live lease: skipped.
  db_->insert_pending(0, 10);
  db_->exec(
      "UPDATE batch_cleanup_leases SET holder = 'another-host:1:1', epoch = 7, expires_at = "
      "utc_timestamp(6) + INTERVAL 1 HOUR");
  auto skipped = run({"--run-once", "--output", "json"});
  ASSERT_EQ(skipped.exit_code, 4) << skipped.err;
  EXPECT_TRUE(last_json_report(skipped)["skipped_by_lock"].get<bool>());
  EXPECT_EQ(db_->count(kPending), 1010);
  // Expired: taken over, epoch + 1.
  db_->exec("UPDATE batch_cleanup_leases SET expires_at = utc_timestamp(6)");
  const auto taken = run({"--run-once", "--output", "json"});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_FALSE(last_json_report(taken)["skipped_by_lock"].get<bool>());
  EXPECT_EQ(db_->count(kPending), 1000);
  EXPECT_EQ(db_->scalar("SELECT epoch FROM batch_cleanup_leases"), "8");
}

// Every run is recorded in the history table, on the MariaDB server.
TEST_P(MariadbTest, HistoryIsRecordedAndRead) {
  db_->create_original_schema();
  db_->insert_users(0, 20);
  db_->insert_pending(0, 30);
  ASSERT_EQ(run({"--run-once"}).exit_code, 0);
  EXPECT_EQ(db_->scalar("SELECT deleted FROM batch_cleanup_runs"), "20");
  EXPECT_EQ(db_->scalar("SELECT outcome FROM batch_cleanup_runs"), "success");
  const auto history = run({"history", "--output", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("\"deleted\":20"), std::string::npos) << history.out;
}

// Every policy and protection together: email, phone, expiry, --min-age and both exemption
// lists, each deleted row counted under its policy, the dry run agreeing.
TEST_P(MariadbTest, PoliciesProtectionsAndExemptions) {
  db_->exec(
      "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id VARCHAR(64) PRIMARY KEY, email "
      "VARCHAR(191) UNIQUE, phone VARCHAR(32), KEY (phone));"
      "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id VARCHAR(64) PRIMARY "
      "KEY, email VARCHAR(191), phone VARCHAR(32), created_at DATETIME(3) NOT NULL)");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl VALUES ('u1', 'alice@example.com', '+1555'), "
      "('u2', 'vip@example.com', NULL), ('u3', 'a@partner.org', NULL), ('u4', "
      "'young@example.com', NULL), ('u5', 'nophone@example.com', '')");
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_pending_users_tbl VALUES "
      "('p_email', 'alice@example.com', NULL, utc_timestamp(3) - INTERVAL 2 DAY), "
      "('p_phone', 'someone@example.com', '+1555', utc_timestamp(3) - INTERVAL 2 DAY), "
      "('p_empty_phone', 'x@example.com', '', utc_timestamp(3) - INTERVAL 2 DAY), "
      "('p_vip', 'vip@example.com', NULL, utc_timestamp(3) - INTERVAL 2 DAY), "
      "('p_partner', 'a@partner.org', NULL, utc_timestamp(3) - INTERVAL 2 DAY), "
      "('p_young', 'young@example.com', NULL, utc_timestamp(3)), "
      "('p_expired', 'stranger@example.com', NULL, utc_timestamp(3) - INTERVAL 10 DAY), "
      "('p_fresh', 'stranger2@example.com', NULL, utc_timestamp(3) - INTERVAL 2 DAY)");
  const std::vector<std::string> policies{
      "--match",          "email,phone",  "--exclude-email",  " VIP@example.com",
      "--exclude-domain", "@partner.org", "--min-age",        "1h",
      "--expire-after",   "7d",           "--created-column", "created_at",
      "--output",         "json"};
  auto dry_args = policies;
  dry_args.insert(dry_args.begin(), {"--run-once", "--dry-run"});
  const auto dry = run(dry_args);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto preview = last_json_report(dry);
  EXPECT_EQ(preview["candidates"], 3);
  EXPECT_EQ(preview["policies"]["phone"], 1);
  EXPECT_EQ(preview["policies"]["expired"], 1);
  auto args = policies;
  args.insert(args.begin(), {"--run-once", "--log-level", "debug"});
  const auto result = run(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 3);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 1);
  EXPECT_EQ(report["deleted_by_policy"]["phone"], 1);
  EXPECT_EQ(report["deleted_by_policy"]["expired"], 1);
  EXPECT_EQ(db_->keys(),
            (std::set<std::string>{"p_empty_phone", "p_vip", "p_partner", "p_young", "p_fresh"}));
  EXPECT_NE(result.err.find("deleted pending row key=p_phone"), std::string::npos) << result.err;
}

// A replication-lag limit nothing can watch (no Galera, no --replica-url) is refused with exit
// 2 and its name, before anything is touched.
TEST_P(MariadbTest, AReplicationLagLimitNothingWatchesIsRefused) {
  db_->create_original_schema();
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-replication-lag", "5s"}, "--max-replication-lag needs --replica-url"},
      {{"--max-replication-lag-bytes", "1000"}, "--max-replication-lag-bytes is not supported"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> all{"--run-once"};
    all.insert(all.end(), args.begin(), args.end());
    const auto result = run(all);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
  EXPECT_EQ(db_->count(kPending), 5);
}

// mariadb:// is the same URL; a wrong password is an authentication failure, and no password
// is ever printed.
TEST_P(MariadbTest, UrlFormsAndRedactedPasswords) {
  db_->create_original_schema();
  db_->insert_users(0, 3);
  db_->insert_pending(0, 4);
  std::string url = db_->url();
  const auto mariadb_url = "mariadb://" + url.substr(url.find("://") + 3);
  auto result = run_tool({"--run-once", "--output", "json", "--database-url",
                          mariadb_url + "?charset=utf8mb4&ssl-mode=disabled"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 3);
  EXPECT_EQ(result.err.find("bc_test_pw"), std::string::npos) << result.err;
  const auto at = url.find('@');
  const auto colon = url.rfind(':', at);
  const std::string wrong = url.substr(0, colon + 1) + "Wr0ngSecret" + url.substr(at);
  result = run_tool({"--run-once", "--retries", "0", "--database-url", wrong});
  EXPECT_EQ(result.exit_code, 2) << result.err;  // credentials refused: configuration
  EXPECT_EQ(result.err.find("Wr0ngSecret"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("1045"), std::string::npos) << result.err;
  result = run_tool({"--run-once", "--database-url", url + "?ssl-mode=sometimes"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("invalid ssl-mode"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("bc_test_pw"), std::string::npos) << result.err;
  // An unencoded '/' in the password puts part of it in the path: refused, never echoed.
  const std::string slashed = url.substr(0, colon + 1) + "Sl4sh/Secret" + url.substr(at);
  result = run_tool({"--run-once", "--database-url", slashed});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.find("Secret"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("Sl4sh"), std::string::npos) << result.err;
}

// Guard 'distinct-tables': a users "table" that is a view (here over the pending table itself)
// is not followed on MySQL/MariaDB, so it is refused with nothing deleted; a view over the real
// users table runs only with --allow-unverified-users-table, which warns.
TEST_P(MariadbTest, AUsersViewIsRefusedUnlessVouchedFor) {
  db_->create_original_schema();
  db_->insert_users(0, 5);
  db_->insert_pending(0, 8);
  db_->exec("CREATE VIEW disguised_users AS SELECT pending_user_id AS user_id, email FROM " +
            std::string(kPending));
  auto result = run({"--run-once", "--users-table", "disguised_users"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("guard 'distinct-tables' refused"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 8);
  result = run({"--run-once", "--dry-run", "--users-table", "disguised_users"});
  EXPECT_EQ(result.exit_code, 2) << result.err;

  db_->exec("CREATE VIEW users_view AS SELECT user_id, email FROM core_mstr_one_qlick_users_tbl");
  result = run({"--run-once", "--users-table", "users_view"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(db_->count(kPending), 8);
  result = run({"--run-once", "--output", "json", "--users-table", "users_view",
                "--allow-unverified-users-table"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 5);
  EXPECT_EQ(db_->count(kPending), 3);
}

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
