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
  std::string reason;  // why it goes: "email exists in users", "phone exists in users", "expired"
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
  double archive_ms = 0;  // copying rows to --archive-table / --archive-file (0 without either)
  double wait_ms = 0;     // waiting: for the write lock (SQLite), yielding to other writers,
                          // and backing off before a retried batch

  PhaseTimings& operator+=(const PhaseTimings& other) {
    find_ms += other.find_ms;
    delete_ms += other.delete_ms;
    commit_ms += other.commit_ms;
    archive_ms += other.archive_ms;
    wait_ms += other.wait_ms;
    return *this;
  }
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

// Rows per deletion policy. A row more than one policy matches counts once, for the first of
// email, phone, expired.
struct PolicyCounts {
  std::int64_t email = 0;    // the row's email exists in users (after --normalize-email)
  std::int64_t phone = 0;    // the row's phone exists in users (--match phone)
  std::int64_t expired = 0;  // created more than --expire-after ago

  PolicyCounts& operator+=(const PolicyCounts& other) {
    email += other.email;
    phone += other.phone;
    expired += other.expired;
    return *this;
  }
};

// What a dry run found each policy would do, counted set-based over the whole pending table.
// -1: the policy or protection is off.
struct PolicyPreview {
  std::int64_t email = -1;  // rows whose email exists in users (normalised as configured)
  // With --normalize-email: how many of those an exact comparison would not match.
  std::int64_t email_extra_from_normalization = -1;
  std::int64_t phone = -1;  // rows whose phone exists in users
  // rows created more than --expire-after ago, or whose --expires-column passed more than
  // --expired-for ago
  std::int64_t expired = -1;
  // Rows some policy matches that --min-age keeps (too young, or no readable creation time).
  std::int64_t kept_by_min_age = -1;
  // Rows some policy matches, old enough, that fail a --where condition (NULL fails).
  std::int64_t kept_by_condition = -1;
  // Rows some policy matches, old enough, satisfying the conditions, that
  // --exclude-email/--exclude-domain keep.
  std::int64_t kept_by_exclusion = -1;
  // With --normalize-email: normalised emails that several users rows share (reported, never
  // resolved: a pending row with such an email is deleted, the users rows are not touched), and
  // a few of them (masked unless log_pii).
  std::int64_t users_email_collisions = -1;
  std::vector<std::string> collision_sample;
  // With policy 'expired': what it matches, in words ("expires_at passed more than 1h ago").
  std::string expired_rule;
  // The --where conditions, in a canonical form; empty without any.
  std::vector<std::string> conditions;
  // With the email policy: the comparison and the collation in force, in words
  // ("users.email = pending.email, byte for byte (collation \"default\" on both)").
  std::string email_comparison;
};

// Rows of a table whose foreign key references the pending table (depth 1), or a table a cascade
// from it deletes rows of (depth 2 and below): what the cycle did, or would do, to them.
struct DependentRows {
  std::string table;                 // the referencing table ("public.otp_verifications")
  std::string parent_table;          // the table it references
  std::vector<std::string> columns;  // the referencing columns
  std::string action;  // ON DELETE: "cascade", "set null", "set default", "restrict", "no action"
  int depth = 1;
  // cascade: rows deleted with their parents; set null / set default: rows changed; restrict /
  // no action: rows that reference a candidate (they stay, and so does the candidate).
  std::int64_t rows = 0;
  // restrict / no action: candidates whose delete the key refuses (kept); 0 otherwise.
  std::int64_t refused = 0;
};

// Rows of one dependent table a real run's committed batches deleted (ON DELETE CASCADE) or
// changed (SET NULL, SET DEFAULT) through a foreign key to the pending table (or below it).
struct DependentCount {
  std::string table;   // the referencing table ("public.otp_verifications")
  std::string action;  // "cascade", "set null" or "set default"
  std::int64_t rows = 0;
};

// Adds `rows` to the entry for (table, action), appending one when there is none.
inline void add_dependent_count(std::vector<DependentCount>& counts, const DependentCount& count) {
  for (auto& have : counts) {
    if (have.table == count.table && have.action == count.action) {
      have.rows += count.rows;
      return;
    }
  }
  counts.push_back(count);
}

// What a cycle, or a part of it (a batch, a worker's share), counted: the one sum every total
// is made of (a cycle's report, the workers' shares of a cycle, the service's totals and the
// metrics made from them). Every field is a count or a time that adds up; operator+= adds each.
struct Tally {
  // Rows that matched the predicate when their batch ran (in a dry run: the whole join).
  std::int64_t candidates = 0;
  std::int64_t deleted = 0;
  std::int64_t failed = 0;              // rows a constraint or trigger refused
  std::int64_t skipped = 0;             // rows another session held locked; left for the next cycle
  std::int64_t no_longer_matching = 0;  // matched, then failed the re-check in the DELETE
  std::int64_t batches = 0;
  std::int64_t batch_retries = 0;       // batches re-run after a transient error
  PolicyCounts deleted_by_policy;       // `deleted`, split by the policy that matched each row
  std::int64_t replication_pauses = 0;  // waits for a lagging standby (--max-replication-lag)
  double throttle_ms = 0;               // time spent pausing between batches (--sleep, --max-rate)
  PhaseTimings phases;                  // where the batches' time went
  // A real run: per dependent table and action, the rows the committed batches' deletes took
  // with them or changed (empty without foreign keys to the pending table).
  std::vector<DependentCount> dependent_rows;

  Tally& operator+=(const Tally& other) {
    candidates += other.candidates;
    deleted += other.deleted;
    failed += other.failed;
    skipped += other.skipped;
    no_longer_matching += other.no_longer_matching;
    batches += other.batches;
    batch_retries += other.batch_retries;
    deleted_by_policy += other.deleted_by_policy;
    replication_pauses += other.replication_pauses;
    throttle_ms += other.throttle_ms;
    phases += other.phases;
    for (const auto& count : other.dependent_rows) add_dependent_count(dependent_rows, count);
    return *this;
  }
};

// The counts (Tally's fields: candidates, deleted, failed, skipped, no_longer_matching,
// batches, batch_retries, deleted_by_policy, replication_pauses, throttle_ms, phases,
// dependent_rows) and what
// else the cycle did.
struct CycleReport : Tally {
  std::string cycle_id;  // unique per cycle, also used in logs
  bool dry_run = false;
  std::string backend;   // the store's label: "postgresql" or "sqlite"
  std::string strategy;  // "physical" (ctid ranges), "key" or "rowid"

  PolicyPreview policies;  // dry run only: what each policy would do

  double duration_ms = 0;
  double batch_p50_ms = 0;
  double batch_p99_ms = 0;
  double batch_max_ms = 0;

  std::string started_at;    // ISO-8601 UTC
  std::string finished_at;   // ISO-8601 UTC
  bool interrupted = false;  // a stop request ended the cycle early
  // Another instance held the lock for these tables: this cycle did nothing.
  bool skipped_by_lock = false;
  // Why the cycle did nothing ("lease_held"); empty when it ran.
  std::string skipped_reason;
  // With skipped_by_lock: who holds the lease ("host:pid:..."), its epoch and when it expires
  // (ISO-8601 UTC; empty when the lock has no expiry, as SQLite's lock file).
  std::string lease_holder;
  std::int64_t lease_epoch = 0;
  std::string lease_expires_at;
  std::int64_t archived = 0;        // rows written to the archive table (== deleted when on)
  std::int64_t archive_purged = 0;  // archive rows removed by --archive-retention

  // Duration of every batch transaction, in order (the source of the p50/p99 above and of the
  // batch duration histogram). Not part of to_json().
  std::vector<double> batch_durations_ms;

  // Dry run: per foreign key referencing the pending table (and below, through CASCADE keys),
  // what deleting the candidates would do to its table. Empty when no key references it, or the
  // connection does not enforce foreign keys.
  std::vector<DependentRows> dependents;
  // Dry run: candidates a RESTRICT or NO ACTION key would refuse (each once); -1: none checked.
  std::int64_t refused_by_dependents = -1;

  std::vector<RowRef> sample;  // dry run: a few candidate rows
  std::vector<RowFailure> failures;
  std::vector<std::string> warnings;  // e.g. missing-index advice
  // Why the cycle failed; empty when it did not. A failed cycle's counts are what its
  // committed batches deleted before the failure.
  std::string error;

  // The JSON object printed by --output json (one line, stable field names).
  std::string to_json() const;
};

}  // namespace batch_cleanup
