// The values that cross the boundary between the engine and a store's batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "batch_cleanup/report.h"

namespace batch_cleanup::store {

// A pending row as the store saw it. Emails are raw here; the engine masks them.
struct PendingRow {
  PendingRow() = default;
  PendingRow(std::string key_text, std::string email_text, std::string json = {})
      : key(std::move(key_text)), email(std::move(email_text)), row_json(std::move(json)) {}

  std::string key;
  std::string email;
  std::string row_json;  // the whole row as a JSON object; only with RowDetail::kWholeRows
  std::string reason;    // one of the k*Reason texts (store/reasons.h), when the store returned it
};

struct RowError {
  PendingRow row;
  std::string sqlstate;
  std::string message;
};

// What a batch must tell about the rows it deleted.
enum class RowDetail {
  kCounts,     // how many, per policy: nothing per row needs to cross the network
  kKeys,       // also each row's key, email and reason (the debug log lists them)
  kWholeRows,  // also each whole row as JSON (the archive file)
};

// What the engine asks of one batch.
struct BatchRequest {
  std::int64_t target_rows = 1;  // about this many matching rows (at least 1)
  RowDetail detail = RowDetail::kCounts;
  // Note where the commit ends in the write-ahead log (for replication_lag()).
  bool track_commit_lsn = false;
  // The most rows the batch may delete (what --max-deletes leaves the batch); 0: no limit but
  // the store's own bound of 4 x target_rows.
  std::int64_t max_rows = 0;
};

// A part of a pass, for one of the workers of a cycle (BatchStore::plan_slices). The bounds
// are the store's own (page numbers, or key values), opaque to the engine.
struct PassSlice {
  int index = 0;      // 0 .. count - 1
  int count = 1;      // 1: the whole table
  std::string lower;  // empty: from the start of the table
  std::string upper;  // empty: to its end (and whatever is appended while the pass runs)
  bool whole() const { return count == 1; }
};

// Something a batch had to do besides the plain path, for the engine to log.
struct BatchEvent {
  enum class Kind {
    kRangeHeldOrRefused,     // the fast range DELETE met a locked or refused row: careful path
    kBatchRefused,           // a constraint or trigger refused the batch: retried row by row
    kTransactionRolledBack,  // a trigger rolled the whole transaction back: rows isolated
    kCommitRefused,          // a deferred constraint refused COMMIT: rows isolated
  };
  Kind kind;
  std::int64_t rows = 0;  // the rows of the batch (or range) concerned
  std::string sqlstate;
  std::string message;
};

// What one batch transaction did. matched = deleted + skipped + failed + no_longer_matching.
struct BatchResult {
  std::int64_t matched = 0;              // rows in this batch's range matching the predicate
  std::int64_t deleted = 0;              // removed and committed
  std::int64_t skipped = 0;              // held locked by another session: left for next cycle
  std::int64_t no_longer_matching = 0;   // the re-check inside the DELETE no longer matched
  std::vector<RowError> failures;        // refused by a constraint or trigger
  std::vector<PendingRow> deleted_rows;  // with RowDetail kKeys or kWholeRows
  PolicyCounts deleted_by_policy;        // `deleted`, split by policy
  bool exhausted = false;                // the pass has covered the whole table
  double progress = 0;                   // 0..1, the share of the table covered so far
  PhaseTimings timings;                  // time spent in each phase of this batch
  std::vector<BatchEvent> events;
  // Per dependent table (BatchPlan::dependents) and action: the rows this batch's deletes took
  // with them (cascade) or changed (set null, set default). Empty when nothing was counted.
  std::vector<DependentCount> dependent_rows;
};

// How far the standbys are behind the pass's last commit (or, before it, the current WAL).
struct ReplicationLag {
  std::int64_t bytes = 0;             // WAL up to that point not yet replayed, by the farthest
  std::chrono::milliseconds time{0};  // how long the farthest has been missing it
  int standbys = 0;                   // streaming standbys seen
  // A Galera node (MariaDB wsrep): how long flow control held replication since the previous
  // reading (wsrep_flow_control_paused_ns; the cluster waits for its slowest node), the write
  // sets this node has received but not applied yet (wsrep_local_recv_queue), and the queue at
  // which a node asks the cluster to pause (gcs.fc_limit; 0: unknown).
  bool galera = false;
  std::chrono::milliseconds flow_control_paused{0};
  std::int64_t recv_queue = 0;
  std::int64_t recv_queue_limit = 0;
};

// What became of a batch whose commit was in doubt (the connection died during COMMIT).
struct InDoubtOutcome {
  enum class State {
    kNone,        // no batch is in doubt
    kCommitted,   // it committed: `result` is its result, and the pass has moved past it
    kRolledBack,  // it did not: run it again
    kUnknown,     // the database cannot tell (any more): its rows may or may not be gone
  };
  State state = State::kNone;
  BatchResult result;
};

// Which archived rows `restore` puts back. Empty fields do not filter.
struct RestoreRequest {
  std::string cycle_id;  // rows archived by this cycle
  std::string since;     // rows archived at or after this ISO-8601 time (UTC when no zone)
};

// A unique constraint or unique index of the pending table, as `restore` checks it: plain
// columns only (a partial or expression index still refuses rows, unnamed).
struct UniqueIndex {
  std::string name;                  // the constraint's name, or the index's
  std::vector<std::string> columns;  // its key columns, in index order, as the catalog names them
};

// An archived row that was not put back: a pending row already has its key, its email, or the
// values of another unique constraint or index. One per row and constraint it conflicts on.
struct RestoreConflict {
  PendingRow row;
  // "key exists in the pending table", "email exists in the pending table", "<columns> exist in
  // the pending table", or kUnnamedRestoreConflict.
  std::string reason;
  std::string constraint;            // the unique constraint or index; "" when none is known
  std::vector<std::string> columns;  // its columns (the key or email column for those rules)
  std::vector<std::string> values;   // the row's values of `columns`, as text, unmasked
};

// The reason of a skipped row that no unique constraint the restore can check explains (a
// partial or expression unique index refused it).
inline constexpr const char* kUnnamedRestoreConflict =
    "refused by a unique index restore cannot name (partial or on an expression)";

// What `restore` did for one table whose rows a cascade from the pending table deleted (their
// archive table's rows), after the pending rows.
struct DependentRestore {
  std::string table;  // the dependent table, as the catalog names it
  std::int64_t selected = 0;
  std::int64_t restored = 0;
  std::int64_t skipped = 0;                // a unique conflict, or a parent row that is not there
  std::vector<RestoreConflict> conflicts;  // row.key: the row's first unique index's values
};

struct RestoreResult {
  std::int64_t selected = 0;  // archive rows the request matched
  std::int64_t restored = 0;  // inserted into the pending table and removed from the archive
  std::int64_t skipped = 0;   // selected - restored: conflicts (never overwritten)
  std::vector<RestoreConflict> conflicts;    // why rows were skipped, at most kMaxListedConflicts
  std::vector<DependentRestore> dependents;  // parents before their children
};

// The reason of a dependent row whose parent row was not restored (still archived, or not in
// its table): it is never attached to another row that took its parent's key.
inline constexpr const char* kParentMissing = "its parent row was not restored";

// Conflicts a restore lists (all are counted).
inline constexpr int kMaxListedConflicts = 1000;

}  // namespace batch_cleanup::store
