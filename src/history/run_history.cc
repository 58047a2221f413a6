// RunRecord helpers and reading the history table (the writing is the engine's, through the
// store's history table; the JSON is in engine/report_json.cc).
#include <unistd.h>

#include <climits>

#include "batch_cleanup/errors.h"
#include "batch_cleanup/history.h"
#include "store/store.h"

namespace batch_cleanup {

std::string cycle_outcome(const CycleReport& report) {
  if (!report.error.empty()) return "failed";
  if (report.dry_run) return "dry_run";
  if (report.interrupted) return "interrupted";
  if (report.failed > 0) return "partial";
  return "success";
}

std::string host_name() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "unknown";
  return buffer;
}

RunRecord make_run_record(const CycleReport& report, const std::string& mode) {
  RunRecord run;
  run.cycle_id = report.cycle_id;
  run.started_at = report.started_at;
  run.finished_at = report.finished_at;
  run.host = host_name();
  run.mode = mode;
  run.candidates = report.candidates;
  run.deleted = report.deleted;
  run.failed = report.failed;
  run.skipped = report.skipped;
  run.batches = report.batches;
  run.duration_ms = report.duration_ms;
  run.outcome = cycle_outcome(report);
  run.error = report.error;
  return run;
}

std::vector<RunRecord> read_run_history(const CleanupConfig& config, std::int64_t limit,
                                        const std::string& job) {
  CleanupConfig read_only = config;
  read_only.dry_run = true;  // a read-only session: reading the history never writes
  validate_config(read_only);
  auto store = store::make_store(read_only);
  try {
    store->connect();
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) {
      throw ConnectionError(std::string("database unreachable: ") + e.what());
    }
    throw;
  }
  return store->history().recent_runs(limit, job);
}

}  // namespace batch_cleanup
