// Guard 'distinct-tables' over what the users table reads, not its name: a view (of a view), a
// materialized view, a postgres_fdw foreign table, a parent or a child of the pending table
// given as --users-table is refused with exit 2 and nothing deleted; a view or foreign table
// over the real users table still works (the foreign table with its override). By the real
// binary, on SQLite files and the PostgreSQL test server.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kRefused = "guard 'distinct-tables' refused to run";

class DistinctReadsTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
    db_->insert_users(0, 3);    // u0..u2
    db_->insert_pending(0, 6);  // p0..p2 match a user, p3..p5 do not
  }
  ProcessResult run(const std::string& users_table, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--run-once", "--output", "json", "--users-table", users_table});
    return run_on_db(std::move(args));
  }
  // Refused with exit 2, naming the guard, without advice for an index on the disguise, and
  // every pending row still there.
  void expect_refused(const ProcessResult& result, const std::string& names) {
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(kRefused), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(names), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("CREATE INDEX"), std::string::npos) << result.err;
    EXPECT_EQ(db_->count(kPending), 6);
  }
  std::string pending_name() const {
    return db_->is_postgres() ? "public." + std::string(kPending) : "main." + std::string(kPending);
  }
};

TEST_P(DistinctReadsTest, AViewOverThePendingTableIsRefused) {
  db_->exec(std::string("CREATE VIEW users_disguise AS SELECT pending_user_id AS user_id, email "
                        "FROM ") +
            kPending);
  expect_refused(run("users_disguise"), "reads " + pending_name() + ", which the pending table");
  // Neither a dry run nor explain gets past it.
  expect_refused(run("users_disguise", {"--dry-run"}), pending_name());
  const auto explain = run_on_db({"explain", "--users-table", "users_disguise"});
  EXPECT_EQ(explain.exit_code, 2) << explain.err;
  EXPECT_NE(explain.err.find(kRefused), std::string::npos) << explain.err;
}

TEST_P(DistinctReadsTest, AViewOfAViewOverThePendingTableIsRefused) {
  db_->exec(std::string("CREATE VIEW inner_view AS SELECT * FROM ") + kPending +
            " WHERE email IS NOT NULL; CREATE VIEW outer_view AS SELECT pending_user_id AS "
            "user_id, email FROM inner_view");
  expect_refused(run("outer_view"), pending_name());
}

TEST_P(DistinctReadsTest, AViewJoiningThePendingTableIsRefused) {
  db_->exec(std::string("CREATE VIEW mixed AS SELECT u.user_id, u.email FROM "
                        "core_mstr_one_qlick_users_tbl u UNION ALL SELECT p.pending_user_id, "
                        "p.email FROM ") +
            kPending + " p");
  expect_refused(run("mixed"), pending_name());
}

TEST_P(DistinctReadsTest, AViewOverTheRealUsersTableStillWorks) {
  db_->exec("CREATE VIEW active_users AS SELECT user_id, email FROM core_mstr_one_qlick_users_tbl");
  const auto result = run("active_users");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 3);
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p3", "p4", "p5"}));
}

TEST_P(DistinctReadsTest, TheRealUsersTableStillWorks) {
  const auto result = run("core_mstr_one_qlick_users_tbl");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 3);
  EXPECT_EQ(db_->count(kPending), 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, DistinctReadsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

// PostgreSQL alone has materialized views, foreign tables and inheritance.
class PgDistinctReadsTest : public DistinctReadsTest {
 protected:
  void SetUp() override {
    DistinctReadsTest::SetUp();
    if (db_ && !db_->is_postgres()) GTEST_SKIP() << "PostgreSQL only";
  }
  // A postgres_fdw server that loops back to this test's own database.
  void loopback_server() {
    const std::string database = db_->scalar("SELECT current_database()");
    const std::string port = db_->scalar("SELECT current_setting('port')");
    db_->exec(
        "CREATE EXTENSION IF NOT EXISTS postgres_fdw; CREATE SERVER loopback FOREIGN DATA "
        "WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '" +
        port + "', dbname '" + database +
        "'); CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user '" +
        db_->scalar("SELECT current_user") + "')");
  }
};

TEST_P(PgDistinctReadsTest, AMaterializedViewOfThePendingTableIsRefused) {
  db_->exec(std::string("CREATE MATERIALIZED VIEW pending_copy AS SELECT pending_user_id AS "
                        "user_id, email FROM ") +
            kPending);
  expect_refused(run("pending_copy"), "public.core_mstr_one_qlick_pending_users_tbl");
}

TEST_P(PgDistinctReadsTest, AForeignTableIsRefusedUnlessAllowedAndOverPendingNeverDeletes) {
  loopback_server();
  db_->exec(std::string("CREATE FOREIGN TABLE remote_pending (user_id text OPTIONS (column_name "
                        "'pending_user_id'), email text) SERVER loopback OPTIONS (table_name '") +
            kPending +
            "'); CREATE FOREIGN TABLE remote_users (user_id text, email text) SERVER loopback "
            "OPTIONS (table_name 'core_mstr_one_qlick_users_tbl')");
  // The disguise reads every pending row through the foreign server.
  ASSERT_EQ(db_->count("remote_pending"), 6);
  expect_refused(run("remote_pending"), "foreign table public.remote_pending (server loopback)");
  EXPECT_NE(run("remote_pending").err.find("--allow-unverified-users-table"), std::string::npos);
  expect_refused(run("remote_users"), "foreign table public.remote_users (server loopback)");

  // The operator vouches for the foreign users table: it runs, with a warning.
  const auto allowed = run("remote_users", {"--allow-unverified-users-table"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(last_json_report(allowed)["deleted"], 3);
  EXPECT_NE(allowed.err.find("did not verify what the users table 'remote_users' reads"),
            std::string::npos)
      << allowed.err;
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p3", "p4", "p5"}));
}

TEST_P(PgDistinctReadsTest, AChildOrAParentOfThePendingTableIsRefused) {
  db_->exec(std::string("CREATE TABLE pending_child () INHERITS (") + kPending +
            "); INSERT INTO pending_child (pending_user_id, email) VALUES ('c0', "
            "'user0@example.com')");
  ASSERT_EQ(db_->count(kPending), 7);  // the parent's scan reads its child
  const auto child = run("pending_child");
  EXPECT_EQ(child.exit_code, 2) << child.err;
  EXPECT_NE(child.err.find(kRefused), std::string::npos) << child.err;
  EXPECT_NE(child.err.find("public.pending_child"), std::string::npos) << child.err;
  EXPECT_EQ(db_->count(kPending), 7);

  db_->exec(std::string("CREATE TABLE pending_parent (pending_user_id text, email text, phone "
                        "text, full_name text); ALTER TABLE ") +
            kPending + " INHERIT pending_parent");
  const auto parent = run("pending_parent");
  EXPECT_EQ(parent.exit_code, 2) << parent.err;
  EXPECT_NE(parent.err.find(kRefused), std::string::npos) << parent.err;
  EXPECT_EQ(db_->count(kPending), 7);
}

TEST_P(PgDistinctReadsTest, AViewCallingAUserFunctionIsRefused) {
  db_->exec(std::string("CREATE FUNCTION pending_rows() RETURNS TABLE (user_id text, email "
                        "text) LANGUAGE sql STABLE AS $$ SELECT pending_user_id, email FROM ") +
            kPending + " $$; CREATE VIEW hidden AS SELECT user_id, email FROM pending_rows()");
  expect_refused(run("hidden"), "function pending_rows()");
}

INSTANTIATE_TEST_SUITE_P(Backends, PgDistinctReadsTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
