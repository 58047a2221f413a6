// What `restore` selects and which rows conflict, written once; the insertion itself is each
// backend's (one statement on PostgreSQL, a row at a time under SQLite's write lock).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/batch_types.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::sql {

// The tables of a restore, quoted.
struct RestoreTables {
  std::string archive;
  std::string pending;
  std::string key;
  std::string email;
};

// The archive rows `request` selects, over the archive row `a`.
void append_restore_filter(Builder& b, const RestoreRequest& request);
// True when a pending row already has the key (or the email) of the archive row `row`.
void append_key_conflict(Builder& b, const RestoreTables& tables, const std::string& row);
void append_email_conflict(Builder& b, const RestoreTables& tables, const std::string& row);

// Restores in one transaction: counts the selection, lists the conflicts, then either counts
// what would be restored (`dry_run`) or calls `insert`, which puts the rows back and returns
// how many it restored.
RestoreResult restore_archived(Executor& executor, const RestoreTables& tables,
                               const RestoreRequest& request, bool dry_run,
                               const std::function<std::int64_t()>& insert);

}  // namespace batch_cleanup::store::sql
