// The dependent tables (issue 22) below the database: the chains of foreign keys the dry run's
// statements follow, pinned per dialect, and how the engine words each key and decides from the
// facts (notes, warnings, foreign keys off).
#include <gtest/gtest.h>

#include "engine/preflight_dependents.h"
#include "store/postgres/pg_dialect.h"
#include "store/sql/builder.h"
#include "store/sql/dependents_sql.h"
#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store {
namespace {

DependentTable edge(const std::string& name, std::vector<std::string> columns, std::string parent,
                    std::vector<std::string> parent_columns, OnDelete action, int via, int depth,
                    bool indexed = true) {
  DependentTable out;
  out.schema = "public";
  out.name = name;
  out.table = "public." + name;
  out.columns = std::move(columns);
  out.parent_table = std::move(parent);
  out.parent_columns = std::move(parent_columns);
  out.action = action;
  out.via = via;
  out.depth = depth;
  out.indexed = indexed;
  return out;
}

// pending <- otp (CASCADE) <- attempts (CASCADE, two columns); pending <- holds (RESTRICT).
std::vector<DependentTable> schema() {
  return {
      edge("otp", {"pending_user_id"}, "public.pending", {"pending_user_id"}, OnDelete::kCascade,
           -1, 1),
      edge("holds", {"pending_user_id"}, "public.pending", {"pending_user_id"}, OnDelete::kRestrict,
           -1, 1),
      edge("attempts", {"otp_id", "otp_kind"}, "public.otp", {"otp_id", "kind"}, OnDelete::kCascade,
           0, 2, /*indexed=*/false),
  };
}

TEST(DependentsSql, PathRunsFromThePendingTableDown) {
  const auto dependents = schema();
  const auto path = sql::dependent_path(dependents, 2);
  ASSERT_EQ(path.size(), 2U);
  EXPECT_EQ(path[0]->name, "otp");
  EXPECT_EQ(path[1]->name, "attempts");
  EXPECT_EQ(sql::dependent_path(dependents, 1).size(), 1U);
}

TEST(DependentsSql, HasDependentChainsEveryKeyColumn) {
  const auto dependents = schema();
  sql::Builder b(postgres::pg_dialect());
  sql::append_has_dependent(b, dependents, 2, "p");
  EXPECT_EQ(b.text(),
            "EXISTS (SELECT 1 FROM \"public\".\"otp\" d1 WHERE d1.\"pending_user_id\" = "
            "p.\"pending_user_id\" AND EXISTS (SELECT 1 FROM \"public\".\"attempts\" d2 WHERE "
            "d2.\"otp_id\" = d1.\"otp_id\" AND d2.\"otp_kind\" = d1.\"kind\"))");
}

TEST(DependentsSql, CountRowsClimbsToThePendingRowsTheConditionSelects) {
  const auto dependents = schema();
  sql::Builder b(sqlite::sqlite_dialect());
  sql::append_count_dependent_rows(b, dependents, 2, "\"main\".\"pending\"",
                                   [](sql::Builder& c) { c.sql("p.x = ").value(std::int64_t{1}); });
  EXPECT_EQ(b.text(),
            "SELECT count(*) FROM \"public\".\"attempts\" d2 WHERE EXISTS (SELECT 1 FROM "
            "\"public\".\"otp\" d1 WHERE d2.\"otp_id\" = d1.\"otp_id\" AND d2.\"otp_kind\" = "
            "d1.\"kind\" AND EXISTS (SELECT 1 FROM \"main\".\"pending\" p WHERE "
            "d1.\"pending_user_id\" = p.\"pending_user_id\" AND (p.x = ?1)))");
  EXPECT_EQ(b.parameter_count(), 1U);
}

TEST(DependentsSql, JoinAlongThePathReachesThePendingRow) {
  const auto dependents = schema();
  sql::Builder b(sqlite::sqlite_dialect());
  b.sql("SELECT count(*)");
  sql::append_dependent_join(b, dependents, 2, "\"main\".\"pending\"");
  EXPECT_EQ(b.text(),
            "SELECT count(*) FROM \"public\".\"attempts\" d2 JOIN \"public\".\"otp\" d1 ON "
            "d2.\"otp_id\" = d1.\"otp_id\" AND d2.\"otp_kind\" = d1.\"kind\" JOIN "
            "\"main\".\"pending\" p ON d1.\"pending_user_id\" = p.\"pending_user_id\"");
  // A row named by the caller ("dt") climbs the same path.
  sql::Builder e(sqlite::sqlite_dialect());
  sql::append_reaches_pending(e, dependents, 2, "dt", "\"main\".\"pending\"",
                              [](sql::Builder& c) { c.sql("p.x = 1"); });
  EXPECT_EQ(e.text(),
            "EXISTS (SELECT 1 FROM \"public\".\"otp\" d1 WHERE dt.\"otp_id\" = d1.\"otp_id\" AND "
            "dt.\"otp_kind\" = d1.\"kind\" AND EXISTS (SELECT 1 FROM \"main\".\"pending\" p "
            "WHERE d1.\"pending_user_id\" = p.\"pending_user_id\" AND (p.x = 1)))");
}

TEST(DependentsEngine, WarnsOfACascadeDeeperThanTheDatabaseGoes) {
  PreflightFacts facts;
  facts.pending.name = "pending";
  facts.capabilities.product = "MariaDB";
  facts.cascade_depth_limit = 2;
  facts.dependents = schema();  // attempts lie 2 keys below pending
  std::vector<std::string> notes;
  std::vector<std::string> warnings;
  engine::decide_dependents(facts, notes, warnings);
  ASSERT_EQ(warnings.size(), 2U);
  EXPECT_EQ(warnings[1],
            "foreign key public.attempts(otp_id, otp_kind) -> public.otp(otp_id, kind) ON DELETE "
            "CASCADE lies 2 keys below pending: MariaDB refuses a delete whose cascade reaches "
            "that deep (at most 1 levels), so a pending row with rows down there is refused and "
            "kept");
}

TEST(DependentsEngine, WordsEachKeyAndWarnsOfAMissingIndex) {
  PreflightFacts facts;
  facts.pending.name = "public.pending";
  facts.dependents = schema();
  std::vector<std::string> notes;
  std::vector<std::string> warnings;
  const auto acting = engine::decide_dependents(facts, notes, warnings);
  EXPECT_EQ(acting.size(), 3U);
  ASSERT_EQ(notes.size(), 3U);
  EXPECT_EQ(notes[0],
            "foreign key public.otp(pending_user_id) -> public.pending(pending_user_id) ON DELETE "
            "CASCADE: deleting a public.pending row deletes the public.otp rows that reference it");
  EXPECT_EQ(notes[1],
            "foreign key public.holds(pending_user_id) -> public.pending(pending_user_id) ON "
            "DELETE RESTRICT: a public.pending row that public.holds rows reference cannot be "
            "deleted: its delete is refused and the row kept");
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_EQ(warnings[0],
            "no index on public.attempts(otp_id, otp_kind), the foreign key to public.otp: every "
            "delete of a public.otp row scans public.attempts to find the referencing rows. "
            "HINT: CREATE INDEX ON public.attempts (otp_id, otp_kind)");
}

TEST(DependentsEngine, ForeignKeysOffActOnNothingAndSaySo) {
  PreflightFacts facts;
  facts.pending.name = "pending";
  facts.dependents = schema();
  facts.foreign_keys_enforced = false;
  std::vector<std::string> notes;
  std::vector<std::string> warnings;
  EXPECT_TRUE(engine::decide_dependents(facts, notes, warnings).empty());
  EXPECT_TRUE(notes.empty());
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("this connection does not enforce foreign keys (PRAGMA foreign_keys "
                             "is off): deleting a row neither cascades, nor sets NULL or "
                             "DEFAULT, nor is refused"),
            std::string::npos)
      << warnings[0];
  // Only the keys on the pending table itself are listed.
  EXPECT_EQ(warnings[0].find("attempts"), std::string::npos) << warnings[0];
}

TEST(DependentsEngine, ReportLinesPerAction) {
  const auto dependents = schema();
  DependentCounts counts;
  counts.rows = {14, 2, 28};
  counts.refused = {0, 2, 0};
  const auto rows = engine::dependent_rows(dependents, counts);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[1].action, "restrict");
  EXPECT_EQ(rows[1].refused, 2);
  EXPECT_EQ(engine::describe_dependent_rows(rows[0]),
            "public.otp(pending_user_id) -> public.pending ON DELETE CASCADE: 14 row(s) would be "
            "deleted with them");
  EXPECT_EQ(engine::describe_dependent_rows(rows[1]),
            "public.holds(pending_user_id) -> public.pending ON DELETE RESTRICT: 2 row(s) "
            "reference candidates; the delete of 2 candidate(s) would be refused and they kept");
  auto set_null = rows[0];
  set_null.action = "set null";
  EXPECT_EQ(engine::describe_dependent_rows(set_null),
            "public.otp(pending_user_id) -> public.pending ON DELETE SET NULL: 14 row(s) would "
            "have pending_user_id set to NULL");
  EXPECT_TRUE(engine::refuses_delete(dependents[1]));
  EXPECT_FALSE(engine::refuses_delete(dependents[0]));
}

}  // namespace
}  // namespace batch_cleanup::store
