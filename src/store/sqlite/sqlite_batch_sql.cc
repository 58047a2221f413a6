#include "store/sqlite/sqlite_batch_sql.h"

#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store::sqlite {
namespace {

const sql::Dialect& dialect() { return sqlite_dialect(); }

// The keys of built_.
enum Variant : int {
  kWindow = 0,
  kSelect = 1 << 4,
  kFirstMatches = 2 << 4,
  kRangeDelete = 3 << 4,
  kDeleteOne = 4 << 4,
};
constexpr int kAfter = 1;
constexpr int kUpper = 2;

std::string sql_literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

void SqliteBatchStatements::append_range(sql::Builder& b, bool after, bool upper) const {
  const std::string loc = "p." + tables_.locator_column;
  // Rows with a NULL key are never addressed by key batches.
  if (after) {
    b.sql(loc + " > ").slot("after");
  } else {
    b.sql(loc + " IS NOT NULL");
  }
  if (upper) b.sql(" AND " + loc + " <= ").slot("upper");
  b.sql(" AND ");
  sql::append_predicate(b, tables_.predicate, "p", sql::Probe::kPerRow);
}

// The whole row for the archive file; BLOBs as hex (JSON has no bytes). Unqualified names:
// SQLite 3.40 rejects an alias in RETURNING.
std::string SqliteBatchStatements::whole_row_json() const {
  std::string fields;
  for (const auto& column : tables_.pending_columns) {
    const std::string quoted = sqlite_dialect().quote(column.name);
    fields += (fields.empty() ? "" : ", ") +
              (sql_literal(column.name) + ", CASE typeof(" + quoted + ") WHEN 'blob' THEN hex(" +
               quoted + ") ELSE " + quoted + " END");
  }
  return "json_object(" + fields + ")";
}

const sql::Statement& SqliteBatchStatements::window(bool after) {
  const int variant = kWindow | (after ? kAfter : 0);
  auto found = built_.find(variant);
  if (found != built_.end()) return found->second;
  const std::string loc = "p." + tables_.locator_column;
  sql::Builder b(dialect());
  b.sql("SELECT " + loc + " FROM " + tables_.pending + " p WHERE ");
  if (after) {
    b.sql(loc + " > ").slot("after");
  } else {
    b.sql(loc + " IS NOT NULL");
  }
  b.sql(" ORDER BY " + loc + " LIMIT 1 OFFSET ").slot("offset");
  return built_.emplace(variant, b.build()).first->second;
}

const sql::Statement& SqliteBatchStatements::select(bool after, bool upper) {
  const int variant = kSelect | (after ? kAfter : 0) | (upper ? kUpper : 0);
  auto found = built_.find(variant);
  if (found != built_.end()) return found->second;
  const std::string loc = "p." + tables_.locator_column;
  sql::Builder b(dialect());
  b.sql("SELECT " + loc + ", p." + tables_.key + ", p." + tables_.email + ", ");
  sql::append_reason(b, tables_.predicate, "p", sql::Probe::kPerRow);
  b.sql(" FROM " + tables_.pending + " p WHERE ");
  append_range(b, after, upper);
  b.sql(" ORDER BY " + loc + " LIMIT ").slot("limit");
  return built_.emplace(variant, b.build()).first->second;
}

// Rowid order: the range's first `limit` matching rows, found and deleted by one statement.
// The DELETE names no alias, so RETURNING can qualify the row's columns by the table's name
// inside the reason's subqueries.
const sql::Statement& SqliteBatchStatements::first_matches_delete(bool after, bool upper,
                                                                  SqliteReturning returning) {
  const int variant = kFirstMatches | (after ? kAfter : 0) | (upper ? kUpper : 0) |
                      (static_cast<int>(returning) << 2);
  auto found = built_.find(variant);
  if (found != built_.end()) return found->second;
  sql::Builder b(dialect());
  b.sql("DELETE FROM " + tables_.pending + " WHERE " + tables_.locator_column + " IN (SELECT p." +
        tables_.locator_column + " FROM " + tables_.pending + " p WHERE ");
  append_range(b, after, upper);
  b.sql(" ORDER BY p." + tables_.locator_column + " LIMIT ").slot("limit");
  b.sql(") RETURNING " + tables_.locator_column);
  if (returning != SqliteReturning::kLocator) {
    b.sql(", ");
    sql::append_reason(b, tables_.predicate, tables_.pending_name, sql::Probe::kPerRow);
  }
  if (returning == SqliteReturning::kKeys || returning == SqliteReturning::kWholeRows) {
    b.sql(", " + tables_.key + ", " + tables_.email);
  }
  if (returning == SqliteReturning::kWholeRows) b.sql(", " + whole_row_json());
  return built_.emplace(variant, b.build()).first->second;
}

// Key order: the range (up to the last selected candidate) deleted with the predicate
// re-checked. Rows: key, email[, row json].
const sql::Statement& SqliteBatchStatements::range_delete(bool after, bool upper, bool whole_rows) {
  const int variant =
      kRangeDelete | (after ? kAfter : 0) | (upper ? kUpper : 0) | (whole_rows ? 4 : 0);
  auto found = built_.find(variant);
  if (found != built_.end()) return found->second;
  sql::Builder b(dialect());
  b.sql("DELETE FROM " + tables_.pending + " AS p WHERE ");
  append_range(b, after, upper);
  b.sql(" RETURNING " + tables_.key + ", " + tables_.email);
  if (whole_rows) b.sql(", " + whole_row_json());
  return built_.emplace(variant, b.build()).first->second;
}

// One row by its locator, predicate re-checked. Rows: key, email[, row json].
const sql::Statement& SqliteBatchStatements::delete_one(bool whole_rows) {
  const int variant = kDeleteOne | (whole_rows ? 4 : 0);
  auto found = built_.find(variant);
  if (found != built_.end()) return found->second;
  sql::Builder b(dialect());
  b.sql("DELETE FROM " + tables_.pending + " AS p WHERE p." + tables_.locator_column + " = ")
      .slot("locator")
      .sql(" AND ");
  sql::append_predicate(b, tables_.predicate, "p", sql::Probe::kPerRow);
  b.sql(" RETURNING " + tables_.key + ", " + tables_.email);
  if (whole_rows) b.sql(", " + whole_row_json());
  return built_.emplace(variant, b.build()).first->second;
}

}  // namespace batch_cleanup::store::sqlite
