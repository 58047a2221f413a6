// The statements of PostgreSQL batches, built once per plan, archive state and row detail.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "store/facts.h"
#include "store/postgres/pg_catalog.h"
#include "store/sql/builder.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::postgres {

// What the statements name. Identifiers are quoted.
// A table whose rows a cascade from the pending table deletes, archived by the batch's
// statement into its own archive table (names quoted).
struct PgCascadedArchive {
  std::string table;
  std::string archive;
  std::vector<std::string> columns;
  std::vector<std::string> fk_columns;
  std::vector<std::string> parent_columns;
  int parent = -1;  // index in PgBatchTables::cascaded of the parent; -1: the pending table
};

struct PgBatchTables {
  std::string pending;
  std::string key;
  std::string email;
  std::string key_type;
  sql::PredicateSpec predicate;
  std::string archive;  // the archive table; empty: no archive
  std::vector<PendingColumn> pending_columns;
  // Key batches walk this unique column's order (the key, or the email: BatchPlan's
  // keyset_by_email), cast as keyset_type.
  std::string keyset;
  std::string keyset_type;
  std::vector<PgCascadedArchive> cascaded;  // with the archive: parents before children
};

// A keyset window: after the pass's last keyset value (or from the start), up to the end of a
// worker's slice (or to the end of the table).
struct KeysetWindow {
  bool after = false;
  bool upto = false;
  std::size_t index() const { return (after ? 1U : 0U) + (upto ? 2U : 0U); }
};

// Slots: "lo"/"hi" (tid text) of a range; "after", "upto" (keyset text) and "limit" of a keyset
// batch; "locators" (an array literal of ctids or keyset values) and "locator" of the careful
// path; "cycle" (the archive's cycle id) wherever the archive is on.
struct PgBatchStatements {
  // Physical ranges. The fast path: one DELETE of the range's matching rows.
  sql::Statement fast_delete;            // rows: none (its row count)
  sql::Statement fast_delete_counting;   // rows: reason, count
  sql::Statement fast_delete_returning;  // rows: key, email, reason[, row json]
  // The careful path: lock the range's free matching rows. Rows: a summary row (NULL locator,
  // NULL, NULL, matched count), then locator, key, email per locked row.
  sql::Statement lock_range;
  // Keyset batches, one statement per KeysetWindow::index(). The fast path: one statement that
  // picks the window's first "limit" matching rows and deletes them, predicate re-checked. Rows:
  // a summary row (NULL, the window's last keyset value, its matched count), then reason and
  // deleted count per reason.
  std::array<sql::Statement, 4> fast_window;
  // The careful path: lock the window's free matching rows. Rows: a summary row (NULL, the
  // window's last keyset value, NULL, matched count), then locator (the keyset value), key,
  // email per locked row.
  std::array<sql::Statement, 4> lock_window;
  // Email ranges (also per KeysetWindow::index(), "upto" being the range's end). The range's
  // end: the email "span" entries past "after" (rows: one, or none when the rest is shorter).
  std::array<sql::Statement, 4> range_end;
  // The range's DELETE, the users side bounded by the same range. Rows: reason, count.
  std::array<sql::Statement, 4> range_delete;
  // Both: delete locked rows, predicate re-checked. Rows: locator, reason[, row json].
  sql::Statement delete_locked;
  sql::Statement delete_one;
};

PgBatchStatements build_batch_statements(const PgBatchTables& tables, const BatchPlan& plan,
                                         bool whole_rows);

}  // namespace batch_cleanup::store::postgres
