// Guards against a misconfiguration: each refuses with exit 2, names itself and its override,
// and leaves every row in place. Same cases on SQLite and PostgreSQL, by the real binary.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class GuardTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--run-once", "--output", "json"});
    return run_on_db(std::move(args));
  }
};

TEST_P(GuardTest, MaxDeletesRefusesBeforeDeletingAnything) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 20);  // p0..p9 match
  const auto refused = run({"--max-deletes", "9"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("guard 'max-deletes' refused to run: this cycle would delete 10 "
                             "rows, more than --max-deletes 9. HINT: check what would go with "
                             "--dry-run; if it is expected, raise --max-deletes (or remove it) "
                             "to run anyway"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(db_->count(kPending), 20);

  const auto allowed = run({"--max-deletes", "10"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(last_json_report(allowed)["deleted"], 10);
  EXPECT_EQ(db_->count(kPending), 10);
}

TEST_P(GuardTest, MaxFractionRefusesBeforeDeletingAnything) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 40);  // 10 of 40 match: 25%
  const auto refused = run({"--max-fraction", "0.2"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("guard 'max-fraction' refused to run: this cycle would delete 10 of "
                             "the 40 rows of 'core_mstr_one_qlick_pending_users_tbl' (25.0%), "
                             "more than --max-fraction 0.2 (20.0%). HINT:"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("raise --max-fraction (or remove it) to run anyway"),
            std::string::npos);
  EXPECT_EQ(db_->count(kPending), 40);

  const auto allowed = run({"--max-fraction", "0.25"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(db_->count(kPending), 30);
}

TEST_P(GuardTest, EmptyUsersTableRefusesUnlessAllowed) {
  db_->insert_pending(0, 5);
  const auto refused = run({});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("guard 'users-not-empty' refused to run: the users table "
                             "'core_mstr_one_qlick_users_tbl' is empty, which usually means the "
                             "wrong table or database. HINT: check --users-table and "
                             "--database-url, or pass --allow-empty-users to run anyway"),
            std::string::npos)
      << refused.err;
  const auto allowed = run({"--allow-empty-users"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(last_json_report(allowed)["deleted"], 0);
  EXPECT_EQ(db_->count(kPending), 5);
}

TEST_P(GuardTest, DryRunShowsTheGuardAsAWarningAndWritesNothing) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  const auto dry = run({"--dry-run", "--max-deletes", "3"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto report = last_json_report(dry);
  EXPECT_EQ(report["candidates"], 10);
  ASSERT_EQ(report["warnings"].size(), 1u) << report.dump();
  EXPECT_NE(report["warnings"][0].get<std::string>().find("guard 'max-deletes'"),
            std::string::npos);
  EXPECT_EQ(db_->count(kPending), 10);
}

TEST_P(GuardTest, DaemonStopsWithExit2WhenAGuardRefuses) {
  db_->insert_users(0, 10);
  db_->insert_pending(0, 10);
  const auto result =
      run_tool({"--daemon", "--interval", "1s", "--max-deletes", "1", "--database-url", db_->url()},
               {}, std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("guard 'max-deletes'"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, GuardTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
