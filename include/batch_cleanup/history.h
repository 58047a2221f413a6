// Run history: one record per non-dry cleanup cycle, kept in the database (the history table,
// default batch_cleanup_runs) and, for the last cycles of a service, in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"

namespace batch_cleanup {

// How a cycle ended.
//   "success": every matching row was deleted or left for later (locked, no longer matching);
//   "partial": the cycle finished but some rows were refused (a constraint or trigger);
//   "interrupted": a stop request ended it between batches;
//   "failed": an error ended it (error holds the message; the counts are what it had committed);
//   "dry_run": a dry run (never written to the history table).
struct RunRecord {
  std::string job = "default";  // CleanupConfig::job_name of the job that ran the cycle
  std::string cycle_id;
  std::string started_at;   // ISO-8601 UTC
  std::string finished_at;  // ISO-8601 UTC
  std::string host;         // the host name of the process that ran the cycle
  std::string mode;         // "once" (run_once) or "daemon" (the background thread)
  std::int64_t candidates = 0;
  std::int64_t deleted = 0;
  std::int64_t failed = 0;
  std::int64_t skipped = 0;
  std::int64_t batches = 0;
  double duration_ms = 0;
  std::string outcome;
  std::string error;  // empty unless outcome is "failed"

  // One JSON object (one line) with the fields above.
  std::string to_json() const;
};

// The outcome of a cycle: "failed" (report.error set), "dry_run", "interrupted", "partial" or
// "success".
std::string cycle_outcome(const CycleReport& report);

// A record for a finished cycle.
RunRecord make_run_record(const CycleReport& report, const std::string& mode);

// This machine's host name ("unknown" when it cannot be read).
std::string host_name();

// Reads the most recent `limit` records (newest first) from config.history_table, over a
// read-only connection; with `job` non-empty, only that job's (rows written before the table had
// a job column count as job "default"). Returns an empty list when the table does not exist yet.
// Throws ConfigError (bad URL or table name), ConnectionError (unreachable), DatabaseError.
std::vector<RunRecord> read_run_history(const CleanupConfig& config, std::int64_t limit,
                                        const std::string& job = "");

}  // namespace batch_cleanup
