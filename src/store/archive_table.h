// The archive table: every row a batch deletes, inserted in the same transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "store/batch_types.h"
#include "store/table_names.h"

namespace batch_cleanup::store {

// What the store found about the configured archive table.
struct ArchiveFacts {
  bool exists = false;
  std::string name;               // as configured
  bool is_cleaned_table = false;  // it is the users or the pending table
  // SQLite: the archive must live in the pending table's database; set when it names another
  // (the pending table's database name, for the message).
  std::string required_database;
  // Columns an archive needs (the pending table's, archived_at, cycle_id, reason) it lacks.
  std::vector<std::string> missing_columns;
};

class ArchiveTable {
 public:
  virtual ~ArchiveTable() = default;
  // After Store::inspect().
  virtual ArchiveFacts inspect_archive() = 0;
  // Creates the archive table (the pending table's columns plus archived_at, cycle_id, reason)
  // and its indexes; nothing when it exists.
  virtual void create() = 0;
  // Makes the following batches archive every row they delete, in the same transaction, under
  // `cycle_id`. Call again after a reconnect.
  virtual void begin_cycle(const std::string& cycle_id) = 0;
  // Deletes archive rows archived more than `older_than` ago, in transactions of at most
  // `batch_rows` rows. Returns the number removed. Nothing when the table does not exist.
  virtual std::int64_t purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) = 0;
  // Puts archived rows back into the pending table, in one transaction, and removes them from
  // the archive. A row whose key or email a pending row already has is skipped and reported,
  // never overwritten; so is a row another unique constraint or index refuses, reported with
  // its name, columns and values (RestoreConflict). With `dry_run` nothing is written and
  // `restored` counts what would be restored.
  virtual RestoreResult restore(const RestoreRequest& request, bool dry_run) = 0;
};

// What a server store's archive table works with, held once for every backend: the store's
// session, executor and catalog, the job's configuration and table names, and the cycle the
// batches archive under (begin_cycle() writes it; the batches' statements read it).
template <class Session, class Executor, class Catalog>
class ArchiveTableOn : public ArchiveTable {
 public:
  ArchiveTableOn(Session& session, Executor& executor, const CleanupConfig& config,
                 const TableNames& names, const Catalog& catalog, std::string& cycle)
      : session_(session),
        executor_(executor),
        config_(config),
        names_(names),
        catalog_(catalog),
        cycle_(cycle) {}

 protected:
  Session& session_;
  Executor& executor_;
  const CleanupConfig& config_;
  const TableNames& names_;
  const Catalog& catalog_;
  std::string& cycle_;
};

}  // namespace batch_cleanup::store
