// Malformed configurations, table-driven: each exits 2 with exactly the message users see
// (the log line's text, or CLI11's first line), by the real binary. Nothing is connected to
// or written unless the case needs the schema (a SQLite file with the original schema).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "integration/backend_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

struct BadConfig {
  std::vector<std::string> args;  // "@DB" is replaced by a SQLite URL with the original schema
  std::string message;
};

const std::vector<BadConfig>& cases() {
  static const std::vector<BadConfig> all = {
      {{"--run-once", "--batch-size", "0"}, "--batch-size: Value 0 not in range 1 to 1000000"},
      {{"--run-once", "--batch-size", "abc"}, "--batch-size: Value abc not in range 1 to 1000000"},
      {{"--run-once", "--batch-size", "1000001"},
       "--batch-size: Value 1000001 not in range 1 to 1000000"},
      {{"--run-once", "--interval", "0.0001"}, "invalid interval: must be at least 1s"},
      {{"--run-once", "--interval", "5x"},
       "invalid duration '5x': unknown unit 'x' (examples: 90s, 15m, 2h, 7d, 250ms, or a bare "
       "number)"},
      {{"--run-once", "--interval", ""},
       "invalid duration '': empty (examples: 90s, 15m, 2h, 7d, 250ms, or a bare number)"},
      {{"--run-once", "--lock-timeout", "-1s"},
       "invalid duration '-1s': must not be negative (examples: 90s, 15m, 2h, 7d, 250ms, or a "
       "bare number)"},
      {{"--run-once", "--statement-timeout", "1q"},
       "invalid duration '1q': unknown unit 'q' (examples: 90s, 15m, 2h, 7d, 250ms, or a bare "
       "number)"},
      {{"--run-once", "--connect-timeout", "0"}, "invalid connect timeout: must be at least 1s"},
      {{"--run-once", "--retries", "21"}, "--retries: Value 21 not in range 0 to 20"},
      {{"--run-once", "--retries", "-1"}, "--retries: Value -1 not in range 0 to 20"},
      {{"--run-once", "--sample-size", "1001"}, "--sample-size: Value 1001 not in range 0 to 1000"},
      {{"--run-once", "--progress-interval", "10ms"}, "invalid progress interval: at least 100ms"},
      {{"--run-once", "--output", "xml"}, "--output: xml not in {text,json}"},
      {{"--run-once", "--batch-strategy", "ctid"},
       "--batch-strategy: ctid not in {auto,physical,key,email}"},
      {{"--run-once", "--users-table", "users;drop"},
       "invalid users table 'users;drop': character ';' is not allowed (letters, digits, _ and $, "
       "not starting with a digit, at most 63 bytes)"},
      {{"--run-once", "--pending-table", "a.b.c"},
       "invalid pending table 'a.b.c': at most one dot (schema.table)"},
      {{"--run-once", "--pending-key", "1abc"},
       "invalid pending key '1abc': must start with a letter or _ (letters, digits, _ and $, not "
       "starting with a digit, at most 63 bytes)"},
      {{"--run-once", "--email-column", ""},
       "invalid email column '': empty name (letters, digits, _ and $, not starting with a digit, "
       "at most 63 bytes)"},
      {{"--run-once", "--users-table", std::string(64, 'a')},
       "invalid users table '" + std::string(64, 'a') +
           "': longer than 63 bytes (letters, digits, _ and $, not starting with a digit, at most "
           "63 bytes)"},
      {{"--run-once", "--database-url", "oracle://h/db"},
       "unsupported database URL scheme 'oracle': use postgresql://, postgres://, a libpq "
       "key=value string, sqlite:PATH, mysql:// or mariadb://"},
      {{"--run-once", "--database-url", ""},
       "no database configured: set DATABASE_URL or pass --database-url (postgresql://..., a "
       "libpq key=value string, or sqlite:PATH)"},
      {{"--run-once", "--database-url", "sqlite:"}, "empty SQLite path in database URL"},
      {{"--run-once", "--database-url", "sqlite:/nonexistent/x.db"},
       "SQLite database file '/nonexistent/x.db' does not exist"},
      {{"--run-once", "--database-url", "postgresql://h:notaport/db"},
       "invalid database URL: connection option \"port\" is not an integer"},
      {{"--run-once", "--database-url", "host=h sslmode=bogus"},
       "invalid database URL: invalid sslmode value (use allow, disable, prefer, require, "
       "verify-ca, verify-full)"},
      {{"--run-once", "--database-url", "host=h nosuchopt=1"},
       "invalid database URL: an unknown connection option at character 8 (of 18)"},
      {{"--run-once", "--max-deletes", "-1"},
       "invalid --max-deletes '-1': use a whole number of rows, 0 or more"},
      {{"--run-once", "--max-deletes", "1.5"},
       "invalid --max-deletes '1.5': use a whole number of rows, 0 or more"},
      {{"--run-once", "--max-fraction", "0"},
       "invalid --max-fraction '0': use a number greater than 0 and at most 1 (0.1 = 10%)"},
      {{"--run-once", "--max-fraction", "1.5"},
       "invalid --max-fraction '1.5': use a number greater than 0 and at most 1 (0.1 = 10%)"},
      {{"--run-once", "--max-fraction", "abc"},
       "invalid --max-fraction 'abc': use a number greater than 0 and at most 1 (0.1 = 10%)"},
      {{"--run-once", "--archive-retention", "30d"}, "--archive-retention needs --archive-table"},
      {{"--run-once", "--archive-table", "arch", "--archive-retention", "0.1s"},
       "invalid --archive-retention '0.1s': must be at least 1s"},
      {{"--run-once", "--archive-table", "core_mstr_one_qlick_pending_users_tbl"},
       "invalid --archive-table 'core_mstr_one_qlick_pending_users_tbl': it names the users or "
       "pending table; use a table of its own"},
      {{"--run-once", "--archive-table", "x y"},
       "invalid archive table 'x y': character ' ' is not allowed (letters, digits, _ and $, not "
       "starting with a digit, at most 63 bytes)"},
      {{}, "nothing to do: pass --run-once, --daemon, or a subcommand (see --help)"},
      {{"--run-once", "--daemon"}, "--run-once excludes --daemon"},
      {{"--run-once", "--no-such-flag"}, "The following argument was not expected: --no-such-flag"},
      {{"restore"}, "restore needs --archive-table: the table the rows were archived to"},
      {{"restore", "--archive-table", "a", "--cycle", "x", "--since", "1h"},
       "--cycle excludes --since"},
      {{"restore", "--archive-table", "a", "--since", "yesterday"},
       "invalid --since 'yesterday': use an ISO-8601 time (2026-11-29T16:00:00Z) or a duration "
       "ago (2h, 7d)"},
      // Needs the schema.
      {{"--run-once", "--database-url", "@DB", "--users-table", "no_such_users"},
       "users table 'no_such_users' does not exist. HINT: check --users-table and the schema (an "
       "attached database name such as main)"},
      {{"--run-once", "--database-url", "@DB", "--email-column", "mail"},
       "column 'mail' does not exist in table 'core_mstr_one_qlick_pending_users_tbl'. HINT: "
       "check --email-column"},
      {{"--run-once", "--database-url", "@DB", "--users-table",
        "core_mstr_one_qlick_pending_users_tbl"},
       "guard 'distinct-tables' refused to run: the users table "
       "'core_mstr_one_qlick_pending_users_tbl' and the pending table "
       "'core_mstr_one_qlick_pending_users_tbl' are the same relation. HINT: point --users-table "
       "and --pending-table at two different tables"},
      {{"--run-once", "--database-url", "@DB", "--pending-key", "phone"},
       "guard 'unique-key' refused to run: the key column 'phone' of "
       "'core_mstr_one_qlick_pending_users_tbl' has no unique index, so a key may name several "
       "rows. HINT: pass the primary key column with --pending-key, or add a UNIQUE constraint"},
      {{"restore", "--database-url", "@DB", "--archive-table", "no_archive"},
       "archive table 'no_archive' does not exist. HINT: check --archive-table"},
  };
  return all;
}

// The message: the text of the last "error" log line, or CLI11's first line.
std::string message_of(const std::string& err) {
  const std::string marker = " error   ";
  const auto at = err.rfind(marker);
  if (at != std::string::npos) {
    const auto end = err.find('\n', at);
    return err.substr(at + marker.size(),
                      end == std::string::npos ? end : end - at - marker.size());
  }
  return err.substr(0, err.find('\n'));
}

TEST(BadConfigTest, EachMalformedConfigurationExits2WithItsExactMessage) {
  ASSERT_GE(cases().size(), 30u);
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 3);
  db->insert_pending(0, 3);
  for (const auto& bad : cases()) {
    std::vector<std::string> args;
    bool has_url = false;
    for (const auto& arg : bad.args) {
      args.push_back(arg == "@DB" ? db->url() : arg);
      if (arg == "--database-url") has_url = true;
    }
    if (!has_url && !(args.empty())) {
      args.insert(args.end(), {"--database-url", "postgresql://bc-test-unused.invalid/db"});
    }
    const auto result = run_tool(args, {}, std::chrono::seconds(30));
    std::string shown;
    for (const auto& arg : bad.args) shown += "'" + arg + "' ";
    EXPECT_EQ(result.exit_code, 2) << shown << "\n" << result.err;
    EXPECT_EQ(message_of(result.err), bad.message) << shown << "\n" << result.err;
  }
  EXPECT_EQ(db->count("core_mstr_one_qlick_pending_users_tbl"), 3);
}

}  // namespace
}  // namespace batch_cleanup::testing
