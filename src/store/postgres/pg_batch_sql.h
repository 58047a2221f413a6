// The statements of PostgreSQL batches, built once per plan, archive state and row detail.
#pragma once

#include <string>
#include <vector>

#include "store/facts.h"
#include "store/postgres/pg_catalog.h"
#include "store/sql/builder.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::postgres {

// What the statements name. Identifiers are quoted.
struct PgBatchTables {
  std::string pending;
  std::string key;
  std::string email;
  std::string key_type;
  sql::PredicateSpec predicate;
  std::string archive;  // the archive table; empty: no archive
  std::vector<PendingColumn> pending_columns;
};

// Slots: "lo"/"hi" (tid text) of a range; "after", "upto" (key text) and "limit" of a keyset batch;
// "locators" (an array literal of ctids or keys) and "locator" of the careful path; "cycle" (the
// archive's cycle id) wherever the archive is on.
struct PgBatchStatements {
  // Physical ranges. The fast path: one DELETE of the range's matching rows.
  sql::Statement fast_delete;            // rows: none (its row count)
  sql::Statement fast_delete_counting;   // rows: reason, count
  sql::Statement fast_delete_returning;  // rows: key, email, reason[, row json]
  // The careful path: lock the range's free matching rows. Rows: a summary row (NULL locator,
  // NULL, NULL, matched count), then locator, key, email per locked row.
  sql::Statement lock_range;
  // Keyset batches. Rows: a summary row (NULL, the batch's last key, NULL, matched count), then
  // locator (the key), key, email per locked row.
  sql::Statement lock_first;
  sql::Statement lock_after;
  // The same within a worker's slice of keys: up to the slot "upto" (included).
  sql::Statement lock_first_upto;
  sql::Statement lock_after_upto;
  // Both: delete locked rows, predicate re-checked. Rows: locator, reason[, row json].
  sql::Statement delete_locked;
  sql::Statement delete_one;
};

PgBatchStatements build_batch_statements(const PgBatchTables& tables, const BatchPlan& plan,
                                         bool whole_rows);

}  // namespace batch_cleanup::store::postgres
