// What the command line prints around a cycle, by the real binary: the progress bar never shares
// a line with a log line, --statistics accounts for the archive, and restore --output json
// prints a JSON object also when it fails, with the failure's exit code.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";

class CliOutputTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }
};

TEST_P(CliOutputTest, ALogLineNeverSharesTheProgressBarsLine) {
  db_->insert_users(0, 300);
  db_->insert_pending(0, 300);
  const auto result = run_on_db({"--run-once", "--progress-bar", "always", "--batch-size", "20"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int frames = 0;
  bool finished = false;
  std::istringstream lines(result.err);
  for (std::string line; std::getline(lines, line);) {
    const bool frame = line.find("rows/s  ETA") != std::string::npos;
    frames += frame ? 1 : 0;
    if (line.find(" finished: candidates=300 deleted=300") != std::string::npos) {
      finished = true;
      EXPECT_FALSE(frame) << "a log line glued to a bar's frame: " << line;
    }
  }
  EXPECT_TRUE(finished) << result.err;
  EXPECT_GE(frames, 1) << result.err;
}

TEST_P(CliOutputTest, StatisticsAccountForTheArchive) {
  db_->insert_users(0, 50);
  db_->insert_pending(0, 80);
  const auto result = run_on_db({"--run-once", "--statistics", "--archive-table", "bc_archive"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db_->count("bc_archive"), 50);
  EXPECT_NE(result.err.find("\narchive (table, file) "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("\narchive: 50 row(s) copied to the archive\n"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("no archive step"), std::string::npos) << result.err;
}

TEST_P(CliOutputTest, FailedRestorePrintsAJsonObjectWithItsError) {
  db_->insert_users(0, 1);
  const auto missing = run_on_db({"restore", "--output", "json", "--archive-table", "no_such"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  const auto report = last_json_report(missing);
  ASSERT_TRUE(report.contains("error")) << missing.out;
  EXPECT_NE(report["error"].get<std::string>().find("archive table 'no_such' does not exist"),
            std::string::npos)
      << report;
  EXPECT_EQ(report["restored"], 0);
  EXPECT_EQ(report["selected"], 0);

  const auto unreachable = run_tool({"restore", "--output", "json", "--archive-table", "bc_archive",
                                     "--retries", "0", "--database-url", kDeadUrl});
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.err;
  const auto error = last_json_report(unreachable).value("error", "");
  EXPECT_NE(error.find("127.0.0.1"), std::string::npos) << unreachable.out;
  EXPECT_EQ(unreachable.out.find("TopSecretPw42"), std::string::npos) << unreachable.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, CliOutputTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

using PgRestoreTest = CliOutputTest;

TEST_P(PgRestoreTest, RestoreWithoutInsertPrivilegeExits2WithAJsonError) {
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  ASSERT_EQ(run_on_db({"--run-once", "--archive-table", "bc_archive"}).exit_code, 0);
  const auto role = fmt::format("bc_restore_{:08x}", std::random_device{}());
  db_->exec(
      "CREATE ROLE " + role + " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " + role +
      "; GRANT SELECT, DELETE ON core_mstr_one_qlick_pending_users_tbl, bc_archive TO " + role);
  const auto result = run_tool({"restore", "--output", "json", "--archive-table", "bc_archive",
                                "--database-url", db_->url() + " user=" + role});
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  const auto error = last_json_report(result).value("error", "");
  EXPECT_NE(error.find("permission denied"), std::string::npos) << result.out << result.err;
  EXPECT_NE(error.find("HINT: restore needs INSERT on core_mstr_one_qlick_pending_users_tbl"),
            std::string::npos)
      << error;
  // Nothing was restored: the rows are still archived, none is pending.
  EXPECT_EQ(db_->count("bc_archive"), 5);
  EXPECT_EQ(db_->count("core_mstr_one_qlick_pending_users_tbl"), 0);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PgRestoreTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
