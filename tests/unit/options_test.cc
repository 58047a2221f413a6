#include "config/options.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

struct Parsed {
  CleanupConfig config;
  CliSettings cli;
};

Parsed parse(std::vector<std::string> args) {
  CLI::App app{"test"};
  Parsed parsed;
  OptionTexts texts;
  declare_options(app, parsed.config, texts, &parsed.cli);
  args.insert(args.begin(), "batch_cleanup");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  finish_options(texts, parsed.config);
  return parsed;
}

TEST(OptionsTest, Defaults) {
  const auto p = parse({"--run-once"});
  EXPECT_TRUE(p.cli.run_once);
  EXPECT_EQ(p.config.users_table, "core_mstr_one_qlick_users_tbl");
  EXPECT_EQ(p.config.pending_table, "core_mstr_one_qlick_pending_users_tbl");
  EXPECT_EQ(p.config.pending_key, "pending_user_id");
  EXPECT_EQ(p.config.email_column, "email");
  EXPECT_EQ(p.config.batch_size, 5000);
  EXPECT_EQ(p.config.interval, std::chrono::hours(1));
  EXPECT_FALSE(p.config.dry_run);
  EXPECT_EQ(p.cli.output, "text");
}

TEST(OptionsTest, SeedCompatibleDaemonInterval) {
  EXPECT_EQ(parse({"--daemon", "--interval", "2"}).config.interval, std::chrono::hours(2));
  EXPECT_EQ(parse({"--daemon", "--interval", "0.5"}).config.interval, std::chrono::minutes(30));
  EXPECT_EQ(parse({"--daemon", "--interval", "90s"}).config.interval, std::chrono::seconds(90));
}

TEST(OptionsTest, AllFlags) {
  const auto p = parse({"--run-once",
                        "--dry-run",
                        "--batch-size",
                        "10",
                        "--output",
                        "json",
                        "--users-table",
                        "app.users",
                        "--pending-table",
                        "app.pending",
                        "--pending-key",
                        "id",
                        "--email-column",
                        "mail",
                        "--lock-timeout",
                        "5s",
                        "--statement-timeout",
                        "1m",
                        "--retries",
                        "0",
                        "--log-pii",
                        "--database-url",
                        "sqlite:x.db",
                        "--batch-strategy",
                        "key"});
  EXPECT_TRUE(p.config.dry_run);
  EXPECT_EQ(p.config.batch_size, 10);
  EXPECT_EQ(p.cli.output, "json");
  EXPECT_EQ(p.config.users_table, "app.users");
  EXPECT_EQ(p.config.pending_key, "id");
  EXPECT_EQ(p.config.email_column, "mail");
  EXPECT_EQ(p.config.lock_timeout, std::chrono::seconds(5));
  EXPECT_EQ(p.config.statement_timeout, std::chrono::minutes(1));
  EXPECT_EQ(p.config.retries, 0);
  EXPECT_TRUE(p.config.log_pii);
  EXPECT_EQ(p.config.database_url, "sqlite:x.db");
  EXPECT_EQ(p.config.batch_strategy, BatchStrategy::kKey);
}

TEST(OptionsTest, ThrottleAndAdaptiveOptions) {
  const auto p =
      parse({"--run-once", "--batch-time", "50ms", "--sleep", "100", "--max-rate", "2500"});
  EXPECT_EQ(p.config.batch_time, std::chrono::milliseconds(50));
  EXPECT_EQ(p.config.sleep_between_batches, std::chrono::milliseconds(100));
  EXPECT_DOUBLE_EQ(p.config.max_rate, 2500);
  EXPECT_EQ(parse({"--run-once"}).config.batch_time, std::chrono::milliseconds(0));
  EXPECT_THROW(parse({"--batch-time", "1ms"}), ConfigError);
  EXPECT_THROW(parse({"--max-rate", "-5"}), CLI::ParseError);
  EXPECT_THROW(parse({"--sleep", "soon"}), ConfigError);
}

TEST(OptionsTest, BadValuesAreRejected) {
  EXPECT_THROW(parse({"--batch-size", "0"}), CLI::ParseError);
  EXPECT_THROW(parse({"--batch-size", "abc"}), CLI::ParseError);
  EXPECT_THROW(parse({"--output", "xml"}), CLI::ParseError);
  EXPECT_THROW(parse({"--run-once", "--daemon"}), CLI::ParseError);
  EXPECT_THROW(parse({"--no-such-flag"}), CLI::ParseError);
  EXPECT_THROW(parse({"--interval", "soon"}), ConfigError);
  EXPECT_THROW(parse({"--interval", "0"}), ConfigError);
  EXPECT_THROW(parse({"--users-table", "users; drop table x"}), ConfigError);
  EXPECT_THROW(parse({"--lock-timeout", "-1s"}), ConfigError);
  EXPECT_THROW(parse({"--database-url", "oracle://x/y"}), ConfigError);
}

TEST(PolicyOptionsTest, DefaultsAreTheOriginalBehaviour) {
  const auto config = parse({}).config;
  EXPECT_TRUE(config.match_email);
  EXPECT_FALSE(config.match_phone);
  EXPECT_EQ(config.normalize_email, EmailNormalization::kNone);
  EXPECT_EQ(config.expire_after.count(), 0);
  EXPECT_EQ(config.min_age.count(), 0);
  EXPECT_TRUE(config.exclude_emails.empty());
  EXPECT_TRUE(config.exclude_domains.empty());
}

TEST(PolicyOptionsTest, EveryPolicyFlag) {
  const auto config =
      parse({"--match", "phone,email", "--normalize-email", "lower-trim", "--phone-column",
             "mobile", "--expire-after", "7d", "--created-column", "signed_up_at", "--min-age",
             "15m", "--exclude-email", "a@x.com", "--exclude-email", "b@x.com,c@x.com",
             "--exclude-domain", "@partner.org"})
          .config;
  EXPECT_TRUE(config.match_email);
  EXPECT_TRUE(config.match_phone);
  EXPECT_EQ(config.normalize_email, EmailNormalization::kLowerTrim);
  EXPECT_EQ(config.phone_column, "mobile");
  EXPECT_EQ(config.expire_after, std::chrono::hours(24 * 7));
  EXPECT_EQ(config.created_column, "signed_up_at");
  EXPECT_EQ(config.min_age, std::chrono::minutes(15));
  EXPECT_EQ(config.exclude_emails, (std::vector<std::string>{"a@x.com", "b@x.com", "c@x.com"}));
  // A leading '@' is dropped: the domain as the tool compares it (and `config` shows it).
  EXPECT_EQ(config.exclude_domains, (std::vector<std::string>{"partner.org"}));
  const auto expiry_only = parse({"--match", "none", "--expire-after", "36h"}).config;
  EXPECT_FALSE(expiry_only.match_email);
  EXPECT_FALSE(expiry_only.match_phone);
}

TEST(PolicyOptionsTest, BadPolicyValuesAreRejected) {
  EXPECT_THROW(parse({"--match", "none"}), ConfigError);  // no policy at all
  EXPECT_THROW(parse({"--match", "emails"}), ConfigError);
  EXPECT_THROW(parse({"--match", "email,"}), ConfigError);
  EXPECT_THROW(parse({"--normalize-email", "upper"}), CLI::ParseError);
  EXPECT_THROW(parse({"--expire-after", "7"}), ConfigError);  // no unit
  EXPECT_THROW(parse({"--expire-after", "500ms"}), ConfigError);
  EXPECT_THROW(parse({"--min-age", "soon"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-domain", "user@partner.org"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-domain", "@"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-email", "  "}), ConfigError);
  EXPECT_THROW(parse({"--expire-after", "7d", "--created-column", "created at"}), ConfigError);
  EXPECT_THROW(parse({"--match", "phone", "--phone-column", "x;y"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-email-file", "/nonexistent/emails.txt"}), ConfigError);
  // Exemptions that could never match would fail open: they are refused.
  EXPECT_THROW(parse({"--exclude-email", "partner.org"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-email", "a@x.com b@x.com"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-domain", "*.partner.org"}), ConfigError);
  EXPECT_THROW(parse({"--exclude-domain", "partner.org/"}), ConfigError);
  EXPECT_NO_THROW(
      parse({"--exclude-email", "\tceo@x.com ", "--exclude-domain", "@xn--bcher-kva.example"}));
}

TEST(PolicyOptionsTest, ListFilesSkipBlankLinesAndComments) {
  const std::string path = ::testing::TempDir() + "/bc_exempt_list.txt";
  {
    std::ofstream out(path);
    out << "# exempt accounts\n\n  a@x.com   # our test account\n\tb#1@x.com\n#c@x.com\n";
  }
  const auto config = parse({"--exclude-email-file", path}).config;
  EXPECT_EQ(config.exclude_emails, (std::vector<std::string>{"a@x.com", "b#1@x.com"}));
  std::remove(path.c_str());
}

TEST(PolicyOptionsTest, ExclusionListsFromEnvironment) {
  setenv("BATCH_CLEANUP_EXCLUDE_DOMAIN", "a.org,b.org", 1);
  setenv("BATCH_CLEANUP_EXPIRE_AFTER", "2d", 1);
  const auto config = config_from_environment();
  EXPECT_EQ(config.exclude_domains, (std::vector<std::string>{"a.org", "b.org"}));
  EXPECT_EQ(config.expire_after, std::chrono::hours(48));
  unsetenv("BATCH_CLEANUP_EXCLUDE_DOMAIN");
  unsetenv("BATCH_CLEANUP_EXPIRE_AFTER");
}

TEST(OptionsTest, EnvironmentFillsUnsetOptions) {
  setenv("DATABASE_URL", "sqlite:/tmp/env.db", 1);
  setenv("BATCH_CLEANUP_BATCH_SIZE", "77", 1);
  const auto from_env = config_from_environment();
  EXPECT_EQ(from_env.database_url, "sqlite:/tmp/env.db");
  EXPECT_EQ(from_env.batch_size, 77);
  // A flag wins over the environment.
  EXPECT_EQ(parse({"--batch-size", "5"}).config.batch_size, 5);
  setenv("BATCH_CLEANUP_BATCH_SIZE", "nope", 1);
  EXPECT_THROW(config_from_environment(), ConfigError);
  unsetenv("BATCH_CLEANUP_BATCH_SIZE");
  unsetenv("DATABASE_URL");
}

}  // namespace
}  // namespace batch_cleanup::config

namespace batch_cleanup::config {
namespace {

TEST(ObservabilityOptionsTest, DefaultsFlagsAndEnvironment) {
  auto p = parse({"--run-once"});
  EXPECT_TRUE(p.config.record_history);
  EXPECT_EQ(p.config.history_table, "batch_cleanup_runs");
  EXPECT_EQ(p.cli.http_listen, "");
  EXPECT_EQ(p.cli.unhealthy_after, 3);
  EXPECT_FALSE(p.cli.statistics);
  EXPECT_EQ(p.cli.log_format, "text");
  EXPECT_EQ(p.cli.progress_bar, "auto");

  p = parse({"--daemon", "--no-history", "--history-table", "ops.runs", "--http-listen",
             "127.0.0.1:9187", "--unhealthy-after", "5", "--statistics", "--log-format", "json",
             "--progress-bar", "never"});
  EXPECT_FALSE(p.config.record_history);
  EXPECT_EQ(p.config.history_table, "ops.runs");
  EXPECT_EQ(p.cli.http_listen, "127.0.0.1:9187");
  EXPECT_EQ(p.cli.unhealthy_after, 5);
  EXPECT_TRUE(p.cli.statistics);
  EXPECT_EQ(p.cli.log_format, "json");
  EXPECT_EQ(p.cli.progress_bar, "never");

  EXPECT_THROW(parse({"--run-once", "--history-table", "x;y"}), ConfigError);
  EXPECT_THROW(parse({"--run-once", "--unhealthy-after", "0"}), CLI::ParseError);
  EXPECT_THROW(parse({"--run-once", "--log-format", "xml"}), CLI::ParseError);

  setenv("BATCH_CLEANUP_NO_HISTORY", "1", 1);
  setenv("BATCH_CLEANUP_HISTORY_TABLE", "audit_runs", 1);
  const auto config = config_from_environment();
  EXPECT_FALSE(config.record_history);
  EXPECT_EQ(config.history_table, "audit_runs");
  unsetenv("BATCH_CLEANUP_NO_HISTORY");
  unsetenv("BATCH_CLEANUP_HISTORY_TABLE");
  EXPECT_TRUE(config_from_environment().record_history);
}

// The sets the flags check are the declared ones: every declared value passes the flag, and a
// value outside the set is refused.
TEST(OptionsTest, ChoicesAreTheDeclaredSets) {
  EXPECT_EQ(option_choices("output"), (std::vector<std::string>{"text", "json"}));
  EXPECT_EQ(option_choices("batch-strategy"),
            (std::vector<std::string>{"auto", "physical", "key", "email"}));
  EXPECT_TRUE(option_choices("batch-size").empty());
  for (const std::string option :
       {"output", "log-format", "progress-bar", "normalize-email", "batch-strategy"}) {
    ASSERT_FALSE(option_choices(option).empty()) << option;
    for (const auto& value : option_choices(option)) {
      EXPECT_NO_THROW(parse({"--" + option, value})) << option << " " << value;
    }
    EXPECT_THROW(parse({"--" + option, "not-a-choice"}), CLI::ParseError) << option;
  }
}

}  // namespace
}  // namespace batch_cleanup::config
