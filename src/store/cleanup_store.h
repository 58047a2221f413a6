// The store interface: every database operation the engine needs, by name. SQL lives only in
// the implementations (postgres_store.cc, sqlite_store.cc); tests add an in-memory fake.
//
// Errors: implementations throw ConfigError/GuardError for configuration and schema problems,
// and DatabaseError (with its ErrorKind) for everything the database reports. Nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/history.h"
#include "batch_cleanup/report.h"

namespace batch_cleanup::store {

// A pending row as the store saw it. Emails are raw here; the engine masks them.
struct PendingRow {
  std::string key;
  std::string email;
};

struct RowError {
  PendingRow row;
  std::string sqlstate;
  std::string message;
};

struct PreflightResult {
  std::vector<std::string> warnings;  // advice for the operator (e.g. CREATE INDEX ...)
  std::string strategy;               // the batching strategy the store will use
};

// What one batch transaction did. matched = deleted + skipped + failed + no_longer_matching.
struct BatchResult {
  std::int64_t matched = 0;              // rows in this batch's range matching the predicate
  std::int64_t deleted = 0;              // removed and committed
  std::int64_t skipped = 0;              // held locked by another session: left for next cycle
  std::int64_t no_longer_matching = 0;   // the re-check inside the DELETE no longer matched
  std::vector<RowError> failures;        // refused by a constraint or trigger
  std::vector<PendingRow> deleted_rows;  // for debug logging; at most the batch's rows
  bool exhausted = false;                // the pass has covered the whole table
  double progress = 0;                   // 0..1, the share of the table covered so far
  PhaseTimings timings;                  // time spent in each phase of this batch
};

class CleanupStore {
 public:
  virtual ~CleanupStore() = default;

  // "postgresql" or "sqlite".
  virtual std::string backend_name() const = 0;

  // Opens the connection (closing any previous one) and applies the session settings. Throws
  // DatabaseError(kRetryable) when the server cannot be reached, ConfigError when the
  // configuration is wrong (e.g. a missing SQLite file).
  virtual void connect() = 0;

  // Checks tables, columns, privileges and indexes; chooses the batching strategy. Throws
  // ConfigError for unknown tables or columns and GuardError when a guard refuses to run.
  virtual PreflightResult preflight() = 0;

  // The size of the whole candidate set, by one set-based query (used by dry runs).
  virtual std::int64_t count_candidates() = 0;

  // Up to `limit` candidate rows in key order (used by dry runs).
  virtual std::vector<PendingRow> sample_candidates(std::int64_t limit) = 0;

  // Starts a new pass over the pending table. Batches then cover it front to back.
  virtual void begin_pass() = 0;

  // Runs the next batch, of about `target_rows` matching rows, as one transaction: lock the
  // matching rows not held by others, DELETE them with the predicate re-checked, isolate rows
  // a constraint or trigger refuses (row by row, savepoints), commit. The pass advances only
  // when the batch committed, so after a DatabaseError the same batch can be run again.
  virtual BatchResult run_next_batch(std::int64_t target_rows) = 0;

  // The query plans of the first batch's statements, as the database reports them (EXPLAIN;
  // nothing is executed or written). Call after preflight() and begin_pass().
  virtual std::string explain_batch(std::int64_t target_rows) = 0;
  // Appends `run` to config.history_table, creating the table first when it does not exist
  // (the only DDL a store ever runs). Never called in a dry run. Throws DatabaseError, or
  // ConfigError for an invalid table name.
  virtual void record_run(const RunRecord& run) = 0;

  // The most recent `limit` history records, newest first; empty when the history table does
  // not exist. Works on a read-only (dry-run) connection, without preflight().
  virtual std::vector<RunRecord> recent_runs(std::int64_t limit) = 0;

  // Interrupts the statement in flight, from any thread. The batch fails with a retryable
  // DatabaseError and rolls back.
  virtual void cancel() noexcept = 0;
};

// Creates the store for config.database_url (or DATABASE_URL). Throws ConfigError.
std::unique_ptr<CleanupStore> make_store(const CleanupConfig& config);

}  // namespace batch_cleanup::store
