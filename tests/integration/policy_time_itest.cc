// Deletion policies that read the creation time (issue 7): expiry, in-flight protection
// (--min-age), time zones and SQLite's time formats, on SQLite files and a real PostgreSQL
// server. Every case checks the exact rows deleted and kept, in the database.
#include "integration/policy_fixture.h"

namespace batch_cleanup::testing {
namespace {

// The same fixture, instantiated apart from PolicyTest.
class PolicyTimeTest : public PolicyTest {};

TEST_P(PolicyTimeTest, ExpiryDeletesOldRowsWhetherOrNotAUserMatches) {
  create_schema();
  user("u1", "alice@example.com");
  pending("p_match_young", "alice@example.com", kHour);  // email policy
  pending("p_old", "nobody@example.com", 8 * kDay);      // expired
  pending("p_old_match", "alice@example.com", 30 * kDay);
  pending("p_young", "fresh@example.com", 6 * kDay);  // neither
  pending("p_null_time", "ghost@example.com", -1);    // no creation time: never expires
  const auto dry = run({"--run-once", "--dry-run", "--output", "json", "--expire-after", "7d"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(last_json_report(dry)["policies"]["expired"], 2);
  EXPECT_EQ(last_json_report(dry)["policies"]["email"], 2);
  EXPECT_EQ(last_json_report(dry)["candidates"], 3);

  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("bc_expiry_" + std::to_string(::getpid()) + "_" + backend_name(GetParam()) + ".ndjson");
  std::filesystem::remove(file);
  const auto result =
      run({"--run-once", "--output", "json", "--expire-after", "7d", "--archive-table",
           "pending_archive", "--archive-file", file.string(), "--batch-size", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_young", "p_null_time"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 2);
  EXPECT_EQ(report["deleted_by_policy"]["expired"], 1);
  EXPECT_EQ(archived_reasons("pending_archive"),
            (std::map<std::string, std::string>{{"p_match_young", "email exists in users"},
                                                {"p_old_match", "email exists in users"},
                                                {"p_old", "expired"}}));
  // The archive file carries the reason too.
  std::ifstream in(file);
  std::map<std::string, std::string> file_reasons;
  for (std::string line; std::getline(in, line);) {
    const auto object = nlohmann::json::parse(line);
    if (object["type"] == "row") file_reasons[object["key"]] = object["reason"];
  }
  EXPECT_EQ(file_reasons, archived_reasons("pending_archive"));
  std::filesystem::remove(file);
  EXPECT_NE(result.err.find("by_policy=email:2,phone:0,expired:1"), std::string::npos)
      << result.err;
}

TEST_P(PolicyTimeTest, ExpiryOnlyWithMatchNone) {
  create_schema();
  user("u1", "alice@example.com");
  pending("p_match", "alice@example.com", kDay);
  pending("p_old", "nobody@example.com", 3 * kDay);
  const auto result =
      run({"--run-once", "--output", "json", "--match", "none", "--expire-after", "2d"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_match"}));
  EXPECT_EQ(last_json_report(result)["deleted_by_policy"]["expired"], 1);
  EXPECT_EQ(last_json_report(result)["deleted_by_policy"]["email"], 0);
}

TEST_P(PolicyTimeTest, MinAgeKeepsYoungAndUndatedRowsAndIsCheckedInsideTheDelete) {
  create_schema();
  user("u1", "alice@example.com");
  user("u2", "bob@example.com");
  user("u3", "carol@example.com");
  pending("p_old", "alice@example.com", kHour);
  pending("p_young", "bob@example.com", 5 * kMinute);
  pending("p_undated", "carol@example.com", -1);
  const auto dry = run({"--run-once", "--dry-run", "--output", "json", "--min-age", "15m"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(last_json_report(dry)["policies"]["kept_by_min_age"], 2);
  EXPECT_EQ(last_json_report(dry)["candidates"], 1);

  const auto result = run({"--run-once", "--output", "json", "--min-age", "15m"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_young", "p_undated"}));

  // The age condition is part of every DELETE statement, not only of the selection.
  const auto plans = run({"explain", "--min-age", "15m"});
  ASSERT_EQ(plans.exit_code, 0) << plans.err;
  std::size_t deletes = 0;
  std::size_t pos = 0;
  while ((pos = plans.out.find("\nDELETE FROM", pos)) != std::string::npos) {
    const auto end = plans.out.find('\n', pos + 1);
    const std::string statement = plans.out.substr(pos + 1, end - pos - 1);
    EXPECT_NE(statement.find("\"created_at\""), std::string::npos) << statement;
    ++deletes;
    pos = end;
  }
  EXPECT_GE(deletes, 1u) << plans.out;
}

TEST_P(PolicyTimeTest, ZonelessCreationTimesDoNotDependOnTheSessionTimeZone) {
  if (!db_->is_postgres()) GTEST_SKIP() << "PostgreSQL session time zones";
  db_->exec(std::string("CREATE TABLE ") + kUsers + " (user_id TEXT PRIMARY KEY, email TEXT)");
  db_->exec(std::string("CREATE TABLE ") + kPending +
            " (pending_user_id TEXT PRIMARY KEY, email TEXT, created_at timestamp)");
  db_->exec(std::string("INSERT INTO ") + kUsers +
            " VALUES ('u1', 'a@example.com'), ('u2', 'b@example.com')");
  db_->exec(std::string("INSERT INTO ") + kPending +
            " VALUES ('p_young', 'a@example.com', (now() AT TIME ZONE 'UTC') - interval '1 "
            "minute'), ('p_old', 'b@example.com', (now() AT TIME ZONE 'UTC') - interval '1 "
            "hour')");
  const std::string tokyo = db_->url() + " options='-c TimeZone=Asia/Tokyo'";
  auto result =
      run_tool({"--run-once", "--output", "json", "--min-age", "15m", "--database-url", tokyo});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_young"}));

  // Values said to be Tokyo wall-clock time: p_tokyo, a minute old there, is young; p_young,
  // written in UTC, now reads as 9 hours old.
  db_->exec(std::string("INSERT INTO ") + kPending +
            " VALUES ('p_tokyo', 'b@example.com', (now() AT TIME ZONE 'Asia/Tokyo') - interval "
            "'1 minute')");
  result = run_tool({"--run-once", "--output", "json", "--min-age", "15m", "--created-time-zone",
                     "Asia/Tokyo", "--database-url", db_->url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_tokyo"}));

  result = run({"--run-once", "--min-age", "15m", "--created-time-zone", "Mars/Olympus"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("invalid --created-time-zone 'Mars/Olympus'"), std::string::npos)
      << result.err;

  // A date cannot protect sign-ups made minutes ago.
  db_->exec(std::string("ALTER TABLE ") + kPending + " ADD COLUMN signup_day date");
  result = run({"--run-once", "--min-age", "15m", "--created-column", "signup_day"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("is a date: --min-age cannot tell"), std::string::npos) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_tokyo"}));
}

// SQLite reads 'now' anew in every statement; a batch fixes it once, so rows that cross the
// --min-age threshold while the batch runs are neither deleted unselected nor left without a
// reason.
TEST_P(PolicyTimeTest, RowsCrossingTheAgeThresholdDuringABatchAreConsistent) {
  create_schema();
  user("u0", "user@example.com");
  // 60,000 rows becoming 15 minutes old over the next 3 seconds, all matching by email once old
  // enough (the users table has one row per email, so every pending row needs its own user).
  if (db_->is_postgres()) {
    db_->exec(std::string("INSERT INTO ") + kUsers +
              " SELECT 'u' || i, 'user' || i || '@example.com', '' FROM generate_series(1, 60000) "
              "i");
    db_->exec(std::string("INSERT INTO ") + kPending +
              " SELECT 'p' || i, 'user' || i || '@example.com', '', now() - interval '15 "
              "minutes' + (i * interval '50 microseconds') FROM generate_series(1, 60000) i");
  } else {
    db_->exec(std::string("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE "
                          "i < 60000) INSERT INTO ") +
              kUsers + " SELECT 'u' || i, 'user' || i || '@example.com', '' FROM s");
    db_->exec(std::string("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE "
                          "i < 60000) INSERT INTO ") +
              kPending +
              " SELECT 'p' || i, 'user' || i || '@example.com', '', strftime('%Y-%m-%dT%H:%M:%fZ', "
              "'now', '-900 seconds', '+' || (i * 0.00005) || ' seconds') FROM s");
  }
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("bc_cross_" + std::to_string(::getpid()) + "_" + backend_name(GetParam()) + ".ndjson");
  std::filesystem::remove(file);
  const auto result =
      run({"--run-once", "--output", "json", "--min-age", "15m", "--match", "email,phone",
           "--batch-size", "60000", "--archive-file", file.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], report["candidates"]);
  EXPECT_GE(report["no_longer_matching"], 0);
  EXPECT_EQ(report["deleted_by_policy"]["email"], report["deleted"]);
  EXPECT_EQ(db_->count(kPending), 60000 - report["deleted"].get<long long>());
  std::ifstream in(file);
  long long rows = 0;
  for (std::string line; std::getline(in, line);) {
    const auto object = nlohmann::json::parse(line);
    if (object["type"] != "row") continue;
    ++rows;
    EXPECT_EQ(object["reason"], "email exists in users") << line;
  }
  EXPECT_EQ(rows, report["deleted"].get<long long>());
  std::filesystem::remove(file);
}

TEST_P(PolicyTimeTest, SqliteCreationTimesInEveryReadableFormat) {
  if (db_->is_postgres()) GTEST_SKIP() << "timestamptz has one format";
  create_schema();
  user("u1", "someone@example.com");
  const long long old = std::time(nullptr) - 10 * kDay;
  db_->exec(std::string("INSERT INTO ") + kPending +
            " (pending_user_id, email, created_at) VALUES "
            "('p_iso_t', 'a@x.com', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 days')), "
            "('p_space', 'b@x.com', datetime('now', '-10 days')), "
            "('p_unix', 'c@x.com', " +
            std::to_string(old) +
            "), "
            "('p_julian', 'd@x.com', julianday('now', '-10 days')), "
            "('p_young', 'e@x.com', datetime('now', '-1 day')), "
            "('p_garbage', 'f@x.com', 'last tuesday'), "
            "('p_millis', 'g@x.com', " +
            std::to_string(old * 1000) + ")");
  const auto result = run({"--run-once", "--output", "json", "--expire-after", "7d"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_young", "p_garbage", "p_millis"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyTimeTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
