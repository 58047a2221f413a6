// The store interface: every database operation the engine needs, by name. SQL lives only in
// the implementations (postgres_store.cc, sqlite_store.cc); tests add an in-memory fake.
//
// Errors: implementations throw ConfigError/GuardError for configuration and schema problems,
// and DatabaseError (with its ErrorKind) for everything the database reports. Nothing else.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/history.h"
#include "batch_cleanup/report.h"

namespace batch_cleanup::store {

// A pending row as the store saw it. Emails are raw here; the engine masks them.
struct PendingRow {
  PendingRow() = default;
  PendingRow(std::string key_text, std::string email_text, std::string json = {})
      : key(std::move(key_text)), email(std::move(email_text)), row_json(std::move(json)) {}

  std::string key;
  std::string email;
  std::string row_json;  // the whole row as a JSON object; only with config.archive_file
  std::string reason;    // one of the k*Reason texts below, when the store returned it
};

// Sees every transaction that deletes rows, around its COMMIT (the archive file).
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Inside the transaction, right before COMMIT, with every row it deleted (row_json set).
  // Throwing DatabaseError aborts the transaction: nothing is deleted.
  virtual void before_commit(const std::vector<PendingRow>& rows) = 0;
  // After before_commit, once the outcome is known: true when COMMIT succeeded, false when the
  // transaction rolled back. Not called when the outcome is in doubt (connection lost during
  // COMMIT) or the process died.
  virtual void after_commit(bool committed) noexcept = 0;
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
  PolicyCounts deleted_by_policy;        // `deleted`, split by policy
  bool exhausted = false;                // the pass has covered the whole table
  double progress = 0;                   // 0..1, the share of the table covered so far
  PhaseTimings timings;                  // time spent in each phase of this batch
};

// Which archived rows `restore` puts back. Empty fields do not filter.
struct RestoreRequest {
  std::string cycle_id;  // rows archived by this cycle
  std::string since;     // rows archived at or after this ISO-8601 time (UTC when no zone)
};

// An archived row that was not put back because a pending row already has its key or email.
struct RestoreConflict {
  PendingRow row;
  std::string reason;  // "key exists in the pending table", "email exists in the pending table"
};

struct RestoreResult {
  std::int64_t selected = 0;  // archive rows the request matched
  std::int64_t restored = 0;  // inserted into the pending table and removed from the archive
  std::int64_t skipped = 0;   // selected - restored: conflicts (never overwritten)
  std::vector<RestoreConflict> conflicts;  // the key/email conflicts, at most 1,000 listed
};

// Why a row is deleted: recorded with every archived row (table and file) and in debug logs.
// A row several policies match gets the first: email, phone, expired.
inline constexpr const char* kEmailReason = "email exists in users";
inline constexpr const char* kPhoneReason = "phone exists in users";
inline constexpr const char* kExpiredReason = "expired";

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

  // Up to `limit` candidate rows in key order, with their reasons (used by dry runs).
  virtual std::vector<PendingRow> sample_candidates(std::int64_t limit) = 0;

  // What each policy and protection would do, counted set-based (dry runs). Collision samples
  // are raw emails; the engine masks them.
  virtual PolicyPreview preview_policies() = 0;

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
  // Appends `run` to config.history_table, creating the table first when it does not exist, or
  // adding its `job` column when a table of an older version lacks it (the only DDL a store ever
  // runs). Never called in a dry run. Throws DatabaseError, or ConfigError for an invalid table
  // name.
  virtual void record_run(const RunRecord& run) = 0;

  // The most recent `limit` history records, newest first, of job `job` (empty: of every job; a
  // row without a job is job "default"); empty when the history table does not exist. Works on
  // a read-only (dry-run) connection, without preflight().
  virtual std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) = 0;

  // Interrupts the statement in flight, from any thread. The batch fails with a retryable
  // DatabaseError and rolls back.
  virtual void cancel() noexcept = 0;

  // ---- Guards, the one-active-instance lock, the archive (all after preflight) ----

  // Installs (or, with nullptr, removes) the observer of deleting transactions. With one
  // installed, deleted rows carry row_json. Not owned.
  virtual void set_commit_observer(CommitObserver* observer) = 0;

  // The largest replay lag of the streaming standbys (PostgreSQL pg_stat_replication); zero
  // when there are none, or on a backend without replicas (SQLite).
  virtual std::chrono::milliseconds replication_lag() = 0;

  // Which of `keys` (text form) name a row of the pending table now.
  virtual std::vector<std::string> existing_keys(const std::vector<std::string>& keys) = 0;

  // True when the users table has no row at all (one probe, not a count).
  virtual bool users_table_empty() = 0;

  // Rows in the pending table (one set-based count; for --max-fraction).
  virtual std::int64_t count_pending() = 0;

  // Tries, without waiting, to take the lock that lets one instance at a time clean these
  // tables: a session-level PostgreSQL advisory lock keyed by the pending table's qualified
  // name, or an exclusive flock() on "<SQLite file>.lock". Returns false when another
  // instance holds it. The lock is lost with the connection (PostgreSQL): take it again after
  // a reconnect.
  virtual bool try_lock_instance() = 0;

  // Releases the lock if held. Never throws.
  virtual void unlock_instance() noexcept = 0;

  // Creates config.archive_table when missing (the pending table's columns plus archived_at,
  // cycle_id, reason), checks that an existing one has those columns, and makes the following
  // batches archive every row they delete, in the same transaction, under `cycle_id`.
  // Throws ConfigError when the table exists with other columns.
  virtual void prepare_archive(const std::string& cycle_id) = 0;

  // Deletes archive rows archived more than `older_than` ago, in transactions of at most
  // `batch_rows` rows. Returns the number of rows removed.
  virtual std::int64_t purge_archive(std::chrono::milliseconds older_than,
                                     std::int64_t batch_rows) = 0;

  // Puts archived rows back into the pending table, in one transaction, and removes them from
  // the archive. A row whose key or email a pending row already has is skipped and reported,
  // never overwritten; so is a row another unique constraint refuses. In a dry run (read-only
  // session) nothing is written and `restored` counts what would be restored. Throws
  // ConfigError when the archive table does not exist.
  virtual RestoreResult restore(const RestoreRequest& request) = 0;
};

// Adds one row deleted for `reason` (a k*Reason text) to `counts`.
void count_reason(const std::string& reason, PolicyCounts& counts, std::int64_t rows = 1);
// The reason of a configuration with a single policy; empty when several are on.
std::string single_reason(const CleanupConfig& config);
// Fills result.deleted_by_policy (unless the store already counted every deleted row) from the
// reasons of result.deleted_rows, or, when the store did not return the rows (a single
// policy), credits every deleted row to `single`.
void tally_policies(BatchResult& result, const std::string& single);
// `column` under --normalize-email, in SQL both backends read: column, lower(column) or
// lower(trim(column)) (PostgreSQL reads trim(x) as btrim(x)).
std::string normalized_email(EmailNormalization normalization, const std::string& column);
// Normalised emails that several users rows share (--normalize-email): how many, and the first
// few in order (raw emails; the engine masks them).
struct EmailCollisions {
  std::int64_t count = 0;
  std::vector<std::string> sample;
};
// Preflight's warning about `count` (> 0) such emails in the users table `users`.
std::string collision_warning(std::int64_t count, const std::string& users);
// A store's SQL conditions for each part of the deletion predicate, in its own dialect, over
// the pending row; empty where that part is off.
struct PolicySql {
  std::string email;       // policy 'email': the (normalised) email exists in users
  std::string phone;       // policy 'phone'
  std::string expired;     // policy 'expired'
  std::string old_enough;  // --min-age
  std::string not_exempt;  // the exemptions: true when the row is not exempt
};
// The predicate every batch re-checks: the policies OR-ed, then the protections AND-ed.
std::string deletion_predicate(const PolicySql& sql);
// The reason of a row the predicate matches, as an SQL expression: the first policy that
// matches, in the order email, phone, expired (the last one needs no test of its own).
std::string reason_expression(const PolicySql& sql);
// An --exclude-email value as compared: spaces and tabs around it removed (the store
// lowercases it with the database's own lower()).
std::string exclusion_email(const std::string& value);
// An --exclude-domain value as compared: also without a leading '@'.
std::string exclusion_domain(const std::string& value);

// Creates the store for config.database_url (or DATABASE_URL). Throws ConfigError.
std::unique_ptr<CleanupStore> make_store(const CleanupConfig& config);

}  // namespace batch_cleanup::store
