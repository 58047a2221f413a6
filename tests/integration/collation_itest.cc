// Guard 'exact-email': --normalize-email none compares emails byte for byte, so a users email
// column whose equality is not byte equality (an ICU nondeterministic collation or citext on
// PostgreSQL, NOCASE on SQLite) is refused with exit 2 and nothing deleted; --normalize-email
// collation accepts the column's equality. explain and the dry run name the collation. By the
// real binary, on SQLite files and the PostgreSQL test server.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kRefused = "guard 'exact-email' refused to run";

class CollationTest : public BackendTest {
 protected:
  // users(email) under `users_email_type`; pending has two rows whose email matches a user only
  // under that column's equality (p1, p2) and one that matches byte for byte (p0).
  void create(const std::string& users_email_type) {
    db_->exec("CREATE TABLE app_users (user_id TEXT PRIMARY KEY, email " + users_email_type +
              "); CREATE TABLE signups (id TEXT PRIMARY KEY, email TEXT); "
              "INSERT INTO app_users VALUES ('u0', 'same@x.com'), ('u1', 'alice@x.com'), "
              "('u2', 'bob@x.com'); INSERT INTO signups VALUES ('p0', 'same@x.com'), "
              "('p1', 'Alice@X.com'), ('p2', 'BOB@x.com'), ('p3', 'carol@x.com')");
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.end(), {"--users-table", "app_users", "--pending-table", "signups",
                             "--pending-key", "id"});
    return run_on_db(std::move(args));
  }
  std::set<std::string> left() { return db_->keys("signups", "id"); }
  // The declared type as each catalog spells it.
  std::string text() const { return db_->is_postgres() ? "text" : "TEXT"; }
  const std::set<std::string> all_{"p0", "p1", "p2", "p3"};
};

// A case-insensitive column on each backend: an ICU collation at level 2 (PostgreSQL), NOCASE
// (SQLite).
std::string case_insensitive_text(const TestDatabase& db) {
  return db.is_postgres() ? "TEXT COLLATE ci" : "TEXT COLLATE NOCASE";
}

class CaseInsensitiveColumnTest : public CollationTest {
 protected:
  void SetUp() override {
    CollationTest::SetUp();
    if (!db_) return;
    if (db_->is_postgres()) {
      db_->exec(
          "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = "
          "false)");
    }
    create(case_insensitive_text(*db_));
  }
  std::string collation() const { return db_->is_postgres() ? "\"ci\"" : "\"NOCASE\""; }
};

TEST_P(CaseInsensitiveColumnTest, RefusedByDefaultWithNothingDeleted) {
  for (const auto& mode : std::vector<std::string>{"none", ""}) {
    std::vector<std::string> args{"--run-once"};
    if (!mode.empty()) args.insert(args.end(), {"--normalize-email", mode});
    const auto result = run(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(kRefused), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("app_users.email is " + text() + " collate " + collation()),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("--normalize-email collation"), std::string::npos) << result.err;
    EXPECT_EQ(left(), all_);
  }
  const auto dry = run({"--run-once", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 2) << dry.err;
  EXPECT_NE(dry.err.find(kRefused), std::string::npos) << dry.err;
}

TEST_P(CaseInsensitiveColumnTest, DeletedUnderTheColumnsEqualityWhenAccepted) {
  const auto dry = run({"--run-once", "--dry-run", "--normalize-email", "collation"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("3 pending row(s) would be deleted"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("email comparison: app_users.email = signups.email, by the columns' own "
                         "equality (--normalize-email collation): app_users.email is " +
                         text() + " collate " + collation()),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(left(), all_);

  const auto result = run({"--run-once", "--output", "json", "--normalize-email", "collation"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["deleted"], 3);
  EXPECT_EQ(left(), (std::set<std::string>{"p3"}));
}

TEST_P(CaseInsensitiveColumnTest, ExplainNamesTheCollation) {
  const auto explain = run({"explain", "--normalize-email", "collation"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_NE(explain.out.find("-- email comparison: app_users.email = signups.email"),
            std::string::npos)
      << explain.out;
  EXPECT_NE(explain.out.find("collate " + collation()), std::string::npos) << explain.out;
  const auto refused = run({"explain"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find(kRefused), std::string::npos) << refused.err;
}

TEST_P(CaseInsensitiveColumnTest, LowerComparesTheLowercasedValues) {
  // SQLite's lower() returns a value without the column's collation: a byte comparison of the
  // lowercased emails. PostgreSQL's keeps the column's nondeterministic collation: refused.
  const auto result = run({"--run-once", "--output", "json", "--normalize-email", "lower"});
  if (db_->is_postgres()) {
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(kRefused), std::string::npos) << result.err;
    EXPECT_EQ(left(), all_);
  } else {
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(left(), (std::set<std::string>{"p3"}));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CaseInsensitiveColumnTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

TEST_P(CollationTest, ByteComparisonByDefaultNamesTheCollation) {
  create("TEXT");
  const auto dry = run({"--run-once", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("1 pending row(s) would be deleted"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("email comparison: app_users.email = signups.email, byte for byte: "
                         "app_users.email is " +
                         text() + " collate " +
                         std::string(db_->is_postgres() ? "\"default\"" : "\"BINARY\"")),
            std::string::npos)
      << dry.out;
  const auto result = run({"--run-once"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p1", "p2", "p3"}));
}

TEST_P(CollationTest, SQLiteViewColumnFollowedToItsTable) {
  if (db_->is_postgres()) GTEST_SKIP() << "SQLite only";
  create("TEXT COLLATE NOCASE");
  db_->exec("CREATE VIEW users_view AS SELECT user_id, email FROM app_users");
  const auto result = run_on_db({"--run-once", "--users-table", "users_view", "--pending-table",
                                 "signups", "--pending-key", "id"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("users_view.email is TEXT collate \"NOCASE\""), std::string::npos)
      << result.err;
  EXPECT_EQ(left(), all_);
}

INSTANTIATE_TEST_SUITE_P(Backends, CollationTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

// PostgreSQL: an accent-insensitive ICU collation and citext.
class PgCollationTest : public CollationTest {
 protected:
  void SetUp() override {
    CollationTest::SetUp();
    if (db_ && !db_->is_postgres()) GTEST_SKIP() << "PostgreSQL only";
  }
};

TEST_P(PgCollationTest, AccentInsensitiveCollationKeepsJoseByDefault) {
  db_->exec(
      "CREATE COLLATION ai (provider = icu, locale = 'und-u-ks-level1', deterministic = false); "
      "CREATE TABLE app_users (user_id TEXT PRIMARY KEY, email TEXT COLLATE ai); CREATE TABLE "
      "signups (id TEXT PRIMARY KEY, email TEXT); INSERT INTO app_users VALUES ('u0', "
      "'jose@x.com'); INSERT INTO signups VALUES ('p0', 'josé@x.com'), ('p1', 'ana@x.com')");
  const auto refused = run({"--run-once"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("app_users.email is text collate \"ai\" (nondeterministic)"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p0", "p1"}));
  const auto accepted = run({"--run-once", "--normalize-email", "collation"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p1"}));
}

TEST_P(PgCollationTest, CitextOnEitherSideIsRefusedByDefault) {
  db_->exec("CREATE EXTENSION IF NOT EXISTS citext");
  create("citext");
  const auto refused = run({"--run-once"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("app_users.email is citext"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("(a case-insensitive type)"), std::string::npos) << refused.err;
  EXPECT_EQ(left(), all_);
  // lower() reads citext as text: the lowercased values compare byte for byte.
  const auto lower = run({"--run-once", "--normalize-email", "lower"});
  ASSERT_EQ(lower.exit_code, 0) << lower.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p3"}));
}

TEST_P(PgCollationTest, CitextPendingColumnDeletedWhenAccepted) {
  db_->exec(
      "CREATE EXTENSION IF NOT EXISTS citext; CREATE TABLE app_users (user_id TEXT PRIMARY "
      "KEY, email citext); CREATE TABLE signups (id TEXT PRIMARY KEY, email citext); "
      "INSERT INTO app_users VALUES ('u0', 'alice@x.com'); INSERT INTO signups VALUES "
      "('p0', 'Alice@X.com'), ('p1', 'ana@x.com')");
  const auto refused = run({"--run-once"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p0", "p1"}));
  const auto accepted = run({"--run-once", "--normalize-email", "collation"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_EQ(left(), (std::set<std::string>{"p1"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, PgCollationTest, ::testing::Values(TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
