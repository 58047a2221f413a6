// The MySQL/MariaDB store's SQL and boundaries, pinned: the dialect's quoting and byte-for-byte
// email comparison, the batch statements (keyset window, single-table DELETE with every policy
// re-checked, the careful path's SKIP LOCKED), the per-statement limits, the error numbers'
// causes, and the URL forms with their redaction.
#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "config/mysql_url.h"
#include "store/mysql/mysql_batch_sql.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_errors.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::mysql {
namespace {

MysqlBatchTables tables() {
  MysqlBatchTables t;
  t.pending = "`pending`";
  t.key = "`id`";
  t.email = "`email`";
  t.predicate.users = "`users`";
  t.predicate.email = "`email`";
  return t;
}

TEST(MysqlDialect, QuotesWithBackticksAndComparesEmailsByteForByte) {
  const auto& d = mysql_dialect();
  EXPECT_EQ(d.quote("we`ird"), "`we``ird`");
  EXPECT_EQ(d.quote(config::QualifiedName{"app", "users"}), "`app`.`users`");
  EXPECT_EQ(d.text_equal("u.`email`", "p.`email`"),
            "u.`email` = p.`email` AND BINARY u.`email` = BINARY p.`email`");
  sql::Builder b(d);
  sql::append_predicate(b, tables().predicate, "`pending`", sql::Probe::kPerRow);
  EXPECT_EQ(b.text(),
            "EXISTS (SELECT 1 FROM `users` u WHERE u.`email` = `pending`.`email` AND BINARY "
            "u.`email` = BINARY `pending`.`email`)");
  EXPECT_EQ(b.parameter_count(), 0u);
}

TEST(MysqlBatchSql, StatementLimitsAreWholeSecondsPerStatement) {
  const StatementLimits limits{std::chrono::milliseconds(30000), std::chrono::milliseconds(1500)};
  EXPECT_EQ(statement_prefix(limits),
            "SET STATEMENT innodb_lock_wait_timeout=2, lock_wait_timeout=2, "
            "max_statement_time=30.000 FOR ");
  EXPECT_EQ(statement_prefix(limits, 0),
            "SET STATEMENT innodb_lock_wait_timeout=0, lock_wait_timeout=2, "
            "max_statement_time=30.000 FOR ");
}

TEST(MysqlBatchSql, KeysetWindowSingleTableDeleteAndCarefulPath) {
  const StatementLimits limits{std::chrono::milliseconds(30000), std::chrono::milliseconds(2000)};
  const auto s = build_batch_statements(tables(), limits, true);
  const std::string prefix = statement_prefix(limits);
  const std::string exists =
      "EXISTS (SELECT 1 FROM `users` u WHERE u.`email` = `pending`.`email` AND BINARY u.`email` "
      "= BINARY `pending`.`email`)";
  EXPECT_EQ(s.window[1].text(),
            prefix +
                "SELECT count(*), CAST(max(w.k) AS CHAR) FROM (SELECT `pending`.`id` AS k "
                "FROM `pending` WHERE `pending`.`id` > ? AND " +
                exists + " ORDER BY `pending`.`id` LIMIT ?) w");
  EXPECT_EQ(s.window[0].text().find("> ?"), std::string::npos);
  EXPECT_EQ(s.fast_delete[1].text(),
            statement_prefix(limits, 0) +
                "DELETE FROM `pending` WHERE `pending`.`id` > ? AND `pending`.`id` <= ? AND " +
                exists);
  EXPECT_EQ(s.lock[1].text(),
            prefix +
                "SELECT CAST(`pending`.`id` AS CHAR), CAST(`pending`.`email` AS CHAR), 'email "
                "exists in users' FROM `pending` WHERE `pending`.`id` > ? AND `pending`.`id` <= "
                "? AND " +
                exists + " ORDER BY `pending`.`id` LIMIT ? FOR UPDATE SKIP LOCKED");
  // Positional markers: one value per use, in order.
  const auto values = s.fast_delete[1].values({{"after", std::string("k1")}, {"upto", 9}});
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(std::get<std::string>(values[0]), "k1");
}

// Statement-based binary logging: the careful path's rows are read without locks (SKIP LOCKED
// is unsafe there), the same rows otherwise.
TEST(MysqlBatchSql, WithoutSkipLockedTheCarefulPathReadsWithoutLocks) {
  const StatementLimits limits{std::chrono::milliseconds(30000), std::chrono::milliseconds(2000)};
  const auto locking = build_batch_statements(tables(), limits, true);
  const auto reading = build_batch_statements(tables(), limits, false);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(reading.lock[i].text() + " FOR UPDATE SKIP LOCKED", locking.lock[i].text());
    EXPECT_EQ(reading.lock[i].text().find("FOR UPDATE"), std::string::npos);
    EXPECT_EQ(reading.fast_delete[i].text(), locking.fast_delete[i].text());
  }
}

TEST(MysqlBatchSql, IntegerKeysBindAsIntegers) {
  auto t = tables();
  t.key_integer = true;
  const std::vector<std::string> keys{"7", "12"};
  const auto deleting =
      delete_keys(t, {std::chrono::milliseconds(1000), std::chrono::milliseconds(1000)}, keys);
  EXPECT_NE(deleting.text().find("DELETE FROM `pending` WHERE `pending`.`id` IN (?, ?) AND EXISTS"),
            std::string::npos)
      << deleting.text();
  const auto values = deleting.values();
  EXPECT_EQ(std::get<std::int64_t>(values[1]), 12);
  t.key_integer = false;
  EXPECT_EQ(std::get<std::string>(key_value(t, "12")), "12");
}

TEST(MysqlErrors, NumbersTranslateToCauses) {
  EXPECT_EQ(cause_of(1205), ErrorCause::kLockTimeout);
  EXPECT_EQ(cause_of(1213), ErrorCause::kConflict);
  EXPECT_EQ(cause_of(1180), ErrorCause::kConflict);
  for (unsigned code : {2006u, 2013u, 2002u, 2003u}) {
    EXPECT_EQ(cause_of(code), ErrorCause::kConnectionLost) << code;
  }
  EXPECT_EQ(cause_of(1045), ErrorCause::kAuthentication);
  for (unsigned code : {1044u, 1142u, 1143u}) EXPECT_EQ(cause_of(code), ErrorCause::kPrivilege);
  for (unsigned code : {1146u, 1054u}) EXPECT_EQ(cause_of(code), ErrorCause::kUndefinedObject);
  for (unsigned code : {1451u, 1452u, 1644u}) EXPECT_EQ(cause_of(code), ErrorCause::kRowRefused);
  EXPECT_EQ(cause_of(1969), ErrorCause::kStatementTimeout);
  EXPECT_EQ(cause_of(3024), ErrorCause::kStatementTimeout);
  EXPECT_EQ(cause_of(1064), ErrorCause::kOther);
}

TEST(MysqlUrl, FormsAndRedaction) {
  const auto t = config::parse_mysql_url(
      "mysql://clean%40up:s%3Acret@db.internal:3307/app?ssl-mode=REQUIRED&charset=latin1");
  EXPECT_EQ(t.user, "clean@up");
  EXPECT_EQ(t.password, "s:cret");
  EXPECT_TRUE(t.has_password);
  EXPECT_EQ(t.host, "db.internal");
  EXPECT_EQ(t.port, 3307u);
  EXPECT_EQ(t.database, "app");
  EXPECT_EQ(t.ssl_mode, "required");
  EXPECT_EQ(t.charset, "latin1");
  const auto socket = config::parse_mysql_url("mariadb://me@localhost/app?socket=/run/m.sock");
  EXPECT_EQ(socket.socket, "/run/m.sock");
  EXPECT_FALSE(socket.has_password);
  EXPECT_EQ(socket.charset, "utf8mb4");
  const auto target = config::parse_database_url("mysql://u:hunter2@h:3306/app");
  EXPECT_EQ(target.backend, config::Backend::kMysql);
  EXPECT_EQ(target.redacted, "mysql://u:***@h:3306/app");
  EXPECT_EQ(config::redact_database_url("mariadb://u:hunter2@h/app?socket=/x"),
            "mariadb://u:***@h/app?socket=/x");
  EXPECT_EQ(config::extract_password("mysql://u:hunter2@h/app"), "hunter2");
  for (const char* bad : {"mysql://u:pw@h:99999/app", "mysql://u:pw@h/", "mysql://u:pw@h/app?x=1",
                          "mysql://u:pw@h/app?ssl-mode=sometimes"}) {
    try {
      config::parse_database_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find("pw@"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace batch_cleanup::store::mysql
