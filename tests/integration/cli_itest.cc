// Command-line contract: error exits, secrets, signals and the daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// A loopback port nothing listens on.
constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";

TEST(CliTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"--no-such-flag"},
      {"--run-once", "--batch-size", "0"},
      {"--run-once", "--batch-size", "many"},
      {"--run-once", "--batch-size", "2000000"},
      {"--run-once", "--interval", "soon"},
      {"--daemon", "--interval", "-1"},
      {"--run-once", "--daemon"},
      {"--run-once", "--output", "xml"},
      {"--run-once", "--log-level", "loud"},
      {"--run-once", "--users-table", "users;drop table x"},
      {"--run-once", "--pending-key", "a b"},
      {"--run-once", "--retries", "99"},
      {"--run-once", "--lock-timeout", "fast"},
      {},  // no mode
  };
  for (auto args : cases) {
    args.insert(args.begin(), {"--database-url", "sqlite:/nonexistent/never.db"});
    const auto result = run_tool(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args) << "\n" << result.err;
    EXPECT_FALSE(result.err.empty()) << ::testing::PrintToString(args);
  }
}

TEST(CliTest, HelpAndVersionExitZero) {
  auto result = run_tool({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag :
       {"--run-once", "--daemon", "--interval", "--dry-run", "--database-url", "--batch-size",
        "--output", "--users-table", "--pending-table", "--pending-key", "--email-column",
        "--log-level", "--log-file", "--log-pii", "--lock-timeout", "--statement-timeout",
        "--retries", "DATABASE_URL", "LOG_LEVEL"}) {
    EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
  }
  result = run_tool({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("batch_cleanup"), std::string::npos);
}

TEST(CliTest, MissingDatabaseUrlExitsTwo) {
  const auto result = run_tool({"--run-once"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no database configured: set DATABASE_URL"), std::string::npos)
      << result.err;
}

TEST(CliTest, UnsupportedSchemeExitsTwo) {
  const auto result = run_tool({"--run-once"}, {{"DATABASE_URL", "oracle://u:pw@localhost/app"}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unsupported database URL scheme 'oracle'"), std::string::npos)
      << result.err;
}

TEST(CliTest, MissingSqliteFileExitsTwoAndCreatesNothing) {
  const auto dir = std::filesystem::temp_directory_path() / "bc_missing_sqlite_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "absent.db";
  std::filesystem::remove(path);
  for (const std::string& url : {"sqlite:" + path.string(), "sqlite://" + path.string()}) {
    for (const char* mode : {"--run-once", "--dry-run"}) {
      std::vector<std::string> args{"--database-url", url, mode};
      if (std::string(mode) == "--dry-run") args.push_back("--run-once");
      const auto result = run_tool(args);
      EXPECT_EQ(result.exit_code, 2) << result.err;
      EXPECT_NE(result.err.find("does not exist"), std::string::npos) << result.err;
      EXPECT_FALSE(std::filesystem::exists(path));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(CliTest, UnreachableServerExitsThreeAndNeverPrintsThePassword) {
  const auto result =
      run_tool({"--run-once", "--retries", "1", "--output", "json", "--log-level", "debug"},
               {{"DATABASE_URL", kDeadUrl}});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.err.find("database unreachable after 2 attempt(s)"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("TopSecretPw42"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("TopSecretPw42"), std::string::npos) << result.out;
}

TEST(CliTest, UnreachableServerGivesUpWithin45SecondsAtDefaults) {
  const auto result =
      run_tool({"--run-once"}, {{"DATABASE_URL", kDeadUrl}}, std::chrono::seconds(90));
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_LT(result.elapsed, std::chrono::seconds(45));
  EXPECT_NE(result.err.find("after 6 attempt(s)"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("TopSecretPw42"), std::string::npos);
}

class CliBackendTest : public BackendTest {};

TEST_P(CliBackendTest, PasswordInUrlNeverAppearsInAnyOutput) {
  if (!db_->is_postgres()) GTEST_SKIP() << "SQLite URLs carry no password";
  db_->create_original_schema();
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  // The test server trusts loopback, so the password is accepted and ignored.
  const std::string url = db_->url() + " password=TopSecretPw42";
  const auto result =
      run_tool({"--run-once", "--output", "json", "--log-level", "trace"}, {{"DATABASE_URL", url}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err.find("TopSecretPw42"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("TopSecretPw42"), std::string::npos) << result.out;
  EXPECT_EQ(db_->count(kPending), 0);
  // A failing run, too.
  const auto failing = run_tool({"--run-once", "--pending-table", "nope", "--log-level", "trace"},
                                {{"DATABASE_URL", url}});
  EXPECT_EQ(failing.exit_code, 2);
  EXPECT_EQ(failing.err.find("TopSecretPw42"), std::string::npos) << failing.err;
}

TEST_P(CliBackendTest, SigtermMidRunLeavesNoHalfAppliedBatch) {
  db_->create_original_schema();
  const long long rows = db_->is_postgres() ? 300000 : 200000;
  db_->insert_users(0, rows);
  db_->insert_pending(0, rows);
  // Key-ordered batches of exactly 1000 rows: any committed prefix is a multiple of 1000.
  ChildProcess child({tool_binary(), "--run-once", "--output", "json", "--batch-size", "1000",
                      "--batch-strategy", "key", "--database-url", db_->url()},
                     {});
  // Wait until some batches have committed, then ask it to stop.
  for (int i = 0; i < 400 && db_->count(kPending) == rows; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  child.signal(SIGTERM);
  const auto start = std::chrono::steady_clock::now();
  const auto result = child.wait(std::chrono::seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto remaining = db_->count(kPending);
  const auto deleted = rows - remaining;
  EXPECT_GT(deleted, 0);
  EXPECT_LT(deleted, rows) << "the run finished before the signal; make the table bigger";
  EXPECT_EQ(deleted % 1000, 0) << "a batch was half applied: " << deleted << " rows deleted";
  const auto report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["interrupted"], true);
  EXPECT_EQ(report["deleted"], deleted);
  // The rows deleted are exactly the first `deleted` in the order the keyset walks (binary/C
  // collation): on PostgreSQL the email's unique index (the cheaper shape), on SQLite the key.
  const bool by_email = db_->is_postgres();
  std::vector<std::string> walked;
  for (long long i = 0; i < rows; ++i) {
    walked.push_back(by_email ? "user" + std::to_string(i) + "@example.com"
                              : "p" + std::to_string(i));
  }
  std::sort(walked.begin(), walked.end());
  EXPECT_EQ(db_->scalar(std::string("SELECT min(") + (by_email ? "email" : "pending_user_id") +
                        ") FROM core_mstr_one_qlick_pending_users_tbl"),
            walked[static_cast<std::size_t>(deleted)]);
  // The next run finishes the job.
  const auto next = run_tool({"--run-once", "--database-url", db_->url()});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(CliBackendTest, DaemonRunsCyclesUntilSigterm) {
  db_->create_original_schema();
  db_->insert_users(0, 100);
  db_->insert_pending(0, 10);
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1s", "--output", "json",
                      "--database-url", db_->url()},
                     {});
  for (int i = 0; i < 500 && db_->count(kPending) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(db_->count(kPending), 0);
  db_->insert_pending(50, 5);  // new duplicates arrive; the next cycle removes them
  for (int i = 0; i < 500 && db_->count(kPending) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(db_->count(kPending), 0);
  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(10));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(result.elapsed, std::chrono::seconds(15));
  // One JSON report per cycle.
  const auto reports = json_reports(result);
  long long deleted = 0;
  for (const auto& report : reports) deleted += report["deleted"].get<long long>();
  EXPECT_GE(reports.size(), 2u);
  EXPECT_EQ(deleted, 15);
  EXPECT_NE(result.err.find("daemon stopped"), std::string::npos) << result.err;
}

TEST_P(CliBackendTest, DaemonWithUnknownTableExitsTwo) {
  db_->create_original_schema();
  const auto result = run_tool(
      {"--daemon", "--interval", "1s", "--pending-table", "missing", "--database-url", db_->url()},
      {}, std::chrono::seconds(20));
  EXPECT_EQ(result.exit_code, 2) << result.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CliBackendTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

TEST(CliDaemonTest, DaemonSurvivesAnUnreachableDatabaseAndStopsOnSigterm) {
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1s", "--retries", "0"},
                     {{"DATABASE_URL", kDeadUrl}});
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  const auto err = child.current_err();
  EXPECT_NE(err.find("cycle failed"), std::string::npos) << err;
  EXPECT_NE(err.find("the worker goes on"), std::string::npos) << err;
  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(10));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err.find("TopSecretPw42"), std::string::npos);
  // It kept trying: more than one failed cycle in 3.5 s at a 1 s interval.
  std::size_t failures = 0;
  for (auto pos = result.err.find("cycle failed"); pos != std::string::npos;
       pos = result.err.find("cycle failed", pos + 1)) {
    ++failures;
  }
  EXPECT_GE(failures, 2u) << result.err;
}

}  // namespace
}  // namespace batch_cleanup::testing

namespace batch_cleanup::testing {
namespace {

TEST(CliSignalTest, SigtermWhileWaitingForTheDatabaseExitsZero) {
  ChildProcess child({tool_binary(), "--run-once", "--retries", "10"},
                     {{"DATABASE_URL", kDeadUrl}});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  child.signal(SIGTERM);
  const auto result = child.wait(std::chrono::seconds(10));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_LT(result.elapsed, std::chrono::seconds(5));
  EXPECT_EQ(result.err.find("TopSecretPw42"), std::string::npos);
}

}  // namespace
}  // namespace batch_cleanup::testing
