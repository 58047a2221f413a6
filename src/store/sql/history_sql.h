// The history table's DDL and DML, written once over an Executor (both backends).
#pragma once

#include "config/identifier.h"
#include "store/history_table.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::sql {

class SqlHistoryTable final : public HistoryTable {
 public:
  SqlHistoryTable(Executor& executor, config::QualifiedName table)
      : executor_(executor), table_(std::move(table)) {}

  void record_run(const RunRecord& run) override;
  std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) override;

 private:
  bool exists();
  bool has_job_column();
  // Creates the table, or adds the job column to a table of a version before jobs. Another
  // session (another job of this process, another instance) may do the same at the same moment.
  void make_ready();

  Executor& executor_;
  config::QualifiedName table_;
  bool ready_ = false;
};

}  // namespace batch_cleanup::store::sql
