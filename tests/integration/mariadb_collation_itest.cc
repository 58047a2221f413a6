// --normalize-email on MariaDB, per mode and per collation, by the real binary on the MariaDB
// test server: which rows go when emails differ in case, accents, leading or trailing spaces,
// under utf8mb4_general_ci, utf8mb4_unicode_ci, utf8mb4_bin (PAD SPACE) and utf8mb4_nopad_bin.
// none compares bytes; lower and lower-trim compare the normalised values in binary; collation
// compares under the columns' own collation, refused when the two columns' collations differ.
// The dry run and explain name the collations and the comparison.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

class MariadbCollationTest : public BackendTest {
 protected:
  // users(email) under `users_collation`, signups(email) under `pending_collation`. p0 has the
  // same bytes as a user; p1 differs in case, p2 in an accent, p3 by a trailing space, p4 by a
  // leading one; p5 matches nobody.
  void create(const std::string& users_collation, const std::string& pending_collation) {
    db_->exec(fmt::format(
        "CREATE TABLE app_users (user_id VARCHAR(64) PRIMARY KEY, email VARCHAR(191) COLLATE {} "
        "UNIQUE); CREATE TABLE signups (id VARCHAR(64) PRIMARY KEY, email VARCHAR(191) COLLATE "
        "{}); INSERT INTO app_users VALUES ('u0', 'same@x.com'), ('u1', 'alice@x.com'), ('u2', "
        "'jose@x.com'), ('u3', 'bob@x.com'); INSERT INTO signups VALUES ('p0', 'same@x.com'), "
        "('p1', 'Alice@X.com'), ('p2', 'josé@x.com'), ('p3', 'bob@x.com '), ('p4', ' bob@x.com'), "
        "('p5', 'carol@x.com')",
        users_collation, pending_collation));
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.end(), {"--users-table", "app_users", "--pending-table", "signups",
                             "--pending-key", "id"});
    return run_on_db(std::move(args));
  }
  // Runs `mode` (a dry run first: it counts what the run deletes, and deletes nothing), and
  // returns the keys that went.
  std::set<std::string> gone_under(const std::string& mode) {
    const auto dry =
        run({"--run-once", "--dry-run", "--output", "json", "--normalize-email", mode});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_EQ(db_->keys("signups", "id"), all_);
    const auto result = run({"--run-once", "--output", "json", "--normalize-email", mode});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::set<std::string> gone;
    const auto left = db_->keys("signups", "id");
    for (const auto& key : all_) {
      if (!left.count(key)) gone.insert(key);
    }
    if (dry.exit_code == 0 && result.exit_code == 0) {
      EXPECT_EQ(last_json_report(dry)["candidates"], gone.size()) << mode;
      EXPECT_EQ(last_json_report(result)["deleted"], gone.size()) << mode;
    }
    return gone;
  }
  // Every mode on a fresh copy of the rows: what each deletes.
  void expect_modes(const std::string& users_collation, const std::string& pending_collation,
                    const std::set<std::string>& collation_gone) {
    for (const auto& [mode, expected] : std::vector<std::pair<std::string, std::set<std::string>>>{
             {"none", {"p0"}},
             {"lower", {"p0", "p1"}},
             {"lower-trim", {"p0", "p1", "p3", "p4"}},
             {"collation", collation_gone}}) {
      SCOPED_TRACE(mode + " under " + users_collation + " / " + pending_collation);
      db_->exec("DROP TABLE IF EXISTS app_users, signups");
      create(users_collation, pending_collation);
      EXPECT_EQ(gone_under(mode), expected);
    }
  }
  const std::set<std::string> all_{"p0", "p1", "p2", "p3", "p4", "p5"};
};

// general_ci equates case, accents and trailing spaces: only collation accepts them.
TEST_P(MariadbCollationTest, GeneralCiPerMode) {
  expect_modes("utf8mb4_general_ci", "utf8mb4_general_ci", {"p0", "p1", "p2", "p3"});
}

TEST_P(MariadbCollationTest, UnicodeCiPerMode) {
  expect_modes("utf8mb4_unicode_ci", "utf8mb4_unicode_ci", {"p0", "p1", "p2", "p3"});
}

// _bin is PAD SPACE: under collation the trailing space still matches; nopad_bin is bytes.
TEST_P(MariadbCollationTest, BinAndNopadBinPerMode) {
  expect_modes("utf8mb4_bin", "utf8mb4_bin", {"p0", "p3"});
  expect_modes("utf8mb4_nopad_bin", "utf8mb4_nopad_bin", {"p0"});
}

// Mixed collations: MariaDB would compare a _bin column with a _ci one in binary, silently.
// collation is refused (exit 2, nothing deleted, both collations named); the other modes compare
// as they say.
TEST_P(MariadbCollationTest, MixedCollationsRefuseCollationMode) {
  create("utf8mb4_bin", "utf8mb4_general_ci");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--run-once", "--normalize-email", "collation"},
        std::vector<std::string>{"--run-once", "--dry-run", "--normalize-email", "collation"},
        std::vector<std::string>{"explain", "--normalize-email", "collation"}}) {
    const auto refused = run(args);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("guard 'exact-email' refused to run: --normalize-email collation"),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("app_users.email is varchar collate \"utf8mb4_bin\", "
                               "signups.email is varchar collate \"utf8mb4_general_ci\""),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("a _bin collation wins over a _ci one"), std::string::npos)
        << refused.err;
    EXPECT_EQ(db_->keys("signups", "id"), all_);
  }
  EXPECT_EQ(gone_under("lower"), (std::set<std::string>{"p0", "p1"}));
}

// The dry run and explain name the collations and the comparison the batches write.
TEST_P(MariadbCollationTest, DryRunAndExplainNameCollationAndComparison) {
  create("utf8mb4_general_ci", "utf8mb4_general_ci");
  const std::string columns =
      "app_users.email is varchar collate \"utf8mb4_general_ci\", signups.email is varchar "
      "collate \"utf8mb4_general_ci\"";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"none",
       "email comparison: app_users.email = signups.email (as u.`email` = p.`email` AND BINARY "
       "u.`email` = BINARY p.`email`), byte for byte: " +
           columns},
      {"lower",
       "email comparison: lower(app_users.email) = lower(signups.email) (as lower(u.`email`) = "
       "lower(p.`email`) AND BINARY lower(u.`email`) = BINARY lower(p.`email`)), the lowercased "
       "values byte for byte: " +
           columns},
      {"collation",
       "email comparison: app_users.email = signups.email, by the columns' own equality "
       "(--normalize-email collation): " +
           columns}};
  for (const auto& [mode, line] : cases) {
    SCOPED_TRACE(mode);
    const auto dry = run({"--run-once", "--dry-run", "--normalize-email", mode});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find(line), std::string::npos) << dry.out;
    const auto explain = run({"explain", "--normalize-email", mode});
    ASSERT_EQ(explain.exit_code, 0) << explain.err;
    EXPECT_NE(explain.out.find(line), std::string::npos) << explain.out;
  }
  // lower: no index serves the comparison, and explain says so (and warns); collation keeps the
  // users index.
  const auto explain = run({"explain", "--normalize-email", "lower"});
  EXPECT_NE(explain.out.find("-- no index on app_users serves lower(`email`): every probe reads "
                             "the users table"),
            std::string::npos)
      << explain.out;
  EXPECT_NE(explain.err.find("no index on app_users supports lower(`email`)"), std::string::npos)
      << explain.err;
  const auto served = run({"explain", "--normalize-email", "collation"});
  EXPECT_EQ(served.err.find("no index on app_users"), std::string::npos) << served.err;
  EXPECT_NE(served.out.find("| u | eq_ref |"), std::string::npos) << served.out;
}

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbCollationTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
