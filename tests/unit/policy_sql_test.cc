// The SQL both stores run, pinned per dialect: the builder's placeholders, the deletion predicate
// and its reason, and the statements written once (history, collisions, the archive purge). The
// third dialect, MySQL's (positional ? markers, backtick quoting), proves the shared statements
// take every difference from the dialect. Plus how per-policy counts are tallied.
#include <gtest/gtest.h>

#include <stdexcept>

#include "store/mysql/mysql_dialect.h"
#include "store/postgres/pg_dialect.h"
#include "store/reasons.h"
#include "store/sql/builder.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"
#include "store/sql/predicate.h"
#include "store/sql/table_sql.h"
#include "store/sqlite/sqlite_dialect.h"
#include "store/table_names.h"

namespace batch_cleanup::store {
namespace {

const sql::Dialect& kPg = postgres::pg_dialect();
const sql::Dialect& kSqlite = sqlite::sqlite_dialect();
const sql::Dialect& kMysql = mysql::mysql_dialect();

// Records the statements it is given; answers every query with no rows (tables that do not
// exist yet) and no changes, so the statements a role writes can be read back.
class RecordingExecutor final : public sql::Executor {
 public:
  explicit RecordingExecutor(const sql::Dialect& dialect) : dialect_(dialect) {}
  const sql::Dialect& dialect() const override { return dialect_; }
  sql::Rows run(const sql::Statement& statement, const sql::Slots& slots) override {
    texts.push_back(statement.text());
    values.push_back(statement.values(slots));
    return {};
  }
  std::unique_ptr<sql::Transaction> begin(bool read_only) override {
    if (read_only) throw std::logic_error("no read-only transactions here");
    ++transactions;
    return std::make_unique<NoTransaction>();
  }
  std::vector<std::string> texts;
  std::vector<std::vector<sql::Value>> values;
  int transactions = 0;

 private:
  struct NoTransaction final : sql::Transaction {
    void commit() override {}
  };
  const sql::Dialect& dialect_;
};

sql::PredicateSpec email_only() {
  sql::PredicateSpec spec;
  spec.users = "\"users\"";
  spec.email = "\"email\"";
  return spec;
}

std::string predicate(const sql::Dialect& dialect, const sql::PredicateSpec& spec,
                      sql::Probe probe = sql::Probe::kPerRow) {
  sql::Builder b(dialect);
  sql::append_predicate(b, spec, "p", probe);
  return b.text();
}

std::string reason(const sql::Dialect& dialect, const sql::PredicateSpec& spec) {
  sql::Builder b(dialect);
  sql::append_reason(b, spec, "p", sql::Probe::kPerRow);
  return b.text();
}

TEST(SqlBuilderTest, NumbersPlaceholdersInTheDialectsStyleAndReusesSlots) {
  for (const sql::Dialect* dialect : {&kPg, &kSqlite}) {
    sql::Builder b(*dialect);
    b.sql("SELECT ").value(std::int64_t{7}).sql(", ").slot("lo").sql(", ").value("x");
    b.sql(", ").slot("lo").cast("tid");
    const auto statement = b.build();
    const std::string p = dialect == &kPg ? "$" : "?";
    EXPECT_EQ(statement.text(), "SELECT " + p + "1, " + p + "2, " + p + "3, " + p + "2" +
                                    (dialect == &kPg ? "::tid" : ""));
    EXPECT_EQ(statement.parameter_count(), 3u);
    EXPECT_EQ(statement.slot_number("lo"), 2);
    EXPECT_EQ(statement.slot_number("hi"), 0);
    EXPECT_EQ(statement.slot_positions("lo"), std::vector<int>{2});
    EXPECT_TRUE(statement.slot_positions("hi").empty());
    const auto values = statement.values({{"lo", std::string("(0,1)")}});
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(std::get<std::int64_t>(values[0]), 7);
    EXPECT_EQ(std::get<std::string>(values[1]), "(0,1)");
    EXPECT_EQ(std::get<std::string>(values[2]), "x");
    EXPECT_THROW(statement.values(), std::logic_error);  // a slot without a value
  }
}

TEST(SqlBuilderTest, APositionalDialectBindsASlotOncePerMarker) {
  sql::Builder b(kMysql);
  b.sql("SELECT ").value(std::int64_t{7}).sql(", ").slot("lo").sql(", ").value("x");
  b.sql(", ").slot("lo").cast("tid").sql(", ").slot("hi");
  const auto statement = b.build();
  EXPECT_EQ(statement.text(), "SELECT ?, ?, ?, ?, ?");
  EXPECT_EQ(statement.parameter_count(), 5u);
  EXPECT_TRUE(statement.has_slot("lo"));
  EXPECT_EQ(statement.slot_positions("lo"), (std::vector<int>{2, 4}));
  EXPECT_EQ(statement.slot_number("hi"), 5);
  EXPECT_EQ(statement.slot_number("none"), 0);
  EXPECT_THROW(statement.slot_number("lo"), std::logic_error);  // two parameters: no one number
  // In marker order: the slot's value once per use.
  const auto values = statement.values({{"hi", std::int64_t{9}}, {"lo", std::string("(0,1)")}});
  ASSERT_EQ(values.size(), 5u);
  EXPECT_EQ(std::get<std::int64_t>(values[0]), 7);
  EXPECT_EQ(std::get<std::string>(values[1]), "(0,1)");
  EXPECT_EQ(std::get<std::string>(values[2]), "x");
  EXPECT_EQ(std::get<std::string>(values[3]), "(0,1)");
  EXPECT_EQ(std::get<std::int64_t>(values[4]), 9);
  EXPECT_THROW(statement.values({{"hi", std::int64_t{9}}}), std::logic_error);
}

TEST(SqlBuilderTest, ValuesAsPostgresqlReadsThem) {
  EXPECT_EQ(sql::to_text(sql::Value{}), std::nullopt);
  EXPECT_EQ(sql::to_text(sql::Value{std::int64_t{-5}}), "-5");
  EXPECT_EQ(sql::to_text(sql::Value{12.5}), "12.5");
  EXPECT_EQ(sql::to_text(sql::Value{std::string("a b")}), "a b");
  EXPECT_EQ(postgres::array_literal({"a", "b\"c", "d\\e"}), "{\"a\",\"b\\\"c\",\"d\\\\e\"}");
}

TEST(PolicySqlTest, OnlyTheEmailPolicyIsTheOriginalPredicate) {
  const auto spec = email_only();
  EXPECT_EQ(predicate(kPg, spec),
            "EXISTS (SELECT 1 FROM \"users\" u WHERE u.\"email\" = p.\"email\" OFFSET 0)");
  EXPECT_EQ(predicate(kPg, spec, sql::Probe::kAny),
            "EXISTS (SELECT 1 FROM \"users\" u WHERE u.\"email\" = p.\"email\")");
  EXPECT_EQ(predicate(kSqlite, spec),
            "EXISTS (SELECT 1 FROM \"users\" u WHERE u.\"email\" = p.\"email\")");
  EXPECT_EQ(reason(kPg, spec), "'email exists in users'");
  EXPECT_EQ(reason(kSqlite, spec), "'email exists in users'");
}

TEST(PolicySqlTest, PoliciesAreOredAndProtectionsAndedOnBothDialects) {
  auto spec = email_only();
  spec.normalize = EmailNormalization::kLowerTrim;
  spec.phone = "\"phone\"";
  spec.created = "\"created_at\"";
  spec.expire_after = std::chrono::hours(24 * 7);
  spec.min_age = std::chrono::minutes(15);
  spec.created_zone = "UTC";
  spec.excluded_emails = kPg.list_value({"ceo@x.com"});
  spec.excluded_domains = kPg.list_value({"partner.org"});
  // Without the parentheses, "E OR P OR X AND OLD" would let a young email match through.
  const std::string pg =
      "(EXISTS (SELECT 1 FROM \"users\" u WHERE lower(trim(u.\"email\")) = "
      "lower(trim(p.\"email\")) OFFSET 0) OR (btrim(p.\"phone\"::text) <> '' AND EXISTS (SELECT 1 "
      "FROM \"users\" u WHERE u.\"phone\" = p.\"phone\" OFFSET 0)) OR (p.\"created_at\"::timestamp "
      "AT TIME ZONE $1::text) < now() - $2::interval) AND (p.\"created_at\"::timestamp AT TIME "
      "ZONE $3::text) <= now() - $4::interval AND NOT coalesce(lower(btrim(p.\"email\"::text)) = "
      "ANY ($5::text[]), false) AND NOT coalesce(strpos(lower(btrim(p.\"email\"::text)), '@') > 0 "
      "AND reverse(split_part(reverse(lower(btrim(p.\"email\"::text))), '@', 1)) = ANY "
      "($6::text[]), false)";
  EXPECT_EQ(predicate(kPg, spec), pg);
  spec.created_zone.clear();
  spec.excluded_emails = kSqlite.list_value({"ceo@x.com"});
  spec.excluded_domains = kSqlite.list_value({"partner.org"});
  const std::string lite =
      "(EXISTS (SELECT 1 FROM \"users\" u WHERE lower(trim(u.\"email\")) = "
      "lower(trim(p.\"email\"))) OR (trim(p.\"phone\") <> '' AND EXISTS (SELECT 1 FROM \"users\" "
      "u WHERE u.\"phone\" = p.\"phone\")) OR julianday(p.\"created_at\", 'auto') < ?1) AND "
      "julianday(p.\"created_at\", 'auto') <= ?2 AND NOT coalesce(lower(trim(p.\"email\")) IN "
      "(SELECT value FROM json_each(?3)), 0) AND NOT coalesce(EXISTS (SELECT 1 FROM json_each(?4) "
      "d WHERE substr(lower(trim(p.\"email\")), -length(d.value) - 1) = '@' || d.value), 0)";
  sql::Builder b(kSqlite);
  sql::append_predicate(b, spec, "p", sql::Probe::kPerRow);
  EXPECT_EQ(b.text(), lite);
  // SQLite's cutoffs are slots the batch fills (one "now" per batch); the lists are bound.
  const auto built = b.build();
  EXPECT_EQ(built.slot_number(sql::kExpireCutoffSlot), 1);
  EXPECT_EQ(built.slot_number(sql::kMinAgeCutoffSlot), 2);
  EXPECT_EQ(std::get<std::string>(
                built.values({{sql::kExpireCutoffSlot, 1.0}, {sql::kMinAgeCutoffSlot, 2.0}})[2]),
            "[\"ceo@x.com\"]");

  // The reason tests the policies in order; the last one needs no test (and binds nothing).
  sql::Builder reason_builder(kSqlite);
  sql::append_reason(reason_builder, spec, "OLD", sql::Probe::kAny);
  EXPECT_EQ(reason_builder.parameter_count(), 0u);
  EXPECT_EQ(reason_builder.text(),
            "CASE WHEN EXISTS (SELECT 1 FROM \"users\" u WHERE lower(trim(u.\"email\")) = "
            "lower(trim(OLD.\"email\"))) THEN 'email exists in users' WHEN (trim(OLD.\"phone\") "
            "<> '' AND EXISTS (SELECT 1 FROM \"users\" u WHERE u.\"phone\" = OLD.\"phone\")) THEN "
            "'phone exists in users' ELSE 'expired' END");
  spec.match_email = false;
  spec.phone.clear();
  EXPECT_EQ(reason(kPg, spec), "'expired'");
}

TEST(PolicySqlTest, TheHistoryTableIsWrittenOnceForBothDialects) {
  RunRecord run;
  run.cycle_id = "c1";
  run.started_at = "2026-12-01T10:00:00.000Z";
  run.finished_at = "2026-12-01T10:00:01.000Z";
  run.deleted = 3;
  run.duration_ms = 12.5;
  run.outcome = "success";
  for (const sql::Dialect* dialect : {&kPg, &kSqlite}) {
    RecordingExecutor executor(*dialect);
    sql::SqlHistoryTable table(executor, config::parse_table_name("ops.runs", "history table"));
    table.record_run(run);
    // exists? (no) -> CREATE -> has job? (no) -> ADD COLUMN -> INSERT.
    ASSERT_EQ(executor.texts.size(), 5u);
    const bool pg = dialect == &kPg;
    const std::string create =
        pg ? "CREATE TABLE IF NOT EXISTS \"ops\".\"runs\" (run_id bigint GENERATED ALWAYS AS "
             "IDENTITY PRIMARY KEY, cycle_id text NOT NULL, started_at timestamptz NOT NULL, "
             "finished_at timestamptz NOT NULL, host text NOT NULL, mode text NOT NULL, "
             "candidates bigint NOT NULL, deleted bigint NOT NULL, failed bigint NOT NULL, "
             "skipped bigint NOT NULL, batches bigint NOT NULL, duration_ms double precision NOT "
             "NULL, outcome text NOT NULL, error text, job text)"
           : "CREATE TABLE IF NOT EXISTS \"ops\".\"runs\" (run_id INTEGER PRIMARY KEY, cycle_id "
             "TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, host TEXT NOT "
             "NULL, mode TEXT NOT NULL, candidates INTEGER NOT NULL, deleted INTEGER NOT NULL, "
             "failed INTEGER NOT NULL, skipped INTEGER NOT NULL, batches INTEGER NOT NULL, "
             "duration_ms REAL NOT NULL, outcome TEXT NOT NULL, error TEXT, job TEXT)";
    EXPECT_EQ(executor.texts[1], create);
    EXPECT_EQ(executor.texts[3],
              pg ? "ALTER TABLE \"ops\".\"runs\" ADD COLUMN IF NOT EXISTS job text"
                 : "ALTER TABLE \"ops\".\"runs\" ADD COLUMN job TEXT");
    const std::string p = pg ? "$" : "?";
    const std::string ts = pg ? "::timestamptz" : "";
    EXPECT_EQ(executor.texts[4],
              "INSERT INTO \"ops\".\"runs\" (cycle_id, started_at, finished_at, host, mode, "
              "candidates, deleted, failed, skipped, batches, duration_ms, outcome, error, job) "
              "VALUES (" +
                  p + "1, " + p + "2" + ts + ", " + p + "3" + ts + ", " + p + "4, " + p + "5, " +
                  p + "6, " + p + "7, " + p + "8, " + p + "9, " + p + "10, " + p + "11, " + p +
                  "12, NULLIF(" + p + "13" + (pg ? "::text" : "") + ", ''), " + p + "14)");
    EXPECT_EQ(std::get<std::int64_t>(executor.values[4][6]), 3);
    EXPECT_EQ(std::get<double>(executor.values[4][10]), 12.5);
  }
}

TEST(PolicySqlTest, TheThirdDialectQuotesAndMarksThePredicate) {
  CleanupConfig config;
  config.pending_table = "ops.pending";
  config.users_table = "ops.users";
  config.pending_key = "id";
  config.normalize_email = EmailNormalization::kLowerTrim;
  config.match_phone = true;
  config.expire_after = std::chrono::hours(24 * 7);
  config.min_age = std::chrono::minutes(15);
  const TableNames names(config, kMysql);
  EXPECT_EQ(names.key, "`id`");
  EXPECT_EQ(names.email, "`email`");
  EXPECT_EQ(names.phone, "`phone`");
  EXPECT_EQ(names.created, "`created_at`");
  EXPECT_EQ(kMysql.quote(names.users), "`ops`.`users`");
  EXPECT_EQ(kMysql.quote("a`b"), "`a``b`");
  // The same names through the double-quoting dialects.
  const TableNames by_pg(config, kPg);
  EXPECT_EQ(by_pg.key, "\"id\"");
  EXPECT_EQ(kSqlite.quote(by_pg.pending), "\"ops\".\"pending\"");

  RecordingExecutor executor(kMysql);  // no exemption lists: nothing to read
  const sql::PredicateSpec spec = sql::policy_predicate(
      executor, config,
      sql::PredicateColumns{
          kMysql.quote(names.users), names.email, names.phone, names.created, "", {}, {}, {}});
  EXPECT_TRUE(executor.texts.empty());
  sql::Builder b(kMysql);
  b.sql("DELETE FROM " + kMysql.quote(names.pending) + " WHERE ");
  sql::append_predicate(b, spec, "p", sql::Probe::kPerRow);
  // The expiry cutoff again: a positional statement binds it a second time.
  b.sql(" RETURNING ");
  sql::append_expired(b, spec, "p");
  const auto built = b.build();
  const std::string cutoff = "(utc_timestamp(6) - INTERVAL ? * 1000 MICROSECOND)";
  EXPECT_EQ(built.text(),
            "DELETE FROM `ops`.`pending` WHERE (EXISTS (SELECT 1 FROM `ops`.`users` u WHERE "
            "lower(trim(u.`email`)) = lower(trim(p.`email`)) AND BINARY lower(trim(u.`email`)) = "
            "BINARY lower(trim(p.`email`))) OR (trim(p.`phone`) <> '' AND EXISTS (SELECT 1 FROM "
            "`ops`.`users` u WHERE u.`phone` = p.`phone`)) OR p.`created_at` < " +
                cutoff + ") AND p.`created_at` <= " + cutoff + " RETURNING p.`created_at` < " +
                cutoff);
  const auto values = built.values({});
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(std::get<std::int64_t>(values[0]), 7 * 24 * 3600 * 1000LL);
  EXPECT_EQ(std::get<std::int64_t>(values[1]), 15 * 60 * 1000LL);
  EXPECT_EQ(std::get<std::int64_t>(values[2]), 7 * 24 * 3600 * 1000LL);
}

TEST(PolicySqlTest, TheHistoryTableInTheThirdDialect) {
  RunRecord run;
  run.cycle_id = "c1";
  run.deleted = 3;
  RecordingExecutor executor(kMysql);
  sql::SqlHistoryTable table(executor, config::parse_table_name("ops.runs", "history table"));
  table.record_run(run);
  ASSERT_EQ(executor.texts.size(), 5u);
  EXPECT_EQ(executor.texts[0],
            "SELECT 1 FROM information_schema.tables WHERE table_schema = coalesce(NULLIF(?, ''), "
            "database()) AND table_name = ?");
  EXPECT_EQ(std::get<std::string>(executor.values[0][0]), "ops");
  EXPECT_EQ(std::get<std::string>(executor.values[0][1]), "runs");
  EXPECT_EQ(executor.texts[1],
            "CREATE TABLE IF NOT EXISTS `ops`.`runs` (run_id BIGINT AUTO_INCREMENT PRIMARY KEY, "
            "cycle_id TEXT NOT NULL, started_at DATETIME(3) NOT NULL, finished_at DATETIME(3) NOT "
            "NULL, host TEXT NOT NULL, mode TEXT NOT NULL, candidates BIGINT NOT NULL, deleted "
            "BIGINT NOT NULL, failed BIGINT NOT NULL, skipped BIGINT NOT NULL, batches BIGINT NOT "
            "NULL, duration_ms DOUBLE NOT NULL, outcome TEXT NOT NULL, error TEXT, job TEXT)");
  EXPECT_EQ(executor.texts[3], "ALTER TABLE `ops`.`runs` ADD COLUMN IF NOT EXISTS job TEXT");
  const std::string datetime = "CAST(replace(replace(?, 'T', ' '), 'Z', '') AS DATETIME(3))";
  EXPECT_EQ(executor.texts[4],
            "INSERT INTO `ops`.`runs` (cycle_id, started_at, finished_at, host, mode, candidates, "
            "deleted, failed, skipped, batches, duration_ms, outcome, error, job) VALUES (?, " +
                datetime + ", " + datetime + ", ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?)");
  ASSERT_EQ(executor.values[4].size(), 14u);
  EXPECT_EQ(std::get<std::int64_t>(executor.values[4][6]), 3);
}

TEST(PolicySqlTest, TheArchivePurgeIsTheDialectsBoundedDelete) {
  const auto purge = [](const sql::Dialect& dialect, const std::string& archive) {
    RecordingExecutor executor(dialect);
    // No row changes: one statement, one transaction.
    EXPECT_EQ(sql::purge_archived(executor, archive, std::chrono::hours(1), 500), 0);
    EXPECT_EQ(executor.transactions, 1);
    return executor;
  };
  const auto pg = purge(kPg, kPg.quote(config::QualifiedName{"ops", "archive"}));
  ASSERT_EQ(pg.texts.size(), 1u);
  EXPECT_EQ(pg.texts[0],
            "DELETE FROM \"ops\".\"archive\" WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
            "\"ops\".\"archive\" WHERE archived_at < now() - $1::interval LIMIT $2))");
  EXPECT_EQ(std::get<std::string>(pg.values[0][0]), "3600000 milliseconds");
  EXPECT_EQ(std::get<std::int64_t>(pg.values[0][1]), 500);

  const auto lite = purge(kSqlite, "\"main\".\"archive\"");
  ASSERT_EQ(lite.texts.size(), 1u);
  EXPECT_EQ(lite.texts[0],
            "DELETE FROM \"main\".\"archive\" WHERE rowid IN (SELECT rowid FROM "
            "\"main\".\"archive\" WHERE archived_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1) "
            "LIMIT ?2)");
  EXPECT_EQ(std::get<std::string>(lite.values[0][0]), "-3600.000 seconds");

  // No subquery on the table being deleted from (MySQL refuses LIMIT in one, and a subquery
  // reading the table a DELETE changes).
  const auto third = purge(kMysql, kMysql.quote(config::QualifiedName{"ops", "archive"}));
  ASSERT_EQ(third.texts.size(), 1u);
  EXPECT_EQ(third.texts[0],
            "DELETE FROM `ops`.`archive` WHERE archived_at < utc_timestamp(3) - INTERVAL ? * 1000 "
            "MICROSECOND ORDER BY archived_at LIMIT ?");
  ASSERT_EQ(third.values[0].size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(third.values[0][0]), 3600000);
  EXPECT_EQ(std::get<std::int64_t>(third.values[0][1]), 500);
}

TEST(PolicySqlTest, CollisionsAreCountedByOneStatement) {
  auto spec = email_only();
  spec.normalize = EmailNormalization::kLower;
  RecordingExecutor executor(kSqlite);
  EXPECT_EQ(sql::email_collisions(executor, spec, 5).count, 0);
  ASSERT_EQ(executor.texts.size(), 1u);
  EXPECT_EQ(
      executor.texts[0],
      "SELECT n, count(*) OVER () FROM (SELECT lower(u.\"email\") AS n FROM \"users\" u WHERE "
      "u.\"email\" IS NOT NULL GROUP BY 1 HAVING count(*) > 1) s ORDER BY n LIMIT ?1");
}

TEST(PolicySqlTest, NormalizedEmail) {
  EXPECT_EQ(normalized_email(EmailNormalization::kNone, "u.email"), "u.email");
  EXPECT_EQ(normalized_email(EmailNormalization::kLower, "u.email"), "lower(u.email)");
  EXPECT_EQ(normalized_email(EmailNormalization::kLowerTrim, "u.email"), "lower(trim(u.email))");
}

TEST(PolicySqlTest, SingleReasonOnlyWithOnePolicy) {
  CleanupConfig config;
  EXPECT_EQ(single_reason(config), kEmailReason);
  config.match_phone = true;
  EXPECT_EQ(single_reason(config), "");
  config.match_email = false;
  EXPECT_EQ(single_reason(config), kPhoneReason);
  config.match_phone = false;
  config.expire_after = std::chrono::hours(24);
  EXPECT_EQ(single_reason(config), kExpiredReason);
}

TEST(PolicySqlTest, TallyFromRowsFromASingleReasonOrAlreadyCounted) {
  BatchResult rows;
  rows.deleted = 3;
  rows.deleted_rows = {{"k1", "a"}, {"k2", "b"}, {"k3", "c"}};
  rows.deleted_rows[0].reason = kEmailReason;
  rows.deleted_rows[1].reason = kExpiredReason;
  rows.deleted_rows[2].reason = kExpiredReason;
  tally_policies(rows, "");
  EXPECT_EQ(rows.deleted_by_policy.email, 1);
  EXPECT_EQ(rows.deleted_by_policy.expired, 2);

  BatchResult counted_by_row_count;  // rows not returned: one policy gets them all
  counted_by_row_count.deleted = 5;
  tally_policies(counted_by_row_count, kPhoneReason);
  EXPECT_EQ(counted_by_row_count.deleted_by_policy.phone, 5);

  BatchResult counted_by_store;  // the statement already counted per reason
  counted_by_store.deleted = 4;
  counted_by_store.deleted_by_policy = {3, 0, 1};
  tally_policies(counted_by_store, kEmailReason);
  EXPECT_EQ(counted_by_store.deleted_by_policy.email, 3);
  EXPECT_EQ(counted_by_store.deleted_by_policy.expired, 1);
}

TEST(PolicySqlTest, ExclusionDomainDropsSpacesAndALeadingAt) {
  EXPECT_EQ(exclusion_domain(" @Partner.org "), "Partner.org");
  EXPECT_EQ(exclusion_domain("partner.org"), "partner.org");
  EXPECT_EQ(exclusion_domain(" @ "), "");
  EXPECT_EQ(exclusion_domain("\t@partner.org\r\n"), "partner.org");
  EXPECT_EQ(exclusion_email("\tCEO@Example.com  "), "CEO@Example.com");
}

}  // namespace
}  // namespace batch_cleanup::store
