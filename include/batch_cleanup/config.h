// Configuration of one cleanup job. Plain data: copy it freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace batch_cleanup {

// How batches address their rows on PostgreSQL.
//   kAuto: physical order (ctid block ranges) on plain tables, key order elsewhere.
//   kPhysical: always ctid block ranges (rejected for partitioned tables).
//   kKey: keyset batches ordered by the pending key column.
enum class BatchStrategy { kAuto, kPhysical, kKey, kEmail };

// How emails are compared (the same expression on both sides of the comparison).
//   kNone: exactly, byte for byte (the original's behaviour). Preflight refuses (guard
//          'exact-email') when a column's equality is not byte equality: a nondeterministic
//          collation or citext (PostgreSQL), a NOCASE, RTRIM or other non-BINARY collation
//          (SQLite).
//   kLower: lower(email) = lower(email). PostgreSQL lowercases per the database's locale;
//           SQLite's lower() folds ASCII letters only. Refused too where the comparison of the
//           lowered values still goes through a nondeterministic collation (PostgreSQL).
//   kLowerTrim: lower(trim(email)): also ignores leading and trailing spaces.
//   kCollation: email = email under the columns' own collation or type (citext, an ICU
//               accent- or case-insensitive collation, SQLite NOCASE): the operator accepts
//               what that equality matches.
enum class EmailNormalization { kNone, kLower, kLowerTrim, kCollation };

struct CleanupConfig {
  // The job's name: it tags the job's log lines (when not "default"), its history rows and, in
  // a daemon running several jobs, its metrics. Letters, digits, '_', '.' and '-'.
  std::string job_name = "default";

  // postgresql://..., postgres://..., a libpq "key=value" string, sqlite:PATH or
  // sqlite:///ABS/PATH. Empty means "take DATABASE_URL from the environment".
  std::string database_url;

  // Identifiers; "schema.table" is accepted for the tables. Validated, then quoted.
  std::string users_table = "core_mstr_one_qlick_users_tbl";
  std::string pending_table = "core_mstr_one_qlick_pending_users_tbl";
  std::string pending_key = "pending_user_id";
  std::string email_column = "email";

  // ---- Deletion policies. A pending row is deleted when at least one policy matches it, it is
  // old enough (min_age) and it is not exempt (exclude_*). ----

  // Policy 'email': the pending row's email exists in the users table.
  bool match_email = true;
  EmailNormalization normalize_email = EmailNormalization::kNone;
  // Policy 'phone': the pending row's phone (non-empty) exists in the users table. Phones are
  // compared exactly; the column has this name in both tables.
  bool match_phone = false;
  std::string phone_column = "phone";
  // Policy 'expired': the pending row was created more than expire_after ago, whether or not a
  // user matches. Zero: off. Ages are measured on the database's clock against created_column
  // (the row's creation time; for the application's own expiry time see expired_for).
  std::chrono::milliseconds expire_after{0};
  std::string created_column = "created_at";
  // The zone of creation times stored without one (PostgreSQL `timestamp` and `date` columns);
  // the session's TimeZone never matters. SQLite reads times without an offset as UTC and accepts
  // only "UTC" here.
  std::string created_time_zone = "UTC";
  // In-flight protection: rows created less than min_age ago (or whose creation time is NULL or
  // unreadable) are never deleted by any policy; checked inside every DELETE. Zero: off.
  std::chrono::milliseconds min_age{0};
  // Policy 'expired' on the application's own expiry column (a token's expires_at, which the
  // application may renew in place): the row's expires_column lies more than expired_for in the
  // past (zero: as soon as it passed). nullopt: off. A NULL expiry never matches. Read in
  // created_time_zone when stored without a zone. Independent of created_column: --min-age keeps
  // measuring from the creation time. With expire_after too, either one matches.
  std::optional<std::chrono::milliseconds> expired_for;
  std::string expires_column = "expires_at";
  // Whether policy 'expired' is on (by creation time, by the expiry column, or both).
  bool expiry_policy() const { return expire_after.count() > 0 || expired_for.has_value(); }
  // Conditions the application keeps (--where), in the condition language of the command line
  // (comparisons of a pending column with a literal or now(), IS [NOT] NULL, [NOT] IN, NOT, AND,
  // OR, parentheses): a row is deleted only when it satisfies every one of them (NULL: it does
  // not), whatever the policy; checked inside every DELETE. Values are bound as parameters and
  // columns checked against the catalog; nothing is pasted into SQL.
  std::vector<std::string> conditions;
  // Exemptions: pending rows whose email (trimmed, case-insensitive) is one of these, or whose
  // domain (the part after the last '@') is one of these, are never deleted. Bound as
  // parameters, never spliced into SQL.
  std::vector<std::string> exclude_emails;
  std::vector<std::string> exclude_domains;

  // Target number of matching rows per batch transaction (1 .. 1,000,000). With batch_time set,
  // the starting size, adapted after every batch.
  std::int64_t batch_size = 5000;
  // Target duration of one batch transaction; 0 keeps batch_size fixed. The batch size adapts
  // to the server so that batches take about this long (like pt-archiver's chunk time).
  std::chrono::milliseconds batch_time{0};
  // Pause between two batches (throttling); 0 = none.
  std::chrono::milliseconds sleep_between_batches{0};
  // Upper bound on deleted rows per second, enforced by pausing between batches; 0 = none.
  double max_rate = 0;
  BatchStrategy batch_strategy = BatchStrategy::kAuto;
  // PostgreSQL: batches run on this many connections at once, each over its own part of the
  // pending table (page ranges, or key ranges with the key strategy), while the cycle's own
  // connection holds the instance lock. --sleep and --max-rate hold for the cycle as a whole.
  // SQLite (one writer) accepts only 1.
  int workers = 1;

  // Count and sample the candidates; write nothing at all.
  bool dry_run = false;
  // How many candidate keys a dry run lists.
  std::int64_t sample_size = 10;

  // Limits of every transaction (PostgreSQL lock_timeout / statement_timeout, set with SET LOCAL
  // so that nothing outlives the transaction; SQLite busy_timeout). Unless the operator set them
  // (*_set), a lower lock_timeout or statement_timeout of the PostgreSQL role or database applies.
  std::chrono::milliseconds lock_timeout{2000};
  std::chrono::milliseconds statement_timeout{30000};
  bool lock_timeout_set = false;
  bool statement_timeout_set = false;
  std::chrono::milliseconds connect_timeout{3000};

  // SQLite: the page cache of the tool's own connection, in MiB (PRAGMA cache_size on that
  // connection only); 0 keeps SQLite's default (2 MiB). The database file is not changed.
  std::int64_t sqlite_cache_mb = 0;

  // Connection attempts after the first one, with exponential backoff and equal jitter (half fixed,
  // half random).
  int retries = 5;
  std::chrono::milliseconds retry_base_delay{500};
  std::chrono::milliseconds retry_max_delay{8000};

  // Daemon interval between the starts of two cycles.
  std::chrono::milliseconds interval{std::chrono::hours(1)};

  // Print emails in logs and reports unmasked.
  bool log_pii = false;

  // How often a long cycle logs a progress line.
  std::chrono::milliseconds progress_interval{10000};

  // Run history: every non-dry cycle appends one row to `history_table` (created on first use;
  // "schema.table" allowed). Writing it is best effort: a failure is logged as a warning and
  // never fails the cycle. Dry runs never write it.
  bool record_history = true;
  std::string history_table = "batch_cleanup_runs";
  // Guards. A cycle that would delete more than max_deletes rows, or more than max_fraction
  // (0 < F <= 1) of the pending table's rows, is refused (GuardError) before it deletes
  // anything; a negative max_deletes / a zero max_fraction means no limit. A cycle never deletes
  // more than max_deletes rows, even when rows appear while it runs.
  std::int64_t max_deletes = -1;
  double max_fraction = 0;
  // --guards-count all: the guards count, besides the pending rows, the rows of the tables whose
  // foreign keys reference them (recursively through CASCADE keys) that the cycle would delete
  // (CASCADE) or change (SET NULL, SET DEFAULT); max_fraction then also applies to each such
  // table, over its own rows. Candidates a RESTRICT / NO ACTION key would refuse are not
  // counted. The cap inside a running cycle (max_deletes) counts pending rows only.
  bool guards_count_dependents = false;
  // Run even when the users table is empty (otherwise guard 'users-not-empty' refuses).
  bool allow_empty_users = false;
  // Run even when guard 'distinct-tables' cannot follow what the users table reads (a foreign
  // table, a view calling a user-defined function, a SQLite virtual table or a view column that
  // is an expression): the operator vouches that it does not read the pending table.
  bool allow_unverified_users_table = false;

  // One active instance: each cycle takes a lock derived from the target tables (PostgreSQL: a
  // lease, below; SQLite: an exclusive flock on "<db file>.lock"). Without wait_lock, an
  // instance that does not get it skips the cycle (report.skipped_by_lock); with it, it waits.
  bool wait_lock = false;
  // PostgreSQL: the lock is a lease, a row of this table (created on first use): holder, epoch
  // (the fencing token), heartbeat and expiry. Every batch's transaction renews it and proves it
  // is still this instance's, so an instance that was paused past lease_ttl never commits a
  // batch after another took over. A holder that died loses it lease_ttl after its last
  // heartbeat (renewals come every batch, and every lease_ttl / 2 while waiting). Where the
  // table cannot be used, a session advisory lock is the fallback, refused behind a
  // transaction pooler.
  std::string lease_table = "batch_cleanup_leases";
  std::chrono::milliseconds lease_ttl{std::chrono::seconds(20)};

  // Archive: every deleted row is inserted, whole, into this table in the same transaction as
  // its deletion (created on first use: the pending table's columns plus archived_at, cycle_id,
  // reason). Empty: no archive.
  std::string archive_table;
  // Archive file: every deleted row, whole, as one NDJSON line, written and fsynced before the
  // transaction that deletes it commits (see README "Archive file" for the crash semantics).
  // Empty: no archive file.
  std::string archive_file;
  // PostgreSQL: between batches, wait while a streaming standby has not replayed the cycle's
  // last commit (its WAL position, against each standby's replay_lsn in pg_stat_replication)
  // and has been missing it longer than max_replication_lag, or is more than
  // max_replication_lag_bytes of WAL behind it. Zero: no limit.
  std::chrono::milliseconds max_replication_lag{0};
  std::int64_t max_replication_lag_bytes = 0;
  // MySQL/MariaDB: the replicas max_replication_lag watches (mysql:// URLs): each batch's
  // commit (its GTID) must be applied there (MASTER_GTID_WAIT) within max_replication_lag.
  std::vector<std::string> replica_urls;
  // Archive rows older than this are purged at the end of each cycle; zero: kept forever.
  std::chrono::milliseconds archive_retention{0};

  bool operator==(const CleanupConfig&) const = default;
};

// Fills a config from the environment the way the original did: DATABASE_URL, plus the
// BATCH_CLEANUP_* variables documented in the README. Unset variables keep defaults.
// Throws ConfigError on a malformed value.
CleanupConfig config_from_environment();

// Validates every field (identifiers, ranges, URL scheme). Throws ConfigError naming the
// offending setting. Does not touch the database.
void validate_config(const CleanupConfig& config);

}  // namespace batch_cleanup
