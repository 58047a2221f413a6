// What a MySQL/MariaDB batch's deletes did to the dependent tables (BatchPlan::dependents).
// ROW_COUNT() counts none of the rows a foreign key cascades to or sets to NULL, and no trigger
// fires for them, so they are counted around each DELETE of locked pending rows:
//  1. the rows of each dependent table that reference the pending rows to delete (along the
//     key's path) are locked (a locking read of the path's join) and counted;
//  2. the DELETE runs;
//  3. the same rows are counted again: what a table lost is what the DELETE took (CASCADE) or
//     changed (SET NULL).
// Exact under concurrent writers: the pending rows are this transaction's (FOR UPDATE), so no
// other session can add a row referencing them (InnoDB's check of a new reference locks its
// parent row in share mode); the rows below them are locked by step 1, so none can be deleted
// or pointed elsewhere; and an uncommitted reference made before the pending row was locked
// holds that share lock, so the pending row was skipped (SKIP LOCKED) and is not in the DELETE.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "batch_cleanup/report.h"
#include "store/facts.h"
#include "store/mysql/mysql_batch_sql.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

class MysqlDependentCounts {
 public:
  MysqlDependentCounts(const std::vector<DependentTable>& dependents, MysqlBatchTables tables,
                       StatementLimits limits);

  // Some key deletes or changes rows of another table when a pending row goes.
  bool active() const { return !groups_.empty(); }
  // Locks the rows of the dependent tables that reference the pending rows `keys` (locked by
  // this transaction) and counts them, per table and action. Throws DatabaseError (a lock wait
  // timeout when another session holds one of them).
  std::vector<std::int64_t> lock(MysqlSession& session, std::span<const std::string> keys) const;
  // After the DELETE of `keys`: adds to `counts` what each table lost since lock() (`before`).
  void add_lost(MysqlSession& session, std::span<const std::string> keys,
                const std::vector<std::int64_t>& before, std::vector<DependentCount>& counts) const;

 private:
  struct Group {
    std::string table;      // as reported
    std::string action;     // "cascade", "set null", "set default"
    std::vector<int> keys;  // the edges (indexes in dependents_) into the table with the action
  };
  // The rows of the group's table that reference `keys` through any of its edges.
  std::int64_t count(MysqlSession& session, const Group& group,
                     std::span<const std::string> keys) const;

  std::vector<DependentTable> dependents_;
  MysqlBatchTables tables_;
  StatementLimits limits_;
  std::vector<Group> groups_;
};

}  // namespace batch_cleanup::store::mysql
