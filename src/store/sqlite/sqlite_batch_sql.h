// The statements of SQLite batches, each variant built once by the SQL builder (the connection
// keeps them prepared). Slots: "after" and "upper" (the range's exclusive lower and inclusive
// upper locator, bound as sqlite3_values), "offset" and "limit", "locator" (one row), and the
// creation-time cutoffs of the predicate.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "store/sql/builder.h"
#include "store/sql/predicate.h"
#include "store/sqlite/sqlite_catalog.h"

namespace batch_cleanup::store::sqlite {

// What the batches run against, from the store. Identifiers are quoted.
struct SqliteBatchSetup {
  std::string pending;       // "schema"."table"
  std::string pending_name;  // "table": how a DELETE's RETURNING names the table's columns
  std::string key;
  std::string email;
  std::string locator_column;  // the order batches follow: "rowid" (or its alias) or the key
  bool key_mode = false;       // locator_column is the key, of any storage class
  sql::PredicateSpec predicate;
  std::vector<ColumnInfo> pending_columns;
  std::string single_reason;
  // The foreign keys a delete acts through (BatchPlan::dependents): each batch counts what its
  // deletes did through them.
  std::vector<DependentTable> dependents;
};

// What a deleting statement returns per row, in this order: its locator, its reason, its key
// and email, the whole row as JSON (BLOBs as hex); each level adds to the one before.
enum class SqliteReturning { kLocator, kReason, kKeys, kWholeRows };

class SqliteBatchStatements {
 public:
  explicit SqliteBatchStatements(const SqliteBatchSetup& tables) : tables_(tables) {}

  // Each takes `after` (a cursor is set: locator > after; otherwise locator IS NOT NULL) and,
  // for ranges, `upper` (locator <= upper; otherwise to the end of the table).

  // The locator `offset` rows after the cursor. Rows: locator.
  const sql::Statement& window(bool after);
  // The range's first `limit` matching rows. Rows: locator, key, email, reason.
  const sql::Statement& select(bool after, bool upper);
  // Rowid order: the DELETE of the range's first `limit` matching rows, the predicate inside
  // it. The DELETE names no alias, so RETURNING qualifies the row's columns by the table's name
  // inside the reason's subqueries (SQLite 3.40 rejects an alias there).
  const sql::Statement& first_matches_delete(bool after, bool upper, SqliteReturning returning);
  // Key order: the DELETE of the range's matching rows, predicate re-checked. Rows: key,
  // email[, row json].
  const sql::Statement& range_delete(bool after, bool upper, bool whole_rows);
  // One row by its locator, predicate re-checked. Rows: key, email[, row json].
  const sql::Statement& delete_one(bool whole_rows);

 private:
  void append_range(sql::Builder& b, bool after, bool upper) const;
  std::string whole_row_json() const;

  const SqliteBatchSetup& tables_;
  std::map<int, sql::Statement> built_;  // by variant
};

}  // namespace batch_cleanup::store::sqlite
