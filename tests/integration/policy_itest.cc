// Deletion policies (issue 7): email normalisation, phone matching, expiry, in-flight protection
// (--min-age) and exemptions, alone and combined, on SQLite files and a real PostgreSQL server.
// Every case checks the exact rows deleted and kept, in the database.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kUsers = "core_mstr_one_qlick_users_tbl";

// A UTC time `seconds` ago, as text both backends read ("YYYY-MM-DD HH:MM:SS+00:00").
std::string ago(long long seconds) {
  const std::time_t when = std::time(nullptr) - seconds;
  std::tm utc{};
  gmtime_r(&when, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S+00:00", &utc);
  return text;
}

constexpr long long kMinute = 60;
constexpr long long kHour = 3600;
constexpr long long kDay = 86400;

class PolicyTest : public BackendTest {
 protected:
  // The original tables plus a phone column on both and a creation time on the pending one.
  void create_schema() {
    const std::string time_type = db_->is_postgres() ? "timestamptz" : "TEXT";
    db_->exec(std::string("CREATE TABLE ") + kUsers +
              " (user_id TEXT PRIMARY KEY, email TEXT, phone TEXT)");
    db_->exec(std::string("CREATE INDEX users_email_idx ON ") + kUsers + " (email)");
    db_->exec(std::string("CREATE INDEX users_phone_idx ON ") + kUsers + " (phone)");
    db_->exec(std::string("CREATE TABLE ") + kPending +
              " (pending_user_id TEXT PRIMARY KEY, email TEXT, phone TEXT, created_at " +
              time_type + ")");
  }
  void user(const std::string& id, const std::string& email, const std::string& phone = "") {
    db_->exec(std::string("INSERT INTO ") + kUsers + " (user_id, email, phone) VALUES ('" + id +
              "', " + literal(email) + ", " + literal(phone) + ")");
  }
  // created: seconds ago, or < 0 for NULL.
  void pending(const std::string& key, const std::string& email, long long created,
               const std::string& phone = "") {
    db_->exec(std::string("INSERT INTO ") + kPending +
              " (pending_user_id, email, phone, created_at) VALUES ('" + key + "', " +
              literal(email) + ", " + literal(phone) + ", " +
              (created < 0 ? std::string("NULL") : "'" + ago(created) + "'") + ")");
  }
  static std::string literal(const std::string& value) {
    if (value == "NULL") return "NULL";
    std::string out = "'";
    for (const char c : value) {
      out += c;
      if (c == '\'') out += '\'';
    }
    return out + "'";
  }
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }
  std::set<std::string> kept() { return db_->keys(kPending, "pending_user_id"); }
  // reason by key, from the archive table.
  std::map<std::string, std::string> archived_reasons(const std::string& table) {
    std::map<std::string, std::string> out;
    for (const auto& row : db_->query("SELECT pending_user_id, reason FROM " + table)) {
      out[*row[0]] = *row[1];
    }
    return out;
  }
};

TEST_P(PolicyTest, NormalizeEmailNoneLowerAndLowerTrim) {
  create_schema();
  user("u1", "Alice@Example.com");
  user("u2", " bob@example.com ");
  user("u3", "carol@example.com");
  const auto seed = [&] {
    db_->exec(std::string("DELETE FROM ") + kPending);
    pending("p_exact", "carol@example.com", kDay);
    pending("p_case", "alice@EXAMPLE.com", kDay);
    pending("p_space", "bob@example.com", kDay);
    pending("p_space_case", "  BOB@example.com", kDay);
    pending("p_null", "NULL", kDay);
    pending("p_other", "dave@example.com", kDay);
  };
  seed();
  auto result = run({"--run-once", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(),
            (std::set<std::string>{"p_case", "p_space", "p_space_case", "p_null", "p_other"}));

  seed();
  result = run({"--run-once", "--output", "json", "--normalize-email", "lower"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_space", "p_space_case", "p_null", "p_other"}));
  EXPECT_EQ(last_json_report(result)["deleted_by_policy"]["email"], 2);

  seed();
  result = run({"--run-once", "--output", "json", "--normalize-email", "lower-trim"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_null", "p_other"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 4);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 4);
  EXPECT_EQ(report["deleted_by_policy"]["expired"], 0);
}

TEST_P(PolicyTest, NormalizeDryRunCountsExtraMatchesReportsCollisionsAndAdvisesAnIndex) {
  create_schema();
  user("u1", "Alice@Example.com");
  user("u2", "alice@example.com");  // collides with u1 after lower()
  user("u3", "carol@example.com");
  pending("p_exact", "carol@example.com", kDay);
  pending("p_case", "ALICE@example.com", kDay);
  pending("p_other", "dave@example.com", kDay);
  const std::string before = db_->dump(kPending, "pending_user_id");
  const auto result = run({"--run-once", "--dry-run", "--output", "json", "--normalize-email",
                           "lower", "--allow-empty-users"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db_->dump(kPending, "pending_user_id"), before);
  const auto report = last_json_report(result);
  EXPECT_EQ(report["candidates"], 2);
  EXPECT_EQ(report["policies"]["email"], 2);
  EXPECT_EQ(report["policies"]["email_extra_from_normalization"], 1);
  EXPECT_EQ(report["policies"]["users_email_collisions"], 1);
  ASSERT_EQ(report["policies"]["collision_sample"].size(), 1u);
  EXPECT_EQ(report["policies"]["collision_sample"][0], "a***@example.com");  // masked
  EXPECT_TRUE(report["policies"]["phone"].is_null());
  EXPECT_TRUE(report["policies"]["expired"].is_null());
  // No index serves lower(email): preflight prints the exact statement to create one.
  const std::string warnings = report["warnings"].dump();
  const std::string expected_index =
      db_->is_postgres()
          ? std::string("CREATE INDEX CONCURRENTLY \\\"") + kUsers +
                "_email_lower_idx\\\" ON \\\"" + kUsers + "\\\" (lower(\\\"email\\\"));"
          : std::string("CREATE INDEX \\\"idx_") + kUsers + "_email_lower\\\" ON \\\"" + kUsers +
                "\\\" (lower(\\\"email\\\"));";
  EXPECT_NE(warnings.find(expected_index), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("1 normalised email(s) are shared"), std::string::npos) << warnings;

  // With the advised index the advice goes away (the planner finds the index).
  db_->exec(std::string("CREATE INDEX users_email_lower_idx ON ") + kUsers + " (lower(email))");
  const auto again =
      run({"--run-once", "--dry-run", "--output", "json", "--normalize-email", "lower"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(last_json_report(again)["warnings"].dump().find("CREATE INDEX"), std::string::npos)
      << again.err;
}

TEST_P(PolicyTest, PhoneMatchingRecordsItsReason) {
  create_schema();
  user("u1", "alice@example.com", "+15550001");
  user("u2", "bob@example.com", "");
  user("u3", "carol@example.com", "NULL");
  pending("p_email", "alice@example.com", kDay, "+19999999");
  pending("p_phone", "someone@example.com", kDay, "+15550001");
  pending("p_both", "alice@example.com", kDay, "+15550001");
  pending("p_empty_phone", "x@example.com", kDay, "");  // '' never matches ''
  pending("p_null_phone", "y@example.com", kDay, "NULL");
  pending("p_other_phone", "z@example.com", kDay, "+15550002");

  // Off by default: only emails match.
  auto result = run({"--run-once", "--dry-run", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_json_report(result)["candidates"], 2);

  result = run({"--run-once", "--output", "json", "--match", "email,phone", "--archive-table",
                "pending_archive"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_empty_phone", "p_null_phone", "p_other_phone"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 2);
  EXPECT_EQ(report["deleted_by_policy"]["phone"], 1);
  EXPECT_EQ(archived_reasons("pending_archive"),
            (std::map<std::string, std::string>{{"p_email", "email exists in users"},
                                                {"p_both", "email exists in users"},
                                                {"p_phone", "phone exists in users"}}));
}

TEST_P(PolicyTest, ExpiryDeletesOldRowsWhetherOrNotAUserMatches) {
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

TEST_P(PolicyTest, ExpiryOnlyWithMatchNone) {
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

TEST_P(PolicyTest, MinAgeKeepsYoungAndUndatedRowsAndIsCheckedInsideTheDelete) {
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

TEST_P(PolicyTest, ExclusionsAreCaseInsensitiveBoundAndReadFromFiles) {
  create_schema();
  user("u1", "vip@example.com");
  user("u2", "a@partner.org");
  user("u3", "b@sub.partner.org");
  user("u4", "c@example.com");
  user("u5", "x');DROP/**/TABLE/**/users;--@evil.com");
  user("u6", "listed@example.com");
  pending("p_vip", "VIP@Example.com", kDay);  // exact after --normalize-email lower
  pending("p_vip_exact", "vip@example.com", kDay);
  pending("p_partner", "a@partner.org", kDay);
  pending("p_subdomain", "b@sub.partner.org", kDay);  // subdomains are not excluded
  pending("p_plain", "c@example.com", kDay);
  pending("p_inject", "x');DROP/**/TABLE/**/users;--@evil.com", kDay);
  pending("p_listed", "listed@example.com", kDay);
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("bc_exclude_" + std::to_string(::getpid()) + "_" + backend_name(GetParam()) + ".txt");
  {
    std::ofstream out(file);
    out << "# exempt accounts\n\n  LISTED@example.com  \n";
  }
  const auto result =
      run({"--run-once", "--output", "json", "--normalize-email", "lower", "--exclude-email",
           "  vip@EXAMPLE.com ", "--exclude-domain", "@PARTNER.org", "--exclude-email",
           "x');DROP/**/TABLE/**/users;--@evil.com", "--exclude-email-file", file.string()});
  std::filesystem::remove(file);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(),
            (std::set<std::string>{"p_vip", "p_vip_exact", "p_partner", "p_inject", "p_listed"}));
  EXPECT_EQ(db_->count(kUsers), 6);
}

TEST_P(PolicyTest, AllPoliciesCombined) {
  create_schema();
  user("u1", "Alice@Example.com", "+1001");
  user("u2", "bob@example.com", "+1002");
  user("u3", "vip@example.com", "+1003");
  // email (after lower-trim), old enough: deleted (email)
  pending("p_email", " alice@example.com", 2 * kHour);
  // email match but too young: kept by --min-age
  pending("p_email_young", "BOB@example.com", 5 * kMinute);
  // phone match only, old enough: deleted (phone)
  pending("p_phone", "other@example.com", 2 * kHour, "+1002");
  // no match, expired: deleted (expired)
  pending("p_expired", "stale@example.com", 10 * kDay);
  // expired but exempt by domain: kept
  pending("p_expired_exempt", "old@partner.org", 10 * kDay);
  // email match but exempt by email: kept
  pending("p_exempt", "VIP@example.com", 10 * kDay);
  // nothing matches: kept
  pending("p_fresh", "new@example.com", 2 * kHour, "+1999");
  // undated: neither expired nor old enough: kept
  pending("p_undated", "alice@example.com", -1);
  const std::vector<std::string> policy_flags = {"--normalize-email", "lower-trim",
                                                 "--match",           "email,phone",
                                                 "--expire-after",    "7d",
                                                 "--min-age",         "15m",
                                                 "--exclude-email",   "vip@example.com",
                                                 "--exclude-domain",  "partner.org"};

  std::vector<std::string> dry_args = {"--run-once", "--dry-run", "--output", "json"};
  dry_args.insert(dry_args.end(), policy_flags.begin(), policy_flags.end());
  const auto dry = run(dry_args);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto preview = last_json_report(dry);
  EXPECT_EQ(preview["candidates"], 3);
  EXPECT_EQ(preview["policies"]["email"], 4);  // p_email, p_email_young, p_exempt, p_undated
  EXPECT_EQ(preview["policies"]["email_extra_from_normalization"], 4);
  EXPECT_EQ(preview["policies"]["phone"], 1);
  EXPECT_EQ(preview["policies"]["expired"], 3);            // p_expired, p_expired_exempt, p_exempt
  EXPECT_EQ(preview["policies"]["kept_by_min_age"], 2);    // p_email_young, p_undated
  EXPECT_EQ(preview["policies"]["kept_by_exclusion"], 2);  // p_expired_exempt, p_exempt
  std::map<std::string, std::string> sample_reasons;
  for (const auto& row : preview["sample"]) sample_reasons[row["key"]] = row["reason"];
  EXPECT_EQ(sample_reasons,
            (std::map<std::string, std::string>{{"p_email", "email exists in users"},
                                                {"p_phone", "phone exists in users"},
                                                {"p_expired", "expired"}}));
  EXPECT_NE(dry.err.find("policy 'expired': 3 pending row(s)"), std::string::npos) << dry.err;

  std::vector<std::string> args = {"--run-once", "--output", "json", "--archive-table",
                                   "pending_archive"};
  args.insert(args.end(), policy_flags.begin(), policy_flags.end());
  const auto result = run(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(kept(), (std::set<std::string>{"p_email_young", "p_expired_exempt", "p_exempt",
                                           "p_fresh", "p_undated"}));
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted"], 3);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 1);
  EXPECT_EQ(report["deleted_by_policy"]["phone"], 1);
  EXPECT_EQ(report["deleted_by_policy"]["expired"], 1);
  EXPECT_EQ(archived_reasons("pending_archive"),
            (std::map<std::string, std::string>{{"p_email", "email exists in users"},
                                                {"p_phone", "phone exists in users"},
                                                {"p_expired", "expired"}}));
}

// The combined predicate and per-row reasons through every path a batch can take: both batch
// strategies, small batches, a row a foreign key refuses (row-by-row isolation, savepoints) and,
// on PostgreSQL, a row another session holds locked (the lock-then-delete path).
TEST_P(PolicyTest, CombinedPoliciesThroughEveryBatchPath) {
  create_schema();
  db_->exec(std::string("CREATE TABLE refs (id TEXT PRIMARY KEY, pending_id TEXT REFERENCES ") +
            kPending + " (pending_user_id) ON DELETE RESTRICT)");
  user("u1", "Alice@Example.com", "+1001");
  user("u2", "bob@example.com", "+1002");
  const std::vector<std::string> strategies = db_->is_postgres()
                                                  ? std::vector<std::string>{"physical", "key"}
                                                  : std::vector<std::string>{"auto", "key"};
  for (const auto& strategy : strategies) {
    SCOPED_TRACE(strategy);
    db_->exec("DELETE FROM refs");
    db_->exec(std::string("DELETE FROM ") + kPending);
    db_->exec("DROP TABLE IF EXISTS pending_archive");
    pending("p01_email", "ALICE@example.com", 2 * kHour);
    pending("p02_young", "alice@example.com", kMinute);
    pending("p03_phone", "x@example.com", 2 * kHour, "+1002");
    pending("p04_expired", "y@example.com", 9 * kDay);
    pending("p05_refused", "z@example.com", 9 * kDay);  // expired, but referenced
    pending("p06_locked", "bob@example.com", 2 * kHour);
    pending("p07_exempt", "w@partner.org", 9 * kDay);
    pending("p08_none", "v@example.com", 2 * kHour);
    pending("p09_email", "bob@example.com ", 3 * kHour);
    pending("p10_expired", "u@example.com", 30 * kDay, "+1999");
    db_->exec("INSERT INTO refs VALUES ('r1', 'p05_refused')");
    std::unique_ptr<TestDatabase> holder;
    if (db_->is_postgres()) {
      holder = db_->another_connection();
      holder->exec("BEGIN");
      holder->query(std::string("SELECT * FROM ") + kPending +
                    " WHERE pending_user_id = 'p06_locked' FOR UPDATE");
    }
    const auto result =
        run({"--run-once", "--output", "json", "--batch-strategy", strategy, "--batch-size", "2",
             "--archive-table", "pending_archive", "--normalize-email", "lower-trim", "--match",
             "email,phone", "--expire-after", "7d", "--min-age", "15m", "--exclude-domain",
             "partner.org"});
    if (holder) holder->exec("COMMIT");
    EXPECT_EQ(result.exit_code, 1) << result.err;  // one row refused
    std::set<std::string> expected_kept = {"p02_young", "p05_refused", "p07_exempt", "p08_none"};
    if (db_->is_postgres()) expected_kept.insert("p06_locked");
    EXPECT_EQ(kept(), expected_kept);
    std::map<std::string, std::string> expected_reasons = {{"p01_email", "email exists in users"},
                                                           {"p03_phone", "phone exists in users"},
                                                           {"p04_expired", "expired"},
                                                           {"p09_email", "email exists in users"},
                                                           {"p10_expired", "expired"}};
    if (!db_->is_postgres()) expected_reasons["p06_locked"] = "email exists in users";
    EXPECT_EQ(archived_reasons("pending_archive"), expected_reasons);
    const auto report = last_json_report(result);
    EXPECT_EQ(report["failed"], 1);
    EXPECT_EQ(report["skipped"], db_->is_postgres() ? 1 : 0);
    EXPECT_EQ(report["deleted_by_policy"]["email"], db_->is_postgres() ? 2 : 3);
    EXPECT_EQ(report["deleted_by_policy"]["phone"], 1);
    EXPECT_EQ(report["deleted_by_policy"]["expired"], 2);
  }
}

// A creation time stored without a zone is read in --created-time-zone (UTC by default), never
// in the session's TimeZone: a session far east of UTC must not make young rows look old.
TEST_P(PolicyTest, ZonelessCreationTimesDoNotDependOnTheSessionTimeZone) {
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
TEST_P(PolicyTest, RowsCrossingTheAgeThresholdDuringABatchAreConsistent) {
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

TEST_P(PolicyTest, BadPolicySettingsAreUsageErrors) {
  create_schema();
  user("u1", "alice@example.com");
  pending("p1", "alice@example.com", kDay);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--match", "none"}, "--match none needs --expire-after"},
      {{"--match", "email,fax"}, "invalid --match"},
      {{"--expire-after", "7"}, "give a duration with a unit"},
      {{"--min-age", "0s"}, "must be at least 1s"},
      {{"--normalize-email", "upper"}, "normalize-email"},
      {{"--exclude-domain", "a@b.com"}, "invalid --exclude-domain"},
      {{"--exclude-email-file", "/nonexistent/list.txt"}, "cannot read --exclude-email-file"},
      {{"--expire-after", "7d", "--created-column", "signed_up"},
       "column 'signed_up' does not exist"},
      {{"--match", "phone", "--phone-column", "mobile"}, "column 'mobile' does not exist"},
      {{"--exclude-email", "partner.org"}, "invalid --exclude-email 'partner.org'"},
      {{"--min-age", "15m", "--created-time-zone", "Europe/Paris;"}, "invalid --created-time-zone"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"--run-once"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto result = run(args);
    EXPECT_EQ(result.exit_code, 2) << flags.front() << ": " << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
  EXPECT_EQ(db_->count(kPending), 1);
  if (!db_->is_postgres()) {
    const auto result =
        run({"--run-once", "--min-age", "15m", "--created-time-zone", "Asia/Tokyo"});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("works on PostgreSQL only"), std::string::npos) << result.err;
  }
  if (db_->is_postgres()) {
    db_->exec(std::string("ALTER TABLE ") + kPending + " ADD COLUMN signup_note text");
    const auto result =
        run({"--run-once", "--expire-after", "7d", "--created-column", "signup_note"});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("need a timestamp"), std::string::npos) << result.err;
  }
}

TEST_P(PolicyTest, SqliteCreationTimesInEveryReadableFormat) {
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

INSTANTIATE_TEST_SUITE_P(Backends, PolicyTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
