// What one cleanup cycle did.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace batch_cleanup {

// A pending row named in a report. The email is already masked unless log_pii was set.
struct RowRef {
  std::string key;
  std::string email;
};

// A pending row that could not be deleted, with the database's reason.
struct RowFailure {
  std::string key;
  std::string email;     // masked unless log_pii
  std::string sqlstate;  // e.g. "23503" (foreign key) or "P0001" (raised by a trigger)
  std::string message;
};

// Where a cycle's time went, summed over its batches (milliseconds of wall-clock time).
struct PhaseTimings {
  double find_ms = 0;     // finding and locking the batch's candidate rows
  double delete_ms = 0;   // the DELETE statements (and the row-by-row isolation of refusals)
  double commit_ms = 0;   // COMMIT
  double archive_ms = 0;  // copying rows to an archive (0 while there is no archive step)
  double wait_ms = 0;     // waiting: for the write lock (SQLite), yielding to other writers,
                          // and backing off before a retried batch
};

// A cycle in flight, as reported after every batch (see
// BatchCleanupService::set_progress_observer).
struct CycleProgress {
  std::string cycle_id;
  double fraction = 0;  // 0..1, the share of the pending table covered so far
  std::int64_t candidates = 0;
  std::int64_t deleted = 0;
  std::int64_t failed = 0;
  std::int64_t skipped = 0;
  std::int64_t batches = 0;
  double elapsed_ms = 0;
};

struct CycleReport {
  std::string cycle_id;  // unique per cycle, also used in logs
  bool dry_run = false;
  std::string backend;   // "postgresql" or "sqlite"
  std::string strategy;  // "physical" (ctid ranges), "key" or "rowid"

  // Rows that matched the predicate when their batch ran (in a dry run: the whole join).
  std::int64_t candidates = 0;
  std::int64_t deleted = 0;
  std::int64_t failed = 0;              // rows a constraint or trigger refused
  std::int64_t skipped = 0;             // rows another session held locked; left for the next cycle
  std::int64_t no_longer_matching = 0;  // matched, then failed the re-check in the DELETE
  std::int64_t batches = 0;
  std::int64_t batch_retries = 0;  // batches re-run after a transient error

  double duration_ms = 0;
  double batch_p50_ms = 0;
  double batch_p99_ms = 0;
  double batch_max_ms = 0;
  double throttle_ms = 0;  // time spent pausing between batches (--sleep, --max-rate)

  std::string started_at;    // ISO-8601 UTC
  std::string finished_at;   // ISO-8601 UTC
  bool interrupted = false;  // a stop request ended the cycle early
  // Another instance held the lock for these tables: this cycle did nothing.
  bool skipped_by_lock = false;
  std::int64_t archived = 0;            // rows written to the archive table (== deleted when on)
  std::int64_t archive_purged = 0;      // archive rows removed by --archive-retention
  std::int64_t replication_pauses = 0;  // waits for a lagging standby (--max-replication-lag)

  PhaseTimings phases;
  // Duration of every batch transaction, in order (the source of the p50/p99 above and of the
  // batch duration histogram). Not part of to_json().
  std::vector<double> batch_durations_ms;

  std::vector<RowRef> sample;  // dry run: a few candidate rows
  std::vector<RowFailure> failures;
  std::vector<std::string> warnings;  // e.g. missing-index advice

  // The JSON object printed by --output json (one line, stable field names).
  std::string to_json() const;
};

}  // namespace batch_cleanup
