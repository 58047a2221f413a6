// Deletion policies (issue 7): email normalisation, phone matching, expiry, in-flight protection
// (--min-age) and exemptions, alone and combined, on SQLite files and real PostgreSQL and
// MariaDB servers (MariaDB: the cases without an archive table).
// Every case checks the exact rows deleted and kept, in the database.
#include "integration/policy_fixture.h"

namespace batch_cleanup::testing {
namespace {

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
      db_->is_mariadb() ? std::string("no index on MySQL/MariaDB serves lower(`email`)")
      : db_->is_postgres()
          ? std::string("CREATE INDEX CONCURRENTLY \\\"") + kUsers +
                "_email_lower_idx\\\" ON \\\"" + kUsers + "\\\" (lower(\\\"email\\\"));"
          : std::string("CREATE INDEX \\\"idx_") + kUsers + "_email_lower\\\" ON \\\"" + kUsers +
                "\\\" (lower(\\\"email\\\"));";
  EXPECT_NE(warnings.find(expected_index), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("1 normalised email(s) are shared"), std::string::npos) << warnings;

  // With the advised index the advice goes away (the planner finds the index). MariaDB has no
  // index on an expression.
  if (db_->is_mariadb()) return;
  db_->exec(std::string("CREATE INDEX users_email_lower_idx ON ") + kUsers + " (lower(email))");
  const auto again =
      run({"--run-once", "--dry-run", "--output", "json", "--normalize-email", "lower"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(last_json_report(again)["warnings"].dump().find("CREATE INDEX"), std::string::npos)
      << again.err;
}

TEST_P(PolicyTest, PhoneMatchingRecordsItsReason) {
  if (skip_archive()) GTEST_SKIP() << "uses --archive-table, not built on MariaDB yet";
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
  if (skip_archive()) GTEST_SKIP() << "uses --archive-table, not built on MariaDB yet";
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
  if (skip_archive()) GTEST_SKIP() << "uses --archive-table, not built on MariaDB yet";
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

INSTANTIATE_TEST_SUITE_P(Backends, PolicyTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
