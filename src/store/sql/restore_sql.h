// What `restore` selects and which rows conflict, written once; the insertion itself is each
// backend's (one statement on PostgreSQL, a row at a time under SQLite's write lock).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/batch_types.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::sql {

// The tables of a restore: `archive`, `pending`, `key` and `email` quoted; `key_column` and
// `email_column` as the catalog names them, to recognise their unique indexes.
struct RestoreTables {
  std::string archive;
  std::string pending;
  std::string key;
  std::string email;
  std::string key_column;
  std::string email_column;
  // The pending table's unique constraints and indexes (the store's catalog).
  std::vector<UniqueIndex> unique_indexes;
  // Whether column names compare without case (SQLite).
  bool columns_nocase = false;
};

// A table whose rows a cascade from the pending table deleted, and its archive table, as a
// restore puts them back (after their parent table's rows).
struct CascadedTable {
  std::string name;                         // as the catalog names it, for the report
  std::string table;                        // quoted, schema-qualified
  std::string archive;                      // quoted
  std::vector<std::string> columns;         // the columns to insert (generated ones left out)
  std::vector<std::string> fk_columns;      // the referencing columns
  std::string parent;                       // quoted: the table they reference
  std::string parent_archive;               // quoted: its archive table
  std::vector<std::string> parent_columns;  // the referenced columns, in the same order
  std::vector<UniqueIndex> unique_indexes;  // of `table`
};

// The archive rows `request` selects, over the archive row `a`.
void append_restore_filter(Builder& b, const RestoreRequest& request);
// True when a pending row already has the key (or the email) of the archive row `row`.
void append_key_conflict(Builder& b, const RestoreTables& tables, const std::string& row);
void append_email_conflict(Builder& b, const RestoreTables& tables, const std::string& row);

// Restores in one transaction: counts the selection, then either counts what would be restored
// and lists the conflicts (`dry_run`), or calls `insert`, which puts the rows back, removes
// them from the archive and returns how many it restored, and lists why each selected row left
// in the archive was skipped. A conflict names the key or email rule, or the unique constraint
// or index whose values a pending row already has.
// Then, in the same transaction, the rows of each `cascaded` table (parents before children):
// those whose parent row is there and whose unique values no row has are inserted and removed
// from their archive; the others stay, reported.
RestoreResult restore_archived(Executor& executor, const RestoreTables& tables,
                               const RestoreRequest& request, bool dry_run,
                               const std::function<std::int64_t()>& insert,
                               const std::vector<CascadedTable>& cascaded = {});

}  // namespace batch_cleanup::store::sql
