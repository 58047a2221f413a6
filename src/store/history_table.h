// The run history table: one row per non-dry cycle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "batch_cleanup/history.h"

namespace batch_cleanup::store {

class HistoryTable {
 public:
  virtual ~HistoryTable() = default;
  // Appends `run`, creating the table first when it does not exist, or adding its `job` column
  // when a table of an older version lacks it. Throws DatabaseError.
  virtual void record_run(const RunRecord& run) = 0;
  // The most recent `limit` records, newest first, of job `job` (empty: of every job; a row
  // without a job is job "default"); empty when the table does not exist. Works on a
  // read-only connection, without inspecting the cleaned tables.
  virtual std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) = 0;
};

}  // namespace batch_cleanup::store
