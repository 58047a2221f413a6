// The SQL of the expiry column (--expired-for) and of the --where conditions, pinned per
// dialect: every literal a bound parameter, every column quoted, now() the dialect's clock, and
// the conditions AND-ed into the predicate as a protection next to --min-age.
#include "store/sql/condition_sql.h"

#include <gtest/gtest.h>

#include "config/condition.h"
#include "store/mysql/mysql_dialect.h"
#include "store/postgres/pg_dialect.h"
#include "store/sql/builder.h"
#include "store/sql/predicate.h"
#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store {
namespace {

const sql::Dialect& kPg = postgres::pg_dialect();
const sql::Dialect& kSqlite = sqlite::sqlite_dialect();
const sql::Dialect& kMysql = mysql::mysql_dialect();

sql::ConditionColumns columns(const sql::Dialect& d, const std::string& zone) {
  return {{"is_verified", {d.quote("is_verified"), false, ""}},
          {"role", {d.quote("role"), false, ""}},
          {"otp_locked_until", {d.quote("otp_locked_until"), true, zone}}};
}

sql::Statement condition(const sql::Dialect& d, std::string_view text, const std::string& zone) {
  sql::Builder b(d);
  sql::append_condition(b, *config::parse_condition(text), "p", columns(d, zone));
  return b.build();
}

TEST(ConditionSqlTest, LiteralsAreBoundAndColumnsQuoted) {
  const auto pg = condition(kPg, "is_verified = false AND role NOT IN ('a''b', 'admin')", "");
  EXPECT_EQ(pg.text(), "(p.\"is_verified\" = $1 AND p.\"role\" NOT IN ($2, $3))");
  const auto values = pg.values();
  ASSERT_EQ(values.size(), 3U);
  EXPECT_EQ(std::get<std::int64_t>(values[0]), 0);
  EXPECT_EQ(std::get<std::string>(values[1]), "a'b");
  EXPECT_EQ(std::get<std::string>(values[2]), "admin");

  EXPECT_EQ(condition(kSqlite, "NOT (role = 'x' OR is_verified <> true)", "").text(),
            "NOT ((p.\"role\" = ?1 OR p.\"is_verified\" <> ?2))");
  EXPECT_EQ(condition(kMysql, "role IN ('customer') AND is_verified IS NOT NULL", "").text(),
            "(p.`role` IN (?) AND p.`is_verified` IS NOT NULL)");
  const auto numbers = condition(kPg, "role >= 3 OR role < 2.5", "").values();
  EXPECT_EQ(std::get<std::int64_t>(numbers[0]), 3);
  EXPECT_DOUBLE_EQ(std::get<double>(numbers[1]), 2.5);
}

TEST(ConditionSqlTest, NowIsTheDialectsClock) {
  const char* lockout = "otp_locked_until IS NULL OR otp_locked_until < now()";
  // PostgreSQL: a timestamp without zone is read in --created-time-zone; now() is the
  // transaction's.
  const auto pg = condition(kPg, lockout, "Europe/Paris");
  EXPECT_EQ(pg.text(),
            "(p.\"otp_locked_until\" IS NULL OR (p.\"otp_locked_until\"::timestamp AT TIME ZONE "
            "$1::text) < now() - $2::interval)");
  EXPECT_EQ(std::get<std::string>(pg.values()[1]), "0 milliseconds");
  EXPECT_EQ(condition(kPg, "otp_locked_until > now() - interval '15 minutes'", "").values()[0],
            sql::Value(std::string("900000 milliseconds")));
  EXPECT_EQ(condition(kPg, "otp_locked_until > now() + interval '1h'", "").values()[0],
            sql::Value(std::string("-3600000 milliseconds")));
  // SQLite: the batch's "now" is a slot (one per batch), less the offset in days.
  const auto lite = condition(kSqlite, "otp_locked_until < now() - interval '1 day'", "");
  EXPECT_EQ(lite.text(), "julianday(p.\"otp_locked_until\", 'auto') < (?1 - ?2)");
  EXPECT_EQ(lite.slot_number(sql::kNowSlot), 1);
  EXPECT_DOUBLE_EQ(std::get<double>(lite.values({{sql::kNowSlot, 2.0}})[1]), 1.0);
  // MySQL: UTC on the server's clock.
  EXPECT_EQ(condition(kMysql, "otp_locked_until < now()", "").text(),
            "p.`otp_locked_until` < (utc_timestamp(6) - INTERVAL ? * 1000 MICROSECOND)");
}

TEST(ConditionSqlTest, AnUnknownColumnIsALogicError) {
  sql::Builder b(kPg);
  EXPECT_THROW(sql::append_condition(b, *config::parse_condition("nope = 1"), "p", {}),
               std::logic_error);
}

sql::PredicateSpec expiry_spec() {
  sql::PredicateSpec spec;
  spec.users = "\"users\"";
  spec.email = "\"email\"";
  spec.created = "\"created_at\"";
  spec.min_age = std::chrono::minutes(15);
  spec.expires = "\"expires_at\"";
  spec.expired_for = std::chrono::hours(1);
  return spec;
}

TEST(ConditionSqlTest, TheExpiryColumnIsAPolicyAndMinAgeKeepsItsCreationColumn) {
  auto spec = expiry_spec();
  spec.conditions.push_back(config::parse_condition("is_verified = false"));
  spec.condition_columns = columns(kPg, "");
  sql::Builder b(kPg);
  sql::append_predicate(b, spec, "p", sql::Probe::kAny);
  EXPECT_EQ(
      b.text(),
      "(EXISTS (SELECT 1 FROM \"users\" u WHERE u.\"email\" = p.\"email\") OR p.\"expires_at\" "
      "< now() - $1::interval) AND p.\"created_at\" <= now() - $2::interval AND "
      "(p.\"is_verified\" = $3)");
  EXPECT_EQ(b.build().values()[0], sql::Value(std::string("3600000 milliseconds")));

  // Both expiry rules: either one matches; SQLite reads the batch's clock for both.
  spec.expire_after = std::chrono::hours(24);
  spec.match_email = false;
  spec.conditions.clear();
  sql::Builder lite(kSqlite);
  sql::append_predicate(lite, spec, "p", sql::Probe::kAny);
  EXPECT_EQ(lite.text(),
            "(julianday(p.\"created_at\", 'auto') < ?1 OR julianday(p.\"expires_at\", 'auto') < "
            "(?2 - ?3)) AND julianday(p.\"created_at\", 'auto') <= ?4");
  EXPECT_TRUE(sql::reads_clock(spec));
  EXPECT_TRUE(sql::has_expiry(spec));

  // --expired-for 0: as soon as the expiry passed.
  spec.expire_after = {};
  spec.expired_for = std::chrono::milliseconds(0);
  spec.expires = "`expires_at`";
  sql::Builder my(kMysql);
  sql::append_expired(my, spec, "p");
  EXPECT_EQ(my.text(), "p.`expires_at` < (utc_timestamp(6) - INTERVAL ? * 1000 MICROSECOND)");
  EXPECT_EQ(my.build().values()[0], sql::Value(std::int64_t{0}));
}

}  // namespace
}  // namespace batch_cleanup::store
